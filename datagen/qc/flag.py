"""A QC finding before it is tied to a sample: which check, what was measured, the limit.

Every check returns :class:`Flag`s whose ``reason`` is one line naming the measured value and
the threshold it broke, e.g. ``"road depth / plane depth 1000 (allowed 0.98..1.02)"``; the
numbers are also kept as fields so the JSON report can be filtered and plotted.

A cross-frame check that cannot tell which of two disagreeing frames is wrong marks its flag
``unresolved`` (:mod:`datagen.qc.blame`): it explains the frame's other findings but does not
flag a frame on its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    check: str
    reason: str
    value: float | None = None
    threshold: str = ""
    unresolved: bool = False  # one of two disagreeing frames, neither singled out


def flag(check: str, what: str, value: float, threshold: str, fmt: str = ".3g",
         unresolved: bool = False) -> Flag:  # fmt: skip
    """``Flag(check, "<what> <value> (<threshold>)")`` with the value formatted by ``fmt``."""
    return Flag(check, f"{what} {value:{fmt}} ({threshold})", float(value), threshold,
                unresolved)
