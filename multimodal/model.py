"""TriModalModel: vision, audio and text towers in one embedding space, plus fusion."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from multimodal.configs import ModelConfig
from multimodal.fusion import FusionHead
from multimodal.towers import (
    AudioTower,
    TemporalTower,
    build_mel,
    build_text_tower,
    build_vision_tower,
)

PAIRS: tuple[str, ...] = ("image_text", "audio_text", "image_audio", "fused_text")
MAX_LOGIT_SCALE = 100.0


class TriModalModel(nn.Module):
    """Contrastive image/audio/text model; every ``encode_*`` returns L2-normalised rows."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.visual = build_vision_tower(config)
        self.text = build_text_tower(config)
        self.mel = build_mel(config)
        self.audio = AudioTower(config)
        self.fusion = FusionHead(config.embed_dim, config.fusion_heads)
        # clips (config.clip_frames > 0): the vision tower per frame, pooled over time
        self.temporal = TemporalTower(config) if config.clip_frames else None
        init = math.log(1.0 / config.init_temperature)
        self.logit_scale = nn.ParameterDict({p: nn.Parameter(torch.tensor(init)) for p in PAIRS})

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, S, S]`` normalised (config mean/std) images -> ``[B, D]``."""
        return F.normalize(self.visual(images), dim=-1)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """``[B, T, 3, S, S]`` normalised clips (T = ``config.clip_frames``) -> ``[B, D]``."""
        if self.temporal is None:
            raise ValueError("this model has no temporal tower (trained with --clip-frames 0): "
                             "give it single images (encode_image)")  # fmt: skip
        return F.normalize(self.temporal(self.visual, video), dim=-1)

    def encode_visual(self, pixels: torch.Tensor) -> torch.Tensor:
        """Images ``[B, 3, S, S]`` (encode_image) or clips ``[B, T, 3, S, S]``
        (encode_video) -> ``[B, D]``."""
        return self.encode_video(pixels) if pixels.dim() == 5 else self.encode_image(pixels)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, context_length]`` BPE token ids -> ``[B, D]``."""
        return F.normalize(self.text(tokens), dim=-1)

    def audio_mel(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` float waveforms in [-1, 1] -> ``[B, n_mels, frames]`` log-mel."""
        return self.mel(waveforms)

    def encode_audio_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """``[B, n_mels, frames]`` log-mel -> ``[B, D]``."""
        return F.normalize(self.audio(mel), dim=-1)

    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` waveforms -> ``[B, D]`` (mel computed inside)."""
        return self.encode_audio_mel(self.audio_mel(waveforms))

    def fuse(
        self, embs: dict[str, torch.Tensor], present: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Fuse the available normalised embeddings (any subset of image/audio/text)."""
        return self.fusion(embs, present)

    def scales(self) -> dict[str, torch.Tensor]:
        """The learnable inverse temperatures, clamped to ``MAX_LOGIT_SCALE``."""
        return {p: s.exp().clamp(max=MAX_LOGIT_SCALE) for p, s in self.logit_scale.items()}

    def forward(
        self,
        images: torch.Tensor | None,
        tokens: torch.Tensor,
        mel: torch.Tensor | None,
        present: dict[str, torch.Tensor] | None = None,
    ) -> dict:
        """Features for the contrastive loss (``mel`` already computed and augmented) and
        the temperatures (returned here so that DDP sees every parameter used). ``images``
        or ``mel`` may be None (two-modality training): that tower and fusion do not run.
        ``images`` may be clips ``[B, T, 3, S, S]``: their video embeddings stand in the
        image's place (the pairs image_text, image_audio and fusion)."""
        out: dict = {"text": self.encode_text(tokens), "scales": self.scales()}
        if images is not None:
            out["image"] = self.encode_visual(images)
        if mel is not None:
            out["audio"] = self.encode_audio_mel(mel)
        if images is not None and mel is not None:
            embs = {"image": out["image"], "audio": out["audio"]}
            out["fused"] = self.fusion(embs, present, validate=False)  # trainer's masks: valid
        return out


def load_openclip_weights(model: TriModalModel, path: str) -> dict[str, list[str]]:
    """Initialise vision/text towers from a local open_clip checkpoint file (no download).

    Keys ``visual.*`` go to the vision tower; the CLIP text keys (token_embedding,
    positional_embedding, transformer, ln_final, text_projection) go to the text tower.
    Shapes must match the configured sizes. Returns the missing/unexpected key lists.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    visual = {k[len("visual.") :]: v for k, v in state.items() if k.startswith("visual.")}
    text = {k: v for k, v in state.items() if not k.startswith("visual.") and k != "logit_scale"}
    report = {"missing": [], "unexpected": []}
    for tower, sub in ((model.visual, visual), (model.text, text)):
        result = tower.load_state_dict(sub, strict=False)
        report["missing"] += list(result.missing_keys)
        report["unexpected"] += list(result.unexpected_keys)
    return report
