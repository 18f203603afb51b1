"""Vision, text and audio towers built from open_clip's transformer blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.transformer import TextTransformer, Transformer, VisionTransformer
from torch import nn

from multimodal.configs import ModelConfig
from multimodal.mel import LogMel


def build_vision_tower(config: ModelConfig) -> VisionTransformer:
    """An open_clip ViT over RGB images of ``config.image_size`` pixels."""
    return VisionTransformer(
        image_size=config.image_size,
        patch_size=config.vision_patch,
        width=config.vision_width,
        layers=config.vision_layers,
        heads=config.vision_width // config.head_width,
        mlp_ratio=4.0,
        output_dim=config.embed_dim,
    )


def build_text_tower(config: ModelConfig) -> TextTransformer:
    """An open_clip causal text transformer over BPE tokens (EOT-pooled)."""
    return TextTransformer(
        context_length=config.context_length,
        width=config.text_width,
        heads=config.text_width // config.head_width,
        layers=config.text_layers,
        output_dim=config.embed_dim,
    )


class AudioTower(nn.Module):
    """A ViT over log-mel patches (AST/ImageBind-style): mel -> per-clip standardised
    spectrogram image ``[B, 1, n_mels, frames]`` -> open_clip VisionTransformer."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.frames = config.audio_frames
        self.vit = VisionTransformer(
            image_size=(config.mel.n_mels, self.frames),
            patch_size=config.audio_patch,
            width=config.audio_width,
            layers=config.audio_layers,
            heads=config.audio_width // config.head_width,
            mlp_ratio=4.0,
            output_dim=config.embed_dim,
        )
        patch = config.audio_patch
        self.vit.conv1 = nn.Conv2d(1, config.audio_width, patch, stride=patch, bias=False)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``mel``: ``[B, n_mels, frames]`` log-mel (frames <= padded size) -> ``[B, D]``."""
        mean = mel.mean(dim=(1, 2), keepdim=True)
        std = mel.std(dim=(1, 2), keepdim=True).clamp_min(1e-5)
        x = (mel - mean) / std
        pad = self.frames - x.shape[-1]
        if pad < 0:
            x = x[..., : self.frames]
        elif pad > 0:
            x = F.pad(x, (0, pad))
        return self.vit(x.unsqueeze(1))


def build_motion_tower(config: ModelConfig) -> VisionTransformer:
    """The motion stream's ViT: over the difference of two consecutive normalised frames
    (3 channels, the vision tower's image and patch size), ``motion_layers`` layers of
    ``motion_width``, projected to ``embed_dim``."""
    width = config.motion_width
    return VisionTransformer(
        image_size=config.image_size,
        patch_size=config.vision_patch,
        width=width,
        layers=config.motion_layers,
        heads=width // config.head_width,
        mlp_ratio=4.0,
        output_dim=config.embed_dim,
    )


class TemporalTower(nn.Module):
    """Video embedding from per-frame embeddings: the vision tower runs on every frame
    (frames folded into the batch, the same weights as for single images), then a small
    transformer over the ``clip_frames`` frame embeddings plus a CLS token, with a learned
    temporal position embedding, pools them (the CLS output, projected) into the joint
    space. The position embedding makes the result depend on the frames' order.

    With ``motion_layers`` > 0 (the motion stream) a second, narrower ViT reads the T-1
    differences of consecutive frames patch by patch (what moves where: markings flowing
    past, a lead car growing), one motion token each; the motion tokens get their own
    learned temporal positions plus a learned type embedding and join the frame tokens in
    the same transformer. Without it the tower holds exactly the parameters it always had."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width, frames = config.embed_dim, config.clip_frames
        self.frames = frames
        scale = width**-0.5  # as open_clip's class and position embeddings
        self.cls = nn.Parameter(torch.randn(width) * scale)
        self.positions = nn.Parameter(torch.randn(frames + 1, width) * scale)
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, config.temporal_layers, config.fusion_heads,
                                       mlp_ratio=4.0)  # fmt: skip
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Linear(width, config.embed_dim, bias=False)
        self.motion: VisionTransformer | None = None
        if config.motion_layers:
            self.motion = build_motion_tower(config)
            self.motion_ln = nn.LayerNorm(width)
            self.motion_positions = nn.Parameter(torch.randn(frames - 1, width) * scale)
            self.motion_type = nn.Parameter(torch.randn(width) * scale)

    def forward(self, visual: nn.Module, video: torch.Tensor) -> torch.Tensor:
        """``video``: ``[B, T, 3, S, S]`` normalised frames -> ``[B, D]`` (not normalised)."""
        batch, frames = video.shape[:2]
        if frames != self.frames:
            raise ValueError(f"the temporal tower takes clips of {self.frames} frames, got "
                             f"{frames}")  # fmt: skip
        per_frame = visual(video.flatten(0, 1)).unflatten(0, (batch, frames))  # [B, T, D]
        # frame embeddings standardised first, so that the order (the positions) weighs
        # as much as the content from the start
        tokens = self.ln_pre(per_frame)
        cls = self.cls.to(tokens.dtype).expand(batch, 1, -1)
        x = torch.cat([cls, tokens], dim=1) + self.positions.to(tokens.dtype)
        if self.motion is not None:
            x = torch.cat([x, self._motion_tokens(video)], dim=1)
        x = self.transformer(x)
        return self.proj(self.ln_post(x[:, 0]))

    def _motion_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """``[B, T-1, D]``: one token per consecutive frame difference, standardised as the
        frame tokens are, plus its temporal position and the motion type embedding."""
        batch, frames = video.shape[:2]
        diffs = (video[:, 1:] - video[:, :-1]).flatten(0, 1)  # [B*(T-1), 3, S, S]
        tokens = self.motion_ln(self.motion(diffs).unflatten(0, (batch, frames - 1)))
        return tokens + (self.motion_positions + self.motion_type).to(tokens.dtype)


def build_mel(config: ModelConfig) -> LogMel:
    return LogMel(config.mel)
