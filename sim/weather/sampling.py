"""Procedural weather: draw WeatherParams from a configurable distribution.

A sample starts from a preset chosen by weight, then every continuous parameter is
jittered by a Gaussian of ``jitter`` times its range and clipped; the time of day is
optionally redrawn from ``time_of_day_weights`` (sun altitude and azimuth inside the
chosen band). Precipitation keeps its type; a sample whose intensity jitters to 0 keeps
type and intensity consistent. Only ``rng`` is used: same generator state, same sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.vocabulary import TIMES_OF_DAY
from sim.weather.params import RANGES, WeatherParams
from sim.weather.presets import PRESETS

# (altitude range, azimuth range) in degrees for each time of day
SUN_BANDS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "dawn": ((-5.0, 9.0), (60.0, 120.0)),
    "day": ((12.0, 75.0), (100.0, 260.0)),
    "dusk": ((-5.0, 9.0), (240.0, 300.0)),
    "night": ((-60.0, -8.0), (0.0, 360.0)),
}
SUN_FIELDS = ("sun_altitude_deg", "sun_azimuth_deg")
CYCLIC = {"wind_direction_deg", "sun_azimuth_deg"}


def _uniform_weights(names: list[str]) -> dict[str, float]:
    return {n: 1.0 for n in names}


@dataclass
class WeatherDistribution:
    """Where procedural weather comes from.

    preset_weights       preset name -> relative weight (default: all presets equally)
    jitter               std of the Gaussian jitter, as a fraction of each field's range
    time_of_day_weights  dawn/day/dusk/night -> weight; None keeps each preset's sun
    """

    preset_weights: dict[str, float] = field(
        default_factory=lambda: _uniform_weights(list(PRESETS))
    )
    jitter: float = 0.08
    time_of_day_weights: dict[str, float] | None = None

    def __post_init__(self) -> None:
        unknown = [n for n in self.preset_weights if n not in PRESETS]
        if unknown:
            raise ValueError(
                f"WeatherDistribution.preset_weights has unknown preset {unknown[0]!r}; "
                f"valid presets: {', '.join(PRESETS)}"
            )
        _check_weights("preset_weights", self.preset_weights)
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"WeatherDistribution.jitter must be in [0, 1], got {self.jitter}")
        if self.time_of_day_weights is not None:
            bad = [n for n in self.time_of_day_weights if n not in TIMES_OF_DAY]
            if bad:
                raise ValueError(
                    f"WeatherDistribution.time_of_day_weights has unknown time {bad[0]!r}; "
                    f"valid: {', '.join(TIMES_OF_DAY)}"
                )
            _check_weights("time_of_day_weights", self.time_of_day_weights)

    def sample(self, rng: np.random.Generator) -> WeatherParams:
        base = PRESETS[_choose(rng, self.preset_weights)]
        values = base.continuous()
        for name, (lo, hi) in RANGES.items():
            values[name] = _jitter(float(values[name]), lo, hi, self.jitter, rng, name)
        if self.time_of_day_weights is not None:
            values.update(_sun_for(_choose(rng, self.time_of_day_weights), rng))
        if base.precip_type != "none" and values["precip_intensity"] == 0.0:
            values["precip_intensity"] = 0.01
        if base.precip_type == "none":
            values["precip_intensity"] = 0.0
        return WeatherParams(**values, preset=base.preset)


def _check_weights(name: str, weights: dict[str, float]) -> None:
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(
            f"WeatherDistribution.{name} must be non-negative with a positive sum, got {weights}"
        )


def _choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _jitter(
    value: float, lo: float, hi: float, jitter: float, rng: np.random.Generator, name: str
) -> float:
    step = float(rng.normal(0.0, jitter * (hi - lo)))
    if name in CYCLIC:
        return float((value + step) % hi)
    if value == lo and name not in SUN_FIELDS:  # an absent phenomenon stays absent
        return lo
    return float(np.clip(value + step, lo, hi))


def _sun_for(tod: str, rng: np.random.Generator) -> dict[str, float]:
    (alt_lo, alt_hi), (az_lo, az_hi) = SUN_BANDS[tod]
    return {
        "sun_altitude_deg": float(rng.uniform(alt_lo, alt_hi)),
        "sun_azimuth_deg": float(rng.uniform(az_lo, az_hi) % 360.0),
    }
