"""Deterministic random generators derived from a seed and a named purpose."""

from __future__ import annotations

import zlib

import numpy as np


def _tag(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def rng_for(seed: int, *path: str | int) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the purpose ``path``.

    ``rng_for(7, "road")`` and ``rng_for(7, "traffic", 3)`` are independent streams; the
    same arguments always give the same stream, in any process.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    entropy = [int(seed)] + [p if isinstance(p, int) else _tag(p) for p in path]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def derive_seed(seed: int, *path: str | int) -> int:
    """A 31-bit integer seed derived from ``seed`` and ``path`` (stored in metadata)."""
    return int(rng_for(seed, *path).integers(0, 2**31 - 1))
