"""Reading a sample's label files whatever their encoding (QC checks bytes from any version).

Depth: ``depth.npy`` or ``depth.npy.gz`` (issue 20: float32 metres, ``json.camera.depth``
states ``scale`` and ``unit``) or the older ``depth.png`` (uint16 millimetres, saturating at
65.535 m). Instances: ``inst.npy``/``inst.npy.gz`` or ``inst.png`` (uint16 ids).
:func:`depth_metres` returns metres and the largest depth the encoding can hold (a stored value
at that limit means "this far or farther").
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import numpy as np

ARRAY_EXTS = ("npy", "npy.gz", "npz", "png")
DEPTH_FILES = tuple(f"depth.{e}" for e in ARRAY_EXTS)
INST_FILES = tuple(f"inst.{e}" for e in ARRAY_EXTS)
PNG_DEPTH_SCALE = 0.001  # the pre-issue-20 depth.png: millimetres
PNG_DEPTH_MAX = 65535
UNIT_METRES = {"m": 1.0, "mm": 0.001, "cm": 0.01}


def read_npy(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def read_png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        arr = np.asarray(im)
        if im.mode in ("I;16", "I;16B", "I"):
            arr = arr.astype(np.uint16)
    return arr


def read_array(ext: str, data: bytes) -> np.ndarray:
    """A label array from a ``.npy``, ``.npy.gz``, ``.npz`` (its first array) or ``.png`` file."""
    if ext.endswith(".npy.gz"):
        import gzip

        return read_npy(gzip.decompress(data))
    if ext.endswith(".npy"):
        return read_npy(data)
    if ext.endswith(".npz"):
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return z[z.files[0]]
    return read_png(data)


def depth_scale(ext: str, meta: Mapping | None) -> float:
    """Metres per stored unit: ``json.camera.depth.scale`` x its ``unit`` when stated, else the
    file type's default (npy: metres, png: millimetres)."""
    enc = (meta or {}).get("camera", {}).get("depth") if isinstance(meta, Mapping) else None
    if isinstance(enc, Mapping):
        scale = enc.get("scale", 1.0)
        unit = UNIT_METRES.get(str(enc.get("unit", "m")), 1.0)
        if isinstance(scale, int | float) and scale > 0:
            return float(scale) * unit
    return PNG_DEPTH_SCALE if ext.endswith(".png") else 1.0


def depth_metres(ext: str, stored: np.ndarray, meta: Mapping | None) -> tuple[np.ndarray, float]:
    """(float32 metres with 0 = no hit, largest representable depth in metres)."""
    scale = depth_scale(ext, meta)
    arr = np.asarray(stored)
    metres = (arr.astype(np.float64) * scale).astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        return metres, float(np.iinfo(arr.dtype).max) * scale
    return metres, float("inf")


def first_present(files: Mapping[str, object], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in files), None)


def encode_array(ext: str, arr: np.ndarray) -> bytes:
    """``arr`` in the encoding ``ext`` names (``.npy``, ``.npy.gz``, ``.png``): for QC's own
    fault injection, which rewrites label files in whatever encoding a sample has."""
    buf = io.BytesIO()
    if ext.endswith(".png"):
        from PIL import Image

        Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
        return buf.getvalue()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    if ext.endswith(".npy.gz"):
        import gzip

        return gzip.compress(buf.getvalue(), mtime=0)
    return buf.getvalue()


def stored_depth(ext: str, metres: np.ndarray, dtype: np.dtype, meta: Mapping | None) -> np.ndarray:
    """Metres back to the stored values of ``ext`` (inverse of :func:`depth_metres`)."""
    scaled = np.asarray(metres, dtype=np.float64) / depth_scale(ext, meta)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(scaled), info.min, info.max).astype(dtype)
    return scaled.astype(dtype)


def window_range(meta: dict, name: str, absolute: bool = False) -> tuple[float, float] | None:
    """A clip sample's (lowest, highest) ``json.clip.ego[name]`` over its window's frames
    (of the absolute values with ``absolute``); None for a single frame or a clip whose
    per-frame values are unreadable."""
    clip = meta.get("clip")
    ego = clip.get("ego") if isinstance(clip, dict) else None
    values = ego.get(name) if isinstance(ego, dict) else None
    if not isinstance(values, list) or not values:
        return None
    try:
        xs = [abs(float(v)) if absolute else float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return (min(xs), max(xs)) if all(math.isfinite(x) for x in xs) else None


def window_speeds(meta: dict) -> tuple[float, float] | None:
    """A clip sample's (lowest, highest) |speed| over its window (None: a single frame)."""
    return window_range(meta, "speed_mps", absolute=True)
