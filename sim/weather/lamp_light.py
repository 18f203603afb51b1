"""The light on every pixel of a dark frame: the scene's light plus headlights and lamps.

:func:`lamp_light` is :func:`lamp_light_numpy` (``illum`` everywhere, plus
``on * (0.95 x headlight + street lamps x lamp colour)``, the irradiances of
:mod:`sim.weather.lighting`) in one compiled pass over the pixels where numba is installed:
the same operations in the same order and precisions (float64 headlight, float32 street
lamps, sums over x, y, z as numpy reduces them, libm ``expm1`` as numpy's here), so the same
numbers (tested on real frames).
"""

from __future__ import annotations

import numpy as np

from sim import jit
from sim.weather import lighting


def lamp_light_numpy(points: np.ndarray, valid: np.ndarray, street_lit: np.ndarray,
                     lamps: np.ndarray, illum: np.ndarray, on: float) -> np.ndarray:  # fmt: skip
    """(H, W, 3) light: ``illum`` (3,) plus ``on`` times the headlights on ``valid`` pixels
    and the street ``lamps`` on ``street_lit`` pixels (camera-frame ``points`` (H, W, 3))."""
    light = np.broadcast_to(illum, points.shape).copy()
    head = lighting.headlight_irradiance(points, valid)
    street = lighting.streetlamp_irradiance(points, lamps) * street_lit
    light += on * (head[..., None] * 0.95 + street[..., None] * lighting.STREETLAMP_COLOR)
    return light


def lamp_light(points: np.ndarray, valid: np.ndarray, street_lit: np.ndarray,
               lamps: np.ndarray, illum: np.ndarray, on: float) -> np.ndarray:  # fmt: skip
    """:func:`lamp_light_numpy`, compiled where it can be (the same numbers)."""
    ok = (points.dtype == np.float32 and lamps.dtype == np.float32
          and illum.dtype == np.float32 and type(on) is float)  # fmt: skip
    if not (jit.AVAILABLE and ok):
        return lamp_light_numpy(points, valid, street_lit, lamps, illum, on)
    h, w = points.shape[:2]
    out = np.empty((h * w, 3), dtype=np.float32)
    f4 = np.float32
    _lamp_light_compiled(
        np.ascontiguousarray(points).reshape(-1, 3), np.ascontiguousarray(valid).reshape(-1),
        np.ascontiguousarray(street_lit).reshape(-1), np.ascontiguousarray(lamps),
        illum, on, lighting.HEADLIGHT_OFFSET_CAM.astype(np.float64),
        float(np.cos(np.radians(lighting.HEADLIGHT_HALF_ANGLE_DEG))),
        float(lighting.HEADLIGHT_INTENSITY), f4(lighting.STREETLAMP_INTENSITY),
        lighting.STREETLAMP_COLOR.astype(np.float64), f4(0.95), f4(1.0), f4(1.2), out,
    )  # fmt: skip
    return out.reshape(h, w, 3)


@jit.njit
def _greater(a, b):
    """numpy's maximum / clip choice (``a if a > b else b``; the sign of zero as numpy)."""
    return a if a > b else b


@jit.njit
def _smaller(a, b):
    return a if a < b else b


@jit.njit
def _headlight(p0, p1, p2, offset, edge, intensity):
    """:func:`sim.weather.lighting.headlight_irradiance` of one point, float64."""
    r0, r1, r2 = np.float64(p0) - offset[0], np.float64(p1) - offset[1], np.float64(p2) - offset[2]
    dist2 = _greater(r0 * r0 + r1 * r1 + r2 * r2, 0.25)
    cos_axis = r2 / np.sqrt(dist2)
    x = _smaller(_greater((cos_axis - edge + 0.12) / 0.12, 0.0), 1.0)
    irradiance = intensity * (x * x) / dist2
    return 1.2 * -np.expm1(-irradiance / 1.2)


@jit.njit
def _street(p0, p1, p2, lamps, intensity, one, ceiling):
    """:func:`sim.weather.lighting.streetlamp_irradiance` of one point, float32."""
    total = np.float32(0.0)
    for k in range(lamps.shape[0]):
        d0, d1, d2 = p0 - lamps[k, 0], p1 - lamps[k, 1], p2 - lamps[k, 2]
        total = total + intensity / _greater(d0 * d0 + d1 * d1 + d2 * d2, one)
    return ceiling * -np.expm1(-total / ceiling)


@jit.njit
def _lamp_light_compiled(points, valid, street_lit, lamps, illum, on, offset, edge,
                         head_intensity, street_intensity, color, k_head, one, ceiling,
                         out):  # fmt: skip
    """:func:`lamp_light_numpy` per pixel ``i`` into ``out[i]``."""
    zero = np.float32(0.0)
    for i in range(points.shape[0]):
        p0, p1, p2 = points[i, 0], points[i, 1], points[i, 2]
        head = zero
        if valid[i]:
            head = np.float32(_headlight(p0, p1, p2, offset, edge, head_intensity))
        street = _street(p0, p1, p2, lamps, street_intensity, one, ceiling)
        street = street * (one if street_lit[i] else zero)
        for j in range(3):
            lamps_j = np.float64(head * k_head) + np.float64(street) * color[j]
            out[i, j] = np.float32(np.float64(illum[j]) + on * lamps_j)
