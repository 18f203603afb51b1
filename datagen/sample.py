"""The in-memory sample and its encoding to (and from) the WebDataset file dict.

File names follow DESIGN.md: ``rgb.png`` (or ``rgb.jpg``), ``depth.png`` (16-bit),
``seg.png``, ``inst.png`` (16-bit), ``audio.flac`` (mono 16-bit), ``txt`` and ``json``.
Encoding is deterministic: fixed PNG compression and no ancillary chunks, FLAC from int16
samples, JSON with sorted keys and floats normalised to 10 significant digits.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
from PIL import Image

PNG_COMPRESS_LEVEL = 3
JPEG_QUALITY = 95
FLOAT_DIGITS = 10
INT16_SCALE = 32767.0
KEY_FIELD = "__key__"
IMAGE_FILES = ("depth.png", "seg.png", "inst.png")
REQUIRED_FILES = ("depth.png", "seg.png", "inst.png", "audio.flac", "txt", "json")
RGB_FILES = ("rgb.png", "rgb.jpg")

SampleFiles = dict[str, bytes | str]


class SampleError(ValueError):
    """A broken sample: the message is ``"<key>: <field>: <problem>"``."""

    def __init__(self, key: str, field: str, problem: str) -> None:
        super().__init__(f"{key}: {field}: {problem}")
        self.key, self.field, self.problem = key, field, problem


@dataclass(eq=False)
class Sample:
    """One camera frame: images, audio clip, primary caption and metadata."""

    key: str
    rgb: np.ndarray  # H x W x 3 uint8
    depth_mm: np.ndarray  # H x W uint16, 0 = no hit
    seg: np.ndarray  # H x W uint8 class ids
    inst: np.ndarray  # H x W uint16 instance ids, 0 = none
    audio: np.ndarray  # (N,) float32 mono in [-1, 1]
    txt: str
    meta: dict = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return int(self.meta["audio"]["sample_rate"])


def canonical_json(obj: object, path: str = "json") -> object:
    """Plain JSON types with floats at a fixed precision; rejects NaN/inf, naming the path."""
    if isinstance(obj, Mapping):
        return {str(k): canonical_json(v, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        items = obj.tolist() if isinstance(obj, np.ndarray) else obj
        return [canonical_json(v, f"{path}[{i}]") for i, v in enumerate(items)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        if not math.isfinite(obj):
            raise ValueError(f"{path}: {obj} is not a finite number")
        return float(format(float(obj), f".{FLOAT_DIGITS}g"))
    if obj is None or isinstance(obj, str):
        return obj
    raise ValueError(f"{path}: {type(obj).__name__} cannot be stored in json")


def encode_json(meta: Mapping) -> bytes:
    text = json.dumps(
        canonical_json(meta),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def expect_array(key: str, name: str, arr: np.ndarray, dtype: type, ndim: int) -> None:
    if not isinstance(arr, np.ndarray):
        raise SampleError(key, name, f"expected a numpy array, got {type(arr).__name__}")
    if arr.dtype != dtype or arr.ndim != ndim:
        raise SampleError(
            key, name, f"expected {ndim}-d {np.dtype(dtype)}, got {arr.ndim}-d {arr.dtype}"
        )


def encode_image(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(arr))
    if fmt == "PNG":
        image.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
    else:
        image.save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buf.getvalue()


def decode_image(key: str, name: str, data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            mode = image.mode
            arr = np.asarray(image)
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise SampleError(key, name, f"cannot decode image ({exc})") from None
    if mode in ("I;16", "I;16B", "I"):
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
            raise SampleError(key, name, "16-bit image values out of range")
        return arr.astype(np.uint16)
    return arr


def encode_flac(audio: np.ndarray, sample_rate: int) -> bytes:
    pcm = np.round(np.clip(audio, -1.0, 1.0) * INT16_SCALE).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, int(sample_rate), format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_flac(key: str, data: bytes) -> tuple[np.ndarray, int]:
    try:
        pcm, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except Exception as exc:  # libsndfile errors surface as several types
        raise SampleError(key, "audio.flac", f"cannot decode FLAC ({exc})") from None
    if pcm.shape[1] != 1:
        raise SampleError(key, "audio.flac", f"expected mono, got {pcm.shape[1]} channels")
    return (pcm[:, 0].astype(np.float32) / np.float32(INT16_SCALE)), int(rate)


def encode_sample(sample: Sample, rgb_format: str = "png") -> SampleFiles:
    """The WebDataset file dict of ``sample`` (``__key__`` plus one entry per file)."""
    k = sample.key
    if rgb_format not in ("png", "jpg"):
        raise ValueError(f"rgb_format must be 'png' or 'jpg', got {rgb_format!r}")
    expect_array(k, "rgb", sample.rgb, np.uint8, 3)
    expect_array(k, "depth.png", sample.depth_mm, np.uint16, 2)
    expect_array(k, "seg.png", sample.seg, np.uint8, 2)
    expect_array(k, "inst.png", sample.inst, np.uint16, 2)
    expect_array(k, "audio.flac", sample.audio, np.float32, 1)
    try:
        meta_bytes = encode_json(sample.meta)
        rate = sample.sample_rate
    except (ValueError, KeyError, TypeError) as exc:
        raise SampleError(k, "json", str(exc)) from None
    return {
        KEY_FIELD: k,
        f"rgb.{rgb_format}": encode_image(sample.rgb, "PNG" if rgb_format == "png" else "JPEG"),
        "depth.png": encode_image(sample.depth_mm),
        "seg.png": encode_image(sample.seg),
        "inst.png": encode_image(sample.inst),
        "audio.flac": encode_flac(sample.audio, rate),
        "txt": sample.txt.encode("utf-8"),
        "json": meta_bytes,
    }


def file_bytes(files: Mapping, key: str, name: str) -> bytes:
    data = files.get(name)
    if data is None:
        raise SampleError(key, name, "missing file")
    if not isinstance(data, (bytes, bytearray)):
        raise SampleError(key, name, f"expected bytes, got {type(data).__name__}")
    return bytes(data)


def decode_meta(key: str, data: bytes) -> dict:
    try:
        meta = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SampleError(key, "json", f"invalid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise SampleError(key, "json", f"expected an object, got {type(meta).__name__}")
    return meta


def decode_sample(files: Mapping) -> Sample:
    """The :class:`Sample` of a file dict; raises :class:`SampleError` naming the file."""
    key = str(files.get(KEY_FIELD, "?"))
    rgb_name = next((n for n in RGB_FILES if n in files), RGB_FILES[0])
    rgb = decode_image(key, rgb_name, file_bytes(files, key, rgb_name))
    depth, seg, inst = (decode_image(key, n, file_bytes(files, key, n)) for n in IMAGE_FILES)
    audio, rate = decode_flac(key, file_bytes(files, key, "audio.flac"))
    try:
        txt = file_bytes(files, key, "txt").decode("utf-8")
    except UnicodeDecodeError:
        raise SampleError(key, "txt", "not UTF-8") from None
    meta = decode_meta(key, file_bytes(files, key, "json"))
    stored_rate = (
        meta.get("audio", {}).get("sample_rate") if isinstance(meta.get("audio"), dict) else None
    )
    if stored_rate is not None and stored_rate != rate:
        raise SampleError(
            key, "audio.flac", f"sample rate {rate} != json.audio.sample_rate {stored_rate}"
        )
    return Sample(key, rgb, depth, seg, inst, audio, txt, meta)
