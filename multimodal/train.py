"""Contrastive training launcher: a single process (CPU/GPU), one rank of a torchrun DDP
run (``torchrun ... -m multimodal.train``) or ``--nproc N`` local processes. The run itself
(bf16 autocast, optional torch.compile or CUDA graph, gradient accumulation, cosine schedule
with warm-up, atomic checkpoints with ``--resume``, TensorBoard, tqdm, curve PNG) is
``multimodal/trainer.py``; its options are those of ``drivesynth train``."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from multimodal.options import add_arguments, config_from_args
from multimodal.run_dir import preflight
from multimodal.train_config import TrainConfig
from sim.arguments import CommandParser
from sim.logs import configure_logging

logger = logging.getLogger(__name__)


def launch(cfg: TrainConfig) -> dict:
    """Train in this process (or torchrun's), or spawn ``cfg.nproc`` local processes."""
    preflight(cfg)
    if cfg.nproc > 1:
        from multimodal.distributed import spawn

        logger.debug("spawning %d local training processes", cfg.nproc)
        try:  # each rank logs like this process
            spawn(_run_rank, cfg.nproc, (cfg, logging.getLogger().getEffectiveLevel()))
        except Exception as exc:  # noqa: BLE001 - a rank's error, re-raised with its line
            raise _rank_error(exc) from None
        return json.loads((Path(cfg.out) / "summary.json").read_text())
    from multimodal.trainer import Trainer

    return Trainer(cfg).fit()


# errors a rank raises for bad input or a failed run (not bugs): reported as one line
_RANK_USER_ERRORS = ("ValueError", "LoaderError", "CheckpointError", "TrainingDiverged",
                     "FileNotFoundError", "FileExistsError", "PermissionError")  # fmt: skip


def _rank_error(exc: Exception) -> Exception:
    """A spawned rank's exception (``ProcessRaisedException``, the rank's traceback as its
    message) as a ValueError with the rank's own one-line message, when it was bad input;
    anything else is returned unchanged."""
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    kind, _, message = last.partition(": ")
    if kind.rsplit(".", 1)[-1] in _RANK_USER_ERRORS and message:
        return ValueError(message)
    return exc


def _run_rank(payload: tuple[TrainConfig, int]) -> None:
    """One spawned rank (``--nproc``): its records carry its rank."""
    from multimodal.trainer import Trainer

    cfg, level = payload
    configure_logging(level=level)
    Trainer(cfg).fit()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m multimodal.train`` (torchrun's entry point): prints the run's summary."""
    parser = CommandParser(prog="multimodal.train", description=__doc__)
    add_arguments(parser)
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="log warnings and errors only")  # fmt: skip
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    configure_logging(args.quiet, args.verbose)
    try:
        cfg = config_from_args(args)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    summary = launch(cfg)
    print(json.dumps({k: summary[k] for k in ("steps", "final_loss", "first_loss")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
