"""Facts that captions may state, each derived from one sample's metadata json only.

A :class:`Fact` is a statement kind and a value, e.g. ``Fact("weather", "rain")`` or
``Fact("object", ("vehicle", "left", 15))``. Every caption statement renders exactly one
fact, so captions can be checked against the metadata statement by statement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

EVENT_TYPES = ("crash", "skid", "thunder", "overtake")
OBJECT_CLASSES = ("vehicle", "pedestrian", "barrier", "pole")
COUNTED_CLASSES = ("vehicle", "pedestrian")
MAX_OBJECTS = 3
AHEAD_HALF_ANGLE_DEG = 12.0
SHARP_CURVATURE = 0.01  # 1/m: a bend of radius under 100 m is "sharp"
VISIBILITY_BANDS = ((200.0, "poor"), (1000.0, "reduced"), (math.inf, "good"))
SPEED_BANDS_KMH = (
    (3.0, "stopped"),
    (30.0, "slow"),
    (70.0, "moderate"),
    (110.0, "fast"),
    (math.inf, "very_fast"),
)
MIN_STATED_SPEED_KMH = 5.0
# Substrings of sound event names (json.audio.events) that imply an event type.
SOUND_EVENT_HINTS = {
    "crash": "crash",
    "impact": "crash",
    "skid": "skid",
    "squeal": "skid",
    "thunder": "thunder",
    "overtake": "overtake",
}


@dataclass(frozen=True)
class Fact:
    kind: str
    value: object


def band(x: float, bands: tuple[tuple[float, str], ...]) -> str:
    """The name of the first band whose upper bound exceeds ``x``."""
    return next(name for upper, name in bands if x < upper)


def round_distance(d: float) -> int:
    """Distances are stated to 1 m below 10 m and to 5 m beyond."""
    return max(1, round(d)) if d < 9.5 else 5 * round(d / 5)


def round_speed_kmh(kmh: float) -> int:
    return 5 * round(kmh / 5)


def object_side(center_cam: list[float]) -> str:
    """left / ahead / right from the box centre in the camera frame (x right, z forward)."""
    x, _, z = center_cam
    angle = math.degrees(math.atan2(x, z))
    if abs(angle) <= AHEAD_HALF_ANGLE_DEG:
        return "ahead"
    return "left" if x < 0 else "right"


def road_value(road: Mapping) -> tuple[str, str]:
    shape = road["shape"]
    if shape == "straight":
        return shape, ""
    sharp = abs(float(road["curvature_ahead"])) >= SHARP_CURVATURE
    return shape, "sharp" if sharp else "gentle"


def event_types(meta: Mapping) -> list[str]:
    """Event types in the clip window, from ``json.events`` and ``json.audio.events``."""
    found = {e["type"] for e in meta.get("events", [])}
    for name in meta.get("audio", {}).get("events", []):
        found.update(t for hint, t in SOUND_EVENT_HINTS.items() if hint in str(name).lower())
    return [t for t in EVENT_TYPES if t in found]


def object_facts(objects: list[Mapping]) -> list[Fact]:
    shown = [
        o for o in objects if o["class"] in OBJECT_CLASSES and o["bbox3d_cam"]["center"][2] > 0
    ]
    shown.sort(key=lambda o: (float(o["distance_m"]), int(o["instance_id"])))
    return [
        Fact(
            "object",
            (
                o["class"],
                object_side(o["bbox3d_cam"]["center"]),
                round_distance(float(o["distance_m"])),
            ),
        )
        for o in shown[:MAX_OBJECTS]
    ]


def count_facts(objects: list[Mapping]) -> list[Fact]:
    counts = [(c, sum(o["class"] == c for o in objects)) for c in COUNTED_CLASSES]
    return [Fact("count", (c, n)) for c, n in counts if n > 0]


def speed_facts(speed_mps: float) -> list[Fact]:
    kmh = abs(float(speed_mps)) * 3.6
    facts = [Fact("speed_band", band(kmh, SPEED_BANDS_KMH))]
    if kmh >= MIN_STATED_SPEED_KMH:
        facts.append(Fact("speed_kmh", round_speed_kmh(kmh)))
    return facts


def extract_facts(meta: Mapping) -> list[Fact]:
    """Every fact a caption of this sample may state, in a fixed order (a clip sample's
    behaviour and gear changes, :mod:`datagen.captions.clip`, after the driver style)."""
    from datagen.captions.clip import clip_facts

    weather = meta["weather"]
    facts = [
        Fact("weather", weather["family"]),
        Fact("time_of_day", weather["time_of_day"]),
        Fact("surface", weather["surface"]),
        Fact("visibility", band(float(weather["visibility_m"]), VISIBILITY_BANDS)),
        Fact("road", road_value(meta["road"])),
        Fact("style", meta["driver"]["style"]),
        *(Fact(kind, value) for kind, value in clip_facts(meta)),
        *speed_facts(meta["ego"]["speed_mps"]),
        *(Fact("event", t) for t in event_types(meta)),
        *object_facts(meta.get("objects", [])),
        *count_facts(meta.get("objects", [])),
    ]
    return facts
