"""Depth of each ground class against the plane it lies on: ``depth_precision``.

:func:`datagen.qc.geometry.road_plane` checks that the ground's depth follows the world plane
z = 0 seen through the camera, to a few per cent. Each ground class (road, lane marking,
sidewalk, terrain) is itself flat: its depth / the plane's depth is one constant per class
(the class's surface height; measured on 1 280 clean frames of every weather preset: within
+-3e-4 of its median, 90 % of the pixels within 1.8e-5 in every frame). A depth that was
quantised on its way (a z-buffer of too few bits linearised, a half float, a depth stored in
steps) scatters about that constant by a share that grows with the distance. The finding
names the scatter, the distance it reaches and the precision a float render keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag
from datagen.qc.geometry import GROUND_CLASSES, camera_matrices, plane_depth


@dataclass(frozen=True)
class SurfaceDepthConfig:
    quantile: float = 0.9  # of the pixels' relative departure from their class's constant
    max_scatter: float = 2e-4  # allowed at that quantile (10 x the largest on clean frames)
    min_px: int = 20  # ground pixels per class before it counts

    def __post_init__(self) -> None:
        for name in ("quantile", "max_scatter", "min_px"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"SurfaceDepthConfig.{name} must be > 0, got {value}")
        if self.quantile > 1:
            raise ValueError(f"SurfaceDepthConfig.quantile must be <= 1, got {self.quantile}")


def scatter(s, cfg: SurfaceDepthConfig) -> tuple[float, float, int] | None:
    """(quantile of |depth / plane depth / class median - 1|, farthest such pixel [m], pixels)
    over the ground classes with enough pixels, or None without camera, depth or labels."""
    found = camera_matrices(s.meta) if isinstance(s.meta, dict) else None
    depth, seg = getattr(s, "depth_m", None), getattr(s, "seg", None)
    if found is None or depth is None or seg is None or depth.shape != seg.shape:
        return None
    K, T, _ = found
    if T[2, 3] <= 0:
        return None
    pred = plane_depth(K, T, seg.shape)
    ok = (depth > 0) & (depth < getattr(s, "depth_max_m", np.inf)) & np.isfinite(pred)
    devs, far = [], 0.0
    for c in GROUND_CLASSES:
        m = ok & (seg == c)
        if int(m.sum()) < cfg.min_px:
            continue
        ratio = depth[m].astype(np.float64) / pred[m]
        devs.append(np.abs(ratio / np.median(ratio) - 1.0))
        far = max(far, float(depth[m].max()))
    if not devs:
        return None
    dev = np.concatenate(devs)
    return float(np.quantile(dev, cfg.quantile)), far, int(dev.size)


def check(s, cfg: SurfaceDepthConfig) -> Flag | None:
    found = scatter(s, cfg)
    if found is None or found[0] <= cfg.max_scatter:
        return None
    value, far, n = found
    return flag("depth_precision", f"depth of the flat ground classes off their planes (depth / "
                f"plane depth per class, {n} px up to {far:.0f} m): the {cfg.quantile:.0%} "
                f"quantile of the relative departure", value,
                f"a flat surface's depth follows its plane to render precision; allowed "
                f"{cfg.max_scatter:g}", ".2g")  # fmt: skip
