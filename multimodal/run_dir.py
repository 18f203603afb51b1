"""The run folder (``--out``): what a run writes there, and what is checked before a run
starts, so that a refused run writes nothing: the shards, an ``--out`` folder holding
another run, the ``--resume`` checkpoint."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from multimodal.train_config import CONFIG_FILE, TrainConfig, resume_changes

CHECKPOINT = "checkpoint.pt"

# What a run writes in its --out folder (removed by --force before a fresh run starts)
RUN_OUTPUTS = (CHECKPOINT, CONFIG_FILE, "summary.json", "val_metrics.json",
               "training_curve.png", "tensorboard", "plots")  # fmt: skip


def world_size_of(cfg: TrainConfig) -> int:
    """The world size this launch will have: torchrun's, else ``--nproc``."""
    return int(os.environ.get("WORLD_SIZE", "0")) or cfg.nproc


def resume_path(cfg: TrainConfig) -> Path | None:
    """The checkpoint ``--resume`` names; None for a fresh start (also with ``auto`` when the
    run folder holds no checkpoint yet)."""
    if not cfg.resume:
        return None
    if cfg.resume == "auto":
        path = Path(cfg.out) / CHECKPOINT
        return path if path.exists() else None
    path = Path(cfg.resume)
    if not path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {path}")
    return path


def _run_in_use(out: Path) -> bool:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} exists and is not a folder")
    return out.is_dir() and any(out.iterdir())


def preflight(cfg: TrainConfig) -> None:
    """What can be refused before training starts, so that nothing is written: missing,
    empty or non-tar local shards, an --out folder holding a previous run (without --resume
    or --force), a --resume checkpoint that is unreadable, unsafe or from a different run,
    an --init checkpoint that is missing, unreadable, unsafe or of another --model."""
    from multimodal.data import check_shards

    check_shards(cfg.train, "--train")
    if cfg.val:
        check_shards(cfg.val, "--val")
    if cfg.replay:
        check_shards(cfg.replay, "--replay")
    out = Path(cfg.out)
    path = resume_path(cfg)
    if cfg.init and path is None:  # a resumed run takes its weights from --resume
        check_init(cfg)
    # continuing the run in --out (--resume auto, or its own checkpoint) may write there;
    # a fresh run or one resumed from elsewhere must not replace another run's outputs
    own = path is not None and path.resolve() == (out / CHECKPOINT).resolve()
    if not own and cfg.resume != "auto" and _run_in_use(out):
        if not cfg.force:
            raise FileExistsError(
                f"--out {out} already holds a run; pass --resume auto to continue it or "
                "--force to replace it"
            )
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one rank clears it
            remove_outputs(out, keep=path)
    if path is not None:
        from multimodal.checkpoint import load_state

        state = load_state(path, mmap=True)
        resume_changes(state, cfg, world_size_of(cfg), path)


def check_init(cfg: TrainConfig) -> None:
    """Refuse (one line) an --init checkpoint that is missing, not a safe drivesynth
    checkpoint, or of another model than --model's."""
    from multimodal.checkpoint import CheckpointError, check_init_model, load_state
    from multimodal.configs import preset

    init = Path(cfg.init)
    try:
        state = load_state(init, mmap=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"--init: no checkpoint at {init}") from None
    except CheckpointError as exc:
        raise CheckpointError(f"--init: {exc}") from None
    check_init_model(state, preset(cfg.model), init)


def remove_outputs(out: Path, keep: Path | None = None) -> None:
    """Remove a previous run's outputs from ``out`` (all but ``keep``)."""
    for name in RUN_OUTPUTS:
        target = out / name
        if keep is not None and target.resolve() == keep.resolve():
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
