"""From the 60 Hz state trace to audio-rate control signals.

Sample ``n`` of a scenario's waveform sits at time ``n / sample_rate``; the waveform
covers ``[0, t_last]``. Control signals are interpolated linearly (continuous, never
overshooting, so a signal that is zero at two control steps stays exactly zero between
them) and oscillator phase is integrated from frequency, so frequency changes never click.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.trace import StateTrace


@dataclass(frozen=True)
class Timeline:
    """The audio sample grid of one scenario and interpolation onto it."""

    sample_rate: int
    n_samples: int
    control_t: np.ndarray

    @classmethod
    def from_trace(cls, trace: StateTrace, sample_rate: int) -> Timeline:
        if len(trace) < 2:
            raise ValueError(f"StateTrace needs at least 2 control steps, got {len(trace)}")
        t = np.asarray(trace.t, dtype=np.float64)
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0) or t[0] < 0:
            raise ValueError("StateTrace.t must be finite, >= 0 and strictly increasing")
        return cls(sample_rate, int(round(t[-1] * sample_rate)) + 1, t)

    def times(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = self.n_samples if stop is None else stop
        return np.arange(start, stop, dtype=np.float64) / self.sample_rate

    def at(self, values: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``values`` (one per control step) linearly interpolated onto samples [start, stop)."""
        return np.interp(self.times(start, stop), self.control_t, values)

    def index(self, time_s: float) -> int:
        """The sample index nearest to ``time_s``."""
        return int(round(time_s * self.sample_rate))


def integrate_cycles(freq_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Oscillator phase in cycles, wrapped to [0, 1), from an instantaneous frequency."""
    cycles = np.cumsum(freq_hz / sample_rate)
    return np.mod(cycles - cycles[0], 1.0)


def excess(x: np.ndarray, low: float, ref: float, cap: float = 1.0) -> np.ndarray:
    """``(x - low) / (ref - low)`` clipped to ``[0, cap]``: zero at and below ``low``."""
    return np.clip((np.asarray(x, dtype=np.float64) - low) / (ref - low), 0.0, cap)
