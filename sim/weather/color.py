"""sRGB <-> linear radiance conversions (the effects work in linear light)."""

from __future__ import annotations

import numpy as np


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
    """float linear (..., 3) -> uint8 sRGB, clipped to [0, 1] first."""
    c = np.clip(lin, 0.0, 1.0)
    s = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.round(s * 255.0).astype(np.uint8)


def luminance(lin: np.ndarray) -> np.ndarray:
    """Relative luminance (Rec. 709) of linear RGB."""
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722
