"""What PyBullet's C code prints: silenced or captured at the file-descriptor level.

Kept apart from :mod:`sim.world` so modules that only need this (the camera) do not import
PyBullet, whose import prints its build time on stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence what PyBullet's C code prints on stdout (the ``argv[0]=`` line of a new
    client, the EGL plugin's driver report and farewell)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured / replaced stdout
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


@contextmanager
def captured_c_output() -> Iterator[list[str]]:
    """Capture what C code writes to file descriptors 1 and 2 while the block runs; the
    list yielded holds the text once the block ends (e.g. the EGL plugin's GL_RENDERER
    line and its device choice)."""
    sys.stdout.flush()
    sys.stderr.flush()
    out: list[str] = []
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as tmp:
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield out
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))
