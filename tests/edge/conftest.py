"""Fixtures for the edge tests: small shards from the test shard factory
(``tests/shard_factory.py``: the real schema, the real writer, validation on), a real
(randomly initialised) tiny TriModalModel, and a bundle exported from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from shard_factory import LabelCycle, write_shards

# 24 one-frame scenarios a shard whose image colour and audio pitch follow the weather
EDGE_LABELS = LabelCycle(weathers=("clear", "rain", "fog", "snow"), times=("day",),
                         styles=("normal",))  # fmt: skip


def edge_shard(root: Path, split: str, seed: int) -> str:
    """``root/SPLIT-000000.tar``: 24 samples at 48 x 64 px, one second of audio each."""
    made = write_shards(root, split, range(24), frames=1, n_shards=1, seed=seed, size=(48, 64),
                        labels=EDGE_LABELS)  # fmt: skip
    return str(made.paths[0])


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("shards")
    return {"val": edge_shard(root, "val", seed=1),
            "calib": edge_shard(root, "train", seed=2)}  # fmt: skip


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
