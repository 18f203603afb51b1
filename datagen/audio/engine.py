"""Engine sound: firing-frequency harmonics, combustion pulses, gear-shift clunks.

A four-stroke engine with ``z`` cylinders fires ``rpm / 60 * z / 2`` times a second; its
sound is a harmonic series on that firing frequency plus weaker half orders (crank
rotation) and combustion noise pulsed at the firing rate. Throttle and load brighten the
timbre (more upper harmonics); a gear change is audible as the rpm drop carried by the
trace plus a short driveline clunk.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from datagen.audio.activity import Transient
from datagen.audio.filters import bandpass
from datagen.audio.noise import decay, white
from datagen.audio.oscillators import harmonic_stacks
from datagen.audio.source_input import SourceInput
from datagen.audio.timeline import integrate_cycles


def firing_hz(rpm: np.ndarray, cylinders: int) -> np.ndarray:
    """Firing frequency of a four-stroke engine."""
    return np.maximum(rpm, 0.0) / 60.0 * cylinders / 2.0


def _spectrum(harmonics: int, rolloff: float) -> list[float]:
    """Amplitudes on half orders of the firing frequency: even entries are firing harmonics."""
    amps = []
    for order in range(1, 2 * harmonics + 1):
        k = order / 2
        amps.append(k**-rolloff if order % 2 == 0 else 0.12 * k**-1.5)
    return amps


def render_engine(inp: SourceInput) -> torch.Tensor:
    fire = firing_hz(inp.control("rpm"), inp.trace.cylinders)
    half = integrate_cycles(fire / 2.0, inp.sr)
    spectra = [_spectrum(inp.cfg.engine_harmonics, r) for r in (2.2, 0.9)]
    dark, bright = harmonic_stacks(half, fire / 2.0, spectra, inp.sr)
    load = np.clip(0.5 * inp.control("throttle") + 0.5 * inp.control("engine_load"), 0, 1)
    b = torch.from_numpy(load.astype(np.float32))
    pulse = (0.5 + 0.5 * torch.cos(2 * math.pi * torch.from_numpy(np.mod(2 * half, 1.0)))) ** 3
    rasp = bandpass(white(inp.rng, inp.n), inp.sr, 700.0, 0.8) * pulse.float()
    tone = (1 - b) * dark + b * 0.6 * bright + (0.15 + 0.35 * b) * rasp
    return tone * inp.envelope()


def render_clunk(
    event: Transient, n: int, sample_rate: int, rng: np.random.Generator
) -> torch.Tensor:
    """A driveline clunk: a low thump and a short metallic click, fading to 0."""
    t = torch.arange(n, dtype=torch.float32) / sample_rate
    thump = torch.sin(2 * math.pi * rng.uniform(70.0, 110.0) * t) * decay(n, sample_rate, 0.035)
    click = bandpass(white(rng, n), sample_rate, 1800.0, 2.0) * decay(n, sample_rate, 0.012)
    return event.strength * (0.8 * thump + 0.6 * click)
