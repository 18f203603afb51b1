"""Which frame of a scenario to blame when its frames disagree: leave one out.

A cross-frame check compares frames pairwise; each pair that disagrees is a *conflict*. One
broken frame conflicts with every frame it is compared with, while the others agree among
themselves: the frame to blame is the one whose removal leaves the rest consistent, not the
later (or earlier) one of a pair. :func:`leave_one_out` finds it by covering the conflicts
with the frames that take part in the most of them, one at a time. A conflict left between
two frames that conflict with nothing else (a two-frame disagreement, or two frames out of
several where neither is at odds with a third) singles out neither: it is returned as a pair,
which the checks report as such, marking the flag :attr:`Flag.unresolved` (QC keeps it only
on a frame another check flags: :func:`datagen.qc.report.run_qc`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Blame:
    """Frames singled out (their removal clears their conflicts) and two-frame disagreements
    where neither frame can be singled out."""

    culprits: tuple[int, ...] = ()
    pairs: tuple[tuple[int, int], ...] = ()


def _edges(conflicts: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in conflicts if a != b}


def leave_one_out(conflicts: Iterable[tuple[int, int]]) -> Blame:
    """Blame for pairwise ``conflicts`` between frame indices: repeatedly the frame in strictly
    the most remaining conflicts (at least two), until only pairs are left; those whose
    frames conflict with nothing else are returned as pairs; the rest (ties among frames each
    at odds with several others) blame every frame involved."""
    edges = _edges(conflicts)
    culprits: list[int] = []
    while edges:
        degree = Counter(i for e in edges for i in e)
        (top, n), *rest = degree.most_common()
        if n < 2 or (rest and rest[0][1] == n):
            break
        culprits.append(top)
        edges = {e for e in edges if top not in e}
    degree = Counter(i for e in edges for i in e)
    pairs = tuple(sorted(e for e in edges if degree[e[0]] == degree[e[1]] == 1))
    tangled = sorted({i for e in edges if e not in pairs for i in e})
    return Blame(tuple(sorted(culprits + tangled)), pairs)
