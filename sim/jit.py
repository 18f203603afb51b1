"""numba's ``njit`` with the project's settings, or the plain function where numba is missing.

Settings: ``cache=True`` (compiled once per machine, next to the source, then loaded in
~0.1 s per process), ``error_model="numpy"`` (x / 0 gives inf or nan, as in numpy), no
fast-math (IEEE arithmetic in the order written). Compiled kernels agree with the numpy
code they replace to rounding, not bit for bit (libm vs numpy's own transcendental
functions); each is deterministic on a given machine.
"""

from __future__ import annotations

try:  # numba is in the lock (the full extra); without it kernels run as Python
    import numba
except ImportError:  # pragma: no cover - only on installs without numba
    numba = None

AVAILABLE = numba is not None


def njit(fn):
    """``fn`` compiled in nopython mode (or ``fn`` itself without numba)."""
    if numba is None:
        return fn
    return numba.njit(cache=True, error_model="numpy", nogil=True)(fn)
