"""Precipitation and thunder: rain wash and drops, hail hits, distant rumbling thunder."""

from __future__ import annotations

import numpy as np
import torch

from datagen.audio.activity import Transient
from datagen.audio.filters import bandpass, highpass, lowpass
from datagen.audio.noise import clicks, decay, white
from datagen.audio.source_input import SourceInput


def render_rain(inp: SourceInput) -> torch.Tensor:
    """A broadband wash plus drops whose density grows with intensity."""
    intensity = np.clip(inp.control("precip_intensity"), 0.0, 1.0)
    wash = bandpass(white(inp.rng, inp.n), inp.sr, 3000.0, 0.5)
    drops = clicks(inp.rng, 200.0 + 2500.0 * intensity, inp.sr)
    ping = bandpass(drops, inp.sr, 2200.0, 2.0)
    return (0.8 * wash + 2.0 * ping) * inp.envelope()


def render_hail(inp: SourceInput) -> torch.Tensor:
    """Sparse hard hits on the body: a knock near 1 kHz and a sharp click."""
    intensity = np.clip(inp.control("precip_intensity"), 0.0, 1.0)
    hits = clicks(inp.rng, 10.0 + 150.0 * intensity, inp.sr)
    knock = bandpass(hits, inp.sr, 1000.0, 3.0) * 4.0 + highpass(hits, inp.sr, 4000.0) * 2.0
    return (knock + 0.2 * lowpass(white(inp.rng, inp.n), inp.sr, 400.0)) * inp.envelope()


def render_thunder(
    event: Transient, n: int, sample_rate: int, rng: np.random.Generator
) -> torch.Tensor:
    """A rumble whose cutoff drops with distance, a crack when close, fading to 0."""
    cutoff = 60.0 + 200.0 * min(1.0, 1000.0 / event.distance_m)
    rumble = lowpass(white(rng, n), sample_rate, cutoff, 0.9) * 3.0
    t = torch.arange(n, dtype=torch.float32) / sample_rate
    rise = (t / 0.12).clamp(max=1.0)
    tau = 0.8 + event.distance_m / 4000.0
    rolls = 1.0 + 0.6 * torch.sin(2 * np.pi * rng.uniform(0.8, 2.0) * t + rng.uniform(0, 6.3))
    env = rise * decay(n, sample_rate, tau, fade_s=0.3) * rolls
    crack = highpass(white(rng, n), sample_rate, 1500.0) * decay(n, sample_rate, 0.15)
    near = max(0.0, 1.0 - event.distance_m / 1000.0)
    return event.strength * (rumble * env + near * crack * rise)
