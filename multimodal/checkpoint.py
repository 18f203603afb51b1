"""Atomic checkpoints (tmp + rename) holding model, optimiser, scheduler, RNG and step, and
``load_checkpoint`` for evaluation and export.

A checkpoint holds tensors and plain data only (dicts, lists, str, numbers, bools, None;
configs as JSON-able dicts, RNG states as uint8 tensors) and is always read with
``torch.load(weights_only=True)``: loading one never runs code from the file."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from multimodal.configs import ModelConfig
from multimodal.model import TriModalModel
from multimodal.tokenizer import Tokenizer

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable, safe drivesynth checkpoint (one-line reason)."""


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
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict, device: torch.device) -> None:
    if not isinstance(state, dict) or not isinstance(state.get("torch"), torch.Tensor):
        raise CheckpointError("the checkpoint's RNG state is missing or of the wrong type")
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# what every checkpoint holds (evaluation and export read these; resuming needs more), and
# the type of each entry
REQUIRED: dict[str, type] = {"model": dict, "model_config": dict, "prompts": dict}


ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive (never a bare pickle)


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's message, short enough for one error line."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    line = line.split(". ", 1)[0]
    return line if len(line) <= 160 else line[:157] + "..."


def load_state(path: str | Path, mmap: bool = False) -> dict:
    """The checkpoint's dict, read with ``torch.load(weights_only=True)``: tensors and plain
    data only, nothing in the file can run code. A missing, empty, truncated, foreign or
    unsafe file raises FileNotFoundError / CheckpointError (a ValueError) with one line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a drivesynth checkpoint")
    with open(path, "rb") as handle:
        if handle.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            raise CheckpointError(f"{path} is not a drivesynth checkpoint (not a PyTorch zip "
                                  "archive)")  # fmt: skip
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 - whatever the file holds, one line
        if "weights only load failed" in str(exc).lower() or "weights_only" in str(exc):
            raise CheckpointError(
                f"{path} is refused: it holds objects other than tensors and plain data "
                "(a checkpoint never does; nothing in it was run)"
            ) from None
        raise CheckpointError(
            f"{path} is not a readable drivesynth checkpoint ({type(exc).__name__}: "
            f"{_first_line(exc)})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a drivesynth checkpoint (format {FORMAT_VERSION})")
    for key, kind in REQUIRED.items():
        if not isinstance(state.get(key), kind):
            raise CheckpointError(f"{path} is not a complete drivesynth checkpoint: its {key!r} "
                                  "is missing or of the wrong type")  # fmt: skip
    return state


def model_from_state(state: dict, where: object) -> tuple[TriModalModel, ModelConfig]:
    """The model a checkpoint's ``state`` describes, its weights loaded (CheckpointError
    when the config or the weights do not fit each other)."""
    try:
        config = ModelConfig.from_dict(state["model_config"])
        model = TriModalModel(config)
        model.load_state_dict(state["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"{where} is not a usable drivesynth checkpoint ({type(exc).__name__}: "
            f"{_first_line(exc)})"
        ) from None
    return model, config


def file_sha256(path: str | Path) -> str:
    from datagen.shards import sha256_of  # the project's one file hash

    return sha256_of(Path(path))


def _preset_of(model_config: dict) -> str | None:
    from multimodal.configs import PRESETS

    return next((n for n, c in PRESETS.items() if c.to_dict() == model_config), None)


def check_init_model(state: dict, expected: ModelConfig, where: object,
                     option: str = "--init") -> None:  # fmt: skip
    """ValueError (one line) unless the checkpoint ``state`` holds a model of ``expected``'s
    configuration (the run's ``--model``): ``--init`` never changes the architecture."""
    stored = state["model_config"]
    if stored == expected.to_dict():
        return
    name = _preset_of(stored)
    if name is not None:
        raise ValueError(f"{option}: {where} holds a --model {name} model, not the "
                         f"--model {expected.name} of this run; give --model {name}")  # fmt: skip
    wanted = expected.to_dict()
    differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    fields = ", ".join(differ[:4])
    raise ValueError(
        f"{option}: {where} holds a model of no --model preset, not the --model "
        f"{expected.name} of this run (it differs in {fields})"
    )


def load_init(path: str | Path, expected: ModelConfig,
              option: str = "--init") -> tuple[dict, dict]:  # fmt: skip
    """``(model weights, lineage record)`` of the checkpoint a run starts from (``--init``):
    read safely (:func:`load_state`), refused in one line when missing, unreadable, unsafe
    or of another model than ``expected``. The record holds its path, sha256, step and
    ``ancestors``: the sha256 of the checkpoints it was itself continued from, oldest first,
    then its own."""
    path = Path(path)
    try:
        state = load_state(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{option}: no checkpoint at {path}") from None
    except CheckpointError as exc:
        raise CheckpointError(f"{option}: {exc}") from None
    check_init_model(state, expected, path, option)
    parent = state.get("lineage") if isinstance(state.get("lineage"), dict) else {}
    older = [a for a in parent.get("ancestors", []) if isinstance(a, str)]
    sha = file_sha256(path)
    step = state.get("step")
    config = state.get("train_config") if isinstance(state.get("train_config"), dict) else {}
    record = {"path": str(path.resolve()), "sha256": sha,
              "step": step if isinstance(step, int) else None,
              "train": config.get("train"), "replay": config.get("replay"),
              "ancestors": [*older, sha]}  # fmt: skip
    return state["model"], record


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[TriModalModel, ModelConfig, Tokenizer]:
    """``(model in eval mode, its ModelConfig, its tokenizer)`` from a training checkpoint.

    The config carries the preprocessing: image size/mean/std and the ``MelConfig``.
    """
    model, config = model_from_state(load_state(path), path)
    model.to(device).eval()
    return model, config, Tokenizer(config.context_length)


def checkpoint_prompts(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """The zero-shot label prompts stored with the checkpoint."""
    return load_state(path)["prompts"]


def nonfinite_tensors(module: nn.Module) -> list[str]:
    """Names of the parameters holding a NaN or an infinity (one host sync). Buffers are
    left out: they are constants, and an attention mask holds -inf by design."""
    named = [(n, t) for n, t in module.named_parameters() if t.is_floating_point()]
    if not named:
        return []
    finite = torch.stack([torch.isfinite(t).all() for _, t in named]).cpu().tolist()
    return [n for (n, _), ok in zip(named, finite) if not ok]
