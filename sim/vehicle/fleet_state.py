"""The changing per-vehicle arrays of a fleet (one row per vehicle, wheels FL FR RL RR)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class FleetState:
    """Simulation state and the last step's outputs that ``Vehicle.state`` reports."""

    omega: np.ndarray  # (N, 4) wheel speeds [rad/s]
    deflection: np.ndarray  # (2, N, 4) tire deflections u, v [m]
    slip: np.ndarray  # (2, N, 4) slip ratio kappa, slip angle alpha [rad]
    force: np.ndarray  # (2, N, 4) tire forces Fx, Fy [N] (mean over sub-steps)
    fz: np.ndarray  # (N, 4) wheel loads [N]
    contact: np.ndarray  # (N, 4) bool
    surf: np.ndarray  # (N, 4) surface codes
    impulse: np.ndarray  # (N, 4) crash impulse per zone [N s]
    steer: np.ndarray  # (N,) road-wheel angle [rad]
    controls: np.ndarray  # (N, 3) steer, throttle, brake
    vel_before: np.ndarray  # (N, 3) velocity before the last physics step
    drag_n: np.ndarray  # (N,)
    airspeed: np.ndarray  # (N,)

    @classmethod
    def empty(cls) -> FleetState:
        return cls(
            omega=np.zeros((0, 4)), deflection=np.zeros((2, 0, 4)), slip=np.zeros((2, 0, 4)),
            force=np.zeros((2, 0, 4)), fz=np.zeros((0, 4)), contact=np.zeros((0, 4), bool),
            surf=np.zeros((0, 4), int), impulse=np.zeros((0, 4)), steer=np.zeros(0),
            controls=np.zeros((0, 3)), vel_before=np.zeros((0, 3)), drag_n=np.zeros(0),
            airspeed=np.zeros(0))

    def append(self, speed_mps: float, yaw: float, radius_m: float) -> None:
        """Add the row of a vehicle spawned at ``speed_mps`` along heading ``yaw``."""
        vel = np.array([speed_mps * np.cos(yaw), speed_mps * np.sin(yaw), 0.0])
        row = {"omega": np.full(4, speed_mps / radius_m), "vel_before": vel}
        for f in fields(self):
            old = getattr(self, f.name)
            axis = 1 if f.name in ("deflection", "slip", "force") else 0
            new = row.get(f.name)
            if new is None:
                shape = list(old.shape)
                shape[axis] = 1
                new = np.zeros(shape, old.dtype)
            else:
                new = np.expand_dims(new, axis)
            setattr(self, f.name, np.concatenate([old, new], axis))

    def friction_used(self) -> np.ndarray:
        """Per vehicle, the largest |F| / Fz over wheels in contact (0 when airborne)."""
        used = np.hypot(self.force[0], self.force[1]) / np.maximum(self.fz, 1.0)
        peak = np.max(np.where(self.contact, used, 0.0), axis=1)
        return np.where(self.fz.sum(1) > 0, peak, 0.0)
