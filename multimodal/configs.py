"""Model configurations: presets from "tiny" (CPU tests) to ViT-B scale (GPUs)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from multimodal.mel import MelConfig

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


CLIP_FIELDS = ("clip_frames", "temporal_layers")  # left out of a single-frame model's dict
MOTION_FIELDS = ("motion_layers",)  # left out of a model without the motion stream


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the three towers, the shared embedding and the preprocessing parameters."""

    name: str = "tiny"
    embed_dim: int = 64
    image_size: int = 64
    image_mean: tuple[float, float, float] = CLIP_MEAN
    image_std: tuple[float, float, float] = CLIP_STD
    vision_width: int = 128
    vision_layers: int = 3
    vision_patch: int = 8
    text_width: int = 128
    text_layers: int = 2
    context_length: int = 32
    audio_width: int = 128
    audio_layers: int = 2
    audio_patch: int = 16
    audio_seconds: float = 1.0
    head_width: int = 32
    fusion_heads: int = 4
    init_temperature: float = 0.07
    mel: MelConfig = field(default_factory=MelConfig)
    # clips (``train --clip-frames``): 0 = single frames (no temporal tower); T > 0 = the
    # vision tower runs per frame and a temporal transformer of ``temporal_layers`` layers
    # pools the T frame embeddings into the video embedding
    clip_frames: int = 0
    temporal_layers: int = 2
    # clips only (``train --motion-layers``): 0 = no motion stream; N > 0 = the T-1 frame
    # differences go through a ViT of N layers (``motion_width``) whose T-1 motion tokens
    # join the T frame tokens in the temporal transformer
    motion_layers: int = 0

    def __post_init__(self) -> None:
        for name in (
            "embed_dim", "image_size", "vision_width", "vision_layers", "vision_patch",
            "text_width", "text_layers", "context_length", "audio_width", "audio_layers",
            "audio_patch", "head_width", "fusion_heads",
        ):  # fmt: skip
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"ModelConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.image_size % self.vision_patch:
            raise ValueError(
                f"ModelConfig.image_size must be a multiple of vision_patch "
                f"({self.vision_patch}), got {self.image_size}"
            )
        for name in ("vision_width", "text_width", "audio_width"):
            if getattr(self, name) % self.head_width:
                raise ValueError(
                    f"ModelConfig.{name} must be a multiple of head_width "
                    f"({self.head_width}), got {getattr(self, name)}"
                )
        if self.embed_dim % self.fusion_heads:
            raise ValueError(
                f"ModelConfig.embed_dim must be a multiple of fusion_heads, got {self.embed_dim}"
            )
        if int(self.clip_frames) < 0 or int(self.temporal_layers) <= 0:
            raise ValueError(f"ModelConfig.clip_frames must be >= 0 and temporal_layers > 0, "
                             f"got {self.clip_frames}, {self.temporal_layers}")  # fmt: skip
        if not isinstance(self.motion_layers, int) or self.motion_layers < 0:
            raise ValueError(f"ModelConfig.motion_layers must be an integer >= 0, got "
                             f"{self.motion_layers!r}")  # fmt: skip
        if self.motion_layers and self.clip_frames < 2:
            raise ValueError(f"ModelConfig.motion_layers needs clips of >= 2 frames (the motion "
                             f"stream reads frame differences), got "
                             f"motion_layers={self.motion_layers}, clip_frames="
                             f"{self.clip_frames}")  # fmt: skip
        if self.audio_seconds <= 0:
            raise ValueError(f"ModelConfig.audio_seconds must be > 0, got {self.audio_seconds}")
        if not 0 < self.init_temperature < 1:
            raise ValueError(
                f"ModelConfig.init_temperature must be in (0, 1), got {self.init_temperature}"
            )
        if len(self.image_mean) != 3 or len(self.image_std) != 3 or min(self.image_std) <= 0:
            raise ValueError(
                f"ModelConfig.image_std must be 3 positive values, got {self.image_std}"
            )

    @property
    def audio_samples(self) -> int:
        return int(round(self.audio_seconds * self.mel.sample_rate))

    @property
    def audio_frames(self) -> int:
        """Mel frames fed to the audio tower: padded up to a multiple of ``audio_patch``."""
        frames = self.mel.num_frames(self.audio_samples)
        return math.ceil(frames / self.audio_patch) * self.audio_patch

    @property
    def motion_width(self) -> int:
        """Width of the motion stream's ViT: half the vision width, a multiple of
        ``head_width`` (at least one head)."""
        return max(self.head_width, self.vision_width // 2 // self.head_width * self.head_width)

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.motion_layers:  # no motion stream: the same dict as before it existed
            for name in MOTION_FIELDS:
                data.pop(name)
        if not self.clip_frames:  # single-frame models: the same dict as before clips existed
            for name in CLIP_FIELDS:
                data.pop(name)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        data = dict(data)
        data["mel"] = MelConfig(**data.get("mel", {}))
        for key in ("image_mean", "image_std"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(),
    "small": ModelConfig(
        name="small",
        embed_dim=384,
        image_size=96,
        vision_width=384,
        vision_layers=12,
        vision_patch=8,
        text_width=384,
        text_layers=6,
        context_length=64,
        audio_width=384,
        audio_layers=8,
        audio_patch=16,
        head_width=64,
        fusion_heads=6,
    ),  # fmt: skip
    "base": ModelConfig(
        name="base",
        embed_dim=512,
        image_size=224,
        vision_width=768,
        vision_layers=12,
        vision_patch=16,
        text_width=512,
        text_layers=12,
        context_length=77,
        audio_width=768,
        audio_layers=12,
        audio_patch=16,
        head_width=64,
        fusion_heads=8,
    ),  # fmt: skip
}


def preset(name: str, **overrides: object) -> ModelConfig:
    """A preset by name with optional field overrides."""
    if name not in PRESETS:
        raise ValueError(f"model must be one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **overrides)
