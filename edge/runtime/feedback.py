"""Feedback from the board: the inputs the model was least sure of, as WebDataset shards.

A feedback folder holds ``feedback-NNNNNN.tar`` shards and ``manifest.json`` and nothing
else (``.lock`` aside, an empty file). Each flagged input becomes one sample of a shard::

    KEY.rgb.<ext>       the image file as it was read (png, jpg, ...), byte for byte
    KEY.frames.npy.gz   clips only: the T frames the clip bundle read (uint8 T x H x W x 3)
    KEY.audio.<ext>     the sound file as it was read (flac, wav, ...), byte for byte
    KEY.json            predictions with scores, reasons, criteria, bundle id/version/variant
                        (clips: ``clip``, the frame count, rate and frame size)

in that order (absent modalities left out). A clip's ``rgb`` is its key (last) frame: a frame
folder's file byte for byte, else the decoded frame as a PNG (:mod:`edge.runtime.observe`).
``KEY`` is ``<name>_<digest>``: the input's name reduced to ``[A-Za-z0-9_-]`` (at most 40
characters) and the first 12 hex digits of the sha256 of the input files, so it has no dot
(WebDataset splits keys at the first dot) and the same inputs get the same key. Tar members
have mtime 0, uid/gid 0, no user names, mode 0644 (USTAR), and JSON is written with sorted
keys, so a shard's bytes are a function of its inputs, the bundle and the criteria alone:
the wall-clock time of a shard is recorded in the folder's manifest, never in the shard.

Criteria (:data:`CRITERIA`, chosen per run and recorded in every sample and shard entry):

- ``low_score``: some task's top-1 probability (image or audio tower) is below ``min_score``;
- ``low_margin``: top-1 minus top-2 probability below ``min_margin``;
- ``disagree``: the image and the audio towers pick different labels for a task both
  classify (an input given with both modalities);
- ``low_cosine``: the image-audio embedding cosine is below ``min_cosine``.

The folder never holds more than ``budget_bytes`` (the sum of its files' sizes, at every
instant, temporary files included): a shard is built in memory, its size and the new
manifest's are known before anything is written, the least sure samples are kept when not
all fit, and when the folder is full either nothing more is logged (``when_full="stop"``)
or the oldest shards are deleted to make room (``"rotate"``). Shards are written to a
temporary file and renamed; the manifest is replaced atomically after the shard's rename; a
run that dies in between leaves a shard the manifest does not list, which the next run
deletes, with any temporary file. One process writes a folder at a time (``flock``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import tarfile
import tempfile
import time
import zlib
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge.runtime.bundle import default_mode, json_safe, write_json_atomic
from edge.runtime.locking import LOCK, folder_lock, fsync_dir

FORMAT = "drivesynth-feedback"
FORMAT_VERSION = 1
SAMPLE_FORMAT = "drivesynth-feedback-sample/1"
MANIFEST = "manifest.json"
SHARD = re.compile(r"^feedback-(\d{6})\.tar$")
TMP_PREFIX = ".feedback-"
CRITERIA = ("low_score", "low_margin", "disagree", "low_cosine")
DEFAULT_CRITERIA = ("low_score", "low_margin", "disagree")
WHEN_FULL = ("stop", "rotate")
BLOCK, RECORD = 512, tarfile.RECORDSIZE
MIN_BUDGET = 16 << 10
COUNTER_SLACK = 256  # bytes kept free for the manifest's counters to grow
MAX_LOGGED_FILE = 16 << 20  # larger input files are classified but not logged
# A clip's frames, as the shard schema stores them (datagen/sample.py, which the runtime does
# not import: tests/edge/test_clip_feedback.py checks that both give the same .npy): a
# gzipped .npy (format 1.0, uint8, C order) in a gzip stream with a fixed header (mtime 0).
FRAMES_FILE = "frames.npy.gz"
FRAMES_DTYPE = np.dtype("u1")
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, mtime 0, OS unknown
GZIP_LEVEL = 6
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str | int) -> int:
    """Bytes from ``"64M"``, ``"1.5G"``, ``"500k"`` or ``"1048576"`` (powers of 1024)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"size must be a number of bytes with an optional K/M/G/T suffix, "
                         f"got {text!r}")  # fmt: skip
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class FeedbackConfig:
    budget_bytes: int = 64 << 20
    criteria: tuple[str, ...] = DEFAULT_CRITERIA
    min_score: float = 0.5
    min_margin: float = 0.1
    min_cosine: float = 0.2
    when_full: str = "stop"
    shard_samples: int = 64

    def __post_init__(self) -> None:
        if isinstance(self.budget_bytes, bool) or not isinstance(self.budget_bytes, int) \
                or self.budget_bytes < MIN_BUDGET:  # fmt: skip
            raise ValueError(f"FeedbackConfig.budget_bytes must be an int >= {MIN_BUDGET} "
                             f"(16K), got {self.budget_bytes!r}")  # fmt: skip
        unknown = [c for c in self.criteria if c not in CRITERIA]
        if unknown or not self.criteria:
            raise ValueError(f"FeedbackConfig.criteria must be a non-empty subset of "
                             f"{','.join(CRITERIA)}, got {','.join(self.criteria) or 'nothing'}")
        for name, low, high in (("min_score", 0.0, 1.0), ("min_margin", 0.0, 1.0),
                                ("min_cosine", -1.0, 1.0)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= high:  # fmt: skip
                raise ValueError(f"FeedbackConfig.{name} must be in [{low:g}, {high:g}], "
                                 f"got {value!r}")  # fmt: skip
        if self.when_full not in WHEN_FULL:
            raise ValueError(f"FeedbackConfig.when_full must be one of {WHEN_FULL}, "
                             f"got {self.when_full!r}")  # fmt: skip
        if isinstance(self.shard_samples, bool) or not isinstance(self.shard_samples, int) \
                or self.shard_samples < 1:  # fmt: skip
            raise ValueError(f"FeedbackConfig.shard_samples must be an int >= 1, "
                             f"got {self.shard_samples!r}")  # fmt: skip

    def criteria_record(self) -> dict[str, Any]:
        """The criteria and their thresholds, as recorded with every sample."""
        thresholds = {"low_score": {"min_score": self.min_score},
                      "low_margin": {"min_margin": self.min_margin},
                      "disagree": {}, "low_cosine": {"min_cosine": self.min_cosine}}  # fmt: skip
        return {name: thresholds[name] for name in self.criteria}


def flag(predictions: dict[str, dict[str, dict[str, Any]]], image_audio_cosine: float | None,
         cfg: FeedbackConfig) -> list[str]:  # fmt: skip
    """The reasons (``criterion:modality:task``, ``disagree:task``, ``low_cosine``) why an
    input's predictions make it worth sending back, in a fixed order."""
    reasons = []
    for modality in sorted(predictions):
        for task, pred in sorted(predictions[modality].items()):
            if "low_score" in cfg.criteria and pred["score"] < cfg.min_score:
                reasons.append(f"low_score:{modality}:{task}")
            if "low_margin" in cfg.criteria and pred["margin"] < cfg.min_margin:
                reasons.append(f"low_margin:{modality}:{task}")
    if "disagree" in cfg.criteria and "image" in predictions and "audio" in predictions:
        for task in sorted(set(predictions["image"]) & set(predictions["audio"])):
            if predictions["image"][task]["label"] != predictions["audio"][task]["label"]:
                reasons.append(f"disagree:{task}")
    if ("low_cosine" in cfg.criteria and image_audio_cosine is not None
            and image_audio_cosine < cfg.min_cosine):  # fmt: skip
        reasons.append("low_cosine")
    return reasons


def encode_frames(frames: np.ndarray) -> bytes:
    """uint8 ``[T, H, W, 3]`` frames -> ``frames.npy.gz`` bytes (a function of the frames
    alone: no file name or time in the gzip header)."""
    buf = io.BytesIO()
    data = np.ascontiguousarray(frames, dtype=FRAMES_DTYPE)
    if data.ndim != 4 or data.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], got shape {data.shape}")
    np.lib.format.write_array(buf, data, version=(1, 0), allow_pickle=False)
    raw = buf.getvalue()
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = packer.compress(raw) + packer.flush()
    return GZIP_HEADER + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


MAX_FRAMES_BYTES = 1 << 30  # a frames.npy.gz that inflates to more than this is refused


def decode_frames(data: bytes, where: str) -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` from ``frames.npy.gz`` bytes (no pickles, inflated at most
    :data:`MAX_FRAMES_BYTES`); ``ValueError`` naming ``where`` otherwise."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = inflater.decompress(data, MAX_FRAMES_BYTES + 1)
        if len(raw) > MAX_FRAMES_BYTES:
            raise ValueError(f"inflates to more than {MAX_FRAMES_BYTES} bytes")
        arr = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - zlib.error, ValueError, EOFError ...
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(f"{where} is not a gzipped uint8 .npy of frames ({detail})") from None
    if arr.dtype != FRAMES_DTYPE or arr.ndim != 4 or arr.shape[-1] != 3 or not arr.shape[0]:
        raise ValueError(f"{where} holds a {arr.dtype} array of shape {arr.shape}, not uint8 "
                         "frames [T, H, W, 3]")  # fmt: skip
    return arr


def sample_key(name: str, files: list[tuple[str, bytes]]) -> str:
    """``<name>_<12 hex>``: readable, dot-free, and the same for the same input files."""
    digest = hashlib.sha256()
    for member, data in files:
        digest.update(member.split(".")[0].encode() + b"\0" + hashlib.sha256(data).digest())
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name.split("/")[-1])[:40].strip("-") or "input"
    return f"{slug}_{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class FeedbackSample:
    """One flagged input: its files (member suffix, bytes) and its JSON record."""

    key: str
    files: tuple[tuple[str, bytes], ...]
    record: dict[str, Any]
    reasons: tuple[str, ...]
    least_margin: float  # the smallest top-1 minus top-2 margin over its predictions

    @property
    def digest(self) -> str:
        return self.key.rsplit("_", 1)[-1]

    def rank(self) -> tuple[int, float, str]:
        """Sort key, least sure first: more reasons, then a smaller margin."""
        return (-len(self.reasons), self.least_margin, self.key)


def _member_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _json_bytes(record: dict[str, Any]) -> bytes:
    return (json.dumps(json_safe(record), sort_keys=True, allow_nan=False) + "\n").encode()


def _padded(size: int) -> int:
    return BLOCK + -(-size // BLOCK) * BLOCK


def shard_size(member_sizes: list[int]) -> int:
    """Exact size of a USTAR tar holding members of these sizes (tarfile's layout)."""
    body = sum(_padded(s) for s in member_sizes) + 2 * BLOCK
    return -(-body // RECORD) * RECORD


def shard_bytes(samples: list[FeedbackSample], extra: dict[str, Any]) -> bytes:
    """The tar of ``samples`` in order: files then ``KEY.json`` (with ``extra`` merged)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for sample in samples:
            for suffix, data in sample.files:
                tar.addfile(_member_info(f"{sample.key}.{suffix}", len(data)), io.BytesIO(data))
            meta = _json_bytes({**sample.record, **extra, "key": sample.key})
            tar.addfile(_member_info(f"{sample.key}.json", len(meta)), io.BytesIO(meta))
    return buf.getvalue()


def _sizes(sample: FeedbackSample, extra: dict[str, Any]) -> list[int]:
    meta = _json_bytes({**sample.record, **extra, "key": sample.key})
    return [len(data) for _, data in sample.files] + [len(meta)]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def folder_bytes(folder: Path) -> int:
    """Sum of the sizes of the regular files under ``folder`` (what the budget limits)."""
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _empty_manifest(cfg: FeedbackConfig) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "budget_bytes": cfg.budget_bytes,
            "when_full": cfg.when_full, "next_shard": 0, "shards": [],
            "counts": {"seen": 0, "flagged": 0, "logged": 0, "duplicates": 0,
                       "dropped_budget": 0, "too_large": 0, "evicted_shards": 0,
                       "evicted_samples": 0}}  # fmt: skip


def _manifest_text(manifest: dict[str, Any]) -> bytes:
    # the same text write_json_atomic writes
    return (json.dumps(json_safe(manifest), indent=2, sort_keys=True, allow_nan=False)
            + "\n").encode("utf-8")  # fmt: skip


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The feedback folder's manifest, or None when the folder has none yet."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"feedback folder {folder}: {MANIFEST} is unreadable "
                         f"({type(exc).__name__}); move it away to start afresh") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"feedback folder {folder}: {MANIFEST} is not a {FORMAT} manifest; "
                         "give an empty or feedback folder")  # fmt: skip
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"feedback folder {folder}: format_version "
                         f"{manifest.get('format_version')!r} unsupported "
                         f"(expected {FORMAT_VERSION})")  # fmt: skip
    return manifest


@dataclass
class FeedbackLog:
    """A feedback folder open for writing (use as a context manager: it holds the lock)."""

    folder: Path
    cfg: FeedbackConfig
    bundle: dict[str, Any]  # {"id", "version", "variant"} recorded with every sample
    manifest: dict[str, Any] = field(default_factory=dict)
    pending: list[FeedbackSample] = field(default_factory=list)
    pending_since: float | None = None
    known: set[str] = field(default_factory=set)  # digests of the logged samples
    outcomes: dict[str, str] = field(default_factory=dict)  # key -> shard file or "dropped"
    _stack: ExitStack | None = None

    def __enter__(self) -> FeedbackLog:
        self.folder = Path(self.folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"feedback folder {self.folder} is not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            stack.enter_context(folder_lock(self.folder, "feedback folder"))
            self._recover()
            self._stack = stack.pop_all()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self.flush()
        except Exception:
            if exc_type is None:
                raise
        finally:
            if self._stack is not None:
                self._stack.close()

    # ---- recovery --------------------------------------------------------------------
    def _recover(self) -> None:
        """Delete what a killed run left (temporary files, shards the manifest does not list)
        and the entries whose shard is gone; refuse a folder holding anything else."""
        manifest = read_manifest(self.folder)
        if manifest is None:
            foreign = [p.name for p in self.folder.iterdir()
                       if p.name != LOCK and not p.name.startswith((TMP_PREFIX, f".{MANIFEST}."))
                       and not SHARD.match(p.name)]  # fmt: skip
            if foreign:
                raise ValueError(f"feedback folder {self.folder} holds other files "
                                 f"({sorted(foreign)[0]}, ...): give an empty or feedback "
                                 "folder")  # fmt: skip
            manifest = _empty_manifest(self.cfg)
        listed = {entry["file"] for entry in manifest["shards"]}
        for path in self.folder.iterdir():
            name = path.name
            partial = name.startswith((TMP_PREFIX, f".{MANIFEST}."))
            if partial or (SHARD.match(name) and name not in listed):
                path.unlink(missing_ok=True)  # a killed run's partial or unrecorded file
        kept = [e for e in manifest["shards"] if (self.folder / e["file"]).is_file()]
        changed = len(kept) != len(manifest["shards"])
        manifest["shards"] = kept
        if (manifest.get("budget_bytes"), manifest.get("when_full")) != (self.cfg.budget_bytes,
                                                                         self.cfg.when_full):
            manifest["budget_bytes"], manifest["when_full"] = (self.cfg.budget_bytes,
                                                               self.cfg.when_full)
            changed = True
        self.manifest = manifest
        self.known = {key.rsplit("_", 1)[-1] for e in kept for key in e["keys"]}
        if changed or not (self.folder / MANIFEST).exists():
            self._write_manifest()

    # ---- writing ---------------------------------------------------------------------
    def _fits(self, extra_bytes: int, manifest: dict[str, Any], slack: int = 0,
              used: int | None = None) -> bool:  # fmt: skip
        """Would the folder stay within budget with ``extra_bytes`` more and ``manifest``
        written beside the current one (the moment before the atomic replace)?"""
        used = folder_bytes(self.folder) if used is None else used
        return used + extra_bytes + len(_manifest_text(manifest)) + slack <= self.cfg.budget_bytes

    def _write_manifest(self) -> bool:
        """Replace the manifest if that keeps the folder within budget (else keep the old:
        only its counters are then behind)."""
        if not self._fits(0, self.manifest):
            return False
        write_json_atomic(self.folder / MANIFEST, self.manifest)
        return True

    def count(self, **increments: int) -> None:
        for name, n in increments.items():
            self.manifest["counts"][name] = self.manifest["counts"].get(name, 0) + n

    def add(self, sample: FeedbackSample | None, too_large: bool = False) -> str:
        """Queue one observed input (``None``: seen, not flagged); returns its feedback status:
        ``not_flagged``, ``duplicate``, ``too_large`` or ``pending``."""
        self.count(seen=1)
        if sample is None:
            return "not_flagged"
        self.count(flagged=1)
        if too_large:
            self.count(too_large=1)
            return "too_large"
        if sample.digest in self.known or any(p.digest == sample.digest for p in self.pending):
            self.count(duplicates=1)
            return "duplicate"
        self.pending.append(sample)
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        if len(self.pending) >= self.cfg.shard_samples:
            self.flush()
        return "pending"

    def _extra(self) -> dict[str, Any]:
        return {"format": SAMPLE_FORMAT, "bundle": self.bundle,
                "criteria": self.cfg.criteria_record()}  # fmt: skip

    def _entry(self, name: str, sha256: str, size: int,
               chosen: list[FeedbackSample]) -> dict[str, Any]:  # fmt: skip
        reasons: dict[str, int] = {}
        for sample in chosen:
            for reason in sample.reasons:
                reasons[reason] = reasons.get(reason, 0) + 1
        return {"file": name, "sha256": sha256, "bytes": size, "samples": len(chosen),
                "keys": [s.key for s in chosen], "bundle": self.bundle,
                "criteria": self.cfg.criteria_record(), "reasons": reasons,
                "created_at": _now()}  # fmt: skip

    def _with_entry(self, entry: dict[str, Any], shards: list | None = None) -> dict[str, Any]:
        shards = self.manifest["shards"] if shards is None else shards
        return dict(self.manifest, shards=[*shards, entry])

    def _evict_oldest(self) -> bool:
        if not self.manifest["shards"]:
            return False
        oldest = self.manifest["shards"].pop(0)
        (self.folder / oldest["file"]).unlink(missing_ok=True)
        self.known -= {key.rsplit("_", 1)[-1] for key in oldest["keys"]}
        self.count(evicted_shards=1, evicted_samples=int(oldest["samples"]))
        return True

    def flush(self) -> dict[str, Any] | None:
        """Write the pending samples as one shard within budget; returns its manifest entry
        (None when nothing was written)."""
        pending, self.pending, self.pending_since = self.pending, [], None
        if not pending:
            self._write_manifest()
            return None
        extra = self._extra()
        name = f"feedback-{int(self.manifest['next_shard']):06d}.tar"
        # a sample that would not fit even in an empty folder is dropped before any eviction
        ranked = [s for s in sorted(pending, key=FeedbackSample.rank)
                  if self._fits(shard_size(_sizes(s, extra)),
                                self._with_entry(self._entry(name, "0" * 64, 0, [s]), []),
                                COUNTER_SLACK, used=0)]  # fmt: skip
        while True:
            chosen = self._largest_fitting(ranked, extra, name)
            if len(chosen) == len(ranked) or self.cfg.when_full != "rotate" \
                    or not self._evict_oldest():  # fmt: skip
                break
        self.count(dropped_budget=len(pending) - len(chosen))
        self.outcomes.update({s.key: "dropped_budget" for s in pending})
        self.outcomes.update({s.key: name for s in chosen})
        if not chosen:
            self._write_manifest()
            return None
        order = {s.key: i for i, s in enumerate(pending)}
        chosen.sort(key=lambda s: order[s.key])  # a shard keeps the input order
        data = shard_bytes(chosen, extra)
        entry = self._entry(name, hashlib.sha256(data).hexdigest(), len(data), chosen)
        self._write_shard(name, data)
        self.manifest["shards"].append(entry)
        self.manifest["next_shard"] = int(self.manifest["next_shard"]) + 1
        self.count(logged=len(chosen))
        self.known |= {s.digest for s in chosen}
        if not self._write_manifest():  # cannot happen: the fit was checked with this entry
            raise RuntimeError("feedback manifest would exceed the budget")
        return entry

    def _largest_fitting(self, ranked: list[FeedbackSample], extra: dict[str, Any],
                         name: str) -> list[FeedbackSample]:  # fmt: skip
        """The least sure prefix of ``ranked`` whose shard and manifest fit the budget: the
        tar lies beside the old manifest while the new one is written (then replaces it)."""
        used = folder_bytes(self.folder)
        sizes = [_sizes(s, extra) for s in ranked]
        for n in range(len(ranked), 0, -1):
            size = shard_size([b for sample_sizes in sizes[:n] for b in sample_sizes])
            future = self._with_entry(self._entry(name, "0" * 64, size, ranked[:n]))
            if self._fits(size, future, COUNTER_SLACK, used=used):
                return ranked[:n]
        return []

    def _write_shard(self, name: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".tar", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, default_mode())
            os.replace(tmp, self.folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(self.folder)

    def summary(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "shards": len(self.manifest["shards"]),
                "bytes": folder_bytes(self.folder), "budget_bytes": self.cfg.budget_bytes,
                "counts": dict(self.manifest["counts"]), "criteria": self.cfg.criteria_record(),
                "pending": len(self.pending)}  # fmt: skip


def config_dict(cfg: FeedbackConfig) -> dict[str, Any]:
    return asdict(cfg)
