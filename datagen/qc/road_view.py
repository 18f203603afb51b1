"""What seg.png and depth say about the road the ego drives on, with no json but the camera.

Each image row whose road (road and lane marking pixels) is one run with both edges inside
the image gives the road's two edges in metres in the camera frame, ``x = (u - cx) z / fx``
at the row's depth ``z``. Over the rows (3-60 m) that gives:

- ``bend``: the quadratic term of the road's centre ``x(z) = a + b z + bend z^2``; a road of
  curvature ``k`` (1/m, left positive) bends by about ``-k / 2`` (x points right);
- ``width_m``: the median road width across the road (a row's width times the cosine of
  the angle between the road's centre line and the optical axis at that row);
- ``under_car``: the share of road pixels in the bottom-centre patch of the image (the road
  just ahead of the ego), and ``patch_half_m`` half the width of the ground that patch sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROAD_CLASSES = (1, 2)  # road, lane marking
OCCLUDERS = (5, 6, 10, 11)  # vehicle, pedestrian, pole, ego: a run ending at one is cut short


@dataclass(frozen=True)
class RoadView:
    bend: float  # 1/m
    width_m: float
    under_car: float
    rows: int
    # half the width [m] of the ground the under_car patch sees (its half width in pixels x
    # its median depth / fx): an ego whose centre is this near the road's edge may see
    # that patch off the road
    patch_half_m: float = 0.0
    patch_ahead_m: float = 0.0  # the patch's median depth: how far ahead of the camera it lies


def _edges(seg: np.ndarray, depth: np.ndarray, cx: float, fx: float, near_m: float,
           far_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(depth, centre x, width) of each row whose road is one run inside the image, bounded
    on both sides by something other than an object."""
    road = np.isin(seg, ROAD_CLASSES)
    w = road.shape[1]
    zs, xs, ws = [], [], []
    for v in range(road.shape[0]):
        cols = np.flatnonzero(road[v])
        if cols.size < 3 or cols[0] == 0 or cols[-1] == w - 1 or \
                cols[-1] - cols[0] + 1 != cols.size or \
                np.isin(seg[v, [cols[0] - 1, cols[-1] + 1]], OCCLUDERS).any():  # fmt: skip
            continue
        z = float(np.median(depth[v, cols]))
        if not near_m < z < far_m:
            continue
        left, right = (cols[0] - cx) * z / fx, (cols[-1] + 1 - cx) * z / fx
        zs.append(z)
        xs.append((left + right) / 2.0)
        ws.append(right - left)
    return np.array(zs), np.array(xs), np.array(ws)


def measure(s, near_m: float = 3.0, far_m: float = 60.0, min_rows: int = 5) -> RoadView | None:
    """The road seen in ``s``'s seg.png and depth, or None without enough road rows."""
    meta, seg, depth = s.meta, getattr(s, "seg", None), getattr(s, "depth_m", None)
    if not isinstance(meta, dict) or seg is None or depth is None or seg.shape != depth.shape \
            or seg.ndim != 2:  # fmt: skip
        return None
    cam = meta.get("camera")
    try:
        cx, fx = float(cam["cx"]), float(cam["fx"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (np.isfinite(cx) and np.isfinite(fx) and fx > 0):
        return None
    road = np.isin(seg, ROAD_CLASSES)
    h, w = seg.shape
    patch = road[int(h * 0.85) :, int(w * 0.4) : max(int(w * 0.6), int(w * 0.4) + 1)]
    under = float(patch.mean()) if patch.size else float("nan")
    seen = depth[int(h * 0.85) :, int(w * 0.4) : int(w * 0.4) + patch.shape[1]]
    seen = seen[np.isfinite(seen) & (seen > 0)]
    ahead = float(np.median(seen)) if seen.size else 0.0
    half = patch.shape[1] / 2 * ahead / fx
    zs, xs, ws = _edges(seg, depth.astype(np.float64), cx, fx, near_m, far_m)
    if zs.size < min_rows or np.ptp(zs) < 5.0:
        return RoadView(float("nan"), float("nan"), under, int(zs.size), half, ahead)
    coef, *_ = np.linalg.lstsq(np.c_[np.ones_like(zs), zs, zs**2], xs, rcond=None)
    # a row cuts the road across its direction only when the camera looks along it; seen at
    # an angle (a car that slid off or across the road) a row is the width / cos(angle), the
    # angle's tangent the centre's slope dx/dz = b + 2 bend z at the row
    across = np.cos(np.arctan(coef[1] + 2 * coef[2] * zs))
    return RoadView(float(coef[2]), float(np.median(ws * across)), under, int(zs.size), half,
                    ahead)  # fmt: skip
