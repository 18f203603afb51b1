"""Augmentations: image crop/colour and audio gain/shift (per sample, seeded), SpecAugment
on log-mels (per batch, on the training device)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from multimodal.distributed import to_device


@dataclass(frozen=True)
class AugmentConfig:
    crop_scale_min: float = 0.7
    brightness: float = 0.15
    contrast: float = 0.15
    gain_db: float = 6.0
    max_shift_s: float = 0.1
    freq_masks: int = 2
    freq_mask_width: int = 8
    time_masks: int = 2
    time_mask_width: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.crop_scale_min <= 1:
            raise ValueError(
                f"AugmentConfig.crop_scale_min must be in (0, 1], got {self.crop_scale_min}"
            )
        for name in ("brightness", "contrast", "gain_db", "max_shift_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"AugmentConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width"):
            if getattr(self, name) < 0:
                raise ValueError(f"AugmentConfig.{name} must be >= 0, got {getattr(self, name)}")


def crop_box(size: tuple[int, int], scale_min: float,
             rng: np.random.Generator) -> tuple[int, int, int, int]:  # fmt: skip
    """The box of :func:`random_crop` for an image of ``size`` (w, h) (the same draws)."""
    w, h = size
    scale = rng.uniform(scale_min, 1.0)
    cw, ch = max(1, int(w * scale)), max(1, int(h * scale))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    return (x0, y0, x0 + cw, y0 + ch)


def random_crop(image: Image.Image, scale_min: float, rng: np.random.Generator) -> Image.Image:
    """A random square-ish crop covering ``[scale_min, 1]`` of each side."""
    return image.crop(crop_box(image.size, scale_min, rng))


def jitter_factors(cfg: AugmentConfig, rng: np.random.Generator) -> tuple[float, float]:
    """Brightness and contrast factors of one image's colour jitter."""
    brightness = 1.0 + rng.uniform(-cfg.brightness, cfg.brightness)
    contrast = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast)
    return float(brightness), float(contrast)


def colour_jitter(pixels: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    """Brightness and contrast jitter of a float ``[H, W, 3]`` image in [0, 1] (on batches on
    the training device: ``multimodal.data.finish_images``)."""
    mean = pixels.mean()
    return np.clip((pixels * brightness - mean) * contrast + mean, 0.0, 1.0)


def audio_gain_shift(
    wave: np.ndarray, sample_rate: int, cfg: AugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    """Random gain (dB) and circular-free time shift (zero filled) of a 1-D waveform."""
    gain = 10.0 ** (rng.uniform(-cfg.gain_db, cfg.gain_db) / 20.0)
    max_shift = int(cfg.max_shift_s * sample_rate)
    shift = int(rng.integers(-max_shift, max_shift + 1)) if max_shift else 0
    out = np.zeros_like(wave)
    if shift >= 0:
        out[shift:] = wave[: len(wave) - shift]
    else:
        out[:shift] = wave[-shift:]
    return np.clip(out * gain, -1.0, 1.0).astype(np.float32)


def spec_masks(
    batch: int, n_mels: int, frames: int, cfg: AugmentConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """SpecAugment's bands, drawn on the host: boolean ``[B, n_mels]`` (frequency) and
    ``[B, frames]`` (time) masks, each the union of that axis's random bands."""
    masks = []
    for count, width, size in ((cfg.freq_masks, cfg.freq_mask_width, n_mels),
                               (cfg.time_masks, cfg.time_mask_width, frames)):  # fmt: skip
        idx = torch.arange(size)
        union = torch.zeros(batch, size, dtype=torch.bool)
        for _ in range(count):
            w = torch.randint(0, width + 1, (batch,), generator=generator)
            start = (torch.rand(batch, generator=generator) * (size - w).clamp_min(1)).long()
            union |= (idx[None] >= start[:, None]) & (idx[None] < (start + w)[:, None])
        masks.append(union)
    return masks[0], masks[1]


def apply_spec_masks(mel: torch.Tensor, freq: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
    """Set the masked bins of ``[B, n_mels, frames]`` to each clip's mean (masks on the
    device of ``mel``; no host work, so it can run inside a captured CUDA graph)."""
    fill = mel.mean(dim=(1, 2), keepdim=True)
    return torch.where(freq[:, :, None] | time[:, None, :], fill, mel)


def spec_augment(mel: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Frequency and time masking of ``[B, n_mels, frames]`` (masked bins set to the mean)."""
    batch, n_mels, frames = mel.shape
    freq, time = spec_masks(batch, n_mels, frames, cfg, generator)
    return apply_spec_masks(mel, to_device(freq, mel.device), to_device(time, mel.device))
