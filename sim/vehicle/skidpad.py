"""Steady-state skidpad: a car held on a fixed-radius circle while its speed ramps up.

A fixed steering angle makes an understeering car run wide, so the lateral acceleration
it reaches says more about the steer angle than about the grip. Here a controller holds
the radius instead: kinematic feed-forward ``atan(wheelbase / R)`` plus feedback on the
radial error (proportional and integral) and on the heading error to the circle's
tangent. The speed ramps up slowly; the reported lateral acceleration is the best
1-s average of the centripetal acceleration ``speed^2 / r`` (``r`` the distance to the
centre) while the car stays within ``tolerance_m`` of the circle: the grip limit of the
car on that surface. (``speed * yaw_rate`` would count a spinning car as cornering.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.vehicle.vehicle import Vehicle, VehicleState

G = 9.81


@dataclass(frozen=True)
class SkidpadConfig:
    """Circle radius, speed ramp and controller gains of the skidpad run."""

    radius_m: float = 30.0
    start_speed_mps: float = 3.0
    ramp_mps2: float = 0.4
    duration_s: float = 36.0
    tolerance_m: float = 1.0
    radial_gain: float = 0.1  # rad of steer per m outside the circle
    radial_integral_gain: float = 0.05  # rad per (m s)
    heading_gain: float = 1.0  # rad per rad
    speed_gain: float = 0.3  # throttle per m/s below the target
    control_hz: float = 60.0

    def __post_init__(self) -> None:
        for name in ("radius_m", "ramp_mps2", "duration_s", "tolerance_m", "control_hz"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"SkidpadConfig.{name} must be > 0, got {value!r}")
        if self.start_speed_mps < 0:
            raise ValueError(
                f"SkidpadConfig.start_speed_mps must be >= 0, got {self.start_speed_mps!r}")


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


class RadiusHolder:
    """Steers one car around the circle of ``radius_m`` centred at ``center``."""

    def __init__(self, car: Vehicle, center: tuple[float, float], cfg: SkidpadConfig) -> None:
        self.car, self.center, self.cfg = car, center, cfg
        self.feed_forward = math.atan(car.config.body.wheelbase_m / cfg.radius_m)
        self.integral = 0.0

    def radial_error(self, st: VehicleState) -> float:
        dx, dy = st.position[0] - self.center[0], st.position[1] - self.center[1]
        return math.hypot(dx, dy) - self.cfg.radius_m

    def centripetal_g(self, st: VehicleState) -> float:
        """speed^2 / r in g, r the distance to the circle's centre."""
        return st.speed_mps**2 / max(self.radial_error(st) + self.cfg.radius_m, 1e-6) / G

    def control(self, st: VehicleState, target_speed: float, dt: float) -> float:
        """Sets the car's controls; returns the radial error [m] (positive: outside)."""
        cfg = self.cfg
        error = self.radial_error(st)
        self.integral = float(np.clip(self.integral + error * dt, -20.0, 20.0))
        dx, dy = st.position[0] - self.center[0], st.position[1] - self.center[1]
        heading_error = _wrap(math.atan2(dy, dx) + math.pi / 2 - st.yaw)
        angle = (self.feed_forward + cfg.radial_gain * error
                 + cfg.radial_integral_gain * self.integral + cfg.heading_gain * heading_error)
        steer = float(np.clip(angle / self.car.config.steering.max_angle_rad, -1.0, 1.0))
        throttle = float(np.clip(cfg.speed_gain * (target_speed - st.speed_mps), 0.0, 1.0))
        self.car.set_controls(steer, throttle, 0.0)
        return error


def best_average(values: list[float], valid: list[bool], window: int) -> float:
    """Largest mean of ``window`` consecutive values that are all valid (0 if none)."""
    v = np.asarray(values, float)
    ok = np.asarray(valid, float)
    if len(v) < window:
        return 0.0
    kernel = np.ones(window)
    sums = np.convolve(v * ok, kernel, "valid")
    full = np.convolve(ok, kernel, "valid") >= window
    return float(np.max(np.where(full, sums / window, 0.0), initial=0.0))


def run_skidpad(world, holders: dict[str, RadiusHolder], cfg: SkidpadConfig,
                ) -> dict[str, float]:
    """Drive every holder's car on its circle; best steady lateral acceleration [g]."""
    steps = max(1, round(1.0 / (world.dt * cfg.control_hz)))
    dt = steps * world.dt
    lateral = {k: [] for k in holders}
    on_circle = {k: [] for k in holders}
    for i in range(int(cfg.duration_s / dt)):
        target = cfg.start_speed_mps + cfg.ramp_mps2 * i * dt
        for key, holder in holders.items():
            st = holder.car.state()
            error = holder.control(st, target, dt)
            lateral[key].append(holder.centripetal_g(st))
            on_circle[key].append(abs(error) <= cfg.tolerance_m)
        world.step(steps)
    window = max(1, round(1.0 / dt))
    return {k: best_average(lateral[k], on_circle[k], window) for k in holders}
