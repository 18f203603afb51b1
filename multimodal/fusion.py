"""Fusion head: attention over whichever modality embeddings are present."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODALITIES: tuple[str, ...] = ("image", "audio", "text")


class FusionHead(nn.Module):
    """A learned query attends over the available embeddings (plus a modality-type
    embedding each); the result is added to their mean and normalised.

    Missing modalities are simply absent from the dict, or masked per sample with
    ``present[name]`` (bool ``[B]``). At least one modality must be present per sample.
    """

    def __init__(self, embed_dim: int, heads: int) -> None:
        super().__init__()
        self.type_embed = nn.ParameterDict(
            {m: nn.Parameter(torch.zeros(embed_dim)) for m in MODALITIES}
        )
        self.query = nn.Parameter(torch.randn(embed_dim) * embed_dim**-0.5)
        self.attn = nn.MultiheadAttention(embed_dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(
        self,
        embs: dict[str, torch.Tensor],
        present: dict[str, torch.Tensor] | None = None,
        validate: bool = True,
    ) -> torch.Tensor:
        """``validate=False`` skips the every-sample-has-a-modality check (a device->host
        sync): for callers whose masks guarantee it, like the trainer's modality dropout."""
        names = [m for m in MODALITIES if m in embs]
        unknown = set(embs) - set(MODALITIES)
        if unknown or not names:
            raise ValueError(f"fuse needs embeddings among {MODALITIES}, got {sorted(embs)}")
        tokens = torch.stack([embs[m] + self.type_embed[m] for m in names], dim=1)
        batch = tokens.shape[0]
        mask = self._presence(names, present, batch, tokens.device, validate)  # True = present
        query = self.query.expand(batch, 1, -1).to(tokens.dtype)
        attended, _ = self.attn(query, self.norm(tokens), self.norm(tokens),
                                key_padding_mask=~mask, need_weights=False)  # fmt: skip
        weights = mask.to(tokens.dtype).unsqueeze(-1)
        mean = (torch.stack([embs[m] for m in names], 1) * weights).sum(1) / weights.sum(1)
        return F.normalize(mean + attended.squeeze(1), dim=-1)

    @staticmethod
    def _presence(
        names: list[str], present: dict[str, torch.Tensor] | None, batch: int, device,
        validate: bool = True,
    ) -> torch.Tensor:
        cols = []
        for m in names:
            if present is not None and m in present:
                cols.append(present[m].to(device=device, dtype=torch.bool))
            else:
                cols.append(torch.ones(batch, dtype=torch.bool, device=device))
        mask = torch.stack(cols, dim=1)
        if validate and not bool(mask.any(dim=1).all()):
            raise ValueError("fuse: every sample needs at least one present modality")
        return mask
