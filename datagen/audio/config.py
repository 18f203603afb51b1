"""AudioConfig: sample rate, clip length, per-source levels and the physical thresholds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.vocabulary import SOUND_SOURCES as SOURCE_NAMES

DEFAULT_LEVELS: dict[str, float] = {
    "engine": 0.45,
    "gear_shift": 0.35,
    "tire_roll": 0.12,
    "tire_squeal": 0.22,
    "wet_hiss": 0.10,
    "snow_crunch": 0.12,
    "wind": 0.10,
    "rain": 0.18,
    "hail": 0.35,
    "thunder": 0.8,
    "impact": 0.4,
    "passby": 0.35,
}


def _check(cond: bool, name: str, value: object, rule: str) -> None:
    if not cond:
        raise ValueError(f"AudioConfig.{name} must be {rule}, got {value!r}")


def _positive(name: str, value: float) -> None:
    _check(
        isinstance(value, (int, float)) and math.isfinite(value) and value > 0,
        name,
        value,
        "a finite number > 0",
    )


@dataclass(frozen=True)
class AudioConfig:
    """How a scenario's sound is synthesised (see ``datagen.audio.synth``).

    Levels are linear amplitudes per source (0 silences a source and removes its event);
    ``gain`` and ``limit`` form the fixed master stage: ``limit * tanh(gain * x / limit)``.
    """

    sample_rate: int = 16000
    clip_s: float = 1.0
    levels: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    gain: float = 1.0
    limit: float = 0.95
    engine_harmonics: int = 10
    engine_min_rpm: float = 300.0
    moving_speed_mps: float = 0.3
    squeal_slip: float = 0.15
    squeal_slip_span: float = 0.25
    wind_min_mps: float = 4.0
    precip_min: float = 0.02
    passby_range_m: float = 40.0
    passby_min_distance_m: float = 2.0
    speed_of_sound_mps: float = 343.0
    shift_s: float = 0.15
    impact_s: float = 0.6
    thunder_s: float = 4.0

    def __post_init__(self) -> None:
        _check(
            isinstance(self.sample_rate, int) and 4000 <= self.sample_rate <= 96000,
            "sample_rate",
            self.sample_rate,
            "an int in [4000, 96000]",
        )
        _check(
            isinstance(self.engine_harmonics, int) and 1 <= self.engine_harmonics <= 40,
            "engine_harmonics",
            self.engine_harmonics,
            "an int in [1, 40]",
        )
        for name in (
            "clip_s",
            "gain",
            "limit",
            "engine_min_rpm",
            "moving_speed_mps",
            "squeal_slip",
            "squeal_slip_span",
            "wind_min_mps",
            "precip_min",
            "passby_range_m",
            "passby_min_distance_m",
            "speed_of_sound_mps",
            "shift_s",
            "impact_s",
            "thunder_s",
        ):
            _positive(name, getattr(self, name))
        _check(self.limit <= 1.0, "limit", self.limit, "<= 1 (full scale)")
        _check(
            self.passby_min_distance_m < self.passby_range_m,
            "passby_min_distance_m",
            self.passby_min_distance_m,
            f"< passby_range_m ({self.passby_range_m})",
        )
        unknown = sorted(set(self.levels) - set(SOURCE_NAMES))
        _check(not unknown, "levels", unknown, f"keys among {', '.join(SOURCE_NAMES)}")
        for name, value in self.levels.items():
            _check(
                isinstance(value, (int, float)) and math.isfinite(value) and value >= 0,
                f"levels[{name!r}]",
                value,
                "a finite number >= 0",
            )

    def level(self, source: str) -> float:
        """The linear level of ``source`` (0 for a source left out of ``levels``)."""
        return float(self.levels.get(source, 0.0))

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_s * self.sample_rate))
