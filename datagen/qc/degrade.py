"""Generic, randomised image degradations for training QC's learned degradation check.

:func:`degrade` applies one or two families drawn at random (blur, noise, colour, tone, veil,
spots, vignetting/shading, quantisation, banding, row/column artefacts, resampling,
sharpening, chroma shifts), each at a random strength from barely visible to obvious. It is
deliberately not any particular fault: :mod:`datagen.qc.image_degradation` learns "this image
was degraded after rendering" from it. Deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np


def _box(img: np.ndarray, r: int) -> np.ndarray:
    """Separable box blur of radius ``r`` (edge padding), any channel count."""
    if r <= 0:
        return img
    k = 2 * r + 1
    pad = np.pad(img, ((r, r), (r, r), (0, 0)), mode="edge")
    c = np.cumsum(pad, axis=0)
    c = np.concatenate([np.zeros_like(c[:1]), c], axis=0)
    v = (c[k:] - c[:-k]) / k
    c = np.cumsum(v, axis=1)
    c = np.concatenate([np.zeros_like(c[:, :1]), c], axis=1)
    return (c[:, k:] - c[:, :-k]) / k


def _conv(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    kh, kw = kernel.shape
    ph, pw = kh // 2, kw // 2
    pad = np.pad(img, ((ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)), mode="edge")
    out = np.zeros_like(img)
    h, w = img.shape[:2]
    for y in range(kh):
        for x in range(kw):
            if kernel[y, x] != 0:
                out += kernel[y, x] * pad[y:y + h, x:x + w]
    return out


def _gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, int(np.ceil(2.5 * sigma)))
    x = np.arange(-r, r + 1)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return _conv(_conv(img, g[None, :]), g[:, None])


def _grid(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates around a random centre near the middle."""
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return (yy - cy) / h, (xx - cx) / w


def _blur(x, s, rng):
    kind = rng.integers(3)
    if kind == 0:
        return _gauss(x, 0.3 + 2.2 * s)
    if kind == 1:  # motion blur along a random direction
        n = 2 + int(round(7 * s))
        k = np.zeros((n * 2 + 1, n * 2 + 1))
        a = rng.uniform(0, np.pi)
        for t in np.linspace(-n, n, 4 * n + 1):
            k[int(round(n + t * np.sin(a))), int(round(n + t * np.cos(a)))] = 1
        return _conv(x, k / k.sum())
    r = 0.8 + 3.0 * s  # defocus disc
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
    k = (yy ** 2 + xx ** 2 <= r * r).astype(np.float64)
    return _conv(x, k / k.sum())


def _noise(x, s, rng):
    h, w = x.shape[:2]
    sd = 0.004 + 0.08 * s
    kind = rng.integers(5)
    if kind == 0:  # gaussian, per channel
        return x + rng.normal(0, sd, x.shape)
    if kind == 1:  # luminance only
        return x + rng.normal(0, sd, (h, w, 1))
    if kind == 2:  # shot noise: brighter pixels noisier
        return x + rng.normal(0, 1, x.shape) * sd * np.sqrt(np.clip(x, 0, 1) + 0.02) * 1.5
    if kind == 3:  # fixed pattern: per row / per column / per pixel offsets
        which = rng.integers(3)
        shape = [(h, 1, 1), (1, w, 1), (h, w, 1)][which]
        return x + rng.normal(0, sd * 0.8, shape)
    frac = 0.002 + 0.04 * s  # salt and pepper / hot pixels
    m = rng.random((h, w)) < frac
    out = x.copy()
    out[m] = rng.choice([0.0, 1.0], size=(int(m.sum()), 1)) if rng.random() < 0.5 else \
        rng.random((int(m.sum()), 3))  # fmt: skip
    return out


def _colour(x, s, rng):
    kind = rng.integers(4)
    if kind == 0:  # channel gains
        g = 1 + rng.choice([-1, 1], 3) * rng.uniform(0.02, 0.05 + 0.35 * s, 3)
        return x * g
    if kind == 1:  # additive cast
        return x + rng.normal(0, 0.01 + 0.1 * s, 3)
    if kind == 2:  # saturation change
        lum = x.mean(axis=2, keepdims=True)
        f = 1 + rng.choice([-1, 1]) * (0.1 + 0.8 * s)
        return lum + (x - lum) * max(f, 0.0)
    a = np.deg2rad(rng.choice([-1, 1]) * (4 + 60 * s))  # hue rotation about the grey axis
    u = np.ones(3) / np.sqrt(3)
    c, sn = np.cos(a), np.sin(a)
    cross = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    rot = c * np.eye(3) + sn * cross + (1 - c) * np.outer(u, u)
    return x @ rot.T


def _tone(x, s, rng):
    kind = rng.integers(3)
    if kind == 0:
        g = np.exp(rng.choice([-1, 1]) * (0.08 + 0.7 * s))
        return np.clip(x, 0, 1) ** g
    if kind == 1:
        c = 1 + rng.choice([-1, 1]) * (0.06 + 0.5 * s)
        return 0.5 + (x - 0.5) * c
    lo, hi = rng.uniform(0, 0.04 + 0.2 * s), 1 - rng.uniform(0, 0.04 + 0.2 * s)
    if rng.random() < 0.5:  # stretch (clips) or compress levels
        return (x - lo) / max(hi - lo, 0.1)
    return lo + x * (hi - lo)


def _veil(x, s, rng):
    h, w = x.shape[:2]
    yy, xx = _grid(h, w, rng)
    a = (0.04 + 0.4 * s)
    kind = rng.integers(3)
    col = rng.uniform(0.6, 1.0, 3) if rng.random() < 0.5 else np.full(3, rng.uniform(0.6, 1))
    if kind == 0:
        m = np.full((h, w, 1), a)
    elif kind == 1:  # glare blob
        m = a * 1.5 * np.exp(-(yy ** 2 + xx ** 2) / (2 * rng.uniform(0.05, 0.4) ** 2))[..., None]
    else:  # gradient haze
        d = rng.normal(size=2)
        d /= np.linalg.norm(d)
        m = a * np.clip(0.5 + d[0] * yy + d[1] * xx, 0, 1)[..., None]
    m = np.clip(m, 0, 0.9)
    return x * (1 - m) + col * m


def _spots(x, s, rng):
    h, w = x.shape[:2]
    out = x.copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for _ in range(1 + rng.integers(1 + int(6 * s))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(1.0, 2 + 8 * s)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        m = np.clip(1 - d / r, 0, 1)[..., None] ** rng.uniform(0.3, 1.5)
        kind = rng.integers(3)
        if kind == 0:  # dust: darkens
            out = out * (1 - m * (0.1 + 0.5 * s))
        elif kind == 1:  # drop: local blur and brightening
            out = out * (1 - m) + (_box(out, 2) * 0.9 + 0.1) * m
        else:  # coloured blot
            out = out * (1 - m * 0.6) + rng.random(3) * m * 0.6
    return out


def _shading(x, s, rng):
    h, w = x.shape[:2]
    yy, xx = _grid(h, w, rng)
    r2 = (yy ** 2 + xx ** 2) / 0.5
    if rng.random() < 0.5:  # vignetting
        return x * (1 - (0.05 + 0.6 * s) * r2)[..., None]
    g = rng.normal(0, 0.05 + 0.3 * s, 3)  # colour shading: channel gain varies with radius
    if rng.random() < 0.5:
        return x * (1 + g * r2[..., None])
    d = rng.normal(size=2)
    return x * (1 + g * (d[0] * yy + d[1] * xx)[..., None])


def _quantise(x, s, rng):
    kind = rng.integers(3)
    if kind == 0:  # posterise / fewer levels
        levels = int(round(64 / (1 + 15 * s)))
        return np.round(x * (levels - 1)) / max(levels - 1, 1)
    if kind == 1:  # 8x8 block DCT-ish: block means blended in (blockiness)
        h, w = x.shape[:2]
        b = 8 if rng.random() < 0.7 else 4
        hh, ww = h // b * b, w // b * b
        m = x[:hh, :ww].reshape(hh // b, b, ww // b, b, 3).mean(axis=(1, 3))
        m = np.repeat(np.repeat(m, b, 0), b, 1)
        out = x.copy()
        a = 0.15 + 0.8 * s
        out[:hh, :ww] = x[:hh, :ww] * (1 - a) + m * a
        return out
    step = 1 / (255 / (2 + 10 * s))  # histogram combing from a levels round trip
    lo = rng.uniform(0, 0.1)
    return np.round((x - lo) / step) * step + lo


def _banding(x, s, rng):
    h, w = x.shape[:2]
    period = rng.uniform(2, 16)
    axis = rng.integers(2)
    t = np.arange(h if axis == 0 else w)
    wave = np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3)) * (0.005 + 0.06 * s)
    wave = wave[:, None, None] if axis == 0 else wave[None, :, None]
    if rng.random() < 0.5:
        wave = wave * rng.normal(1, 0.5, 3)
    return x + wave


def _rowcol(x, s, rng):
    h, w = x.shape[:2]
    out = x.copy()
    n = 1 + rng.integers(1 + int(6 * s))
    for _ in range(n):
        i = rng.integers(h if rng.random() < 0.5 else w)
        kind = rng.integers(3)
        sl = (i, slice(None)) if rng.random() < 0.5 else (slice(None), i % w)
        if sl[0] == i and i >= h:
            sl = (i % h, slice(None))
        if kind == 0:
            out[sl] = out[sl] * rng.uniform(0.3, 1.7)
        elif kind == 1:
            out[sl] = rng.random(3)
        else:
            out[sl] = np.roll(out[sl], rng.integers(1, 4), axis=0)
    return out


def _resample(x, s, rng):
    h, w = x.shape[:2]
    f = 1 + 0.3 + 2.5 * s
    sh, sw = max(4, int(h / f)), max(4, int(w / f))
    ys = (np.arange(sh) * h / sh).astype(int)
    xs = (np.arange(sw) * w / sw).astype(int)
    small = x[ys][:, xs] if rng.random() < 0.5 else _box(x, 1)[ys][:, xs]
    yb = np.minimum((np.arange(h) * sh / h).astype(int), sh - 1)
    xb = np.minimum((np.arange(w) * sw / w).astype(int), sw - 1)
    if rng.random() < 0.5:
        return small[yb][:, xb]  # nearest
    fy = np.arange(h) * (sh - 1) / max(h - 1, 1)
    fx = np.arange(w) * (sw - 1) / max(w - 1, 1)
    y0, x0 = np.floor(fy).astype(int), np.floor(fx).astype(int)
    y1, x1 = np.minimum(y0 + 1, sh - 1), np.minimum(x0 + 1, sw - 1)
    wy, wx = (fy - y0)[:, None, None], (fx - x0)[None, :, None]
    top = small[y0][:, x0] * (1 - wx) + small[y0][:, x1] * wx
    bot = small[y1][:, x0] * (1 - wx) + small[y1][:, x1] * wx
    return top * (1 - wy) + bot * wy


def _sharpen(x, s, rng):
    amount = 0.2 + 2.0 * s
    return x + amount * (x - _gauss(x, rng.uniform(0.6, 1.6)))


def _chroma(x, s, rng):
    out = x.copy()
    c = rng.integers(3)
    d = 1 + int(round(2 * s))
    out[..., c] = np.roll(x[..., c], (int(rng.integers(-d, d + 1)) or d,
                                      int(rng.integers(-d, d + 1))), axis=(0, 1))
    if rng.random() < 0.3:  # chroma blur (subsampling)
        lum = x.mean(axis=2, keepdims=True)
        out = lum + _box(out - lum, 1 + int(2 * s))
    return out


FAMILIES = {"blur": _blur, "noise": _noise, "colour": _colour, "tone": _tone, "veil": _veil,
            "spots": _spots, "shading": _shading, "quantise": _quantise,
            "banding": _banding, "rowcol": _rowcol, "resample": _resample,
            "sharpen": _sharpen, "chroma": _chroma}


def degrade(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A degraded uint8 copy of ``rgb`` (H, W, 3) and the families applied."""
    x = rgb.astype(np.float64) / 255.0
    names = list(FAMILIES)
    n = 1 if rng.random() < 0.75 else 2
    picked = [names[i] for i in rng.choice(len(names), n, replace=False)]
    for name in picked:
        s = float(rng.random() ** 1.5)  # strengths skewed towards subtle
        x = FAMILIES[name](x, s, rng)
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8), picked
