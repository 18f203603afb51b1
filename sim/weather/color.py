"""sRGB <-> linear radiance conversions (the effects work in linear light)."""

from __future__ import annotations

import numpy as np

from sim import jit


def _srgb_curve(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float32) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


_SRGB_LUT = _srgb_curve(np.arange(256, dtype=np.uint8))  # the curve at every uint8 value


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> float32 linear in [0, 1] (IEC 61966-2-1); uint8 input is
    looked up in the curve's 256 values (the same numbers, without a power per pixel)."""
    if rgb.dtype == np.uint8:
        return _SRGB_LUT[rgb]
    return _srgb_curve(rgb)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """float linear (..., 3) -> uint8 sRGB, clipped to [0, 1] first.

    float32 / float64 arrays go through one compiled pass where numba is installed
    (:func:`_to_srgb_compiled`: the same operations and precision, libm ``pow`` as numpy's,
    so the same bytes; tested), anything else through :func:`linear_to_srgb_numpy`."""
    lin = np.asarray(lin)
    if not jit.AVAILABLE or lin.dtype not in (np.float32, np.float64):
        return linear_to_srgb_numpy(lin)
    t = lin.dtype.type
    out = np.empty(lin.shape, dtype=np.uint8)
    _to_srgb_compiled(np.ascontiguousarray(lin).reshape(-1), t(0.0031308), t(12.92), t(1.055),
                      t(1 / 2.4), t(0.055), t(255.0), t(0.0), t(1.0), out.reshape(-1))  # fmt: skip
    return out


@jit.njit
def _to_srgb_compiled(lin, knee, slope, scale, gamma, offset, full, zero, one, out):
    """:func:`linear_to_srgb_numpy` per value, constants typed as numpy casts them (NEP 50);
    ``np.round`` rounds half to even, as ``np.rint`` does."""
    for i in range(lin.shape[0]):
        c = min(max(lin[i], zero), one)
        s = c * slope if c <= knee else scale * c**gamma - offset
        out[i] = np.uint8(np.rint(s * full))


def linear_to_srgb_numpy(lin: np.ndarray) -> np.ndarray:
    """:func:`linear_to_srgb` in numpy (the reference for the compiled pass)."""
    c = np.clip(lin, 0.0, 1.0)
    s = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.round(s * 255.0).astype(np.uint8)


def luminance(lin: np.ndarray) -> np.ndarray:
    """Relative luminance (Rec. 709) of linear RGB."""
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722
