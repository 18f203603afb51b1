"""AudioConfig: sample rate, clip length, per-source levels and the physical thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.validation import is_finite_number, require, require_positive
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
        sr, harmonics = self.sample_rate, self.engine_harmonics
        require(self, "sample_rate", isinstance(sr, int) and 4000 <= sr <= 96000,
                "an int in [4000, 96000]")  # fmt: skip
        require(self, "engine_harmonics", isinstance(harmonics, int) and 1 <= harmonics <= 40,
                "an int in [1, 40]")  # fmt: skip
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
            require_positive(self, name, rule="a finite number > 0")
        require(self, "limit", self.limit <= 1.0, "<= 1 (full scale)")
        require(self, "passby_min_distance_m",
                self.passby_min_distance_m < self.passby_range_m,
                f"< passby_range_m ({self.passby_range_m})")  # fmt: skip
        unknown = sorted(set(self.levels) - set(SOURCE_NAMES))
        require(self, "levels", not unknown, f"keys among {', '.join(SOURCE_NAMES)}", unknown)
        for name, value in self.levels.items():
            require(self, f"levels[{name!r}]", is_finite_number(value) and value >= 0,
                    "a finite number >= 0", value)  # fmt: skip

    def level(self, source: str) -> float:
        """The linear level of ``source`` (0 for a source left out of ``levels``)."""
        return float(self.levels.get(source, 0.0))

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_s * self.sample_rate))
