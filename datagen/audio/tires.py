"""Tire sounds: rolling noise by speed and surface, squeal at high slip, wet hiss, snow crunch."""

from __future__ import annotations

import numpy as np
import torch

from datagen.audio.filters import bandpass, highpass, lowpass
from datagen.audio.noise import clicks, white
from datagen.audio.oscillators import harmonic_stack
from datagen.audio.source_input import SourceInput
from datagen.audio.timeline import integrate_cycles


def render_roll(inp: SourceInput) -> torch.Tensor:
    """Broadband rolling noise centred near 800 Hz with a low road roar."""
    noise = white(inp.rng, inp.n)
    tone = bandpass(noise, inp.sr, 800.0, 0.6) + 0.8 * lowpass(noise, inp.sr, 180.0)
    return tone * inp.envelope()


def render_squeal(inp: SourceInput) -> torch.Tensor:
    """A wavering tone near 1 kHz whose pitch rises with slip beyond the threshold."""
    base = inp.rng.uniform(850.0, 1250.0)
    wobble = inp.rng.standard_normal(len(inp.trace.t))
    wobble = np.convolve(wobble, np.ones(6) / 6, mode="same")
    freq = base * (1.0 + 0.35 * inp.env) + 40.0 * inp.timeline.at(wobble)
    cycles = integrate_cycles(freq, inp.sr)
    tone = harmonic_stack(cycles, freq, [1.0, 0.35, 0.15], inp.sr)
    grit = bandpass(white(inp.rng, inp.n), inp.sr, 2.4 * base, 6.0)
    return (tone + 0.4 * grit) * inp.envelope()


def render_wet_hiss(inp: SourceInput) -> torch.Tensor:
    """Spray hiss: high-passed noise above 2.5 kHz."""
    noise = white(inp.rng, inp.n)
    tone = highpass(noise, inp.sr, 2500.0) + 0.5 * bandpass(noise, inp.sr, 5000.0, 0.7)
    return tone * inp.envelope()


def render_snow_crunch(inp: SourceInput) -> torch.Tensor:
    """Packed-snow crunch: dense grains (rate grows with speed) through two resonances."""
    rate = 40.0 + 30.0 * np.maximum(inp.control("speed_mps"), 0.0)
    grains = clicks(inp.rng, rate, inp.sr)
    tone = 2.5 * bandpass(grains, inp.sr, 1400.0, 1.5) + 1.5 * highpass(grains, inp.sr, 3500.0)
    return tone * inp.envelope()
