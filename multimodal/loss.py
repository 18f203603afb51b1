"""Symmetric InfoNCE over image-text, audio-text, image-audio (and fused-text) pairs.

Features are all-gathered across ranks inside the loss (open_clip ``ClipLoss`` with
``local_loss=True, gather_with_grad=True``): each rank scores its rows against the global
batch, so with DDP's gradient averaging the gradient equals the single-process one.
"""

from __future__ import annotations

import torch
from open_clip.loss import ClipLoss
from torch import nn

from multimodal.pairs import PAIR_FEATURES, LossWeights


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
