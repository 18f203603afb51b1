"""Log-mel spectrogram front end, computed on the training device from raw waveforms.

The board runtime re-implements exactly this transform in numpy; keep it unchanged and
store ``MelConfig`` in every checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MelConfig:
    """torchaudio MelSpectrogram parameters (center=True, reflect pad, htk scale, no norm)."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 20.0
    f_max: float = 8000.0
    power: float = 2.0
    log_offset: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"MelConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.win_length > self.n_fft:
            raise ValueError(
                f"MelConfig.win_length must be <= n_fft ({self.n_fft}), got {self.win_length}"
            )
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(f"MelConfig.f_max must be in (f_min, sample_rate/2], got {self.f_max}")
        if self.log_offset <= 0:
            raise ValueError(f"MelConfig.log_offset must be > 0, got {self.log_offset}")

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a waveform of ``num_samples`` (center=True)."""
        return num_samples // self.hop_length + 1

    def to_dict(self) -> dict:
        return asdict(self)


class LogMel(nn.Module):
    """``[B, T]`` float waveform -> ``[B, n_mels, frames]`` log-mel, always in float32."""

    def __init__(self, config: MelConfig) -> None:
        super().__init__()
        import torchaudio

        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            power=config.power,
            center=True,
            pad_mode="reflect",
            mel_scale="htk",
            norm=None,
        )

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.dim() != 2:
            raise ValueError(f"waveforms must be [B, T], got shape {tuple(waveforms.shape)}")
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            mel = self.mel(waveforms.float())
            return torch.log(mel + self.config.log_offset)
