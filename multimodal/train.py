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

    def __post_init__(self) -> None:
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
    values = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        values[name.strip()] = float(value)
    try:
        return LossWeights(**values)
    except TypeError as exc:
        raise ValueError(f"--loss-weights: unknown pair in {text!r}") from exc


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
    )  # fmt: skip


def launch(cfg: TrainConfig) -> dict:
    """Train in this process (or torchrun's), or spawn ``cfg.nproc`` local processes."""
    if cfg.nproc > 1:
        from multimodal.distributed import spawn

        spawn(_run_and_ignore, cfg.nproc, cfg)
        return json.loads((Path(cfg.out) / "summary.json").read_text())
    from multimodal.trainer import Trainer

    return Trainer(cfg).fit()


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
