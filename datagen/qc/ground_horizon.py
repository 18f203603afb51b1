"""No sky below the horizon: ``sky_below_horizon``.

Invariant: the world's ground is the plane z = 0 (:mod:`datagen.qc.geometry`'s
``road_plane``), so a pixel whose ray meets that plane at a range well inside the far plane
sees the ground or something standing in front of it; it cannot be labelled sky in seg.png,
nor have "no hit" in the depth. Only rays that escape the scene (above the horizon, or
meeting the ground beyond the far plane) may. The range is along the ray (the renderer
clips by distance, not by z: at the image's sides the ground at z-depth 170 m of a 200 m far
plane is clipped). On 2 600 clean frames (seed 4040, every preset) no pixel breaks it with a
margin of 10 % of the far plane (at 5 %: 2 frames, 4 pixels, all at the image's edge).

A label pass with a shorter far plane, labels or depth shifted or flipped against the pose,
an ignore label written as sky, and a pose of another frame or convention (the predicted
horizon moves) break it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag
from datagen.qc.geometry import SKY_CLASS, camera_matrices, plane_depth

log = logging.getLogger(__name__)
CHECK = "sky_below_horizon"


@dataclass(frozen=True)
class GroundHorizonConfig:
    range_fraction: float = 0.9  # of the far plane: rays meeting the ground nearer than this
    min_pixels: int = 1  # sky or no-hit pixels among them to flag

    def __post_init__(self) -> None:
        if not 0 < self.range_fraction < 1:
            raise ValueError("GroundHorizonConfig.range_fraction must be in (0, 1)")
        if self.min_pixels < 1:
            raise ValueError("GroundHorizonConfig.min_pixels must be >= 1")


def ground_range(K: np.ndarray, T: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Distance along each pixel's ray to the plane z = 0 (NaN where the ray misses it)."""
    h, w = shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    norm = np.sqrt(((u - K[0, 2]) / K[0, 0]) ** 2 + ((v - K[1, 2]) / K[1, 1]) ** 2 + 1.0)
    return plane_depth(K, T, shape) * norm


def check(s, cfg: GroundHorizonConfig) -> Flag | None:
    """Pixels whose ray meets the ground within ``range_fraction`` of the far plane but
    which seg.png calls sky or the depth calls "no hit"."""
    if not isinstance(s.meta, dict) or s.seg is None or s.seg.ndim != 2:
        return None
    found = camera_matrices(s.meta)
    if found is None:
        return None
    K, T, cam = found
    far = cam.get("far")
    if not isinstance(far, int | float) or far <= 0 or T[2, 3] <= 0:
        return None  # a camera below the ground: geometry's road_plane says so
    rng = ground_range(K, T, s.seg.shape)
    near = np.isfinite(rng) & (rng < cfg.range_fraction * float(far))
    empty = s.seg == SKY_CLASS
    if s.depth_m is not None and s.depth_m.shape == s.seg.shape:
        empty = empty | (s.depth_m <= 0)
    bad = int((near & empty).sum())
    if bad < cfg.min_pixels:
        return None
    log.debug("%s: %d sky/no-hit pixels below the horizon", s.key, bad)
    return flag(CHECK, "pixels whose ray meets the ground z=0 within "
                f"{cfg.range_fraction:.0%} of the far plane ({float(far):g} m) but which are "
                "sky in seg.png or 'no hit' in depth:", bad,
                f"allowed {cfg.min_pixels - 1}", "d")  # fmt: skip
