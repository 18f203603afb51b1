"""Camera-side effects: lens droplets in heavy precipitation and low-light sensor noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

DROPLETS_FROM = 0.4  # precipitation intensity where water starts collecting on the lens
NOISE_GAIN_FROM = 2.0  # analog gain (1 / exposure) above which noise becomes visible


def lens_droplets(lin: np.ndarray, intensity: float, rng: np.random.Generator) -> np.ndarray:
    """Blur-and-brighten discs where droplets sit on the lens (count grows with rain)."""
    if intensity < DROPLETS_FROM:
        return lin
    h, w = lin.shape[:2]
    count = int(rng.poisson(30.0 * (intensity - DROPLETS_FROM) / (1.0 - DROPLETS_FROM)))
    if count == 0:
        return lin
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mask = np.zeros((h, w), dtype=np.float32)
    for _ in range(count):
        r = rng.uniform(0.015, 0.05) * w
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        # outside the droplet's disc (d >= 1) it adds 0: only its bounding box is computed
        y0, y1 = max(int(np.floor(cy - r)) - 1, 0), min(int(np.ceil(cy + r)) + 2, h)
        x0, x1 = max(int(np.floor(cx - r)) - 1, 0), min(int(np.ceil(cx + r)) + 2, w)
        if y0 >= y1 or x0 >= x1:
            continue
        d = np.hypot(yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx) / r
        box = mask[y0:y1, x0:x1]
        np.maximum(box, np.clip((1.0 - d) * 4.0, 0.0, 1.0), out=box)
    sigma = max(1.5, 0.012 * w)
    blurred = ndimage.gaussian_filter(lin, sigma=(sigma, sigma, 0)) * 1.08 + 0.01
    return lin * (1.0 - mask[..., None]) + blurred * mask[..., None]


def sensor_noise(
    lin: np.ndarray, exposure: float, precip: float, rng: np.random.Generator
) -> np.ndarray:
    """Shot and read noise amplified by the gain a dark (or rain-dimmed) scene needs."""
    gain = 1.0 / max(exposure, 1e-3) * (1.0 + precip)
    if gain < NOISE_GAIN_FROM:
        return lin
    shot = 0.002 * np.sqrt(gain * np.maximum(lin, 0.0) + 1e-6)
    read = 0.00015 * gain
    noise = rng.normal(0.0, 1.0, lin.shape).astype(np.float32) * (shot + read)
    return np.clip(lin + noise, 0.0, None).astype(np.float32)
