"""WebDataset shards: a deterministic tar writer, a validating reader and a checksum check.

A shard ``DIR/NAME-000000.tar`` holds samples as consecutive tar members ``KEY.EXT``. Member
headers carry fixed mtime/uid/gid/mode, so the same samples always give the same bytes.
The writer writes to a hidden temporary file and renames it on close: an interrupted write
never leaves a partial ``NAME-*.tar`` behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from datagen.sample import KEY_FIELD, Sample, SampleError, SampleFiles, decode_sample, encode_sample
from datagen.schema import validate_sample
from sim.timing import stage

SPLIT_RE = re.compile(r"^[a-z0-9_]+$")
MTIME = 0
MODE = 0o444


class ShardError(ValueError):
    """A shard that cannot be read as WebDataset: ``"<path>: <problem>"``."""


@dataclass(frozen=True)
class ShardInfo:
    name: str
    count: int
    sha256: str
    bytes: int


def shard_name(split: str, shard_index: int) -> str:
    if not SPLIT_RE.match(split):
        raise ValueError(f"split must match {SPLIT_RE.pattern}, got {split!r}")
    if not 0 <= shard_index <= 999_999:
        raise ValueError(f"shard_index must be in [0, 999999], got {shard_index}")
    return f"{split}-{shard_index:06d}.tar"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tar_member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, MTIME, MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class ShardWriter:
    """Writes one shard; use as a context manager (``close`` publishes, errors discard)."""

    def __init__(self, out_dir: str | Path, split: str, shard_index: int, *,
                 validate: bool = True, rgb_format: str = "png") -> None:  # fmt: skip
        self.name = shard_name(split, shard_index)
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / self.name
        self.validate, self.rgb_format = validate, rgb_format
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_path = self.out_dir / f".{self.name}.partial"
        self._tar: tarfile.TarFile | None = tarfile.open(
            self.tmp_path, "w", format=tarfile.USTAR_FORMAT
        )
        self._keys: set[str] = set()
        self.info: ShardInfo | None = None

    def write(self, sample: Sample | SampleFiles) -> None:
        """Append one sample (validated first unless ``validate=False``)."""
        if self._tar is None:
            raise ValueError(f"{self.name}: writer is closed")
        if self.validate:
            with stage("validation"):
                validate_sample(sample)
        with stage("encoding"):
            files = encode_sample(sample, self.rgb_format) if isinstance(sample, Sample) else sample
        key = str(files[KEY_FIELD])
        if "." in key:
            raise SampleError(key, "__key__", "must not contain a dot")
        if key in self._keys:
            raise SampleError(key, "__key__", f"duplicate key in {self.name}")
        self._keys.add(key)
        with stage("writing"):
            for ext in sorted(n for n in files if n != KEY_FIELD):
                data = files[ext]
                if not isinstance(data, bytes):
                    raise SampleError(key, ext, f"expected bytes, got {type(data).__name__}")
                self._tar.addfile(tar_member(f"{key}.{ext}", len(data)), io.BytesIO(data))

    def close(self) -> ShardInfo:
        """Finish the tar and move it to its final name."""
        with stage("writing"):
            return self._close()

    def _close(self) -> ShardInfo:
        if self._tar is None:
            raise ValueError(f"{self.name}: writer is closed")
        self._tar.close()
        self._tar = None
        with open(self.tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp_path, self.path)
        return ShardInfo(self.name, len(self._keys), sha256_of(self.path), self.path.stat().st_size)

    def abort(self) -> None:
        """Discard everything written so far."""
        if self._tar is not None:
            self._tar.close()
            self._tar = None
        self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if exc_type is None:
            self.info = self.close()
        else:
            self.abort()


def write_shard(path: str | Path, samples: Iterable[Sample | SampleFiles],
                validate: bool = True) -> ShardInfo:  # fmt: skip
    """Write ``samples`` to ``path`` (``DIR/NAME-000000.tar``) atomically."""
    path = Path(path)
    m = re.fullmatch(r"(.+)-(\d{6})\.tar", path.name)
    if m is None:
        raise ValueError(f"shard path must end in NAME-NNNNNN.tar, got {path.name!r}")
    with ShardWriter(path.parent, m[1], int(m[2]), validate=validate) as writer:
        for sample in samples:
            writer.write(sample)
    assert writer.info is not None  # set by a clean __exit__
    return writer.info


def iter_files(path: str | Path) -> Iterator[SampleFiles]:
    """Raw file dicts (``__key__`` plus ``EXT: bytes``) in tar order."""
    path = Path(path)
    current: SampleFiles = {}
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, dot, ext = member.name.partition(".")
                if not dot:
                    raise ShardError(f"{path}: member {member.name!r} has no extension")
                if current and key != current[KEY_FIELD]:
                    yield current
                    current = {}
                if not current:
                    if key in seen:
                        raise ShardError(f"{path}: key {key!r} appears twice")
                    seen.add(key)
                    current = {KEY_FIELD: key}
                current[ext] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ShardError(f"{path}: unreadable tar ({exc})") from None
    if current:
        yield current


def iter_shard(path: str | Path, validate: bool = True, decode: bool = True
               ) -> Iterator[Sample | SampleFiles]:  # fmt: skip
    """Samples of a shard, decoded (and validated) unless asked for raw file dicts."""
    for files in iter_files(path):
        sample = validate_sample(files) if validate else decode_sample(files) if decode else None
        yield sample if decode else files


def verify_shard(path: str | Path, expected_sha256: str, expected_count: int) -> bool:
    """True when the shard exists, hashes to ``expected_sha256`` and holds that many samples."""
    path = Path(path)
    if not path.is_file() or sha256_of(path) != expected_sha256:
        return False
    try:
        return sum(1 for _ in iter_files(path)) == expected_count
    except ShardError:
        return False
