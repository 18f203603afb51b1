"""Hand-built state traces: known inputs for tests, benchmarks and listening checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from sim.trace import MAX_OTHERS, SURFACE_CODES, StateTrace

Signal = float | np.ndarray | Callable[[np.ndarray], np.ndarray]

_DEFAULTS: dict[str, float] = {
    "speed_mps": 0.0,
    "rpm": 0.0,
    "throttle": 0.0,
    "brake": 0.0,
    "gear": 0.0,
    "engine_load": 0.0,
    "steer": 0.0,
    "surface": float(SURFACE_CODES["dry"]),
    "airspeed_mps": 0.0,
    "precip_intensity": 0.0,
    "wind_speed_mps": 0.0,
}


def _evaluate(signal: Signal, t: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    value = signal(t) if callable(signal) else signal
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def make_trace(
    duration_s: float,
    signals: Mapping[str, Signal] | None = None,
    *,
    hz: float = 60.0,
    cylinders: int = 4,
    precip_type: str = "none",
    events: list[dict] | None = None,
) -> StateTrace:
    """A finalised trace of ``duration_s`` at ``hz`` (t = 0, 1/hz, ...).

    ``signals`` maps trace fields to a constant, an array (one per step, or broadcastable)
    or a function of the time array; unspecified fields are idle (stopped, dry, no slip,
    no other vehicles: ``others_pos`` NaN).
    """
    signals = dict(signals or {})
    unknown = sorted(set(signals) - set(StateTrace.SCALARS) - set(StateTrace.VECTORS))
    if unknown:
        raise ValueError(f"make_trace: unknown trace fields {', '.join(unknown)}")
    t = np.arange(int(round(duration_s * hz))) / hz
    n = len(t)
    trace = StateTrace(
        hz=hz, cylinders=cylinders, precip_type=precip_type, events=list(events or [])
    )
    trace.arrays["t"] = t
    for name, default in _DEFAULTS.items():
        trace.arrays[name] = _evaluate(signals.get(name, default), t, (n,))
    for name in ("slip_ratio", "slip_angle"):
        trace.arrays[name] = _evaluate(signals.get(name, 0.0), t, (n, 4))
    for name in ("others_pos", "others_vel"):
        trace.arrays[name] = _evaluate(signals.get(name, np.nan), t, (n, MAX_OTHERS, 3))
    return trace


def drive_cycle(duration_s: float = 20.0) -> StateTrace:
    """A busy rainy drive: rpm ramps through gear shifts, a skid, a pass-by, thunder, a crash.

    Exercises every source; used by the benchmark and as a listening example.
    """

    def rpm(t: np.ndarray) -> np.ndarray:
        return 1500.0 + 4000.0 * np.mod(t, 5.0) / 5.0

    def gear(t: np.ndarray) -> np.ndarray:
        return np.minimum(1 + t // 5.0, 5)

    def slip(t: np.ndarray) -> np.ndarray:
        return np.where((t > 8.0) & (t < 9.5), 0.4, 0.03)[:, None] * np.ones(4)

    def others(t: np.ndarray) -> np.ndarray:
        pos = np.full((len(t), MAX_OTHERS, 3), np.nan)
        pos[:, 0] = np.stack([60.0 - 15.0 * t, np.full_like(t, 3.5), np.zeros_like(t)], 1)
        return pos

    half = duration_s / 2
    return make_trace(
        duration_s,
        {
            "rpm": rpm,
            "gear": gear,
            "throttle": 0.7,
            "engine_load": 0.6,
            "speed_mps": lambda t: 5.0 + 1.2 * t,
            "airspeed_mps": lambda t: 6.0 + 1.2 * t,
            "slip_ratio": slip,
            "surface": lambda t: np.where(t < half, 0.0, 1.0),
            "precip_intensity": lambda t: np.clip(t / duration_s, 0, 1),
            "wind_speed_mps": 5.0,
            "others_pos": others,
        },
        precip_type="rain",
        events=[
            {"type": "thunder", "time_s": 2.0, "distance_m": 1200.0},
            {"type": "crash", "time_s": 0.8 * duration_s, "impulse_ns": 4000.0, "zone": "front"},
        ],
    )
