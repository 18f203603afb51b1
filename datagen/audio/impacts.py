"""Collision impacts: a broadband crunch, ringing panel modes and a low thump."""

from __future__ import annotations

import math

import numpy as np
import torch

from datagen.audio.activity import Transient
from datagen.audio.filters import highpass
from datagen.audio.noise import decay, white


def render_impact(
    event: Transient, n: int, sample_rate: int, rng: np.random.Generator
) -> torch.Tensor:
    """Amplitude follows ``event.strength`` (sqrt of the impulse, capped)."""
    t = torch.arange(n, dtype=torch.float32) / sample_rate
    crunch = highpass(white(rng, n), sample_rate, 400.0) * decay(n, sample_rate, 0.05)
    modes = torch.zeros(n)
    for _ in range(3):
        freq, tau = rng.uniform(250.0, 1500.0), rng.uniform(0.08, 0.25)
        modes += 0.4 * torch.sin(2 * math.pi * freq * t) * decay(n, sample_rate, tau)
    thump = torch.sin(2 * math.pi * 55.0 * t) * decay(n, sample_rate, 0.08)
    return event.strength * (0.8 * crunch + modes + thump)
