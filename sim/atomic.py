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

PUBLISHED_MODE = 0o644  # mkstemp makes 0600; published files are world-readable


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
        os.chmod(tmp, PUBLISHED_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: object, indent: int = 2) -> None:
    """``obj`` as sorted, indented JSON (non-JSON values written with ``str``), atomically."""
    text = json.dumps(obj, indent=indent, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(path, text.encode())
