"""Falling rain, snow and hail, sampled in 3D in the camera frame and drawn with occlusion.

Particles fill the view frustum up to ``reach_m`` uniformly in volume (number density from
the intensity), move with the fall speed, the wind and opposite to the ego's motion, and
are drawn as the segment they cover during the exposure time: long streaks for fast rain
or a fast ego, near-round flakes for slow snow. A particle behind the depth buffer is not
drawn; farther particles are thinner and fade with the fog transmittance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim import jit
from sim.weather.geometry import FrameGeometry
from sim.weather.params import WeatherParams

SAMPLES_PER_STREAK = 12


@dataclass(frozen=True)
class Precip:
    fall_mps: float
    density_per_m3: float  # at intensity 1
    reach_m: float
    opacity: float
    size_m: float
    exposure_s: float  # shutter time that draws the streak
    color: tuple[float, float, float]


PRECIP: dict[str, Precip] = {
    "rain": Precip(8.0, 1.2, 15.0, 0.25, 0.0025, 1 / 25, (0.85, 0.88, 0.92)),
    "snow": Precip(1.2, 1.5, 20.0, 0.9, 0.015, 1 / 60, (0.95, 0.96, 1.0)),
    "hail": Precip(14.0, 0.6, 15.0, 0.7, 0.008, 1 / 60, (0.9, 0.92, 0.95)),
}


def particle_velocity(
    params: WeatherParams, geom: FrameGeometry, fall_mps: float, wind_xy: tuple[float, float]
) -> np.ndarray:
    """Air-borne particle velocity in the camera frame (world fall + wind, rotated)."""
    v_world = np.array([wind_xy[0], wind_xy[1], -fall_mps])
    return (geom.R_world_cam.T @ v_world).astype(np.float32)


def draw_precipitation(
    lin: np.ndarray,
    geom: FrameGeometry,
    params: WeatherParams,
    rng: np.random.Generator,
    camera: dict,
    ego: tuple[float, float],
    wind_xy: tuple[float, float],
    brightness: np.ndarray,
    beta: float,
) -> np.ndarray:
    """Composite precipitation over linear ``lin``; ``brightness`` is the lit colour (3,)
    of a particle, ``ego`` = (speed_mps, yaw_rate), ``beta`` the extinction [1/m]."""
    if params.precip_type == "none" or params.precip_intensity <= 0.0:
        return lin
    kind = PRECIP[params.precip_type]
    h, w = geom.distance.shape
    fx, fy, cx, cy = (float(camera[k]) for k in ("fx", "fy", "cx", "cy"))
    z_near, z_far = 0.4, kind.reach_m
    volume = (w / fx) * (h / fy) * (z_far**3 - z_near**3) / 3.0
    n = int(rng.poisson(kind.density_per_m3 * params.precip_intensity * volume))
    if n == 0:
        return lin
    z = np.cbrt(rng.uniform(z_near**3, z_far**3, n))
    x = (rng.uniform(0, w, n) - cx) / fx * z
    y = (rng.uniform(0, h, n) - cy) / fy * z
    start = np.stack([x, y, z], axis=-1).astype(np.float32)
    v = particle_velocity(params, geom, kind.fall_mps, wind_xy)
    v = v[None, :] + _ego_flow(start, ego)
    v += rng.normal(0.0, 0.15 * kind.fall_mps + 0.1, (n, 3)).astype(np.float32)
    steps = np.linspace(0.0, 1.0, SAMPLES_PER_STREAK, dtype=np.float32)[:, None, None]
    pts = start[None] + steps * (v * kind.exposure_s)[None]  # (S, n, 3)
    alpha_each = kind.opacity * np.exp(-beta * z) / SAMPLES_PER_STREAK * 3.0
    radius_px = np.clip(kind.size_m * fx / z, 0.35, 4.0)
    cover = _splat(pts, alpha_each, radius_px, geom, camera)
    return lin * (1.0 - cover[..., None]) + brightness * np.asarray(kind.color) * cover[..., None]


def _ego_flow(points: np.ndarray, ego: tuple[float, float]) -> np.ndarray:
    """Apparent velocity of static air points when the camera moves forward at ``speed``
    and yaws at ``yaw_rate`` (about the camera's -y axis, which points up)."""
    speed, yaw_rate = ego
    flow = np.zeros_like(points)
    flow[:, 2] -= speed
    omega = np.array([0.0, -yaw_rate, 0.0], dtype=np.float32)
    return flow - np.cross(omega, points)


def _splat(
    pts: np.ndarray, alpha: np.ndarray, radius_px: np.ndarray, geom: FrameGeometry, camera: dict
) -> np.ndarray:
    """Accumulate particle coverage per pixel, hiding samples behind the depth buffer.

    With numba the loops run compiled (:func:`_splat_compiled`, the same arithmetic in the
    same precision, summed in another order: equal to rounding); else per kernel offset
    only the particles whose disc reaches it are splatted, and the coverage is summed with
    ``np.bincount`` (float64) instead of ``np.add.at``: a blizzard frame took ~0.5 s before."""
    h, w = geom.distance.shape
    fx, fy, cx, cy = (float(camera[k]) for k in ("fx", "fy", "cx", "cy"))
    if jit.AVAILABLE:
        cover = np.zeros(h * w, dtype=np.float64)
        _splat_compiled(
            np.ascontiguousarray(pts, dtype=np.float32), np.asarray(alpha, dtype=np.float64),
            np.asarray(radius_px, dtype=np.float64),
            np.ascontiguousarray(geom.points[..., 2], dtype=np.float32),
            np.float32(fx), np.float32(fy), np.float32(cx), np.float32(cy), cover,
        )  # fmt: skip
        return np.clip(cover.reshape(h, w).astype(np.float32), 0.0, 0.95)
    cover = np.zeros(h * w, dtype=np.float64)
    z = np.maximum(pts[..., 2], 0.05)
    u = pts[..., 0] / z * fx + cx
    v = pts[..., 1] / z * fy + cy
    depth_scene = geom.points[..., 2]
    for du, dv, wt in _kernel(radius_px):
        weight = alpha * wt
        reach = weight > 0
        if not reach.any():
            continue
        zs = pts[:, reach, 2]
        ui = np.floor(u[:, reach] + du).astype(np.int64)
        vi = np.floor(v[:, reach] + dv).astype(np.int64)
        ok = (ui >= 0) & (ui < w) & (vi >= 0) & (vi < h) & (zs > 0.05)
        ui, vi, zs = ui[ok], vi[ok], zs[ok]
        depth = depth_scene[vi, ui]
        visible = (depth <= 0) | (zs < depth)
        vals = np.broadcast_to(weight[reach], ok.shape)[ok][visible]
        cover += np.bincount(vi[visible] * w + ui[visible], weights=vals, minlength=h * w)
    return np.clip(cover.reshape(h, w).astype(np.float32), 0.0, 0.95)


def _kernel(radius_px: np.ndarray):
    """Pixel offsets with per-particle weights: a disc of radius ``radius_px``."""
    for du in (-2, -1, 0, 1, 2):
        for dv in (-2, -1, 0, 1, 2):
            r = float(np.hypot(du, dv))
            wt = np.clip(radius_px + 0.5 - r, 0.0, 1.0).astype(np.float32)
            if r == 0 or wt.any():
                yield du, dv, np.maximum(wt, 1.0 if r == 0 else 0.0)


@jit.njit
def _splat_compiled(pts, alpha, radius_px, depth_scene, fx, fy, cx, cy, cover):
    """:func:`_splat`'s numpy loops as one pass over particles, streak samples and the 5 x 5
    kernel, in the numpy code's float32 / float64 precisions; adds into ``cover`` (h*w)."""
    h, w = depth_scene.shape
    near = np.float32(0.05)
    offsets = np.empty((25, 2), dtype=np.float32)  # the kernel offsets a particle reaches
    weights = np.empty(25, dtype=np.float64)
    for i in range(pts.shape[1]):
        reach = 0
        for du in range(-2, 3):
            for dv in range(-2, 3):
                if du == 0 and dv == 0:
                    wt = np.float32(1.0)
                else:
                    wt = np.float32(min(max(radius_px[i] + 0.5 - math.hypot(du, dv), 0.0), 1.0))
                weight = alpha[i] * np.float64(wt)
                if weight > 0:
                    offsets[reach, 0], offsets[reach, 1] = du, dv
                    weights[reach] = weight
                    reach += 1
        for s in range(pts.shape[0]):
            zs = pts[s, i, 2]
            if not zs > near:
                continue
            u = pts[s, i, 0] / zs * fx + cx
            v = pts[s, i, 1] / zs * fy + cy
            for k in range(reach):
                ui = int(math.floor(u + offsets[k, 0]))
                vi = int(math.floor(v + offsets[k, 1]))
                if ui < 0 or ui >= w or vi < 0 or vi >= h:
                    continue
                depth = depth_scene[vi, ui]
                if depth <= 0 or zs < depth:
                    cover[vi * w + ui] += weights[k]
