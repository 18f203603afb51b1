"""Phase-integrated harmonic oscillators."""

from __future__ import annotations

import math

import numpy as np
import torch


def harmonic_stack(
    cycles: np.ndarray,
    freq_hz: np.ndarray,
    amplitudes: list[float],
    sample_rate: int,
    order_step: float = 1.0,
) -> torch.Tensor:
    """``sum_k a_k sin(2 pi k c)`` over orders ``k = order_step * (1, 2, ...)``.

    ``cycles`` is the phase of the fundamental in cycles (``timeline.integrate_cycles``),
    ``freq_hz`` its instantaneous frequency; each partial fades out smoothly between 0.40
    and 0.45 of the sample rate instead of aliasing.
    """
    return harmonic_stacks(cycles, freq_hz, [amplitudes], sample_rate, order_step)[0]


def harmonic_stacks(
    cycles: np.ndarray,
    freq_hz: np.ndarray,
    spectra: list[list[float]],
    sample_rate: int,
    order_step: float = 1.0,
) -> list[torch.Tensor]:
    """Several :func:`harmonic_stack` spectra on one phase, computing each partial once."""
    phase = torch.from_numpy(cycles)
    freq = torch.from_numpy(freq_hz.astype(np.float32))
    outs = [torch.zeros(len(cycles), dtype=torch.float32) for _ in spectra]
    for i in range(max(len(s) for s in spectra)):
        order = order_step * (i + 1)
        guard = ((0.45 * sample_rate - order * freq) / (0.05 * sample_rate)).clamp(0.0, 1.0)
        if not bool(torch.any(guard > 0)):
            break
        partial = torch.sin(2 * math.pi * torch.remainder(order * phase, 1.0)).float() * guard
        for out, amps in zip(outs, spectra):
            if i < len(amps):
                out += amps[i] * partial
    return outs
