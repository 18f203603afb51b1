"""Wind noise: grows with airspeed (drive ~ v^2) and brightens as the flow gets faster."""

from __future__ import annotations

import numpy as np
import torch

from datagen.audio.filters import bandpass, lowpass
from datagen.audio.noise import white
from datagen.audio.source_input import SourceInput


def render_wind(inp: SourceInput) -> torch.Tensor:
    noise = white(inp.rng, inp.n)
    low = lowpass(noise, inp.sr, 300.0)
    high = bandpass(noise, inp.sr, 1200.0, 0.5)
    air = np.maximum(inp.control("airspeed_mps"), inp.control("wind_speed_mps"))
    bright = torch.from_numpy(np.clip(air / 40.0, 0.0, 1.0).astype(np.float32))
    n = len(inp.trace.t)
    width = max(1, min(30, n))  # "same" returns max(n, width) samples: keep it n
    gust = np.convolve(inp.rng.standard_normal(n), np.ones(width) / width, "same")
    swell = torch.from_numpy((1.0 + 0.8 * inp.timeline.at(gust)).clip(0.3).astype(np.float32))
    return ((1 - bright) * 1.5 * low + bright * high) * swell * inp.envelope()
