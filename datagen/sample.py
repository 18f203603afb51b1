"""The in-memory sample and its encoding to (and from) the WebDataset file dict.

File names follow docs/design.md and docs/internals.md ("Label files"): ``rgb.png`` (or
``rgb.jpg``), ``depth.npy.gz`` (float32 metres, 0 = no hit, exactly the renderer's values up
to the far plane), ``seg.png`` (8-bit class ids), ``inst.npy.gz`` (uint16 instance ids,
0 = none), ``audio.flac`` (mono 16-bit), ``txt`` and ``json``. Depth and instances are
gzipped ``.npy`` because the standard readers decode that losslessly (webdataset's built-in
decoders gunzip ``.gz`` then load ``.npy`` with numpy; so does Hugging Face ``datasets``),
while a 16-bit PNG is turned into 8 bits by ``decode("pil")``; their encodings are also
stated in ``json.camera.depth`` / ``json.camera.instances``.
Encoding is deterministic: fixed PNG compression and no ancillary chunks, ``.npy`` format 1.0
little-endian C order in a gzip stream with a fixed header, FLAC from int16 samples, JSON
with sorted keys and floats normalised to 10 significant digits.

A clip sample (``generate --clip-frames T``) also holds ``frames.npy.gz``: the T weathered
frames of its window as a gzipped ``.npy`` uint8 (T, H, W, 3); ``rgb.png`` is its key (last)
frame and the labels are the key frame's (docs/internals.md "Clip samples").
"""

from __future__ import annotations

import gzip
import io
import json
import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
from PIL import Image

PNG_COMPRESS_LEVEL = 3
# zlib's run-length strategy for PNGs (issue 24): on the generator's 128 px frames, after
# PNG's row filters, it is ~1.9x faster than the default strategy and the files are smaller
# (rgb -4 %, seg -15 %); any PNG decoder reads them (the strategy is the encoder's choice).
PNG_STRATEGY = zlib.Z_RLE
JPEG_QUALITY = 95
FLOAT_DIGITS = 10
INT16_SCALE = 32767.0
KEY_FIELD = "__key__"
DEPTH_FILE, SEG_FILE, INST_FILE = "depth.npy.gz", "seg.png", "inst.npy.gz"
FRAMES_FILE = "frames.npy.gz"  # clip samples only: T x H x W x 3 uint8
FRAMES_DTYPE = np.dtype("u1")
REQUIRED_FILES = (DEPTH_FILE, SEG_FILE, INST_FILE, "audio.flac", "txt", "json")
RGB_FILES = ("rgb.png", "rgb.jpg")
LEGACY_FILES = {DEPTH_FILE: "depth.png", INST_FILE: "inst.png"}  # before issue 20
# deflate level of the .npy.gz files (issue 24): 1, not 6: depth 1.26 -> 1.05 ms, inst 0.21 ->
# 0.07 ms per 128 px sample, for +0.9 % depth and +0.3 kB inst bytes
GZIP_LEVEL = 1
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, mtime 0, OS unknown
DEPTH_DTYPE, INST_DTYPE = np.dtype("<f4"), np.dtype("<u2")  # as stored in the .npy files
MAX_INSTANCE_ID = 65535  # sim.scene registers at most this many; uint16 holds them all
INSTANCE_ENCODING = {"file": INST_FILE, "dtype": "uint16", "none": 0, "max_id": MAX_INSTANCE_ID}


def depth_encoding(far_m: float) -> dict:
    """``json.camera.depth``: how ``depth.npy.gz`` stores depth. Metres = stored value * scale;
    ``no_hit`` marks pixels that hit nothing; every hit lies in (0, ``max_m``], the camera's
    far plane (nothing is clipped or saturated)."""
    return {"file": DEPTH_FILE, "dtype": "float32", "unit": "m", "scale": 1.0, "kind": "z",
            "no_hit": 0.0, "max_m": float(far_m)}  # fmt: skip


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
    depth: np.ndarray  # H x W float32 metric z-depth in metres, 0 = no hit
    seg: np.ndarray  # H x W uint8 class ids
    inst: np.ndarray  # H x W uint16 instance ids, 0 = none
    audio: np.ndarray  # (N,) float32 mono in [-1, 1]
    txt: str
    meta: dict = field(default_factory=dict)
    frames: np.ndarray | None = None  # clip samples: T x H x W x 3 uint8, [key_frame] == rgb

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


_FLOAT_FORMAT = f"%.{FLOAT_DIGITS}g"  # the same digits as format(x, ".10g"), faster


def _canonical_fast(obj: object) -> object:
    """:func:`canonical_json` for the plain types a sample's json is made of (dict, list,
    tuple, float, int, str, bool, None) without building a path per value; any other type
    goes through :func:`canonical_json`. Raises ValueError where that would (without the
    path: :func:`canonical_json_fast` then asks :func:`canonical_json` for the message)."""
    t = type(obj)
    if t is float:
        if obj - obj == 0.0:  # finite (inf - inf and nan - nan are nan)
            return float(_FLOAT_FORMAT % obj)
        raise ValueError
    if t is dict:
        return {(k if type(k) is str else str(k)): _canonical_fast(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [_canonical_fast(v) for v in obj]
    if t is int or t is str or t is bool or obj is None:
        return obj
    return canonical_json(obj, "json")


def canonical_json_fast(meta: object) -> object:
    """``canonical_json(meta)``, the same values and errors, at a fraction of the cost."""
    try:
        return _canonical_fast(meta)
    except ValueError:
        return canonical_json(meta)  # raises, naming the path of the bad value


def encode_json(meta: Mapping) -> bytes:
    text = json.dumps(
        canonical_json_fast(meta),
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
        image.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_STRATEGY,
                   optimize=False)  # fmt: skip
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


def gzip_bytes(data: bytes) -> bytes:
    """A gzip file of ``data`` whose bytes depend on ``data`` only (``gzip.compress`` writes
    the platform's OS code)."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = packer.compress(data) + packer.flush()
    return GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def encode_npy(arr: np.ndarray, dtype: np.dtype) -> bytes:
    """``arr`` as a gzipped ``.npy`` file (format 1.0, little-endian ``dtype``, C order)."""
    buf = io.BytesIO()
    data = np.ascontiguousarray(arr, dtype=dtype)
    np.lib.format.write_array(buf, data, version=(1, 0), allow_pickle=False)
    return gzip_bytes(buf.getvalue())


def decode_npy(key: str, name: str, data: bytes, dtype: np.dtype, ndim: int = 2) -> np.ndarray:
    """The ``ndim``-d array of a gzipped ``.npy`` file, which must hold exactly ``dtype`` (no
    pickles)."""
    try:
        arr = np.lib.format.read_array(io.BytesIO(gzip.decompress(data)), allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, EOFError, ... for corrupt data
        raise SampleError(key, name, f"cannot decode .npy.gz ({exc})") from None
    if arr.dtype != dtype or arr.ndim != ndim:
        raise SampleError(key, name, f"expected {ndim}-d {dtype.name} ({dtype.str}), "
                                     f"got {arr.ndim}-d {arr.dtype.str}")  # fmt: skip
    return np.ascontiguousarray(arr, dtype=dtype.newbyteorder("="))


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
    expect_array(k, DEPTH_FILE, sample.depth, np.float32, 2)
    expect_array(k, SEG_FILE, sample.seg, np.uint8, 2)
    expect_array(k, INST_FILE, sample.inst, np.uint16, 2)
    expect_array(k, "audio.flac", sample.audio, np.float32, 1)
    try:
        meta_bytes = encode_json(sample.meta)
        rate = sample.sample_rate
    except (ValueError, KeyError, TypeError) as exc:
        raise SampleError(k, "json", str(exc)) from None
    files: SampleFiles = {
        KEY_FIELD: k,
        f"rgb.{rgb_format}": encode_image(sample.rgb, "PNG" if rgb_format == "png" else "JPEG"),
        DEPTH_FILE: encode_npy(sample.depth, DEPTH_DTYPE),
        SEG_FILE: encode_image(sample.seg),
        INST_FILE: encode_npy(sample.inst, INST_DTYPE),
        "audio.flac": encode_flac(sample.audio, rate),
        "txt": sample.txt.encode("utf-8"),
        "json": meta_bytes,
    }
    if sample.frames is not None:  # a clip sample
        expect_array(k, FRAMES_FILE, sample.frames, np.uint8, 4)
        files[FRAMES_FILE] = encode_npy(sample.frames, FRAMES_DTYPE)
    return files


def file_bytes(files: Mapping, key: str, name: str) -> bytes:
    data = files.get(name)
    if data is None and LEGACY_FILES.get(name) in files:
        raise SampleError(key, name, f"missing file; {LEGACY_FILES[name]} is the encoding "
                                     "before issue 20 (depth saturated at 65.535 m): regenerate")
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
    depth = decode_npy(key, DEPTH_FILE, file_bytes(files, key, DEPTH_FILE), DEPTH_DTYPE)
    seg = decode_image(key, SEG_FILE, file_bytes(files, key, SEG_FILE))
    inst = decode_npy(key, INST_FILE, file_bytes(files, key, INST_FILE), INST_DTYPE)
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
    frames = None
    if FRAMES_FILE in files:
        data = file_bytes(files, key, FRAMES_FILE)
        frames = decode_npy(key, FRAMES_FILE, data, FRAMES_DTYPE, ndim=4)
    return Sample(key, rgb, depth, seg, inst, audio, txt, meta, frames=frames)
