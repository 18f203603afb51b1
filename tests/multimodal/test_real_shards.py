"""Training and evaluation on shards written by the real generator (PyBullet simulation,
weather, audio synthesis, captions), not on the synthetic fixture shards."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("pybullet")

from multimodal.train import main  # noqa: E402


@pytest.fixture(scope="module")
def real_shards(tmp_path_factory) -> dict[str, str]:
    from datagen.builder import weather_presets
    from datagen.generate import RunOptions, generate
    from datagen.plan import GenerateConfig

    root = tmp_path_factory.mktemp("real")
    urls = {}
    for split, scenarios, seed in (("train", 16, 3), ("val", 6, 4)):
        cfg = GenerateConfig(scenarios=scenarios, frames=3, split=split, seed=seed,
                             image_size=48, samples_per_shard=12,
                             weather_presets=weather_presets())  # fmt: skip
        manifest = generate(cfg, root / split, RunOptions(workers=0, progress=False))
        names = sorted(s["name"] for s in manifest["shards"])
        urls[split] = "::".join(str(root / split / n) for n in names)
    return urls


@pytest.mark.slow
def test_tiny_model_trains_and_evaluates_on_generated_shards(real_shards, tmp_path: Path):
    out = tmp_path / "run"
    argv = ["--train", real_shards["train"], "--val", real_shards["val"], "--out", str(out),
            "--batch-size", "12", "--workers", "0", "--device", "cpu", "--lr", "1e-3",
            "--warmup-steps", "3", "--epochs", "1", "--steps-per-epoch", "24",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    losses = [h["loss"] for h in summary.get("history", [])] or [summary["final_loss"]]
    assert summary["final_loss"] < 0.9 * summary["first_loss"], summary
    assert all(math.isfinite(x) for x in losses)
    val = summary["val"]
    assert val["gallery_size"] == 6  # one frame per held-out scenario
    for direction, recall in val["retrieval"].items():
        assert 0.0 <= recall["R@1"] <= recall["R@5"] <= 1.0, direction
    for task, by_modality in val["zero_shot"].items():
        for modality, result in by_modality.items():
            assert 0.0 <= result["accuracy"] <= 1.0, (task, modality)
