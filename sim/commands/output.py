"""Output files of the sim commands: never replace one unless asked, never leave half of one.

:func:`check_output_file` runs before any work (a long simulation must not end in a refusal);
:func:`write_output_file` writes through a temporary file in the destination folder and a
rename, with the mode a plain ``open`` gives under the user's umask, and removes what it
made when writing fails.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.atomic import published_mode


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``None``: strict JSON has no such numbers (a car
    that never reaches 100 km/h has an infinite 0-100 time, written as null)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def check_output_file(path: Path, flag: str, force: bool, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output that exists (unless ``force``), is a folder, has the wrong suffix, or
    lies under something that is not a writable folder."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise ValueError(f"{flag} must be a {'/'.join(suffixes)} file, got {path}")
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder, not a file")
    if path.exists() or path.is_symlink():
        if not force:
            raise FileExistsError(f"{flag} {path} already exists; pass --force to replace it")
        if not path.is_file():
            raise ValueError(f"{flag} {path} is not a regular file; not replacing it")
    parent = next(p for p in path.absolute().parents if p.exists())
    if not parent.is_dir():
        raise ValueError(f"{flag} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{flag} {path}: {parent} is not writable")


def write_output_file(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` for a temporary file beside ``path`` (same suffix, so writers that
    pick the format from the name still do), then rename it to ``path``."""
    path = Path(path)
    created = []
    for parent in path.absolute().parents:
        if parent.exists():
            break
        created.append(parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, published_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        for folder in created:  # innermost first; only folders this call made, still empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise
