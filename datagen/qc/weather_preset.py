"""The weather's parameters against the preset the json names: ``weather_vs_preset``.

Invariant: ``drivesynth generate`` draws a scenario's weather as the named preset
(``weather.preset``) with every continuous parameter jittered by a Gaussian of
``WeatherDistribution.jitter`` (8 %) of the parameter's range, clipped to the range
(:mod:`sim.weather.sampling`); a parameter the preset sets to the bottom of its range (no
fog, no snow cover, no dust, ...) stays there ("an absent phenomenon stays absent"). So each
parameter lies within a few jitter SDs of the preset's value: beyond ``max_sd`` (5 SD, a
chance of 6e-7 per parameter) it was not drawn this way. The cyclic angles (wind direction,
sun azimuth) are compared on the circle. A fixed ``--weather`` preset is drawn without jitter
and passes a fortiori. On 2 600 clean frames (seed 4040, 26 presets) the largest deviation is
3.7 SD.

A field in another unit (km/h, percent, a zenith angle), inverted or lost, or a weather
block of another scenario whose preset name stayed, breaks it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from datagen.qc.flag import Flag, flag

log = logging.getLogger(__name__)
CHECK = "weather_vs_preset"
CYCLIC = ("wind_direction_deg", "sun_azimuth_deg")
SUN = ("sun_altitude_deg", "sun_azimuth_deg")  # the sampler may redraw the sun: never "absent"


def _default_jitter() -> float:
    from sim.weather.sampling import WeatherDistribution

    return float(WeatherDistribution.__dataclass_fields__["jitter"].default)


@dataclass(frozen=True)
class WeatherPresetConfig:
    jitter: float = field(default_factory=_default_jitter)  # SD, share of each range
    max_sd: float = 5.0

    def __post_init__(self) -> None:
        if not self.jitter > 0 or not self.max_sd > 0:
            raise ValueError("WeatherPresetConfig: jitter and max_sd must be > 0")


def _deviation(name: str, value: float, base: float, lo: float, hi: float,
               cfg: WeatherPresetConfig) -> float:  # fmt: skip
    """|value - base| in jitter SDs; infinite for a present value of an absent parameter."""
    if base == lo and name not in SUN and name not in CYCLIC and value != lo:
        return float("inf")
    d = value - base
    if name in CYCLIC:
        d = (d + (hi - lo) / 2) % (hi - lo) - (hi - lo) / 2
    return abs(d) / (cfg.jitter * (hi - lo))


def check(meta: dict, cfg: WeatherPresetConfig) -> Flag | None:
    from sim.weather.params import RANGES
    from sim.weather.presets import PRESETS

    w = meta.get("weather") if isinstance(meta, dict) else None
    preset = PRESETS.get(w.get("preset")) if isinstance(w, dict) else None
    if preset is None:
        return None  # an unnamed or unknown preset: nothing to compare with
    base = preset.continuous()
    worst: tuple[float, str, float] | None = None
    for name, (lo, hi) in RANGES.items():
        value = w.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or name not in base:
            continue
        sd = _deviation(name, float(value), float(base[name]), lo, hi, cfg)
        if sd > cfg.max_sd and (worst is None or sd > worst[0]):
            worst = (sd, name, float(value))
    if worst is None:
        return None
    sd, name, value = worst
    log.debug("%s: weather.%s %g vs preset %g", w.get("preset"), name, value, base[name])
    what = (f"weather.{name} {value:g} where preset {w.get('preset')!r} has {base[name]:g}"
            + (" (absent: it stays at the bottom of its range)" if sd == float("inf") else "")
            + ": jitter SDs")  # fmt: skip
    return flag(CHECK, what, min(sd, 1e9), f"allowed {cfg.max_sd:g} SD of "
                f"{cfg.jitter:.0%} of the range")  # fmt: skip
