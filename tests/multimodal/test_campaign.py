"""The GPU campaign's pieces on CPU: image-text training, throughput accounting, the
open_clip shard repacking and config, and open_clip log parsing."""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from multimodal.train import main
from multimodal.train_config import TrainConfig
from multimodal.trainer import steady_throughput

SCRIPTS = Path(__file__).parents[2] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_modalities_validate_and_zero_the_pairs_they_cannot_train():
    with pytest.raises(ValueError, match="TrainConfig.modalities"):
        TrainConfig(train="x.tar", out="o", modalities=("image",))
    weights = TrainConfig(train="x.tar", out="o", modalities=("image", "text")).active_weights()
    assert weights.image_text == 1.0
    assert weights.audio_text == weights.image_audio == weights.fused_text == 0.0
    full = TrainConfig(train="x.tar", out="o").active_weights()
    assert min(full.to_dict().values()) > 0


def test_steady_throughput_skips_warm_up_steps():
    # 10 steps: the first takes 5 s (start-up), then 0.5 s each
    # (waiting 4 s for the loader's first batch, then 0.05 s per step)
    times = [5.0 + 0.5 * i for i in range(10)]
    history = [{"step": i + 1, "t": t, "data_wait_s": 4.0 if i == 0 else 0.05}
               for i, t in enumerate(times)]  # fmt: skip
    result = steady_throughput(history, global_batch=64)
    assert result["samples_per_s"] == pytest.approx(64 / 0.5)
    assert result["steady_stall_fraction"] == pytest.approx(0.05 / 0.5)  # start-up left out
    assert steady_throughput(history[:1], 64)["samples_per_s"] is None


@pytest.mark.slow
def test_image_text_training_runs_without_audio_tower(shard_set, tmp_path):
    out = tmp_path / "it"
    argv = ["--train", shard_set["train"].urls, "--out", str(out), "--batch-size", "16",
            "--workers", "0", "--device", "cpu", "--steps-per-epoch", "12", "--lr", "2e-3",
            "--warmup-steps", "2", "--no-progress", "--modalities", "image,text"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modalities"] == ["image", "text"] and summary["samples_per_s"] > 0
    assert summary["final_loss"] < summary["first_loss"]
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert set(state["history"][-1]["parts"]) == {"image_text"}
    from multimodal.configs import preset
    from multimodal.model import TriModalModel
    from sim.seeding import derive_seed

    torch.manual_seed(derive_seed(0, "init"))  # the trainer's initial weights
    initial = TriModalModel(preset("tiny")).state_dict()
    name = "audio.vit.conv1.weight"  # no gradient ever reached the audio tower
    torch.testing.assert_close(state["model"][name], initial[name], rtol=0, atol=0)
    assert not torch.equal(state["model"]["visual.conv1.weight"], initial["visual.conv1.weight"])


def test_openclip_repack_round_trip_is_deterministic(shard_set, tmp_path):
    repack = _script("openclip_shards")
    src = tuple(str(p) for p in shard_set["val"].paths)
    families = ("descriptive", "question")
    results = [repack.repack(repack.RepackConfig(src, str(tmp_path / n), families, seed=3))
               for n in ("a", "b")]  # fmt: skip
    assert results[0]["written"] == shard_set["val"].n_scenarios * shard_set["val"].frames
    first = (tmp_path / "a" / "oc-000000.tar").read_bytes()
    assert first == (tmp_path / "b" / "oc-000000.tar").read_bytes()
    originals = dict(repack.read_samples(src[0]))
    with tarfile.open(tmp_path / "a" / "oc-000000.tar") as tar:
        names = tar.getnames()
        assert {n.split(".", 1)[1] for n in names} == {"png", "txt"}
        for name in names:
            key, ext = name.split(".", 1)
            data = tar.extractfile(name).read()
            meta = json.loads(originals[key]["json"])
            if ext == "png":
                assert data == originals[key]["rgb.png"]
            else:
                allowed = {c["text"] for c in meta["captions"] if c["family"] in families}
                assert data.decode() in allowed


def test_openclip_repack_rejects_missing_shards(tmp_path):
    repack = _script("openclip_shards")
    with pytest.raises(ValueError, match="RepackConfig.src"):
        repack.RepackConfig((str(tmp_path / "none.tar"),), str(tmp_path))
    assert repack.main(["--src", str(tmp_path / "none.tar"), "--out", str(tmp_path)]) == 2


def test_openclip_config_builds_the_same_towers_as_ours():
    import open_clip

    from multimodal.configs import preset
    from multimodal.model import TriModalModel

    compare = _script("openclip_compare")
    theirs = open_clip.CLIP(**compare.openclip_config("tiny"))
    ours = TriModalModel(preset("tiny"))

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    assert count(theirs.visual) == count(ours.visual)
    text_theirs = count(theirs) - count(theirs.visual) - 1  # minus logit_scale
    assert text_theirs == count(ours.text)


def test_openclip_log_rate_skips_warm_up_and_rejects_empty_logs():
    compare = _script("openclip_compare")
    lines = [f"Train Epoch: 0 [ {i}/9] Data (t): 0.1 Batch (t): 0.2, {r:#g}/s, {r / 2:#g}/s/gpu LR"
             for i, r in enumerate([10.0, 400.0, 410.0, 390.0])]  # fmt: skip
    rate = compare.openclip_rate("\n".join(lines), skip=0.25)
    assert rate["samples_per_s"] == pytest.approx(400.0)
    assert rate["samples_per_s_per_gpu"] == pytest.approx(200.0)
    with pytest.raises(ValueError, match="no 'Batch"):
        compare.openclip_rate("nothing here")
