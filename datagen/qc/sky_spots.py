"""A dark spot in the sky: ``sky_spot``.

Invariant: a pixel labelled sky sees no surface, so its brightness is a smooth function of
the viewing direction (the sky's gradient, haze, fog); weather particles (rain streaks, snow,
hail) are lighter than the sky behind them, not darker. A compact dark spot inside the sky,
away from its label edges, is therefore either something on the optics (dust on the sensor's
cover glass, a water drop or dirt on the lens, a stuck cluster of pixels) or a surface the
labels call sky (a label pass that lost far geometry).

Measured as a centre-surround contrast of the luminance inside the sky only (normalised
Gaussian averages of the sky's pixels at ``centre_sigma`` and ``surround_sigma``, the sky
mask eroded by one pixel and other classes given no weight, so label edges do not count),
in units of that contrast's own robust spread over the frame's sky (1.4826 MAD, plus
``noise_floor`` DN, so a night sky's grain raises the bar with it). On 2 600 clean frames
(seed 4040, every preset) the largest is 6.8; ``max_contrast`` is 8.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag

log = logging.getLogger(__name__)
CHECK = "sky_spot"
SKY_CLASS = 0  # sim.classes
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class SkySpotsConfig:
    centre_sigma: float = 1.0  # px at 64 px (scaled with the width)
    surround_sigma: float = 3.0
    support: float = 0.6  # share of sky weight both averages need at a judged pixel
    min_sky_px: int = 50  # at 64 px (scaled with the area)
    noise_floor: float = 0.5  # DN added to the robust spread
    max_contrast: float = 8.0  # robust spreads

    def __post_init__(self) -> None:
        if not 0 < self.centre_sigma < self.surround_sigma:
            raise ValueError("SkySpotsConfig: need 0 < centre_sigma < surround_sigma")
        for name in ("support", "noise_floor", "max_contrast"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SkySpotsConfig.{name} must be > 0")


def _masked_mean(x: np.ndarray, w: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian average of ``x`` over the pixels weighted by ``w``, and the weight there."""
    from scipy.ndimage import gaussian_filter

    weight = gaussian_filter(w, sigma, mode="constant")
    return gaussian_filter(x * w, sigma, mode="constant") / np.maximum(weight, 1e-9), weight


def contrast(rgb: np.ndarray, seg: np.ndarray, inst: np.ndarray | None,
             cfg: SkySpotsConfig) -> tuple[float, int, int] | None:  # fmt: skip
    """(largest dark centre-surround contrast in robust spreads, its row, its column), or
    None when the frame shows too little sky."""
    from scipy.ndimage import binary_erosion

    scale = rgb.shape[1] / 64.0
    sky = seg == SKY_CLASS
    if inst is not None and inst.shape == seg.shape:
        sky &= inst == 0
    sky = binary_erosion(sky, iterations=1)
    if int(sky.sum()) < cfg.min_sky_px * scale * scale:
        return None
    luma = rgb[..., :3].astype(np.float64) @ np.asarray(LUMA)
    w = sky.astype(np.float64)
    centre, w1 = _masked_mean(luma, w, cfg.centre_sigma * scale)
    surround, w2 = _masked_mean(luma, w, cfg.surround_sigma * scale)
    judged = sky & (w1 > cfg.support) & (w2 > cfg.support)
    if int(judged.sum()) < cfg.min_sky_px * scale * scale / 2:
        return None
    d = np.where(judged, surround - centre, np.nan)
    values = d[judged]
    mid = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - mid))) + cfg.noise_floor
    z = (d - mid) / spread
    i = int(np.nanargmax(z))
    row, col = divmod(i, z.shape[1])
    return float(z[row, col]), row, col


def check(s, cfg: SkySpotsConfig) -> Flag | None:
    if s.rgb is None or s.seg is None or s.rgb.ndim != 3 or s.rgb.shape[:2] != s.seg.shape:
        return None
    found = contrast(s.rgb, s.seg, s.inst, cfg)
    if found is None or found[0] <= cfg.max_contrast:
        return None
    value, row, col = found
    log.debug("%s: dark sky spot %.1f at (%d, %d)", s.key, value, row, col)
    return flag(CHECK, f"dark spot in the sky at (row {row}, col {col}): centre-surround "
                "contrast in robust spreads of the sky's", value,
                f"allowed {cfg.max_contrast:g}", ".1f")  # fmt: skip
