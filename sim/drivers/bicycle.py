"""A fast single-track (bicycle) car model for training driver policies.

PPO needs hundreds of thousands of steps; the full PyBullet fleet (ray-cast suspension,
four Pacejka tires) runs about 250 physics steps per second here, far too slow. This model
keeps what a driver feels: the same mass, wheelbase, weight split, steering limits, engine
power, brakes, drag and the same magic-formula tires on the same surfaces
(``sim.vehicle.surfaces.scale_for``), per axle, integrated at the same 240 Hz with
semi-implicit Euler in plain Python floats (~10x faster than numpy for scalars).
Below ``KINEMATIC_BLEND_MPS`` it blends into the kinematic model (no tire singularity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.drivers.kinematics import Kinematics
from sim.vehicle.config import VehicleConfig
from sim.vehicle.surfaces import scale_for

GRAVITY = 9.81
KINEMATIC_BLEND_MPS = (1.0, 3.0)
SIDE_FORCE_COEFF = 0.8


@dataclass(frozen=True)
class BicycleParams:
    mass: float
    yaw_inertia: float
    a: float  # CG to front axle [m]
    b: float  # CG to rear axle [m]
    max_steer: float
    steer_rate: float
    power_w: float
    brake_force_n: float
    cda: float
    side_area: float
    crr: float
    drive_front: float  # share of drive force on the front axle
    tire_bcde: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        for name in ("mass", "yaw_inertia", "a", "b", "max_steer", "power_w", "brake_force_n"):
            if getattr(self, name) <= 0:
                raise ValueError(f"BicycleParams.{name} must be > 0, got {getattr(self, name)}")

    @classmethod
    def from_vehicle(cls, cfg: VehicleConfig) -> BicycleParams:
        body, t = cfg.body, cfg.tire
        a = body.wheelbase_m * (1.0 - body.front_weight_fraction)
        b = body.wheelbase_m - a
        peak = max(r * n for r, n in zip(cfg.engine.curve_rpm, cfg.engine.curve_nm))
        drive = {"fwd": 1.0, "rwd": 0.0, "awd": 0.5}[cfg.gearbox.drive]
        return cls(
            mass=body.mass_kg,
            yaw_inertia=body.mass_kg * a * b,
            a=a,
            b=b,
            max_steer=cfg.steering.max_angle_rad,
            steer_rate=cfg.steering.rate_radps,
            power_w=peak * 2 * math.pi / 60 * cfg.gearbox.efficiency,
            brake_force_n=cfg.brakes.max_torque_nm / t.radius_m,
            cda=cfg.aero.drag_coefficient * cfg.aero.frontal_area_m2,
            side_area=body.length_m * body.height_m,
            crr=t.rolling_resistance,
            drive_front=drive,
            tire_bcde=(t.by, t.cy, t.dy, t.ey),
        )


def lateral_force(alpha: float, fz: float, bcde: tuple[float, float, float, float]) -> float:
    """Magic formula lateral force [N] of an axle at slip angle ``alpha`` (opposes slip)."""
    b, c, d, e = bcde
    x = b * alpha
    return -d * fz * math.sin(c * math.atan(x - e * (x - math.atan(x))))


class BicycleModel:
    """State and integration of one car; ``surface`` scales the tire coefficients."""

    def __init__(self, params: BicycleParams) -> None:
        self.p = params
        self.reset(0.0, 0.0, 0.0, 0.0)

    def reset(self, x: float, y: float, yaw: float, speed: float) -> None:
        self.x, self.y, self.yaw = x, y, yaw
        self.vx, self.vy, self.r, self.delta, self.ax = speed, 0.0, 0.0, 0.0, 0.0

    def kinematics(self) -> Kinematics:
        return Kinematics(self.x, self.y, self.yaw, self.vx, self.vy, self.r, self.ax, self.delta)

    def _bcde(self, surface: str) -> tuple[float, float, float, float]:
        sb, sc, sd, se = scale_for(surface)
        b, c, d, e = self.p.tire_bcde
        return b * sb, c * sc, d * sd, e * se

    def advance(
        self,
        steer: float,
        throttle: float,
        brake: float,
        surface: str,
        wind: tuple[float, float],
        dt: float,
        n: int,
    ) -> None:
        """Integrate ``n`` steps of ``dt`` with constant controls (steer in [-1, 1])."""
        bcde = self._bcde(surface)
        for _ in range(n):
            self._step(steer, throttle, brake, bcde, wind, dt)

    def _longitudinal(self, throttle: float, brake: float, mu: float, fzf: float) -> float:
        p, v = self.p, max(self.vx, 0.0)
        drive = throttle * p.power_w / max(v, 3.0)
        axle = fzf if p.drive_front >= 0.5 else p.mass * GRAVITY - fzf
        drive = min(drive, 0.95 * mu * axle)
        stop = min(brake * p.brake_force_n, 0.95 * mu * p.mass * GRAVITY)
        return drive - stop

    def _step(self, steer: float, throttle: float, brake: float, bcde, wind, dt: float) -> None:
        p = self.p
        target = max(-1.0, min(1.0, steer)) * p.max_steer
        self.delta += max(-p.steer_rate * dt, min(p.steer_rate * dt, target - self.delta))
        wheelbase = p.a + p.b
        fzf = p.mass * GRAVITY * p.b / wheelbase
        fzr = p.mass * GRAVITY - fzf
        mu = bcde[2]
        fx = self._longitudinal(throttle, brake, mu, fzf)
        cy, sy = math.cos(self.yaw), math.sin(self.yaw)
        ax_air = self.vx - (cy * wind[0] + sy * wind[1])
        ay_air = self.vy - (-sy * wind[0] + cy * wind[1])
        drag = 0.5 * 1.225 * p.cda * ax_air * abs(ax_air) + p.crr * p.mass * GRAVITY * (
            1.0 if self.vx > 0.1 else 0.0
        )
        side = -0.5 * 1.225 * SIDE_FORCE_COEFF * p.side_area * ay_air * abs(ay_air)
        u = max(self.vx, 0.5)
        alpha_f = math.atan2(self.vy + p.a * self.r, u) - self.delta
        alpha_r = math.atan2(self.vy - p.b * self.r, u)
        ff = fx * p.drive_front
        cap_f = math.sqrt(max((mu * fzf) ** 2 - ff * ff, 0.01 * (mu * fzf) ** 2)) / (mu * fzf)
        fyf = lateral_force(alpha_f, fzf, bcde) * cap_f
        fyr = lateral_force(alpha_r, fzr, bcde)
        cd = math.cos(self.delta)
        ax = (fx - fyf * math.sin(self.delta) - drag) / p.mass + self.vy * self.r
        ay = (fyf * cd + fyr + side) / p.mass - self.vx * self.r
        rdot = (p.a * fyf * cd - p.b * fyr) / p.yaw_inertia
        self.vx = max(self.vx + ax * dt, 0.0)
        self.vy += ay * dt
        self.r += rdot * dt
        self._blend_kinematic(wheelbase)
        self.ax = ax - self.vy * self.r
        self.yaw += self.r * dt
        self.x += (cy * self.vx - sy * self.vy) * dt
        self.y += (sy * self.vx + cy * self.vy) * dt

    def _blend_kinematic(self, wheelbase: float) -> None:
        lo, hi = KINEMATIC_BLEND_MPS
        w = min(max((self.vx - lo) / (hi - lo), 0.0), 1.0)
        if w < 1.0:
            r_kin = self.vx * math.tan(self.delta) / wheelbase
            self.r = w * self.r + (1 - w) * r_kin
            self.vy = w * self.vy + (1 - w) * r_kin * self.p.b
