"""The state trace: what the sound synthesis and captions need from a simulated scenario.

A :class:`StateTrace` holds arrays sampled at the control rate ``hz`` (60 Hz by default)
over the whole scenario, so the audio is one continuous waveform per scenario and each
frame's clip is a window of it. Producers (``sim.scenario``) append one row per control
step with :meth:`StateTrace.append`; consumers (``datagen.audio``) read the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SURFACE_CODES: dict[str, int] = {"dry": 0, "wet": 1, "snow": 2, "ice": 3}
MAX_OTHERS = 8  # nearby vehicles tracked for pass-by sounds


@dataclass
class StateTrace:
    """Per-control-step ego, environment and neighbour state.

    Per-step fields (length N after :meth:`finalize`):
      t [s]; speed_mps; rpm; throttle, brake in [0, 1]; gear (int, 0 = neutral);
      engine_load in [0, 1]; steer [rad]; slip_ratio (N, 4); slip_angle (N, 4) [rad];
      surface (N,) codes of SURFACE_CODES; airspeed_mps (ego speed relative to the air);
      precip_intensity in [0, 1]; wind_speed_mps;
      others_pos (N, MAX_OTHERS, 3) and others_vel (N, MAX_OTHERS, 3): nearby vehicles in
      the ego frame (x forward, y left, z up; m and m/s), NaN where absent.
    Constant fields: hz, cylinders, precip_type ("none", "rain", "snow", "hail").
    events: dicts with at least ``type`` and ``time_s``: crash (impulse_ns, zone),
      thunder (distance_m), gear_shift (from, to), skid (wheel), overtake (instance_id).
    """

    hz: float = 60.0
    cylinders: int = 4
    precip_type: str = "none"
    events: list[dict] = field(default_factory=list)
    _rows: list[dict] = field(default_factory=list, repr=False)
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    SCALARS = (
        "t", "speed_mps", "rpm", "throttle", "brake", "gear", "engine_load", "steer",
        "surface", "airspeed_mps", "precip_intensity", "wind_speed_mps",
    )
    VECTORS = ("slip_ratio", "slip_angle", "others_pos", "others_vel")

    def append(self, **row: object) -> None:
        missing = [k for k in (*self.SCALARS, *self.VECTORS) if k not in row]
        if missing:
            raise ValueError(f"StateTrace.append is missing fields: {', '.join(missing)}")
        self._rows.append(row)

    def finalize(self) -> StateTrace:
        """Stack appended rows into arrays (idempotent)."""
        if self._rows:
            for k in (*self.SCALARS, *self.VECTORS):
                new = np.asarray([r[k] for r in self._rows], dtype=np.float64)
                old = self.arrays.get(k)
                self.arrays[k] = new if old is None else np.concatenate([old, new])
            self._rows.clear()
        return self

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def __len__(self) -> int:
        self.finalize()
        t = self.arrays.get("t")
        return 0 if t is None else len(t)

    @property
    def duration_s(self) -> float:
        return len(self) / self.hz
