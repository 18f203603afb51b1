"""Noise and sparse click trains drawn from a seeded generator (numpy -> torch float32)."""

from __future__ import annotations

import numpy as np
import torch


def white(rng: np.random.Generator, n: int) -> torch.Tensor:
    """Unit-variance Gaussian white noise."""
    return torch.from_numpy(rng.standard_normal(n, dtype=np.float32))


def clicks(rng: np.random.Generator, rate_hz: np.ndarray, sample_rate: int) -> torch.Tensor:
    """A Poisson train of unit-ish impulses with random sign and size, ``rate_hz`` per sample.

    ``rate_hz`` may vary sample by sample (rain density follows intensity).
    """
    n = len(rate_hz)
    hit = rng.random(n) < np.clip(rate_hz / sample_rate, 0.0, 1.0)
    size = rng.uniform(0.2, 1.0, n) * rng.choice(np.array([-1.0, 1.0]), n)
    return torch.from_numpy(np.where(hit, size, 0.0).astype(np.float32))


def decay(n: int, sample_rate: int, tau_s: float, fade_s: float = 0.02) -> torch.Tensor:
    """An exponential decay over ``n`` samples that fades to exactly 0 at the end."""
    t = torch.arange(n, dtype=torch.float32) / sample_rate
    env = torch.exp(-t / tau_s)
    fade = max(1, min(n, int(fade_s * sample_rate)))
    env[n - fade :] *= torch.linspace(1.0, 0.0, fade)
    return env
