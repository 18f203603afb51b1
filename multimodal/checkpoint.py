"""Atomic checkpoints (tmp + rename) holding model, optimiser, scheduler, RNG and step, and
``load_checkpoint`` for evaluation and export."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from multimodal.configs import ModelConfig
from multimodal.model import TriModalModel
from multimodal.tokenizer import Tokenizer

FORMAT_VERSION = 1


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DDP and/or torch.compile wrappers."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_atomic(state: dict, path: str | Path) -> None:
    """Write ``state`` to ``path`` so that a kill at any moment leaves the old file or the
    new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def load_state(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a drivesynth checkpoint (format {FORMAT_VERSION})")
    return state


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[TriModalModel, ModelConfig, Tokenizer]:
    """``(model in eval mode, its ModelConfig, its tokenizer)`` from a training checkpoint.

    The config carries the preprocessing: image size/mean/std and the ``MelConfig``.
    """
    state = load_state(path)
    config = ModelConfig.from_dict(state["model_config"])
    model = TriModalModel(config)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return model, config, Tokenizer(config.context_length)


def checkpoint_prompts(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """The zero-shot label prompts stored with the checkpoint."""
    return load_state(path)["prompts"]
