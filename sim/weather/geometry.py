"""Per-pixel camera geometry from the ``json.camera`` dict and a metric z-depth map."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sim import jit

CAMERA_KEYS = ("width", "height", "fx", "fy", "cx", "cy")


@dataclass(frozen=True)
class FrameGeometry:
    """Rays, 3D points and world orientation of every pixel.

    rays        (H, W, 3) unit ray directions in the camera frame (OpenCV: x right, y down)
    points      (H, W, 3) camera-frame points; NaN-free, zero where depth is 0 (sky)
    distance    (H, W) metric distance along the ray, inf where depth is 0
    R_world_cam (3, 3) rotation camera -> world; cam_height: camera z in the world [m]
    up_cam      (3,) world +z expressed in the camera frame
    sin_elev    (H, W) world-z component of each unit ray (elevation sine)
    t_world_xy  (2,) camera position x, y in the world
    """

    rays: np.ndarray
    points: np.ndarray
    distance: np.ndarray
    R_world_cam: np.ndarray
    cam_height: float
    up_cam: np.ndarray
    sin_elev: np.ndarray
    t_world_xy: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        return np.isfinite(self.distance)

    def world_xy(self) -> np.ndarray:
        """(H, W, 2) world x, y of each hit point (camera position where there is no hit);
        computed once per frame (snow and wet road both use it), read-only."""
        xy = self.__dict__.get("_world_xy")
        if xy is None:
            # only the rotation's x, y columns, as one (H*W, 3) x (3, 2) product: the values
            # of (H, W, 3) @ (3, 3)'s first two columns (identical on the 128 frames of the
            # generate bench; tests compare the weathered pixels), at about a third of the cost
            h, w = self.points.shape[:2]
            pts = self.points.reshape(h * w, 3) @ self.R_world_cam.T[:, :2]
            xy = pts.reshape(h, w, 2) + self.t_world_xy
            xy.setflags(write=False)
            object.__setattr__(self, "_world_xy", xy)
        return xy


@functools.lru_cache(maxsize=64)
def pixel_rays(w: int, h: int, cx: float, cy: float, fx: float, fy: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per pixel: the ray (x, y, 1), its length and its unit direction (float32, read-only;
    the same for every frame of a camera, so computed once)."""
    u = (np.arange(w, dtype=np.float32) + 0.5 - cx) / fx
    v = (np.arange(h, dtype=np.float32) + 0.5 - cy) / fy
    raw = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((h, w), np.float32)), -1)
    norm = np.linalg.norm(raw, axis=-1)
    rays = (raw / norm[..., None]).astype(np.float32)
    for a in (raw, norm, rays):
        a.setflags(write=False)
    return raw, norm, rays


def frame_geometry(camera: dict, depth: np.ndarray) -> FrameGeometry:
    """Build the geometry; raises ValueError for a camera dict that does not fit ``depth``."""
    missing = [k for k in CAMERA_KEYS if k not in camera]
    if missing:
        raise ValueError(f"camera dict is missing {', '.join(missing)}")
    h, w = depth.shape
    if (int(camera["height"]), int(camera["width"])) != (h, w):
        raise ValueError(f"camera is {camera['width']}x{camera['height']} but depth is {w}x{h}")
    T = np.asarray(camera.get("T_world_cam", np.eye(4).ravel()), dtype=np.float64).reshape(4, 4)
    raw, norm, rays = pixel_rays(w, h, camera["cx"], camera["cy"], camera["fx"], camera["fy"])
    points, distance = hit_points(raw, norm, depth)
    R = T[:3, :3]
    up_cam = R.T @ np.array([0.0, 0.0, 1.0])
    return FrameGeometry(
        rays=rays,
        points=points,
        distance=distance,
        R_world_cam=R,
        cam_height=float(T[2, 3]),
        up_cam=up_cam.astype(np.float32),
        sin_elev=(rays @ up_cam.astype(np.float32)),
        t_world_xy=T[:2, 3].astype(np.float32),
    )


def hit_points(raw: np.ndarray, norm: np.ndarray, depth: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Camera-frame points (H, W, 3) and distances along the rays (H, W), float32, of a
    z-depth map (0 or less: no hit -> point 0, distance inf); one compiled pass for float32
    depth where numba is installed (a product per value, so the same numbers)."""
    if not (jit.AVAILABLE and depth.dtype == np.float32):
        return hit_points_numpy(raw, norm, depth)
    points = np.empty(raw.shape, dtype=np.float32)
    distance = np.empty(depth.shape, dtype=np.float32)
    _hit_points(raw.reshape(-1, 3), norm.reshape(-1), np.ascontiguousarray(depth).reshape(-1),
                points.reshape(-1, 3), distance.reshape(-1))  # fmt: skip
    return points, distance


def hit_points_numpy(raw: np.ndarray, norm: np.ndarray, depth: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`hit_points` in numpy (the reference for the compiled pass)."""
    hit = depth > 0
    points = np.where(hit[..., None], raw * depth[..., None], 0.0).astype(np.float32)
    distance = np.where(hit, depth * norm, np.inf).astype(np.float32)
    return points, distance


@jit.njit
def _hit_points(raw, norm, depth, points, distance):
    for i in range(depth.shape[0]):
        d = depth[i]
        if d > 0:
            for k in range(3):
                points[i, k] = raw[i, k] * d
            distance[i] = d * norm[i]
        else:
            points[i, 0] = points[i, 1] = points[i, 2] = 0.0
            distance[i] = np.inf
