"""Symmetric InfoNCE over image-text, audio-text, image-audio (and fused-text) pairs.

Features are all-gathered across ranks inside the loss (open_clip ``ClipLoss`` with
``local_loss=True, gather_with_grad=True``): each rank scores its rows against the global
batch, so with DDP's gradient averaging the gradient equals the single-process one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from open_clip.loss import ClipLoss
from torch import nn

PAIR_FEATURES: dict[str, tuple[str, str]] = {
    "image_text": ("image", "text"),
    "audio_text": ("audio", "text"),
    "image_audio": ("image", "audio"),
    "fused_text": ("fused", "text"),
}


@dataclass(frozen=True)
class LossWeights:
    image_text: float = 1.0
    audio_text: float = 1.0
    image_audio: float = 0.5
    fused_text: float = 0.5

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"LossWeights.{name} must be a finite number >= 0, got {value}")
        if sum(asdict(self).values()) <= 0:
            raise ValueError("LossWeights: at least one weight must be > 0, got all zero")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class TriModalLoss(nn.Module):
    """Weighted sum of symmetric InfoNCE losses; returns ``(total, per_pair)``."""

    def __init__(self, weights: LossWeights, rank: int = 0, world_size: int = 1) -> None:
        super().__init__()
        self.weights = weights
        self.clip = ClipLoss(
            local_loss=world_size > 1, gather_with_grad=world_size > 1,
            rank=rank, world_size=world_size,
        )  # fmt: skip

    def forward(
        self, features: dict[str, torch.Tensor], scales: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts: dict[str, torch.Tensor] = {}
        total = None
        for pair, weight in self.weights.to_dict().items():
            if weight == 0:
                continue
            a, b = PAIR_FEATURES[pair]
            value = self.clip(features[a].float(), features[b].float(), scales[pair].float())
            parts[pair] = value.detach()
            total = weight * value if total is None else total + weight * value
        return total, parts
