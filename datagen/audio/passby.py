"""Other vehicles passing: their engine and tires, attenuated by distance, Doppler-shifted.

The observed frequency is ``f * c / (c + dr/dt)`` with ``r`` the distance to the vehicle:
higher while it approaches (``dr/dt < 0``), lower once it recedes. ``dr/dt`` comes from the
tracked positions, so it holds whatever frame ``others_vel`` is expressed in.
"""

from __future__ import annotations

import numpy as np
import torch

from datagen.audio.activity import passby_geometry
from datagen.audio.filters import bandpass
from datagen.audio.noise import white
from datagen.audio.oscillators import harmonic_stack
from datagen.audio.source_input import SourceInput
from datagen.audio.timeline import integrate_cycles


def doppler_factor(range_rate_mps: np.ndarray, speed_of_sound: float) -> np.ndarray:
    """``c / (c + dr/dt)``, 1 where the range rate is unknown."""
    rate = np.clip(
        np.nan_to_num(range_rate_mps, nan=0.0), -0.5 * speed_of_sound, 0.5 * speed_of_sound
    )
    return speed_of_sound / (speed_of_sound + rate)


def _vehicle(inp: SourceInput, factor: np.ndarray, env: np.ndarray) -> torch.Tensor:
    freq = inp.rng.uniform(70.0, 140.0) * inp.timeline.at(factor)
    cycles = integrate_cycles(freq, inp.sr)
    engine = harmonic_stack(cycles, freq, [1.0, 0.3, 0.15, 0.08], inp.sr)
    tires = bandpass(white(inp.rng, inp.n), inp.sr, 700.0, 0.7)
    return (engine + 0.3 * tires) * torch.from_numpy(env.astype(np.float32))


def render_passby(inp: SourceInput) -> torch.Tensor:
    """Sum over tracked vehicles that come within range (``inp.env`` is per slot)."""
    _, rate = passby_geometry(inp.trace)
    factor = doppler_factor(rate, inp.cfg.speed_of_sound_mps)
    out = torch.zeros(inp.n, dtype=torch.float32)
    for slot in range(inp.env.shape[1]):
        if np.any(inp.env[:, slot] > 0):
            out += _vehicle(inp, factor[:, slot], inp.env[:, slot])
    return out
