"""TensorBoard of a training run: validation loss and metrics between epochs and at the end,
hyper-parameters with final metrics, sample frames, clips and captions."""

from __future__ import annotations

from pathlib import Path

import pytest

from multimodal.tensorboard import flat_scalars, hparams_of
from multimodal.train import main


def events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "audio": 0, "scalars": 0,
                                                       "tensors": 0})  # fmt: skip
    acc.Reload()
    return acc


@pytest.mark.slow
def test_run_logs_validation_hparams_and_samples(shard_set, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--train", shard_set["train"].urls, "--val", shard_set["val"].urls, "--out",
            str(out), "--batch-size", "16", "--workers", "0", "--device", "cpu", "--lr", "1e-3",
            "--warmup-steps", "2", "--epochs", "2", "--steps-per-epoch", "3", "--log-every",
            "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    acc = events(out / "tensorboard")
    tags = acc.Tags()
    assert [e.step for e in acc.Scalars("val/loss")] == [3, 6]  # after epoch 1, at the end
    assert all(e.value > 0 for e in acc.Scalars("val/loss"))
    assert "val/image_text" in tags["scalars"]
    assert "val/zero_shot/weather_family/image/accuracy" in tags["scalars"]
    assert "val/retrieval/image->text/R@1" in tags["scalars"]
    assert [e.step for e in acc.Scalars("train/loss")] == list(range(1, 7))
    assert len(tags["images"]) == 4 and len(tags["audio"]) == 4
    clip = acc.Audio(tags["audio"][0])[0]
    assert clip.sample_rate == 16000 and clip.length_frames > 0
    texts = [t for t in tags["tensors"] if t.endswith("/captions/text_summary")]
    assert len(texts) == 4
    hp = events(out / "tensorboard" / "hparams")
    assert "hparam/final_loss" in hp.Tags()["scalars"]
    assert "hparam/val/zero_shot/weather_family/image/accuracy" in hp.Tags()["scalars"]


def test_flat_scalars_and_hparams() -> None:
    metrics = {"retrieval": {"a->b": {"R@1": 0.5}}, "zero_shot": {"t": {"image": {
        "accuracy": 0.25, "confusion": [[1, 0]], "labels": ["x"]}}}, "n": 3, "bad": float("nan")}
    assert flat_scalars(metrics) == {"retrieval/a->b/R@1": 0.5,
                                     "zero_shot/t/image/accuracy": 0.25, "n": 3.0}
    assert hparams_of({"lr": 1e-3, "modalities": ["image", "text"], "resume": None,
                       "weights": {"image_text": 1.0}}) == {
        "lr": 1e-3, "modalities": "image,text", "resume": "none", "weights.image_text": 1.0}
