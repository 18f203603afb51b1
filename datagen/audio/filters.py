"""RBJ-cookbook biquads run through ``torchaudio.functional.lfilter`` without clamping.

torchaudio's ``*_biquad`` helpers call ``lfilter`` with ``clamp=True``, which clips the
output to [-1, 1]; sources here are mixed before the master limiter, so they filter with
``clamp=False`` instead.
"""

from __future__ import annotations

import math

import torch
from torchaudio.functional import lfilter


def biquad(x: torch.Tensor, b: tuple[float, ...], a: tuple[float, ...]) -> torch.Tensor:
    """Filter ``x`` (float32, time last) with normalised coefficients ``b``, ``a``."""
    a0 = a[0]
    bt = torch.tensor([c / a0 for c in b], dtype=x.dtype)
    at = torch.tensor([c / a0 for c in a], dtype=x.dtype)
    return lfilter(x, at, bt, clamp=False)


def _omega(sample_rate: int, freq_hz: float, q: float) -> tuple[float, float]:
    if not 0 < freq_hz < sample_rate / 2:
        raise ValueError(f"filter frequency must be in (0, {sample_rate / 2}), got {freq_hz}")
    w0 = 2 * math.pi * freq_hz / sample_rate
    return math.cos(w0), math.sin(w0) / (2 * q)


def lowpass(x: torch.Tensor, sample_rate: int, freq_hz: float, q: float = 0.7071) -> torch.Tensor:
    cw, alpha = _omega(sample_rate, freq_hz, q)
    b = ((1 - cw) / 2, 1 - cw, (1 - cw) / 2)
    return biquad(x, b, (1 + alpha, -2 * cw, 1 - alpha))


def highpass(x: torch.Tensor, sample_rate: int, freq_hz: float, q: float = 0.7071) -> torch.Tensor:
    cw, alpha = _omega(sample_rate, freq_hz, q)
    b = ((1 + cw) / 2, -(1 + cw), (1 + cw) / 2)
    return biquad(x, b, (1 + alpha, -2 * cw, 1 - alpha))


def bandpass(x: torch.Tensor, sample_rate: int, freq_hz: float, q: float = 1.0) -> torch.Tensor:
    """Band-pass with 0 dB peak gain at ``freq_hz``."""
    cw, alpha = _omega(sample_rate, freq_hz, q)
    return biquad(x, (alpha, 0.0, -alpha), (1 + alpha, -2 * cw, 1 - alpha))
