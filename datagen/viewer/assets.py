"""Per-sample pictures and sound for the viewer, made from decoded arrays.

Everything here is a pure function of a :class:`datagen.sample.Sample`'s arrays and metadata:
overlays (semantic colours from ``json.classes``, instance colours from the id), depth
through a colour map on a log scale in metres, the clip's spectrogram (dBFS, time and
frequency extents stated so the page can draw axes with units), 2D boxes and the projected
edges of the 3D boxes (camera-frame corners through ``json.camera``'s intrinsics, clipped at
the near plane), and a small thumbnail.
"""

from __future__ import annotations

import colorsys
import io
import math
from functools import cache

import numpy as np

from sim.preview import EDGES

SPEC_NFFT = 512  # 32 ms at 16 kHz
SPEC_HOP = 128  # 8 ms
SPEC_DB_RANGE = (-100.0, 0.0)  # dBFS: a full-scale sine is 0 dB; fixed so samples compare
DEPTH_TICKS_M = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
THUMB_JPEG_QUALITY = 85
NO_HIT_RGB = (0, 0, 0)
FLAC_SUBTYPE = "PCM_16"


@cache
def lut(name: str) -> np.ndarray:
    """256 x 3 uint8 colours of a matplotlib colour map (``turbo`` depth, ``magma`` sound)."""
    from matplotlib import colormaps

    return (colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray, quality: int = THUMB_JPEG_QUALITY) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def class_colours(classes: list[dict]) -> np.ndarray:
    """256 x 3 uint8: the colour of every class id in ``json.classes`` (grey if unlisted)."""
    table = np.full((256, 3), 128, np.uint8)
    for c in classes:
        table[int(c["id"]) & 0xFF] = c["color"]
    return table


def semantic_overlay(seg: np.ndarray, classes: list[dict]) -> np.ndarray:
    """H x W x 4: each pixel in its class colour, opaque (the page sets the opacity)."""
    rgb = class_colours(classes)[seg]
    return np.dstack([rgb, np.full(seg.shape, 255, np.uint8)])


def instance_colour(instance_id: int) -> tuple[int, int, int]:
    """A stable, saturated colour per instance id (golden-ratio hues)."""
    hue = (instance_id * 0.618033988749895) % 1.0
    light = 0.45 + 0.15 * ((instance_id * 7) % 3) / 2
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.9)
    return int(r * 255 + 0.5), int(g * 255 + 0.5), int(b * 255 + 0.5)


def instance_overlay(inst: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """H x W x 4 (transparent where id 0) and the legend ``[{id, color, px}]``."""
    ids, counts = np.unique(inst, return_counts=True)
    out = np.zeros((*inst.shape, 4), np.uint8)
    legend = []
    for i, n in zip(ids.tolist(), counts.tolist()):
        if i == 0:
            continue
        colour = instance_colour(i)
        out[inst == i] = (*colour, 255)
        legend.append({"id": i, "color": list(colour), "px": n})
    return out, legend


def nice_range(values: np.ndarray) -> tuple[float, float]:
    """A log-scale depth range [lo, hi] covering ``values`` (metres > 0), ends on ticks."""
    lo, hi = float(values.min()), float(values.max())
    lo_t = max([t for t in DEPTH_TICKS_M if t <= lo], default=DEPTH_TICKS_M[0])
    hi_t = min([t for t in DEPTH_TICKS_M if t >= hi], default=DEPTH_TICKS_M[-1])
    if hi_t <= lo_t:
        hi_t = lo_t * 2
    return float(lo_t), float(hi_t)


def depth_lut_index(depth_m: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The colour-map entry (0..255) of each depth on the log scale from lo to hi."""
    x = (np.log(np.clip(depth_m, lo, hi)) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def depth_image(depth: np.ndarray) -> tuple[np.ndarray, dict]:
    """Depth (metres, 0 = no hit) through ``turbo`` on a log scale, and its scale for the
    page: ``{lo_m, hi_m, ticks_m, log, no_hit_px, min_m, max_m, colormap}``."""
    hit = depth > 0
    if hit.any():
        lo, hi = nice_range(depth[hit])
        rgb = lut("turbo")[depth_lut_index(depth, lo, hi)]
        dmin, dmax = float(depth[hit].min()), float(depth[hit].max())
    else:
        lo, hi, dmin, dmax = 1.0, 10.0, 0.0, 0.0
        rgb = np.zeros((*depth.shape, 3), np.uint8)
    rgb[~hit] = NO_HIT_RGB
    ticks = [t for t in DEPTH_TICKS_M if lo <= t <= hi]
    scale = {"lo_m": lo, "hi_m": hi, "ticks_m": ticks, "log": True,
             "no_hit_px": int((~hit).sum()), "min_m": dmin, "max_m": dmax,
             "colormap": "turbo"}  # fmt: skip
    return rgb, scale


def spectrogram(audio: np.ndarray, sample_rate: int, end_s: float) -> tuple[np.ndarray, dict]:
    """The clip's magnitude spectrogram in dBFS as an RGB picture (low frequencies at the
    bottom) and what the page needs to draw its axes.

    Frames are centred (reflect padding), so the first column is the clip's first instant:
    nothing is blank because of the analysis window. Column j is centred at
    ``t0 + j * hop / sr``; row k (from the bottom) at ``k * sr / nfft`` Hz. ``end_s`` is the
    scenario time of the clip's last sample; ``scenario_start_s`` (0) inside the clip marks
    where the scenario began (earlier samples are the silence before it)."""
    x = np.asarray(audio, np.float64)
    n = len(x)
    nfft = SPEC_NFFT if n >= SPEC_NFFT else max(16, 1 << max(int(n).bit_length() - 1, 4))
    hop = max(1, min(SPEC_HOP, nfft // 4))
    pad = nfft // 2
    padded = np.pad(x, pad, mode="reflect") if n > pad else np.pad(x, pad)
    frames = 1 + (len(padded) - nfft) // hop
    idx = np.arange(nfft)[None, :] + hop * np.arange(frames)[:, None]
    window = np.hanning(nfft + 1)[:-1]
    mag = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) * 2.0 / window.sum()
    lo, hi = SPEC_DB_RANGE
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(np.maximum(mag, 1e-12))
    level = np.clip((db - lo) / (hi - lo), 0.0, 1.0)
    img = lut("magma")[np.round(level.T[::-1] * 255).astype(np.uint8)]
    duration = n / sample_rate
    t0 = end_s - duration
    df = sample_rate / nfft
    info = {
        "t0_s": t0, "t1_s": end_s, "duration_s": duration, "sample_rate": sample_rate,
        "nfft": nfft, "hop": hop, "frames": frames, "bins": nfft // 2 + 1,
        # picture edges: half a hop / half a bin beyond the first and last centres
        "x0_s": t0 - hop / 2 / sample_rate,
        "x1_s": t0 + ((frames - 1) * hop + hop / 2) / sample_rate,
        "f0_hz": -df / 2, "f1_hz": sample_rate / 2 + df / 2,
        "db_lo": lo, "db_hi": hi, "unit": "dBFS", "colormap": "magma",
        "scenario_start_s": 0.0 if t0 < 0.0 < end_s else None,
    }  # fmt: skip
    return img, info


def clip_segment(a: np.ndarray, b: np.ndarray, near: float) -> tuple | None:
    """The part of segment a-b (camera frame) in front of the plane z = near, or None."""
    za, zb = a[2], b[2]
    if za < near and zb < near:
        return None
    if za < near:
        a = a + (b - a) * (near - za) / (zb - za)
    elif zb < near:
        b = b + (a - b) * (near - zb) / (za - zb)
    return a, b


def box_lines(corners: list, camera: dict) -> list[list[float]]:
    """The 12 edges of a 3D box as pixel segments ``[u0, v0, u1, v1]`` in the picture's
    coordinates (a pixel's centre at +0.5; OpenCV intrinsics sample pixels at integers)."""
    c = np.asarray(corners, np.float64)
    fx, fy, cx, cy = (float(camera[k]) for k in ("fx", "fy", "cx", "cy"))
    near = max(float(camera.get("near", 0.1)), 1e-3)
    lines = []
    for i, j in EDGES:
        seg = clip_segment(c[i], c[j], near)
        if seg is None:
            continue
        (x0, y0, z0), (x1, y1, z1) = seg
        lines.append([round(fx * x0 / z0 + cx + 0.5, 2), round(fy * y0 / z0 + cy + 0.5, 2),
                      round(fx * x1 / z1 + cx + 0.5, 2), round(fy * y1 / z1 + cy + 0.5, 2)])
    return lines


def box_colour(colour: list[int]) -> list[int]:
    """The colour boxes are drawn in: the class colour, white for dark ones (as preview)."""
    return list(colour) if sum(colour) > 120 else [255, 255, 255]


def objects_view(meta: dict) -> list[dict]:
    """Per object what the page draws: its class colour, 2D box and 3D box edges."""
    colours = {c["name"]: c["color"] for c in meta.get("classes", [])}
    camera = meta.get("camera", {})
    out = []
    for o in meta.get("objects", []):
        corners = (o.get("bbox3d_cam") or {}).get("corners")
        out.append({
            "instance_id": o.get("instance_id"), "class": o.get("class"),
            "color": colours.get(o.get("class"), [255, 255, 0]),
            "box_color": box_colour(colours.get(o.get("class"), [255, 255, 0])),
            "instance_color": list(instance_colour(int(o.get("instance_id") or 0))),
            "bbox2d": o.get("bbox2d"), "distance_m": o.get("distance_m"),
            "visible_px": o.get("visible_px"),
            "lines3d": box_lines(corners, camera) if corners and camera else [],
        })  # fmt: skip
    return out


def thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """The frame fitted into size x size (shrunk smoothly, never enlarged)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    k = min(1.0, size / max(h, w))
    if k >= 1.0:
        return rgb
    im = Image.fromarray(rgb).resize((max(1, round(w * k)), max(1, round(h * k))),
                                     Image.Resampling.LANCZOS)  # fmt: skip
    return np.asarray(im)


def flac_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), sample_rate, format="FLAC", subtype=FLAC_SUBTYPE)
    return buf.getvalue()


def colour_bar(name: str, length: int = 256, thickness: int = 12,
               vertical: bool = False) -> np.ndarray:
    """The colour map as a bar: low to high from left to right, or bottom to top."""
    colours = lut(name)[np.linspace(0, 255, length).astype(int)]
    if vertical:
        return np.repeat(colours[::-1, None, :], thickness, axis=1)
    return np.repeat(colours[None, :, :], thickness, axis=0)
