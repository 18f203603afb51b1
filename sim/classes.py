"""The semantic class table: stable ids shared by seg.png, metadata and every consumer.

Ids never change between versions; new classes are appended. ``seg.png`` stores these ids.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SemanticClass:
    id: int
    name: str
    color: tuple[int, int, int]
    has_instances: bool


CLASSES: tuple[SemanticClass, ...] = (
    SemanticClass(0, "sky", (70, 130, 180), False),
    SemanticClass(1, "road", (128, 64, 128), False),
    SemanticClass(2, "lane_marking", (255, 255, 255), False),
    SemanticClass(3, "sidewalk", (244, 35, 232), False),  # shoulder / sidewalk
    SemanticClass(4, "terrain", (152, 251, 152), False),
    SemanticClass(5, "vehicle", (0, 0, 142), True),
    SemanticClass(6, "pedestrian", (220, 20, 60), True),
    SemanticClass(7, "barrier", (255, 140, 0), True),  # traffic cone / barrier
    SemanticClass(8, "building", (70, 70, 70), True),
    SemanticClass(9, "vegetation", (107, 142, 35), True),
    SemanticClass(10, "pole", (220, 220, 0), True),  # pole / sign
    SemanticClass(11, "ego", (120, 0, 120), False),
)

CLASS_IDS: dict[str, int] = {c.name: c.id for c in CLASSES}
CLASS_NAMES: dict[int, str] = {c.id: c.name for c in CLASSES}


def class_id(name: str) -> int:
    """Return the id of a class name, or raise a ValueError listing the valid names."""
    try:
        return CLASS_IDS[name]
    except KeyError:
        valid = ", ".join(CLASS_IDS)
        raise ValueError(f"unknown class {name!r}; valid classes: {valid}") from None


def class_table() -> list[dict]:
    """The table as stored in every sample's ``json.classes``."""
    return [{"id": c.id, "name": c.name, "color": list(c.color)} for c in CLASSES]


def palette() -> list[tuple[int, int, int]]:
    return [c.color for c in CLASSES]
