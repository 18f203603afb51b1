"""Opt-in stage timers: where a benchmark's time goes, by named stage, at little cost.

Code marks its stages with ``with stage("render"): ...``; nothing is recorded (and a
shared no-op context is returned) unless a :class:`StageRecorder` is active, which only
benchmarks start (:func:`recording`). Times are *exclusive*: while a nested stage runs,
its parent's clock stops, so the stages of one run add up to the time spent inside them.
The clock is ``time.perf_counter`` (``time.process_time`` costs ~4 us a call here, which
hot loops would feel); benchmarks turn the shares into CPU time per sample themselves.

Hot loops that would pay even the ``with`` statement check :func:`active` once and call
:meth:`StageRecorder.enter` / :meth:`StageRecorder.exit` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter


class StageRecorder:
    """Exclusive seconds and entry counts per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list] = []  # [name, start of the running slice]

    def enter(self, name: str) -> None:
        now = perf_counter()
        stack = self._stack
        if stack:
            top = stack[-1]
            self.seconds[top[0]] = self.seconds.get(top[0], 0.0) + now - top[1]
        stack.append([name, now])
        self.calls[name] = self.calls.get(name, 0) + 1

    def exit(self) -> None:
        now = perf_counter()
        stack = self._stack
        name, start = stack.pop()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - start
        if stack:
            stack[-1][1] = now

    def total(self) -> float:
        return sum(self.seconds.values())

    def shares(self) -> dict[str, float]:
        """Fraction of the recorded time per stage, largest first."""
        total = self.total() or 1.0
        return dict(sorted(((k, v / total) for k, v in self.seconds.items()),
                           key=lambda kv: -kv[1]))  # fmt: skip


_active: StageRecorder | None = None


def active() -> StageRecorder | None:
    """The recorder in use, or None (the normal case: record nothing)."""
    return _active


class _Stage:
    __slots__ = ("name", "rec")

    def __init__(self, rec: StageRecorder, name: str) -> None:
        self.rec, self.name = rec, name

    def __enter__(self) -> None:
        self.rec.enter(self.name)

    def __exit__(self, *exc: object) -> None:
        self.rec.exit()


class _Off:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_OFF = _Off()


def stage(name: str) -> _Stage | _Off:
    """A context manager that charges the time inside it to ``name`` (when recording)."""
    rec = _active
    return _OFF if rec is None else _Stage(rec, name)


@contextmanager
def recording(recorder: StageRecorder | None = None) -> Iterator[StageRecorder]:
    """Record stages into ``recorder`` (a new one by default) inside the block."""
    global _active
    rec = recorder if recorder is not None else StageRecorder()
    before, _active = _active, rec
    try:
        yield rec
    finally:
        _active = before
