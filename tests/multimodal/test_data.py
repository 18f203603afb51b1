"""Loader: exact steps, no hang with fewer shards than workers, corrupt samples counted."""

from __future__ import annotations

import pytest
from shard_factory import labelled_sample, write_shards

from datagen.sample import encode_sample
from datagen.shards import write_shard
from multimodal.data import DataConfig, eval_loader, pick_caption, train_loader


@pytest.mark.timeout(120)
def test_train_loader_exact_steps_with_fewer_shards_than_workers(tmp_path):
    one = write_shards(tmp_path, "one", range(4), frames=2, n_shards=1)
    cfg = DataConfig(urls=one.urls, batch_size=4, workers=3)
    batches = list(train_loader(cfg, epoch=0, steps=5))
    assert len(batches) == 5
    assert all(b["image"].shape == (4, 3, 64, 64) and b["audio"].shape == (4, 16000)
               for b in batches)  # fmt: skip
    evaluated = list(eval_loader(DataConfig(urls=one.urls, batch_size=3, workers=3)))
    assert sum(len(b["key"]) for b in evaluated) == 8


def test_train_loader_is_deterministic(tmp_path):
    shards = write_shards(tmp_path, "det", range(6), frames=2, n_shards=2)
    cfg = DataConfig(urls=shards.urls, batch_size=4, workers=0)
    a = [b["key"] for b in train_loader(cfg, epoch=1, steps=3)]
    b = [b["key"] for b in train_loader(cfg, epoch=1, steps=3)]
    c = [b["key"] for b in train_loader(cfg, epoch=2, steps=3)]
    assert a == b and a != c


def test_corrupt_samples_are_skipped_and_counted(tmp_path):
    path = tmp_path / "bad-000000.tar"
    files = [encode_sample(labelled_sample(1, frame, 0)) for frame in range(5)]
    for frame in (1, 3):
        files[frame]["audio.flac"] = b"not a flac file"  # broken on purpose
    write_shard(path, files, validate=False)  # validation would refuse the broken samples
    with pytest.warns(UserWarning, match="corrupt sample"):
        batches = list(eval_loader(DataConfig(urls=str(path), batch_size=8, workers=0)))
    assert [k[-5:] for k in batches[0]["key"]] == ["00000", "00002", "00004"]
    assert sum(b["skipped"] for b in batches) == 2


def test_caption_sampling_respects_families():
    meta = {"captions": [{"text": "a", "family": "x"}, {"text": "b", "family": "y"},
                         {"text": "c", "family": "z"}]}  # fmt: skip
    import numpy as np

    rng = np.random.default_rng(0)
    picked = {pick_caption(meta, ("x", "z"), rng) for _ in range(50)}
    assert picked == {"a", "c"}
    assert pick_caption(meta, ("w",), rng) is None
    assert pick_caption(meta, None, None) == "a"


def test_data_config_validates():
    with pytest.raises(ValueError, match="DataConfig.batch_size"):
        DataConfig(urls="x.tar", batch_size=0)
    with pytest.raises(ValueError, match="steps per epoch"):
        train_loader(DataConfig(urls="x.tar"), 0, 0)


def test_uint8_images_finished_on_device_match_the_float_path(tmp_path):
    """The training loader's uint8 images + jitter factors, finished by finish_images,
    are the float images the loader would have made itself (same crops, same jitter)."""
    import torch

    from multimodal.augment import AugmentConfig
    from multimodal.data import finish_images

    shards = write_shards(tmp_path, "u8", range(4), frames=2, n_shards=1)
    common = dict(urls=shards.urls, batch_size=4, workers=0, augment=AugmentConfig(),
                  image_mean=(0.4, 0.5, 0.6), image_std=(0.2, 0.25, 0.3))  # fmt: skip
    floats = next(iter(train_loader(DataConfig(**common), epoch=0, steps=1)))
    raw = next(iter(train_loader(DataConfig(**common, uint8_images=True), epoch=0, steps=1)))
    assert raw["image"].dtype == torch.uint8 and floats["image"].dtype == torch.float32
    assert raw["key"] == floats["key"]
    jitter = raw["jitter"]
    assert jitter.shape == (4, 2) and not torch.all(jitter == 1.0)  # the jitter is drawn
    done = finish_images(raw["image"], jitter, torch.tensor(common["image_mean"]),
                         torch.tensor(common["image_std"]))
    torch.testing.assert_close(done, floats["image"], rtol=0, atol=1e-5)
    # and both are the documented jitter, computed here independently in numpy
    import numpy as np

    pixels = raw["image"].numpy().astype(np.float64) / 255.0
    b, c = (jitter.numpy()[:, i].reshape(-1, 1, 1, 1) for i in (0, 1))
    centre = pixels.mean(axis=(1, 2, 3), keepdims=True)
    want = np.clip((pixels * b - centre) * c + centre, 0.0, 1.0)
    want = (want - np.reshape(common["image_mean"], (1, 3, 1, 1))) / np.reshape(
        common["image_std"], (1, 3, 1, 1))
    np.testing.assert_allclose(done.numpy(), want, atol=1e-5)
    assert torch.equal(raw["audio"], floats["audio"])  # the rng stream is unchanged after
