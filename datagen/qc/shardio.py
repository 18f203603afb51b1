"""Raw access to shard samples for QC: decode the files of each key, rewrite without some.

QC reads the tar directly (the WebDataset layout: members ``KEY.EXT`` grouped by key), so it
checks exactly the bytes on disk. Rewriting keeps every kept member's bytes and header, so a
shard with nothing dropped is rewritten byte-identically; the new file replaces the old one
through a temporary name and a rename.
"""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.qc import access

log = logging.getLogger(__name__)
FRAMES_EXT = "frames.npy.gz"  # clip samples: T x H x W x 3 uint8, the last is the key frame

@dataclass
class RawSample:
    """The members of one sample: ``files[ext] = (TarInfo, bytes)`` in tar order."""

    key: str
    files: dict[str, tuple[tarfile.TarInfo, bytes]] = field(default_factory=dict)

    def data(self, ext: str) -> bytes | None:
        item = self.files.get(ext)
        return None if item is None else item[1]


@dataclass
class Decoded:
    """A sample decoded to arrays; missing or undecodable parts are None."""

    key: str
    shard: str
    rgb: np.ndarray | None = None
    depth_m: np.ndarray | None = None  # float32 metres, 0 = no hit (any stored encoding)
    depth_max_m: float = float("inf")  # largest depth the stored encoding can hold
    seg: np.ndarray | None = None
    inst: np.ndarray | None = None
    audio: np.ndarray | None = None
    sample_rate: int = 0
    meta: dict | None = None
    text: str = ""
    errors: list[str] = field(default_factory=list)
    frames_data: bytes | None = field(default=None, repr=False)  # undecoded frames.npy.gz
    _frames: np.ndarray | None = field(default=None, init=False, repr=False)

    def clip_frames(self) -> np.ndarray | None:
        """A clip sample's frames (T x H x W x 3 uint8), decoded on first use only (QC of
        single frames never pays for it); None without ``frames.npy.gz`` or when it does not
        decode to that shape."""
        if self._frames is None and self.frames_data is not None:
            try:
                a = access.read_array(FRAMES_EXT, self.frames_data)
            except Exception as exc:  # an undecodable file is not this method's finding
                log.debug("%s: %s does not decode: %s", self.key, FRAMES_EXT, exc)
                a = None
            ok = a is not None and a.ndim == 4 and a.shape[3] == 3 and a.dtype == np.uint8
            self._frames = a if ok else np.zeros((0, 0, 0, 3), np.uint8)
            self.frames_data = None
        return self._frames if self._frames is not None and len(self._frames) else None


def iter_raw(path: Path) -> Iterator[RawSample]:
    """Samples of one tar shard, in order; a truncated tar raises tarfile.ReadError."""
    current: RawSample | None = None
    with tarfile.open(path, "r") as tar:
        for info in tar:
            if not info.isfile():
                continue
            key, _, ext = info.name.partition(".")
            data = tar.extractfile(info).read()  # type: ignore[union-attr]
            if current is None or current.key != key:
                if current is not None:
                    yield current
                current = RawSample(key)
            current.files[ext] = (info, data)
    if current is not None:
        yield current


def decode(raw: RawSample, shard: str) -> Decoded:
    """Decode every part of ``raw``; label files in any encoding :mod:`datagen.qc.access`
    knows (``.npy``, ``.npy.gz``, ``.png``), depth converted to metres."""
    out = Decoded(key=raw.key, shard=shard)
    for ext in ("rgb.png", "rgb.jpg", "seg.png"):
        data = raw.data(ext)
        if data is not None:
            _set(out, ext.split(".")[0], lambda d=data: _image(d), ext)
    meta = raw.data("json")
    if meta is not None:
        _set(out, "meta", lambda: json.loads(meta), "json")
    inst_ext = access.first_present(raw.files, access.INST_FILES)
    if inst_ext is not None:
        _set(out, "inst", lambda: access.read_array(inst_ext, raw.files[inst_ext][1]), inst_ext)
    depth_ext = access.first_present(raw.files, access.DEPTH_FILES)
    if depth_ext is not None:
        _set(out, "depth_m", lambda: _depth(out, depth_ext, raw.files[depth_ext][1]), depth_ext)
    audio = raw.data("audio.flac")
    if audio is not None:
        _set(out, "audio", lambda: _flac(audio, out), "audio.flac")
    out.frames_data = raw.data(FRAMES_EXT)
    text = raw.data("txt")
    out.text = text.decode("utf-8", "replace") if text is not None else ""
    return out


def _depth(out: Decoded, ext: str, data: bytes) -> np.ndarray:
    metres, out.depth_max_m = access.depth_metres(ext, access.read_array(ext, data),
                                                  out.meta)  # fmt: skip
    return metres


def _set(out: Decoded, attr: str, fn: object, ext: str) -> None:
    try:
        setattr(out, attr, fn())  # type: ignore[operator]
    except Exception as exc:  # any decoding failure is a finding, not a crash
        out.errors.append(f"{ext}: {type(exc).__name__}")


def _image(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def _flac(data: bytes, out: Decoded) -> np.ndarray:
    import soundfile

    wave, sr = soundfile.read(io.BytesIO(data), dtype="float32")
    out.sample_rate = int(sr)
    return wave


def iter_decoded(shards: list[Path]) -> Iterator[Decoded]:
    for path in shards:
        for raw in iter_raw(path):
            yield decode(raw, path.name)


def rewrite_without(path: Path, drop: set[str]) -> int:
    """Rewrite ``path`` atomically without the samples whose key is in ``drop``; kept count."""
    kept = [raw for raw in iter_raw(path) if raw.key not in drop]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w") as tar:
            for raw in kept:
                for info, data in raw.files.values():
                    tar.addfile(info, io.BytesIO(data))
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))  # the shard keeps its mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(kept)


def write_raw(path: Path, samples: list[RawSample]) -> None:
    """Write raw samples to a new tar (used by fault injection on a copy)."""
    with tarfile.open(path, "w") as tar:
        for raw in samples:
            for info, data in raw.files.values():
                info = _copy_info(info, len(data))
                tar.addfile(info, io.BytesIO(data))


def _copy_info(info: tarfile.TarInfo, size: int) -> tarfile.TarInfo:
    new = tarfile.TarInfo(info.name)
    new.size, new.mtime, new.mode = size, info.mtime, info.mode
    new.uid, new.gid, new.uname, new.gname = info.uid, info.gid, info.uname, info.gname
    return new
