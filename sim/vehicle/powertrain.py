"""Engine torque curve and automatic gearbox, vectorised over vehicles.

The engine turns at the driven wheels' speed through the gear (or, when that is below
its launch speed, slips the clutch at ``idle + throttle * 1500`` rpm). A rev limiter cuts
torque at the redline; while a shift is under way the clutch is open (no torque).
:meth:`Powertrain.update` sets the torque from the wheel speeds at the start of a physics
step; the tyres then change the wheel speeds within the step, so after it ``rpm`` is read
out again from the new wheel speeds (:meth:`Powertrain.read_out`): the state of a step names
the engine speed of the same instant as its road speed and slip (during wheelspin the two
differ by thousands of rpm in one 1/240 s step).
Torque curves and gear ratios of different lengths are padded into (N, K) arrays so the
step needs no per-vehicle Python loop.
"""

from __future__ import annotations

import numpy as np

from sim.vehicle.config import VehicleConfig

RAD_S_TO_RPM = 60.0 / (2.0 * np.pi)
LAUNCH_RPM_SPAN = 1500.0


def _pad(rows: list[np.ndarray], value: float) -> np.ndarray:
    """Rows of different lengths as one (N, K) array, padded with ``value``."""
    out = np.full((len(rows), max(len(r) for r in rows)), value)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class TorqueCurves:
    """Piecewise-linear torque curves of N engines, evaluated together.

    ``f(x) = f0 + sum_j slope_j clip(x - x_j, 0, x_{j+1} - x_j)``: the same values as
    ``np.interp`` (flat outside the curve) with no per-vehicle loop.
    """

    def __init__(self, curves: list[tuple[np.ndarray, np.ndarray]]) -> None:
        dx = [np.diff(x) for x, _ in curves]
        self.start = np.array([x[0] for x, _ in curves])[:, None]
        self.knots = _pad([x[:-1] for x, _ in curves], 0.0)
        self.width = _pad(dx, 0.0)
        self.slope = _pad([np.diff(f) / d for (_, f), d in zip(curves, dx)], 0.0)
        self.f0 = np.array([f[0] for _, f in curves])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        span = np.minimum(np.maximum(x[:, None] - self.knots, 0.0), self.width)
        return self.f0 + (span * self.slope).sum(1)


class Powertrain:
    """Gear, rpm and wheel torque of every vehicle of a fleet."""

    def __init__(self) -> None:
        self._curves: list[tuple[np.ndarray, np.ndarray]] = []
        self._ratios: list[np.ndarray] = []
        cols = ("final", "eff", "idle", "redline", "brake_nm", "up", "down", "shift_s")
        self.p = {k: np.zeros(0) for k in cols}
        self.gear = np.zeros(0, dtype=int)
        self.rpm = np.zeros(0)
        self.load = np.zeros(0)
        self.shift_timer = np.zeros(0)
        self._shifting = False

    def add(self, cfg: VehicleConfig) -> None:
        e, g = cfg.engine, cfg.gearbox
        self._curves.append((np.array(e.curve_rpm), np.array(e.curve_nm)))
        self._ratios.append(np.array(g.ratios))
        row = (g.final_drive, g.efficiency, e.idle_rpm, e.redline_rpm, e.engine_brake_nm,
               g.shift_up_rpm, g.shift_down_rpm, g.shift_time_s)
        for k, v in zip(self.p, row):
            self.p[k] = np.append(self.p[k], v)
        self.gear = np.append(self.gear, 1)
        self.rpm = np.append(self.rpm, e.idle_rpm)
        self.load = np.append(self.load, 0.0)
        self.shift_timer = np.append(self.shift_timer, 0.0)
        self.torque = TorqueCurves(self._curves)
        self.ratios = _pad(self._ratios, 1.0)
        self.n_gears = np.array([len(r) for r in self._ratios])
        self._gear_changed()

    def _gear_changed(self) -> None:
        """Per-gear constants: overall ratio, and the rpm bands that trigger a shift."""
        rows = np.arange(len(self.gear))
        self.ratio = self.ratios[rows, self.gear - 1] * self.p["final"]
        self.ratio_eff = self.ratio * self.p["eff"]
        self._to_rpm = self.ratio * RAD_S_TO_RPM
        self._up_rpm = np.where(self.gear < self.n_gears, self.p["up"], np.inf)
        self._down_rpm = np.where(self.gear > 1, self.p["down"], -np.inf)

    def _shift(self, wheel_rpm_in_gear: np.ndarray, time_s: float) -> list[tuple[int, dict]]:
        ready = self.shift_timer <= 0
        up = (wheel_rpm_in_gear > self._up_rpm) & ready
        down = (wheel_rpm_in_gear < self._down_rpm) & ready
        rows = np.arange(len(self.gear))
        lower = self.ratios[rows, np.maximum(self.gear - 2, 0)] * self.p["final"]
        down &= wheel_rpm_in_gear * lower / self.ratio < 0.9 * self.p["up"]
        events = []
        for i in np.flatnonzero(up | down):
            new = int(self.gear[i] + (1 if up[i] else -1))
            events.append((int(i), {"type": "gear_shift", "time_s": round(time_s, 6),
                                    "from": int(self.gear[i]), "to": new}))
            self.gear[i] = new
            self.shift_timer[i] = self.p["shift_s"][i]
            self._shifting = True
        if events:
            self._gear_changed()
        return events

    def read_out(self, driven_omega: np.ndarray, throttle: np.ndarray) -> None:
        """``rpm`` of the wheel speeds ``driven_omega`` at the end of a step, in the current
        gear (the same rule as :meth:`update`: the clutch slips below the launch speed).
        The next :meth:`update` recomputes it before use, so the dynamics do not change."""
        self.rpm = np.maximum(driven_omega * self._to_rpm,
                              self.p["idle"] + throttle * LAUNCH_RPM_SPAN)

    def update(self, driven_omega: np.ndarray, throttle: np.ndarray, power_factor: np.ndarray,
               dt: float, time_s: float) -> tuple[np.ndarray, list[tuple[int, dict]]]:
        """Total drive torque at the wheels [N m] per vehicle and gear-shift events."""
        if self._shifting:
            self.shift_timer = np.maximum(self.shift_timer - dt, 0.0)
            self._shifting = bool(self.shift_timer.max() > 0)
        wheel_rpm = driven_omega * self._to_rpm
        events = []
        if ((wheel_rpm > self._up_rpm) | (wheel_rpm < self._down_rpm)).any():
            events = self._shift(wheel_rpm, time_s)
            wheel_rpm = driven_omega * self._to_rpm
        self.rpm = np.maximum(wheel_rpm, self.p["idle"] + throttle * LAUNCH_RPM_SPAN)
        limiter = self.rpm < self.p["redline"]
        drive = throttle * self.torque(self.rpm) * power_factor * limiter
        braking = (1 - throttle) * self.p["brake_nm"] * (wheel_rpm > self.p["idle"])
        self.load = throttle * power_factor * limiter
        engine_nm = drive - braking
        if self._shifting:
            engaged = self.shift_timer <= 0
            engine_nm = engine_nm * engaged
            self.load = self.load * engaged
        return engine_nm * self.ratio_eff, events
