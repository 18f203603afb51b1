"""Engine torque curve and automatic gearbox, vectorised over vehicles.

The engine turns at the driven wheels' speed through the gear (or, when that is below
its launch speed, slips the clutch at ``idle + throttle * 1500`` rpm). A rev limiter cuts
torque at the redline; while a shift is under way the clutch is open (no torque).
"""

from __future__ import annotations

import numpy as np

from sim.vehicle.config import VehicleConfig

RAD_S_TO_RPM = 60.0 / (2.0 * np.pi)
LAUNCH_RPM_SPAN = 1500.0


class Powertrain:
    """Gear, rpm and wheel torque of every vehicle of a fleet."""

    def __init__(self) -> None:
        self.curves: list[tuple[np.ndarray, np.ndarray]] = []
        self.ratios: list[np.ndarray] = []
        cols = ("final", "eff", "idle", "redline", "brake_nm", "up", "down", "shift_s")
        self.p = {k: np.zeros(0) for k in cols}
        self.gear = np.zeros(0, dtype=int)
        self.rpm = np.zeros(0)
        self.load = np.zeros(0)
        self.shift_timer = np.zeros(0)

    def add(self, cfg: VehicleConfig) -> None:
        e, g = cfg.engine, cfg.gearbox
        self.curves.append((np.array(e.curve_rpm), np.array(e.curve_nm)))
        self.ratios.append(np.array(g.ratios))
        row = (g.final_drive, g.efficiency, e.idle_rpm, e.redline_rpm, e.engine_brake_nm,
               g.shift_up_rpm, g.shift_down_rpm, g.shift_time_s)
        for k, v in zip(self.p, row):
            self.p[k] = np.append(self.p[k], v)
        self.gear = np.append(self.gear, 1)
        self.rpm = np.append(self.rpm, e.idle_rpm)
        self.load = np.append(self.load, 0.0)
        self.shift_timer = np.append(self.shift_timer, 0.0)

    def _gear_ratio(self) -> np.ndarray:
        return np.array([r[g - 1] for r, g in zip(self.ratios, self.gear)]) * self.p["final"]

    def _shift(self, wheel_rpm_in_gear: np.ndarray, time_s: float) -> list[tuple[int, dict]]:
        events = []
        n_gears = np.array([len(r) for r in self.ratios])
        up = (wheel_rpm_in_gear > self.p["up"]) & (self.gear < n_gears)
        lower = np.array([r[max(g - 2, 0)] for r, g in zip(self.ratios, self.gear)])
        rpm_lower = wheel_rpm_in_gear * lower / np.array(
            [r[g - 1] for r, g in zip(self.ratios, self.gear)])
        down = ((wheel_rpm_in_gear < self.p["down"]) & (self.gear > 1)
                & (rpm_lower < 0.9 * self.p["up"]))
        ready = self.shift_timer <= 0
        for i in np.flatnonzero(ready & (up | down)):
            new = int(self.gear[i] + (1 if up[i] else -1))
            events.append((int(i), {"type": "gear_shift", "time_s": round(time_s, 6),
                                    "from": int(self.gear[i]), "to": new}))
            self.gear[i] = new
            self.shift_timer[i] = self.p["shift_s"][i]
        return events

    def update(self, driven_omega: np.ndarray, throttle: np.ndarray, power_factor: np.ndarray,
               dt: float, time_s: float) -> tuple[np.ndarray, list[tuple[int, dict]]]:
        """Total drive torque at the wheels [N m] per vehicle and gear-shift events."""
        self.shift_timer = np.maximum(self.shift_timer - dt, 0.0)
        wheel_rpm = driven_omega * self._gear_ratio() * RAD_S_TO_RPM
        events = self._shift(wheel_rpm, time_s)
        ratio = self._gear_ratio()
        wheel_rpm = driven_omega * ratio * RAD_S_TO_RPM
        launch = self.p["idle"] + throttle * LAUNCH_RPM_SPAN
        self.rpm = np.maximum(wheel_rpm, launch)
        curve = np.array([np.interp(r, c[0], c[1]) for r, c in zip(self.rpm, self.curves)])
        limiter = self.rpm < self.p["redline"]
        engaged = self.shift_timer <= 0
        drive = throttle * curve * power_factor * limiter
        braking = (1 - throttle) * self.p["brake_nm"] * (wheel_rpm > self.p["idle"])
        engine_nm = (drive - braking) * engaged
        self.load = np.where(engaged & limiter, throttle * power_factor, 0.0)
        return engine_nm * ratio * self.p["eff"], events
