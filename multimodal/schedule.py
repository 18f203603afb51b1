"""The optimisation schedule of a run: AdamW with no weight decay on 1-D parameters, linear
warm-up then cosine decay of the learning rate."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from multimodal.train_config import TrainConfig


def cosine_with_warmup(warmup: int, total: int) -> Callable[[int], float]:
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


def build_optimizer(
    model: torch.nn.Module, cfg: TrainConfig, device: torch.device
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Fused AdamW and its warm-up + cosine scheduler.

    Fused AdamW takes a device-side ``found_inf`` flag: a non-finite step is skipped on the
    device, without the host waiting for the GPU to say so (no sync per step). A captured
    step (``cuda_graph``) needs the learning rate as a device tensor (the scheduler fills it).
    """
    lr = torch.tensor(cfg.lr, device=device) if cfg.cuda_graph else cfg.lr
    optimizer = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=lr, betas=(0.9, 0.98), eps=1e-6,
        fused=True, capturable=cfg.cuda_graph,
    )  # fmt: skip
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, cosine_with_warmup(cfg.warmup_steps, cfg.total_steps)
    )
    return optimizer, scheduler


def scheduled_lr(cfg: TrainConfig, scheduler: torch.optim.lr_scheduler.LambdaLR) -> float:
    """The scheduled learning rate, computed on the host (a captured step keeps it in a
    device tensor, which the host must not wait for)."""
    return cfg.lr * scheduler.lr_lambdas[0](scheduler.last_epoch)
