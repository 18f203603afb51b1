"""Atomic file writes: a temporary file in the same folder, fsync, then a rename.

A reader (or a crash) never sees half a file, and a failed write leaves the previous file
untouched. The torch-free board runtime keeps its own copy
(:func:`edge.runtime.bundle.write_json_atomic`) so that it depends on nothing else here.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (changing it would
    race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def published_mode() -> int:
    """The mode a new file gets under the user's umask (mkstemp alone would make it 0600)."""
    return 0o666 & ~current_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, published_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: object, indent: int = 2) -> None:
    """``obj`` as sorted, indented JSON (non-JSON values written with ``str``), atomically."""
    text = json.dumps(obj, indent=indent, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(path, text.encode())
