"""Synthesise a whole scenario's sound from its state trace, deterministically.

Each source renders from its own generator (derived from one draw of the caller's ``rng``
and the source name), so a source's samples do not depend on which other sources are on;
a continuous source whose drive is zero all along is not rendered (its stem is zeros, as a
renderer's output is zero wherever its envelope is).
The mix passes a fixed master stage ``limit * tanh(gain * x / limit)``: loudness stays
physical (no per-clip normalisation) and samples never exceed ``limit``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from datagen.audio.activity import Transient, drives, span_samples, transients
from datagen.audio.aero_noise import render_wind
from datagen.audio.config import SOURCE_NAMES, AudioConfig
from datagen.audio.engine import render_clunk, render_engine
from datagen.audio.impacts import render_impact
from datagen.audio.passby import render_passby
from datagen.audio.source_input import SourceInput
from datagen.audio.timeline import Timeline
from datagen.audio.tires import render_roll, render_snow_crunch, render_squeal, render_wet_hiss
from datagen.audio.weather_sounds import render_hail, render_rain, render_thunder
from sim.seeding import rng_for
from sim.trace import StateTrace

ContinuousRenderer = Callable[[SourceInput], torch.Tensor]
TransientRenderer = Callable[[Transient, int, int, np.random.Generator], torch.Tensor]

CONTINUOUS_RENDERERS: dict[str, ContinuousRenderer] = {
    "engine": render_engine,
    "tire_roll": render_roll,
    "tire_squeal": render_squeal,
    "wet_hiss": render_wet_hiss,
    "snow_crunch": render_snow_crunch,
    "wind": render_wind,
    "rain": render_rain,
    "hail": render_hail,
    "passby": render_passby,
}
TRANSIENT_RENDERERS: dict[str, TransientRenderer] = {
    "gear_shift": render_clunk,
    "impact": render_impact,
    "thunder": render_thunder,
}


def _envelope(timeline: Timeline, drive: np.ndarray) -> np.ndarray:
    if drive.ndim == 1:
        return timeline.at(drive)
    env = np.zeros((timeline.n_samples, drive.shape[1]))
    for slot in np.flatnonzero(drive.max(axis=0) > 0):
        env[:, slot] = timeline.at(drive[:, slot])
    return env


def _render_transients(
    name: str, timeline: Timeline, trace: StateTrace, cfg: AudioConfig, seed: int
) -> torch.Tensor:
    out = torch.zeros(timeline.n_samples, dtype=torch.float32)
    for event in (e for e in transients(trace, cfg) if e.name == name):
        start, stop = span_samples(event, timeline.sample_rate)
        lo, hi = max(start, 0), min(stop, timeline.n_samples)
        if lo >= hi:
            continue
        sound = TRANSIENT_RENDERERS[name](
            event, stop - start, timeline.sample_rate, rng_for(seed, name, event.index)
        )
        out[lo:hi] += sound[lo - start : hi - start]
    return out


def synthesize_sources(
    trace: StateTrace,
    config: AudioConfig,
    rng: np.random.Generator,
    sources: tuple[str, ...] = SOURCE_NAMES,
) -> dict[str, np.ndarray]:
    """Per-source stems (float32, level applied, before the master stage)."""
    unknown = sorted(set(sources) - set(SOURCE_NAMES))
    if unknown:
        raise ValueError(f"unknown sound sources: {', '.join(unknown)}")
    timeline = Timeline.from_trace(trace, config.sample_rate)
    seed = int(rng.integers(0, 2**31 - 1))
    drive = drives(trace, config)
    stems: dict[str, np.ndarray] = {}
    for name in (s for s in SOURCE_NAMES if s in sources and config.level(s) > 0):
        if name in CONTINUOUS_RENDERERS:
            if not np.any(drive[name] != 0):  # silent all along: the stem is zeros
                stems[name] = np.zeros(timeline.n_samples, dtype=np.float32)
                continue
            env = _envelope(timeline, drive[name])
            inp = SourceInput(timeline, trace, config, rng_for(seed, name), env)
            sound = CONTINUOUS_RENDERERS[name](inp)
        else:
            sound = _render_transients(name, timeline, trace, config, seed)
        stems[name] = (config.level(name) * sound).numpy().astype(np.float32)
    return stems


def master(mix: np.ndarray, config: AudioConfig) -> np.ndarray:
    """The fixed master stage: global gain and a tanh soft limiter at ``config.limit``."""
    x = torch.from_numpy(np.asarray(mix, dtype=np.float32))
    return (config.limit * torch.tanh(config.gain * x / config.limit)).numpy()


def synthesize(trace: StateTrace, config: AudioConfig, rng: np.random.Generator) -> np.ndarray:
    """The whole scenario's mono waveform, float32 in (-limit, limit), sample n at n / sr."""
    stems = synthesize_sources(trace, config, rng)
    timeline_n = Timeline.from_trace(trace, config.sample_rate).n_samples
    mix = np.zeros(timeline_n, dtype=np.float32)
    for stem in stems.values():
        mix += stem
    return master(mix, config).astype(np.float32)
