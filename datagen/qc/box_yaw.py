"""The 3D boxes' yaw in its unit: ``box_yaw_unit``.

``objects[].bbox3d_world.yaw`` is a heading in radians wrapped to [-pi, pi] (measured on
16 178 clean boxes: all within it). A yaw beyond ``max_abs_rad`` is no wrapped angle in
radians: a heading in degrees (or an unwrapped one); the box drawn from it turns by the
difference. The finding names the object, its yaw and what it would be read as degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class BoxYawConfig:
    max_abs_rad: float = math.pi + 1e-6

    def __post_init__(self) -> None:
        if not (isinstance(self.max_abs_rad, int | float) and self.max_abs_rad >= math.pi):
            raise ValueError(f"BoxYawConfig.max_abs_rad must be >= pi, got {self.max_abs_rad!r}")


def _yaw(o: object) -> float | None:
    box = o.get("bbox3d_world") if isinstance(o, dict) else None
    v = box.get("yaw") if isinstance(box, dict) else None
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def check(s, cfg: BoxYawConfig) -> Flag | None:
    """A flag naming the objects whose world yaw is no wrapped angle in radians."""
    objects = s.meta.get("objects") if isinstance(s.meta, dict) else None
    if not isinstance(objects, list):
        return None
    bad = [(o.get("instance_id"), y) for o in objects if (y := _yaw(o)) is not None
           and abs(y) > cfg.max_abs_rad]  # fmt: skip
    if not bad:
        return None
    iid, y = max(bad, key=lambda b: abs(b[1]))
    as_rad = math.remainder(math.radians(y), 2 * math.pi)
    return flag("box_yaw_unit", f"{len(bad)} of {len(objects)} objects' bbox3d_world.yaw beyond "
                f"+-pi, e.g. instance {iid}: {y:.2f}, a heading in degrees ({as_rad:+.3f} rad)?"
                "; largest |yaw|", abs(y), f"allowed {cfg.max_abs_rad:.4f} rad", ".2f")
