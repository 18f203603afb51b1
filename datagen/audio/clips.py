"""Per-frame clips cut from the scenario waveform, and the sound events each one holds."""

from __future__ import annotations

import math

import numpy as np

from datagen.audio.activity import drives, span_samples, transients
from datagen.audio.config import SOURCE_NAMES, AudioConfig
from datagen.audio.timeline import Timeline
from sim.trace import StateTrace


def clip_bounds(end_time_s: float, duration_s: float, sample_rate: int) -> tuple[int, int]:
    """Sample range ``[start, stop)`` of the clip ending at (and including) ``end_time_s``."""
    if not (math.isfinite(end_time_s) and end_time_s >= 0):
        raise ValueError(f"clip end_time_s must be finite and >= 0, got {end_time_s}")
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"clip duration_s must be finite and > 0, got {duration_s}")
    stop = int(round(end_time_s * sample_rate)) + 1
    return stop - int(round(duration_s * sample_rate)), stop


def clip(
    waveform: np.ndarray, end_time_s: float, duration_s: float, sample_rate: int
) -> np.ndarray:
    """The ``duration_s`` window ending at ``end_time_s``, zero-padded before time 0."""
    start, stop = clip_bounds(end_time_s, duration_s, sample_rate)
    if stop > len(waveform):
        raise ValueError(
            f"clip end_time_s {end_time_s} is past the waveform's end "
            f"({(len(waveform) - 1) / sample_rate:.4f} s)"
        )
    out = np.zeros(stop - start, dtype=np.float32)
    lo = max(start, 0)
    out[lo - start :] = waveform[lo:stop]
    return out


class ClipEventIndex:
    """Which sources are audible in any clip of one scenario, answered without redoing the
    scenario's work per clip: the drives and transients (``datagen.audio.activity``) are
    computed once, and each drive column's interpolation onto the whole sample grid once,
    kept as a running count of its positive samples. ``events(end, duration)`` is then
    :func:`clip_events` for that clip, the same names (tested)."""

    def __init__(self, trace: StateTrace, config: AudioConfig) -> None:
        self.config = config
        self.timeline = Timeline.from_trace(trace, config.sample_rate)
        times = self.timeline.times()
        self._positive: dict[str, list[np.ndarray]] = {}
        for name, drive in drives(trace, config).items():
            columns = drive.reshape(len(drive), -1)
            self._positive[name] = [  # count[k] = positive samples before sample k
                np.concatenate(([0], np.cumsum(np.interp(times, self.timeline.control_t, col) > 0)))
                for col in columns.T if col.max() > 0
            ]  # fmt: skip
        self._spans = [(event.name, span_samples(event, config.sample_rate))
                       for event in transients(trace, config)]  # fmt: skip

    def events(self, end_time_s: float, duration_s: float) -> list[str]:
        """Names of the sources audible in the clip, in ``SOURCE_NAMES`` order."""
        start, stop = clip_bounds(end_time_s, duration_s, self.config.sample_rate)
        if stop > self.timeline.n_samples:
            raise ValueError(f"clip end_time_s {end_time_s} is past the scenario's end")
        lo = max(start, 0)
        active = {name for name, counts in self._positive.items()
                  if any(c[stop] > c[lo] for c in counts)}  # fmt: skip
        for name, (e_start, e_stop) in self._spans:
            if max(e_start, lo) < min(e_stop, stop):
                active.add(name)
        return [n for n in SOURCE_NAMES if n in active and self.config.level(n) > 0]


def clip_events(
    trace: StateTrace, end_time_s: float, duration_s: float, config: AudioConfig
) -> list[str]:
    """Names of the sources audible in the clip, in ``SOURCE_NAMES`` order.

    Uses the same drives and spans as synthesis (``datagen.audio.activity``), so a source
    is listed iff its stem has non-zero samples in the clip. For many clips of one
    scenario, build one :class:`ClipEventIndex` and ask it (this builds one per call).
    """
    return ClipEventIndex(trace, config).events(end_time_s, duration_s)
