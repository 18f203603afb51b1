"""Contrastive trainer: single process (CPU/GPU), torchrun DDP or ``--nproc N`` local
processes; bf16 autocast, optional torch.compile, gradient accumulation, cosine schedule
with warm-up, atomic checkpoints with ``--resume``, TensorBoard, tqdm, curve PNG."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from multimodal.augment import AugmentConfig
from multimodal.loss import LossWeights
from multimodal.options import GRAD_REDUCE, PRECISIONS, add_arguments  # noqa: F401 (re-export)

# The TrainConfig fields (and the world size) that define what a run computes: the data and
# its order, the model, the optimisation. `train --resume` refuses a value that differs from
# the checkpoint's unless --resume-override names the field; the change is then recorded in
# the checkpoint. The others (device, logging, saving, validation, compile) may change.
RUN_FIELDS: tuple[str, ...] = (
    "train", "model", "epochs", "batch_size", "steps_per_epoch", "lr", "weight_decay",
    "warmup_steps", "accum", "workers", "precision", "grad_reduce", "seed", "caption_families",
    "modality_dropout", "weights", "augment", "modalities", "world_size",
)  # fmt: skip


# the command-line option of each RUN_FIELDS entry whose name differs from its field's
RUN_FIELD_OPTIONS = {"caption_families": "--train-caption-families", "weights": "--loss-weights",
                     "augment": "--no-augment (augment)",
                     "world_size": "--nproc/torchrun world size"}  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    train: str
    out: str
    val: str | None = None
    model: str = "tiny"
    epochs: int = 1
    batch_size: int = 32
    steps_per_epoch: int = 100
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 10
    accum: int = 1
    workers: int = 2
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    cuda_graph: bool = False
    grad_reduce: str = "fp32"
    resume: str | None = None
    seed: int = 0
    save_every: int = 0
    log_every: int = 10
    nproc: int = 1
    caption_families: tuple[str, ...] | None = None
    eval_caption_families: tuple[str, ...] | None = None
    init_openclip: str | None = None
    modality_dropout: float = 0.3
    weights: LossWeights = field(default_factory=LossWeights)
    augment: bool = True
    progress: bool = True
    modalities: tuple[str, ...] = ("image", "audio", "text")
    # start afresh in an --out folder that holds a previous run (its outputs are removed)
    force: bool = False
    # RUN_FIELDS that --resume may change from the checkpoint's (recorded in the checkpoint)
    resume_override: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("lr", "weight_decay", "modality_dropout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"TrainConfig.{name} must be a finite number, got {value!r}")
        for name in ("epochs", "batch_size", "steps_per_epoch", "accum", "nproc", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "workers", "seed", "save_every", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"TrainConfig.precision must be one of {PRECISIONS}, got {self.precision!r}"
            )
        if self.grad_reduce not in GRAD_REDUCE:
            raise ValueError(
                f"TrainConfig.grad_reduce must be one of {GRAD_REDUCE}, got {self.grad_reduce!r}"
            )
        if not 0 <= self.modality_dropout < 1:
            raise ValueError(
                f"TrainConfig.modality_dropout must be in [0, 1), got {self.modality_dropout}"
            )

        if self.cuda_graph and (self.accum != 1 or self.compile):
            raise ValueError(
                "TrainConfig.cuda_graph captures one whole step: it needs accum == 1 and no "
                f"compile, got accum={self.accum}, compile={self.compile}"
            )
        unknown = sorted(set(self.resume_override) - set(RUN_FIELDS))
        if unknown:
            raise ValueError(
                f"TrainConfig.resume_override: {', '.join(unknown)} is not one of "
                f"{', '.join(RUN_FIELDS)}"
            )
        allowed = {("image", "audio", "text"), ("image", "text"), ("audio", "text")}
        if tuple(self.modalities) not in allowed:
            raise ValueError(
                f"TrainConfig.modalities must be one of {sorted(allowed)}, got {self.modalities}"
            )

    @property
    def uses_audio(self) -> bool:
        return "audio" in self.modalities

    def active_weights(self) -> LossWeights:
        """The loss weights with every pair that needs an untrained modality set to 0."""
        have = set(self.modalities) | ({"fused"} if {"image", "audio"} <= set(self.modalities)
                                       else set())  # fmt: skip
        from multimodal.loss import PAIR_FEATURES

        kept = {pair: (w if set(PAIR_FEATURES[pair]) <= have else 0.0)
                for pair, w in self.weights.to_dict().items()}  # fmt: skip
        return LossWeights(**kept)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def cosine_with_warmup(warmup: int, total: int):
    """LR multiplier: linear warm-up to 1, then cosine decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on biases, norms, embeddings, temperatures (1-D parameters)."""
    decay, no_decay = [], []
    for _, p in sorted(model.named_parameters()):
        (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _families(text: str | None) -> tuple[str, ...] | None:
    return tuple(f.strip() for f in text.split(",") if f.strip()) if text else None


def _weights(text: str | None) -> LossWeights:
    if not text:
        return LossWeights()
    from multimodal.loss import PAIR_FEATURES

    values = {}
    for item in text.split(","):
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name or not value:
            raise ValueError(
                "--loss-weights: expected PAIR=NUMBER items separated by commas "
                f"(e.g. image_text=1,audio_text=0.5), got {item.strip()!r}"
            )
        if name not in PAIR_FEATURES:
            raise ValueError(f"--loss-weights: unknown pair {name!r}; pairs: "
                             f"{', '.join(PAIR_FEATURES)}")  # fmt: skip
        try:
            values[name] = float(value)
        except ValueError:
            raise ValueError(f"--loss-weights: {name}={value!r} is not a number") from None
    return LossWeights(**values)


def _override(text: str | None) -> tuple[str, ...]:
    names = [n.strip().replace("-", "_") for n in (text or "").split(",") if n.strip()]
    return tuple("world_size" if n == "nproc" else n for n in names)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        train=args.train, val=args.val, out=args.out, model=args.model, epochs=args.epochs,
        batch_size=args.batch_size, steps_per_epoch=args.steps_per_epoch, lr=args.lr,
        weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, accum=args.accum,
        workers=args.workers, device=args.device, precision=args.precision,
        compile=args.compile, cuda_graph=args.cuda_graph, grad_reduce=args.grad_reduce,
        resume=args.resume, seed=args.seed,
        save_every=args.save_every,
        log_every=args.log_every, nproc=args.nproc,
        caption_families=_families(args.train_caption_families),
        eval_caption_families=_families(args.eval_caption_families),
        init_openclip=args.init_openclip, modality_dropout=args.modality_dropout,
        weights=_weights(args.loss_weights), augment=not args.no_augment,
        progress=not args.no_progress, modalities=tuple(args.modalities.split(",")),
        force=args.force, resume_override=_override(args.resume_override),
    )  # fmt: skip


# What a run writes in its --out folder (removed by --force before a fresh run starts)
RUN_OUTPUTS = ("checkpoint.pt", "summary.json", "val_metrics.json", "training_curve.png",
               "tensorboard", "plots")  # fmt: skip


def world_size_of(cfg: TrainConfig) -> int:
    """The world size this launch will have: torchrun's, else ``--nproc``."""
    import os

    return int(os.environ.get("WORLD_SIZE", "0")) or cfg.nproc


def resume_path(cfg: TrainConfig) -> Path | None:
    """The checkpoint ``--resume`` names; None for a fresh start (also with ``auto`` when the
    run folder holds no checkpoint yet)."""
    if not cfg.resume:
        return None
    if cfg.resume == "auto":
        path = Path(cfg.out) / "checkpoint.pt"
        return path if path.exists() else None
    path = Path(cfg.resume)
    if not path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {path}")
    return path


def resume_changes(state: dict, cfg: TrainConfig, world_size: int, where: object) -> dict:
    """The RUN_FIELDS whose values differ from those the checkpoint ``state`` was trained
    with, as ``{field: [old, new]}``. Raises ValueError naming the first one that
    ``--resume-override`` does not allow."""
    stored = state.get("train_config")
    if not isinstance(stored, dict):
        raise ValueError(f"--resume: {where} stores no training configuration")
    if state.get("world_size") is not None:
        stored = {**stored, "world_size": state["world_size"]}
    now = {**to_jsonable(cfg), "world_size": world_size}
    changes = {}
    for name in RUN_FIELDS:
        if name not in stored:  # a checkpoint from before the field existed
            continue
        if stored[name] != now[name]:
            if name not in cfg.resume_override:
                flag = RUN_FIELD_OPTIONS.get(name, "--" + name.replace("_", "-"))
                raise ValueError(
                    f"--resume: {where} was trained with {flag} {stored[name]!r}, not "
                    f"{now[name]!r}; give --resume-override {name} to change it"
                )
            changes[name] = [stored[name], now[name]]
    return changes


def _run_in_use(out: Path) -> bool:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} exists and is not a folder")
    return out.is_dir() and any(out.iterdir())


def preflight(cfg: TrainConfig) -> None:
    """What can be refused before training starts, so that nothing is written: missing,
    empty or non-tar local shards, an --out folder holding a previous run (without --resume
    or --force), a --resume checkpoint that is unreadable, unsafe or from a different run."""
    import os

    from multimodal.data import check_shards

    check_shards(cfg.train, "--train")
    if cfg.val:
        check_shards(cfg.val, "--val")
    out = Path(cfg.out)
    path = resume_path(cfg)
    # continuing the run in --out (--resume auto, or its own checkpoint) may write there;
    # a fresh run or one resumed from elsewhere must not replace another run's outputs
    own = path is not None and path.resolve() == (out / "checkpoint.pt").resolve()
    if not own and cfg.resume != "auto" and _run_in_use(out):
        if not cfg.force:
            raise FileExistsError(
                f"--out {out} already holds a run; pass --resume auto to continue it or "
                "--force to replace it"
            )
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one rank clears it
            _remove_outputs(out, keep=path)
    if path is not None:
        from multimodal.checkpoint import load_state

        state = load_state(path, mmap=True)
        resume_changes(state, cfg, world_size_of(cfg), path)


def _remove_outputs(out: Path, keep: Path | None = None) -> None:
    import shutil

    for name in RUN_OUTPUTS:
        target = out / name
        if keep is not None and target.resolve() == keep.resolve():
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


def launch(cfg: TrainConfig) -> dict:
    """Train in this process (or torchrun's), or spawn ``cfg.nproc`` local processes."""
    preflight(cfg)
    if cfg.nproc > 1:
        from multimodal.distributed import spawn

        try:
            spawn(_run_and_ignore, cfg.nproc, cfg)
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


def _run_and_ignore(cfg: TrainConfig) -> None:
    from multimodal.trainer import Trainer

    Trainer(cfg).fit()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multimodal.train", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    summary = launch(config_from_args(args))
    print(json.dumps({k: summary[k] for k in ("steps", "final_loss", "first_loss")}))
    return 0


def data_config(cfg: TrainConfig, model_cfg, urls: str, train: bool, batch: int | None = None):
    from multimodal.data import DataConfig

    return DataConfig(
        urls=urls, batch_size=batch or cfg.batch_size, workers=cfg.workers,
        image_size=model_cfg.image_size, image_mean=model_cfg.image_mean,
        image_std=model_cfg.image_std, audio_samples=model_cfg.audio_samples,
        sample_rate=model_cfg.mel.sample_rate,
        caption_families=cfg.caption_families if train else cfg.eval_caption_families,
        augment=AugmentConfig() if (train and cfg.augment) else None, seed=cfg.seed,
        audio=cfg.uses_audio or not train,
        context_length=model_cfg.context_length if train else 0,
        pin_memory=cfg.device != "cpu" and torch.cuda.is_available(), uint8_images=train,
    )  # fmt: skip


def to_jsonable(cfg: TrainConfig) -> dict:
    return json.loads(json.dumps(asdict(cfg)))


def elapsed(since: float) -> float:
    return max(time.perf_counter() - since, 1e-9)


if __name__ == "__main__":
    raise SystemExit(main())
