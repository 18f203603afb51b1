"""World-anchored coverage patterns (snow patches, puddles, ice), compiled.

:func:`coverage_mask_compiled` is :func:`sim.weather.ground.coverage_mask` (two octaves of
integer-hashed value noise, thresholded to a coverage fraction) in one pass over the points:
the same integer hash and the same float operations in the same order and precisions
(float64 lattice weights, float32 hash values and mask), so the same numbers (tested).
"""

from __future__ import annotations

import numpy as np

from sim import jit

HASH_SALT = 83492791  # ground.value_noise's salt multiplier (its other constants are inline)


def coverage_mask_compiled(xy: np.ndarray, fraction: float, cell_m: float,
                           salt: int) -> np.ndarray:  # fmt: skip
    """``ground.coverage_mask(xy, fraction, cell_m, salt)`` for ``fraction > 0`` and
    float64 points ``xy`` (M, 2)."""
    f4 = np.float32
    threshold = 0.2 + 0.6 * (1.0 - fraction)
    out = np.empty(len(xy), dtype=np.float32)
    _coverage(np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 2), float(cell_m),
              float(cell_m / 3.1), np.uint64(salt * HASH_SALT), np.uint64((salt + 1) * HASH_SALT),
              f4(0.65), f4(0.35), f4(threshold), f4(0.06), f4(0.5), f4(65535.0), out)  # fmt: skip
    return out


@jit.njit
def _lattice(i, j, salt):
    """The hash value in [0, 1] (float32) of lattice point (i, j)."""
    a = np.uint64(i) * np.uint64(73856093)
    b = np.uint64(j) * np.uint64(19349663)
    x = (a ^ b ^ salt) * np.uint64(2654435761)
    return np.float32((x >> np.uint64(8)) & np.uint64(0xFFFF))


@jit.njit
def _value_noise(x, y, cell, salt, scale):
    """``ground.value_noise`` at one point."""
    gx, gy = x / cell, y / cell
    ix, iy = np.int64(np.floor(gx)), np.int64(np.floor(gy))
    fx, fy = gx - np.float64(ix), gy - np.float64(iy)
    fx = fx * fx * (3.0 - 2.0 * fx)
    fy = fy * fy * (3.0 - 2.0 * fy)
    h00 = _lattice(ix, iy, salt) / scale
    h10 = _lattice(ix + 1, iy, salt) / scale
    h01 = _lattice(ix, iy + 1, salt) / scale
    h11 = _lattice(ix + 1, iy + 1, salt) / scale
    top = h00 * (1 - fx) + h10 * fx
    bottom = h01 * (1 - fx) + h11 * fx
    return np.float32(top * (1 - fy) + bottom * fy)


@jit.njit
def _coverage(xy, cell, fine_cell, salt, fine_salt, w_coarse, w_fine, threshold, width, half,
              scale, out):  # fmt: skip
    zero, one = np.float32(0.0), np.float32(1.0)
    for m in range(xy.shape[0]):
        x, y = xy[m, 0], xy[m, 1]
        n = w_coarse * _value_noise(x, y, cell, salt, scale) + w_fine * _value_noise(
            x, y, fine_cell, fine_salt, scale
        )
        v = (n - threshold) / width + half
        out[m] = one if v > one else (v if v > zero else zero)
