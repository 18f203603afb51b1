"""When each sound source is active: the shared rule behind synthesis and clip events.

Continuous sources have a *drive*: one non-negative value per control step, interpolated
linearly to the audio rate and used as the source's amplitude envelope. A source's event
is in a clip iff its interpolated drive is > 0 somewhere in the clip, so a clip without
the event holds exactly none of that source. Rules:

- engine: rpm above ``engine_min_rpm``; tire_roll: speed above ``moving_speed_mps``;
- tire_squeal: combined slip ``max_wheel hypot(slip_ratio, sin(slip_angle))`` above
  ``squeal_slip`` while moving; wet_hiss / snow_crunch: moving on a wet / snow surface;
- wind: ``max(airspeed, wind_speed)`` above ``wind_min_mps``;
- rain / hail: that precipitation type with intensity above ``precip_min``;
- passby: another vehicle within ``passby_range_m`` (one drive column per slot).

Transient sources have spans: gear_shift (a clunk at every gear change),
impact (``crash`` events), thunder (``thunder`` events, arriving ``distance_m / c`` late).
Their event is in a clip iff a span overlaps the clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.audio.config import AudioConfig
from datagen.audio.timeline import excess
from sim.trace import SURFACE_CODES, StateTrace
from sim.vocabulary import SOUND_SOURCES, TRANSIENT_SOUNDS

TRANSIENT = TRANSIENT_SOUNDS
CONTINUOUS = tuple(s for s in SOUND_SOURCES if s not in TRANSIENT_SOUNDS)


@dataclass(frozen=True)
class Transient:
    """One transient sound: ``name``, when it starts and ends, and how strong it is."""

    name: str
    index: int
    start_s: float
    duration_s: float
    strength: float
    distance_m: float = 0.0


def combined_slip(trace: StateTrace) -> np.ndarray:
    """Per-step max over wheels of ``hypot(slip_ratio, sin(slip_angle))``."""
    ratio = np.nan_to_num(np.asarray(trace.slip_ratio, dtype=np.float64))
    angle = np.nan_to_num(np.asarray(trace.slip_angle, dtype=np.float64))
    return np.hypot(ratio, np.sin(angle)).reshape(len(ratio), -1).max(axis=1)


def _moving(trace: StateTrace, cfg: AudioConfig, ref: float, power: float) -> np.ndarray:
    return excess(trace.speed_mps, cfg.moving_speed_mps, ref, cap=3.0) ** power


def _surface(trace: StateTrace, name: str) -> np.ndarray:
    return (np.asarray(trace.surface) == SURFACE_CODES[name]).astype(np.float64)


def passby_geometry(trace: StateTrace) -> tuple[np.ndarray, np.ndarray]:
    """Distance (N, slots) to each tracked vehicle (NaN where absent) and d(distance)/dt."""
    pos = np.asarray(trace.others_pos, dtype=np.float64).reshape(len(trace), -1, 3)
    dist = np.linalg.norm(pos, axis=2)
    rate = np.gradient(dist, np.asarray(trace.t), axis=0) if len(trace) > 1 else dist * 0
    return dist, rate


def passby_drive(trace: StateTrace, cfg: AudioConfig) -> np.ndarray:
    """Per slot: 1/r attenuation tapered to exactly 0 at ``passby_range_m``; 0 if absent."""
    dist, _ = passby_geometry(trace)
    near = cfg.passby_min_distance_m
    atten = near / np.maximum(np.nan_to_num(dist, nan=np.inf), near)
    taper = excess(
        -np.nan_to_num(dist, nan=np.inf), -cfg.passby_range_m, -0.75 * cfg.passby_range_m
    )
    return atten * taper


def drives(trace: StateTrace, cfg: AudioConfig) -> dict[str, np.ndarray]:
    """Control-rate drives of the continuous sources (see the module docstring)."""
    trace.finalize()
    load = 0.5 * np.asarray(trace.throttle) + 0.5 * np.asarray(trace.engine_load)
    rpm_on = excess(trace.rpm, cfg.engine_min_rpm, cfg.engine_min_rpm + 200.0)
    loud = (0.35 + 0.65 * np.clip(load, 0, 1)) * (0.6 + 0.4 * np.clip(trace.rpm / 6000, 0, 1.5))
    slip = excess(combined_slip(trace), cfg.squeal_slip, cfg.squeal_slip + cfg.squeal_slip_span)
    rolling = 1.0 - 0.4 * _surface(trace, "snow") - 0.5 * _surface(trace, "ice")
    air = np.maximum(np.asarray(trace.airspeed_mps), np.asarray(trace.wind_speed_mps))
    precip = excess(trace.precip_intensity, cfg.precip_min, 1.0)
    return {
        "engine": rpm_on * loud,
        "tire_roll": _moving(trace, cfg, 30.0, 1.5) * rolling,
        "tire_squeal": slip * excess(trace.speed_mps, cfg.moving_speed_mps, 3.0),
        "wet_hiss": _moving(trace, cfg, 30.0, 1.5) * _surface(trace, "wet"),
        "snow_crunch": _moving(trace, cfg, 10.0, 1.0) * _surface(trace, "snow"),
        "wind": excess(air, cfg.wind_min_mps, 30.0, cap=2.0) ** 2,
        "rain": precip * float(trace.precip_type == "rain"),
        "hail": precip * float(trace.precip_type == "hail"),
        "passby": passby_drive(trace, cfg),
    }


def _gear_changes(trace: StateTrace, cfg: AudioConfig) -> list[Transient]:
    gear = np.asarray(trace.gear)
    steps = np.flatnonzero(gear[1:] != gear[:-1]) + 1
    return [
        Transient("gear_shift", i, float(trace.t[k]), cfg.shift_s, 1.0) for i, k in enumerate(steps)
    ]


def _events(trace: StateTrace, cfg: AudioConfig) -> list[Transient]:
    out: list[Transient] = []
    crashes = [e for e in trace.events if e.get("type") == "crash"]
    for i, e in enumerate(crashes):
        strength = min(3.0, float(np.sqrt(max(float(e.get("impulse_ns", 1000.0)), 0) / 1000)))
        out.append(Transient("impact", i, float(e["time_s"]), cfg.impact_s, strength))
    storms = [e for e in trace.events if e.get("type") == "thunder"]
    for i, e in enumerate(storms):
        dist = max(float(e.get("distance_m", 1000.0)), 50.0)
        start = float(e["time_s"]) + dist / cfg.speed_of_sound_mps
        out.append(Transient("thunder", i, start, cfg.thunder_s, min(1.0, 500.0 / dist), dist))
    return out


def transients(trace: StateTrace, cfg: AudioConfig) -> list[Transient]:
    """All transient sounds of the scenario, in a fixed order."""
    trace.finalize()
    return _gear_changes(trace, cfg) + _events(trace, cfg)


def span_samples(event: Transient, sample_rate: int) -> tuple[int, int]:
    """Sample range ``[start, stop)`` a transient occupies (may extend past the scenario)."""
    start = int(round(event.start_s * sample_rate))
    return start, start + max(1, int(round(event.duration_s * sample_rate)))
