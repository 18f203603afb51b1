"""Ground effects in the picture: snow cover, wet and icy road, puddles.

Patterns (snow patches, puddles, ice) are value noise anchored to world x, y, so they stay
put on the ground from frame to frame; coverage fractions follow the weather parameters.
All functions take and return linear RGB and never touch labels.
"""

from __future__ import annotations

import numpy as np

from sim import jit
from sim.classes import class_id
from sim.weather.coverage import coverage_mask_compiled
from sim.weather.geometry import FrameGeometry
from sim.weather.params import WeatherParams
from sim.weather.sky import reflected_sky

SNOW_ALBEDO = np.array([0.82, 0.85, 0.9], dtype=np.float32)
GROUND = ("road", "lane_marking", "sidewalk", "terrain")
WET = {"road": 1.0, "lane_marking": 0.8, "sidewalk": 0.6}
SNOW_SHARE = {"terrain": 1.0, "sidewalk": 0.95, "road": 0.8, "lane_marking": 0.8}
WATER_F0 = 0.02  # Fresnel reflectance of water at normal incidence


def value_noise(xy: np.ndarray, cell_m: float, salt: int) -> np.ndarray:
    """Smooth noise in [0, 1] from an integer hash of the world lattice (deterministic)."""
    g = xy / cell_m
    i0 = np.floor(g).astype(np.int64)
    f = g - i0
    f = f * f * (3.0 - 2.0 * f)

    def h(di: int, dj: int) -> np.ndarray:
        a = (i0[..., 0] + di).astype(np.uint64) * np.uint64(73856093)
        b = (i0[..., 1] + dj).astype(np.uint64) * np.uint64(19349663)
        x = (a ^ b ^ np.uint64(salt * 83492791)) * np.uint64(2654435761)
        return ((x >> np.uint64(8)) & np.uint64(0xFFFF)).astype(np.float32) / 65535.0

    top = h(0, 0) * (1 - f[..., 0]) + h(1, 0) * f[..., 0]
    bottom = h(0, 1) * (1 - f[..., 0]) + h(1, 1) * f[..., 0]
    return (top * (1 - f[..., 1]) + bottom * f[..., 1]).astype(np.float32)


def coverage_mask(xy: np.ndarray, fraction: float, cell_m: float, salt: int) -> np.ndarray:
    """Soft mask covering about ``fraction`` of the ground in world-anchored patches
    (compiled for float64 points (M, 2) where numba is installed: the same numbers)."""
    if fraction <= 0.0:
        return np.zeros(xy.shape[:-1], dtype=np.float32)
    if jit.AVAILABLE and xy.dtype == np.float64 and xy.ndim == 2:
        return coverage_mask_compiled(xy, fraction, cell_m, salt)
    return coverage_mask_numpy(xy, fraction, cell_m, salt)


def coverage_mask_numpy(xy: np.ndarray, fraction: float, cell_m: float, salt: int) -> np.ndarray:
    """:func:`coverage_mask` in numpy (the reference for the compiled pass)."""
    n = 0.65 * value_noise(xy, cell_m, salt) + 0.35 * value_noise(xy, cell_m / 3.1, salt + 1)
    threshold = 0.2 + 0.6 * (1.0 - fraction)  # the noise mostly lies in [0.2, 0.8]
    return np.clip((n - threshold) / 0.06 + 0.5, 0.0, 1.0).astype(np.float32)


def _class_share(seg: np.ndarray, shares: dict[str, float]) -> np.ndarray:
    if seg.dtype == np.uint8:  # one look-up instead of a pass over the image per class
        table = np.zeros(256, dtype=np.float32)
        for name, share in shares.items():
            table[class_id(name)] = share
        return table[seg]
    out = np.zeros(seg.shape, dtype=np.float32)
    for name, share in shares.items():
        out[seg == class_id(name)] = share
    return out


def upward_facing(geom: FrameGeometry) -> np.ndarray:
    """How much each surface faces up (0..1) from depth-derived normals (the normals in
    one compiled pass for float32 points and rays where numba is installed: the same
    float32 operations in the same order, so the same numbers; tested)."""
    p, rays = geom.points, geom.rays
    compiled = jit.AVAILABLE and p.dtype == rays.dtype == np.float32 and p.ndim == 3
    if compiled and p.shape[0] >= 2 and p.shape[1] >= 2 and rays.shape == p.shape:
        n = np.empty(p.shape, dtype=np.float32)
        _surface_normals(np.ascontiguousarray(p), np.ascontiguousarray(rays), n)
    else:
        n = surface_normals_numpy(p, rays)
    return np.clip((n @ geom.up_cam - 0.7) / 0.2, 0.0, 1.0) * geom.hit


def surface_normals_numpy(p: np.ndarray, rays: np.ndarray) -> np.ndarray:
    """Unit normals of the point grid ``p`` (H, W, 3), turned to face the camera (the
    reference for the compiled pass)."""
    n = np.cross(np.gradient(p, axis=0), np.gradient(p, axis=1))
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
    n *= -np.sign(np.sum(n * rays, axis=-1, keepdims=True) + 1e-12)
    return n


@jit.njit
def _surface_normals(p, rays, n):
    """:func:`surface_normals_numpy` per pixel, float32 throughout: central differences
    halved (one-sided at the borders, divided by 1: as ``np.gradient``), ``a1 b2 - a2 b1``
    etc. (as ``np.cross``), the length as ``sqrt(((0 + x^2) + y^2) + z^2)`` (numpy's sum of
    squares), 1e-9 and 1e-12 as float32."""
    h, w = p.shape[0], p.shape[1]
    tiny, eps, zero = np.float32(1e-9), np.float32(1e-12), np.float32(0.0)
    for i in range(h):
        ia, ib = min(i + 1, h - 1), max(i - 1, 0)
        dy = np.float32(ia - ib)
        for j in range(w):
            ja, jb = min(j + 1, w - 1), max(j - 1, 0)
            dx = np.float32(ja - jb)
            y0 = (p[ia, j, 0] - p[ib, j, 0]) / dy
            y1 = (p[ia, j, 1] - p[ib, j, 1]) / dy
            y2 = (p[ia, j, 2] - p[ib, j, 2]) / dy
            x0 = (p[i, ja, 0] - p[i, jb, 0]) / dx
            x1 = (p[i, ja, 1] - p[i, jb, 1]) / dx
            x2 = (p[i, ja, 2] - p[i, jb, 2]) / dx
            c0 = y1 * x2 - y2 * x1
            c1 = y2 * x0 - y0 * x2
            c2 = y0 * x1 - y1 * x0
            length = np.sqrt(zero + c0 * c0 + c1 * c1 + c2 * c2)
            if length < tiny:  # np.maximum(length, 1e-9) (a NaN length stays NaN)
                length = tiny
            c0, c1, c2 = c0 / length, c1 / length, c2 / length
            d = zero + c0 * rays[i, j, 0] + c1 * rays[i, j, 1] + c2 * rays[i, j, 2] + eps
            if d > zero:
                s = np.float32(-1.0)
            elif d < zero:
                s = np.float32(1.0)
            elif d == zero:
                s = -zero
            else:
                s = d  # NaN
            n[i, j, 0], n[i, j, 1], n[i, j, 2] = c0 * s, c1 * s, c2 * s


def apply_snow(lin: np.ndarray, seg: np.ndarray, geom: FrameGeometry, p: WeatherParams):
    """Whiten ground (terrain > sidewalk > road) and upward-facing tops by snow cover."""
    if p.snow_cover <= 0.0:
        return lin
    share = np.maximum(_class_share(seg, SNOW_SHARE), 0.7 * upward_facing(geom))
    share = np.where(seg == class_id("ego"), 0.0, share)
    # Where the share is 0 the pixel keeps its value exactly: the pattern is computed (per
    # pixel, so the same numbers) only where snow can lie.
    some = share > 0
    amount = coverage_mask(geom.world_xy()[some], p.snow_cover, 2.5, salt=11) * share[some]
    out = lin.astype(np.result_type(lin, SNOW_ALBEDO, share), copy=True)
    out[some] = lin[some] * (1.0 - amount[..., None]) + SNOW_ALBEDO * amount[..., None]
    return out


def apply_wet_road(lin: np.ndarray, seg: np.ndarray, geom: FrameGeometry, p: WeatherParams):
    """Wet asphalt: darker albedo plus a Fresnel-weighted mirror image of the sky;
    puddles are full mirrors, ice a glossy film without darkening."""
    wet = _class_share(seg, WET)
    if not wet.any() or p.road_wetness + p.puddles + p.ice <= 0.0:
        return lin
    # Off the wet classes (road, markings, sidewalk) there is no film, puddle or ice, so the
    # pixel keeps its value exactly: everything below runs on those pixels only (per pixel,
    # so the same numbers as over the whole image).
    on = wet > 0
    xy = geom.world_xy()[on]
    wet, road = wet[on], seg[on] == class_id("road")
    puddle = coverage_mask(xy, p.puddles, 3.0, salt=23) * road
    ice = coverage_mask(xy, p.ice, 4.0, salt=37) * wet
    film = np.clip(p.road_wetness * wet + puddle, 0.0, 1.0)
    cos_i = np.abs(geom.sin_elev[on])
    fresnel = WATER_F0 + (1 - WATER_F0) * (1 - cos_i) ** 5
    gloss = np.clip(0.35 * film + 0.65 * puddle + 0.4 * ice, 0.0, 1.0) * fresnel
    shiny = gloss > 0  # the mirror image is only needed (and only differs from 0) there
    mirror = np.zeros((len(gloss), 3), dtype=np.float32)
    mirror[shiny] = reflected_sky(p, geom.rays[on][shiny] @ geom.R_world_cam.T)
    dark = 1.0 - 0.5 * film - 0.3 * puddle
    out = lin.astype(np.float32, copy=True)
    out[on] = lin[on] * dark[..., None] * (1.0 - gloss[..., None]) + mirror * gloss[..., None]
    return out
