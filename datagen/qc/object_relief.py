"""Objects with no depth relief: ``object_relief``.

The camera's z-depth is constant only on a plane perpendicular to its optical axis. Every
object the simulator places is a solid standing upright on the road (boxes, cylinders, round
crowns) and the camera is mounted pitched down (the rig's ``T_ego_cam``), so no object
surface is such a plane: over any object seen on two or more rows and columns the rendered
depth varies. On 1 280 clean frames (seed 4040, every preset, 9 262 objects of >= 4 px over
>= 2 rows and columns) the smallest relative depth range (max - min over the median) of an
object is 2e-4 (a 4 px crown). A depth pass that writes one value per object (impostors,
billboards at the box centre or the nearest corner, a per-object distance splatted over the
mask) leaves objects exactly flat. Judged per frame: ``min_flat`` or more such objects (one
flat object could be an upright face square to a level camera; several cannot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag

CHECK = "object_relief"


@dataclass(frozen=True)
class ObjectReliefConfig:
    max_rel_range: float = 2e-5  # relative depth range of a flat object (clean min 2e-4)
    min_px: int = 4  # pixels with a depth hit before an object is judged
    min_flat: int = 2  # flat objects in one frame before it is flagged

    def __post_init__(self) -> None:
        for name in ("max_rel_range", "min_px", "min_flat"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"ObjectReliefConfig.{name} must be > 0, got {value!r}")


def flat_objects(s, cfg: ObjectReliefConfig) -> tuple[list[int], int]:
    """(instance ids of the objects with a flat depth, objects judged)."""
    meta, depth, inst = getattr(s, "meta", None), getattr(s, "depth_m", None), \
        getattr(s, "inst", None)  # fmt: skip
    if not isinstance(meta, dict) or depth is None or inst is None or depth.shape != inst.shape:
        return [], 0
    far = getattr(s, "depth_max_m", np.inf)
    hit = (depth > 0) & (depth < far) & np.isfinite(depth)
    flat, judged = [], 0
    for o in meta.get("objects", []) or []:
        if not isinstance(o, dict):
            continue
        try:
            oid = int(o["instance_id"])
        except (KeyError, TypeError, ValueError):
            continue
        m = hit & (inst == oid)
        ys, xs = np.nonzero(m)
        if xs.size < cfg.min_px or np.ptp(ys) < 1 or np.ptp(xs) < 1:
            continue
        z = depth[m].astype(np.float64)
        judged += 1
        if np.ptp(z) <= cfg.max_rel_range * float(np.median(z)):
            flat.append(oid)
    return flat, judged


def check(s, cfg: ObjectReliefConfig) -> list[Flag]:
    flat, judged = flat_objects(s, cfg)
    if len(flat) < cfg.min_flat:
        return []
    return [flag(CHECK, f"objects {flat[:6]} have one depth over their whole mask (of "
                 f"{judged} objects seen on >= 2 rows and columns): upright solids seen by a "
                 "pitched camera vary in depth; flat objects", len(flat),
                 f"allowed < {cfg.min_flat} with a relative depth range <= "
                 f"{cfg.max_rel_range:g}", "d")]  # fmt: skip
