"""Fixtures for the edge tests: small real shards in the docs/design.md schema, a real
(randomly initialised) tiny TriModalModel, and a bundle exported from them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from sim.seeding import rng_for

WEATHER = ("clear", "rain", "fog", "snow")


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _flac(wave: np.ndarray) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wave, 16000, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def write_shard(path: Path, n: int, seed: int) -> str:
    """A shard of ``n`` samples whose image brightness and audio pitch follow the weather."""
    import webdataset as wds

    with wds.TarWriter(str(path)) as sink:
        for i in range(n):
            rng = rng_for(seed, "edge-test-sample", i)
            family = WEATHER[i % len(WEATHER)]
            base = 40 + 50 * WEATHER.index(family)
            rgb = np.clip(base + rng.normal(0, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
            t = np.arange(16000) / 16000
            wave = 0.3 * np.sin(2 * np.pi * (200 + 150 * WEATHER.index(family)) * t)
            wave = (wave + rng.normal(0, 0.05, t.shape)).astype(np.float32)
            caption = f"driving in {family} weather at day"
            meta = {"scenario_id": i, "frame": 0, "seed": seed,
                    "weather": {"family": family, "time_of_day": "day"},
                    "driver": {"style": "normal"}, "captions": [{"text": caption,
                                                                 "family": "plain"}]}  # fmt: skip
            sink.write({"__key__": f"{i:08d}_front_00000", "rgb.png": _png(rgb),
                        "audio.flac": _flac(wave), "txt": caption,
                        "json": json.dumps(meta)})  # fmt: skip
    return str(path)


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("shards")
    return {"val": write_shard(root / "val-000000.tar", 24, seed=1),
            "calib": write_shard(root / "train-000000.tar", 24, seed=2)}  # fmt: skip


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real training checkpoint (multimodal's format) of a random-init tiny model."""
    import torch

    from multimodal.checkpoint import FORMAT_VERSION, save_atomic
    from multimodal.configs import preset
    from multimodal.model import TriModalModel
    from multimodal.prompts import default_prompts

    torch.manual_seed(0)
    config = preset("tiny", vision_layers=1, text_layers=1, audio_layers=1, vision_width=64,
                    text_width=64, audio_width=64)  # fmt: skip
    model = TriModalModel(config)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_atomic({"format": FORMAT_VERSION, "model_config": config.to_dict(),
                 "model": model.state_dict(), "prompts": default_prompts()}, path)  # fmt: skip
    return path


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path,
           shards: dict[str, str]) -> Path:  # fmt: skip
    from edge.export import ExportConfig, export_checkpoint

    out = tmp_path_factory.mktemp("bundles") / "tiny"
    export_checkpoint(checkpoint, out, shards["val"], shards["calib"],
                      ExportConfig(quantize="all", heldout=16, calib=16))  # fmt: skip
    return out
