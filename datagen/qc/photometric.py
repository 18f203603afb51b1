"""The image against the labels and the sensor model: per-sample photometric cross-checks.

- ``label_alignment``: image edges must sit on the label boundaries (seg, instance and depth
  discontinuities). The mean image gradient across the boundaries is measured with the labels
  where they are and moved by up to ``search_px`` pixels; if a moved copy fits the image
  clearly better, the labels and the image are out of register (or the image belongs to
  another sample). The median step across the moved boundaries must grow too: a
  misregistration moves every boundary off its edge, while texture inside one surface
  (snow-coverage patches) lures only the mean. Skipped in heavy snowfall, whose particles hide
  the scene's edges.
- ``dead_pixels``: isolated pixels stuck at black or white (all channels), and rows or columns
  of one constant colour that cross several semantic classes and stand out from the lines
  beside them (a dead sensor line; a uniform fog bank is constant but blends in).

Image statistics that depend on the weather (brightness, haze, noise, sharpness) are judged
against similar samples of the same data set by :mod:`datagen.qc.conditional`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class PhotometricConfig:
    search_px: int = 6  # label shifts tried in each direction
    align_gain: float = 1.05  # a shifted copy fitting this much better is a finding ...
    align_min_shift_px: int = 2  # ... when it is at least this far from where labels are
    depth_edge_log: float = 0.15  # |log(d1/d2)| above this is a depth boundary
    snow_skip_intensity: float = 0.2  # no alignment check in snowfall at least this heavy
    stuck_level: int = 5  # all channels <= this or >= 255 - this
    stuck_contrast: int = 60  # ... and this far from the 3x3 median (and 5 noise sigmas)
    stuck_fraction: float = 0.003  # clean tuning frames reach 0.22 %
    line_extreme_contrast: float = 40.0  # constant black/white line vs its neighbours
    line_contrast: float = 10.0  # a constant line across classes must also stand out


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    h, w = a.shape
    out = np.zeros_like(a)
    src_y = slice(max(0, -dy), h - max(0, dy))
    dst_y = slice(max(0, dy), h - max(0, -dy))
    src_x = slice(max(0, -dx), w - max(0, dx))
    dst_x = slice(max(0, dx), w - max(0, -dx))
    out[dst_y, dst_x] = a[src_y, src_x]
    return out


def boundaries(seg: np.ndarray, inst: np.ndarray, depth: np.ndarray | None,
               depth_edge_log: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Horizontal and vertical neighbour pairs that cross a label or depth boundary."""
    lab = seg.astype(np.int64) * 70000 + inst.astype(np.int64)
    bx = lab[:, 1:] != lab[:, :-1]
    by = lab[1:, :] != lab[:-1, :]
    if depth is not None and depth.shape == seg.shape:
        d = np.where(depth > 0, depth, 1e4).astype(np.float64)
        bx |= np.abs(np.log(d[:, 1:] / d[:, :-1])) > depth_edge_log
        by |= np.abs(np.log(d[1:, :] / d[:-1, :])) > depth_edge_log
    return bx, by


def _gradients(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Summed absolute colour steps between horizontal and vertical neighbours."""
    x = rgb[..., :3].astype(np.float32)
    return np.abs(x[:, 1:] - x[:, :-1]).sum(-1), np.abs(x[1:, :] - x[:-1, :]).sum(-1)


def alignment_scores(rgb: np.ndarray, bx: np.ndarray, by: np.ndarray,
                     search: int) -> dict[tuple[int, int], float]:  # fmt: skip
    """Mean image gradient across the boundaries moved by (dy, dx), for |dy|, |dx| <= search."""
    gx, gy = _gradients(rgb)
    out = {}
    for dy in range(-search, search + 1):
        for dx in range(-search, search + 1):
            sx, sy = _shifted(bx, dy, dx), _shifted(by, dy, dx)
            n = int(sx.sum() + sy.sum())
            out[(dy, dx)] = float(gx[sx].sum() + gy[sy].sum()) / max(n, 1)
    return out


def boundary_steps(rgb: np.ndarray, bx: np.ndarray, by: np.ndarray,
                   search: int) -> dict[tuple[int, int], tuple[float, float]]:  # fmt: skip
    """(mean, median) image gradient across the boundaries moved by (dy, dx), for |dy|,
    |dx| <= search: the mean is what an edge anywhere on the boundary adds, the median the
    step the typical boundary pixel sees (0 where the boundaries cross no pixel)."""
    gx, gy = _gradients(rgb)
    out = {}
    for dy in range(-search, search + 1):
        for dx in range(-search, search + 1):
            steps = np.concatenate([gx[_shifted(bx, dy, dx)], gy[_shifted(by, dy, dx)]])
            out[(dy, dx)] = ((float(steps.mean()), float(np.median(steps))) if steps.size
                             else (0.0, 0.0))  # fmt: skip
    return out


def _gain(moved: float, placed: float) -> float:
    if moved <= 0:
        return 0.0  # no step at all: no evidence for this shift
    return moved / placed if placed > 0 else math.inf


def better_shifts(steps: dict[tuple[int, int], tuple[float, float]],
                  cfg: PhotometricConfig) -> list[tuple[tuple[int, int], float, float]]:
    """(shift, mean gain, median gain) of the shifts at least ``align_min_shift_px`` away
    whose boundaries fit the image better than in place (and than any nearer shift: an edge
    half a pixel off is the renderer's sampling) by both the mean and the median
    step: a misregistration moves every boundary off its edge, so the typical boundary pixel
    fits the moved labels better too, while texture inside one surface (snow-coverage patches
    on terrain, lit snow at night) lifts only the mean where a long low-contrast boundary
    (snow under a pale sky, a dark sky over unlit ground) is moved onto it."""
    mean0, median0 = steps[(0, 0)]
    far = {k: v for k, v in steps.items() if max(abs(k[0]), abs(k[1])) >= cfg.align_min_shift_px}
    near = max(v[0] for k, v in steps.items() if k not in far)
    out = []
    for shift, (mean, median) in far.items():
        if mean <= near:
            continue
        gain, typical = _gain(mean, mean0), _gain(median, median0)
        if gain > cfg.align_gain and typical > cfg.align_gain:
            out.append((shift, gain, typical))
    return out


def label_alignment(s, cfg: PhotometricConfig) -> Flag | None:
    if s.rgb is None or s.seg is None or s.inst is None or s.rgb.ndim != 3:
        return None
    if s.seg.shape != s.rgb.shape[:2] or s.inst.shape != s.seg.shape:
        return Flag("label_alignment", f"image {s.rgb.shape[:2]} and labels {s.seg.shape} "
                    "differ in size", None, "same size")  # fmt: skip
    w = s.meta.get("weather", {}) if isinstance(s.meta, dict) else {}
    if w.get("precip_type") == "snow" and float(w.get("precip_intensity", 0)) >= \
            cfg.snow_skip_intensity:  # fmt: skip
        return None
    bx, by = boundaries(s.seg, s.inst, s.depth_m, cfg.depth_edge_log)
    if bx.sum() + by.sum() < 10:
        return None
    found = better_shifts(boundary_steps(s.rgb, bx, by, cfg.search_px), cfg)
    if not found:
        return None
    (dy, dx), gain, typical = max(found, key=lambda f: (f[1], -abs(f[0][0]) - abs(f[0][1])))
    return flag("label_alignment", f"image edges fit the labels moved by (dx, dy) = ({dx}, "
                f"{dy}) px better than in place (median step ratio {typical:.2f}): gradient "
                "ratio", gain, f"allowed {cfg.align_gain}")  # fmt: skip


def dead_pixels(s, cfg: PhotometricConfig) -> Flag | None:
    if s.rgb is None or s.rgb.ndim != 3 or min(s.rgb.shape[:2]) < 3:
        return None
    from scipy.ndimage import median_filter

    x = s.rgb[..., :3].astype(np.int16)
    med = median_filter(x, size=(3, 3, 1), mode="nearest")
    extreme = (x.min(-1) >= 255 - cfg.stuck_level) | (x.max(-1) <= cfg.stuck_level)
    sigma = float(np.median(np.abs(np.diff(x, axis=1)))) / (0.6745 * np.sqrt(2))
    stuck = extreme & (np.abs(x - med).max(-1) > max(cfg.stuck_contrast, 5 * sigma))
    if s.seg is not None and s.seg.shape == x.shape[:2]:
        # a lone white pixel the labels mark as a thin object of its own (a far lane
        # marking) is the scene, not a defect: count pixels inside one segment only
        from scipy.ndimage import maximum_filter, minimum_filter

        lab = s.seg.astype(np.int64) * 70000 + (s.inst.astype(np.int64) if s.inst is not None
                                                 and s.inst.shape == s.seg.shape else 0)
        stuck &= minimum_filter(lab, 3, mode="nearest") == maximum_filter(lab, 3, mode="nearest")
    frac = float(stuck.mean())
    if frac > cfg.stuck_fraction:
        return flag("dead_pixels", "isolated pixels stuck at black/white:", frac,
                    f"allowed {cfg.stuck_fraction:.2%}", ".2%")  # fmt: skip
    line = _dead_line(x, s.seg, cfg)
    return Flag("dead_pixels", line, None, "no constant line across classes") if line else None


def _dead_line(x: np.ndarray, seg: np.ndarray | None, cfg: PhotometricConfig) -> str | None:
    for axis, name in ((0, "row"), (1, "column")):
        a = x if axis == 0 else x.transpose(1, 0, 2)
        lab = None if seg is None or seg.shape != x.shape[:2] else (seg if axis == 0 else seg.T)
        const = np.flatnonzero((a == a[:, :1]).all(axis=(1, 2)))
        for i in const:
            classes = len(np.unique(lab[i])) if lab is not None else 1
            nb = [a[j] for j in (i - 1, i + 1) if 0 <= j < len(a)]
            contrast = float(np.mean([np.abs(a[i] - n).mean() for n in nb])) if nb else 0.0
            value = a[i, 0]
            extreme = bool((value <= cfg.stuck_level).all() or (value >= 255 - cfg.stuck_level)
                           .all())  # fmt: skip
            if (classes >= 2 and contrast > cfg.line_contrast) or (
                    extreme and contrast > cfg.line_extreme_contrast):
                return (f"{name} {i} is one constant colour {value.tolist()} across {classes} "
                        f"classes (contrast to its neighbours {contrast:.0f} DN)")
    return None


def check(s, cfg: PhotometricConfig) -> list[Flag]:
    return [f for f in (label_alignment(s, cfg), dead_pixels(s, cfg)) if f is not None]
