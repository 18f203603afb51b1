"""The label vocabulary: every name a sample, a caption, a prompt or a command can carry.

One home, imported by every package that needs it (sim, datagen, multimodal, edge's
export). Order matters where it is used as a class index (zero-shot labels, mixing order
of sound sources), so entries are only ever appended.
"""

from __future__ import annotations

DRIVER_STYLES: tuple[str, ...] = ("aggressive", "normal", "cautious", "erratic")
ROAD_KINDS: tuple[str, ...] = ("circuit", "open")
ROAD_SHAPES: tuple[str, ...] = ("straight", "left_curve", "right_curve")
TIMES_OF_DAY: tuple[str, ...] = ("dawn", "day", "dusk", "night")
WEATHER_FAMILIES: tuple[str, ...] = ("clear", "cloudy", "rain", "snow", "fog", "storm", "dust")
# Road surface states: the weather's surface label and the tire model's friction tables.
SURFACES: tuple[str, ...] = ("dry", "wet", "snow", "ice")
# Every sound source, in the canonical order used for mixing and for event lists.
SOUND_SOURCES: tuple[str, ...] = (
    "engine", "gear_shift", "tire_roll", "tire_squeal", "wet_hiss", "snow_crunch", "wind",
    "rain", "hail", "thunder", "impact", "passby",
)  # fmt: skip
# Sources that sound for an instant (the rest are continuous).
TRANSIENT_SOUNDS: tuple[str, ...] = ("gear_shift", "impact", "thunder")
