"""Log-mel spectrogram in numpy, numerically matching the training-time torchaudio transform.

Training computes ``torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512,
win_length=400, hop_length=160, n_mels=64, f_min=20, f_max=8000, power=2.0, center=True,
pad_mode="reflect", mel_scale="htk", norm=None)`` followed by ``log(mel + 1e-6)``. A board has
no torch, so :func:`log_mel` re-implements it (periodic Hann window zero-padded to ``n_fft``,
reflect padding, real FFT, HTK triangular filter bank) in float64 and returns float32.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MelConfig:
    """Parameters of the log-mel front end (stored in a bundle's manifest)."""

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
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"MelConfig.{name} must be a positive int, got {value!r}")
        if self.win_length > self.n_fft:
            raise ValueError(
                f"MelConfig.win_length must be <= n_fft ({self.n_fft}), got {self.win_length}"
            )
        if not 0.0 <= self.f_min < self.f_max:
            raise ValueError(f"MelConfig.f_min must be in [0, f_max), got {self.f_min}")
        if self.f_max > self.sample_rate / 2:
            raise ValueError(
                f"MelConfig.f_max must be <= sample_rate / 2 ({self.sample_rate / 2}), "
                f"got {self.f_max}"
            )
        if self.power not in (1.0, 2.0):
            raise ValueError(f"MelConfig.power must be 1.0 or 2.0, got {self.power}")
        if self.log_offset <= 0:
            raise ValueError(f"MelConfig.log_offset must be > 0, got {self.log_offset}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelConfig:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` samples (centred STFT)."""
        return 1 + n_samples // self.hop_length


def _hz_to_mel(freq: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + freq / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """HTK triangular filter bank, shape (n_fft // 2 + 1, n_mels), no area normalisation."""
    n_freqs = cfg.n_fft // 2 + 1
    all_freqs = np.linspace(0.0, cfg.sample_rate // 2, n_freqs)
    m_pts = np.linspace(
        _hz_to_mel(np.float64(cfg.f_min)), _hz_to_mel(np.float64(cfg.f_max)), cfg.n_mels + 2
    )
    f_pts = _mel_to_hz(m_pts)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


def _window(cfg: MelConfig) -> np.ndarray:
    n = np.arange(cfg.win_length, dtype=np.float64)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / cfg.win_length)  # periodic Hann
    left = (cfg.n_fft - cfg.win_length) // 2
    window = np.zeros(cfg.n_fft, dtype=np.float64)
    window[left : left + cfg.win_length] = hann
    return window


def power_spectrogram(waveforms: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """|STFT|^power of [B, T] waveforms, shape [B, n_fft // 2 + 1, frames]."""
    pad = cfg.n_fft // 2
    if waveforms.shape[-1] <= pad:
        raise ValueError(
            f"waveform must have more than {pad} samples for reflect padding, "
            f"got {waveforms.shape[-1]}"
        )
    padded = np.pad(waveforms.astype(np.float64), ((0, 0), (pad, pad)), mode="reflect")
    n_frames = 1 + (padded.shape[-1] - cfg.n_fft) // cfg.hop_length
    idx = np.arange(cfg.n_fft)[None, :] + cfg.hop_length * np.arange(n_frames)[:, None]
    frames = padded[:, idx] * _window(cfg)  # [B, frames, n_fft]
    magnitude = np.abs(np.fft.rfft(frames, n=cfg.n_fft, axis=-1))
    spec = magnitude**2 if cfg.power == 2.0 else magnitude
    return np.transpose(spec, (0, 2, 1))


def log_mel(waveforms: np.ndarray, cfg: MelConfig | None = None) -> np.ndarray:
    """Log-mel of mono waveforms [B, T] (or [T]) -> float32 [B, n_mels, frames]."""
    cfg = cfg or MelConfig()
    wave = np.asarray(waveforms)
    if wave.ndim == 1:
        wave = wave[None, :]
    if wave.ndim != 2:
        raise ValueError(f"waveforms must have shape [B, T] or [T], got {wave.shape}")
    spec = power_spectrogram(wave, cfg)
    mel = np.einsum("fm,bft->bmt", mel_filterbank(cfg), spec)
    return np.log(mel + cfg.log_offset).astype(np.float32)
