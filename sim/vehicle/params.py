"""Constant per-vehicle arrays of a fleet, built once from the configs (not per step).

Shapes: ``N`` vehicles, 4 wheels (FL, FR, RL, RR), ``S`` surfaces. Pairs of longitudinal
and lateral quantities are stacked on a leading axis of 2 (x, y) so that one numpy call
handles both directions. The tire table holds, per vehicle and surface, the magic-formula
B, C, D, E, the peak slip and the low-speed damping coefficient of each direction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from sim.vehicle.config import VehicleConfig
from sim.vehicle.geometry import ChassisGeometry
from sim.vehicle.tires import LOW_SPEED_DAMPING_RATIO, MAX_TAN_ALPHA, surface_table

DRIVE_MASKS = {"fwd": (1, 1, 0, 0), "rwd": (0, 0, 1, 1), "awd": (1, 1, 1, 1)}
GRAVITY_FOR_DAMPING = 9.81
# Rows of FleetParams.table: B, C, D, E, peak slip, low-speed damping coefficient.
B, C, D, E, PEAK, DAMP = range(6)


def tire_table(cfg: VehicleConfig) -> np.ndarray:
    """(6, 2, S) tire constants of one vehicle on every surface (rows B..DAMP, then x/y)."""
    try:
        return _tire_table(cfg.tire).copy()
    except TypeError:  # an unhashable config (lists where tuples belong): not cached
        return _tire_table.__wrapped__(cfg.tire)


@functools.lru_cache(maxsize=64)
def _tire_table(t) -> np.ndarray:
    """:func:`tire_table` of a (frozen, hashable) TireConfig, computed once per process: the
    peak-slip solves cost ~30 ms of every scenario's set-up."""
    flat = surface_table(t)  # (S, 10): bx cx dx ex by cy dy ey kappa_peak alpha_peak
    x = flat[:, [0, 1, 2, 3, 8]].T
    y = flat[:, [4, 5, 6, 7, 9]].T
    table = np.stack([x, y], 1)  # (5, 2, S)
    sigma = np.array([t.relaxation_length_x_m, t.relaxation_length_y_m])[:, None]
    stiffness = table[B] * table[C] * table[D] / sigma
    damp = 2 * LOW_SPEED_DAMPING_RATIO * np.sqrt(stiffness / GRAVITY_FOR_DAMPING)
    return np.concatenate([table, damp[None]], 0)


@dataclass(frozen=True)
class FleetParams:
    """Every constant the step needs, as arrays over the fleet."""

    bodies: tuple[int, ...]
    ray_points: np.ndarray  # (N, 8, 3) body frame: 4 ray starts then 4 ray ends
    ray: np.ndarray  # (N, 4)
    spring: np.ndarray  # (N, 4)
    damper: np.ndarray  # (N, 4)
    fz0: np.ndarray  # (N, 4) static load
    bump: np.ndarray  # (N, 4) compression where the bump stop starts
    load_sens: np.ndarray  # (N, 1)
    radius: np.ndarray  # (N, 1)
    inertia: np.ndarray  # (N, 1)
    sigma: np.ndarray  # (2, N, 1) relaxation lengths x, y
    deflection_limit: np.ndarray  # (2, N, 1)
    crr: np.ndarray  # (N, 1)
    table: np.ndarray  # (6, 2, N, S)
    drive: np.ndarray  # (N, 4) share of drive torque per wheel
    brake_nm: np.ndarray  # (N, 4) brake torque per wheel at full pedal
    abs_off: np.ndarray  # (N, 1) 1.0 where the anti-lock system is off
    tcs_off: np.ndarray  # (N, 1) 1.0 where traction control is off
    steer_max: np.ndarray  # (N,)
    steer_rate: np.ndarray  # (N,)
    half_rho_cda: np.ndarray  # (N,)
    half_rho_cla: np.ndarray  # (N,)
    wake: dict[str, np.ndarray]  # length, max_deficit, decay, half_width, half_len
    mass: np.ndarray  # (N,)
    full_damage: np.ndarray  # (N,)
    steer_bias: np.ndarray  # (N,)
    power_loss: np.ndarray  # (N,)
    drag_increase: np.ndarray  # (N,)
    _lookup_cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.bodies)

    def lookup(self, surf: np.ndarray) -> np.ndarray:
        """(6, 2, N, 4) tire constants of every wheel on its surface (cached per layout)."""
        key = surf.tobytes()
        cache = self._lookup_cache
        if cache.get("key") != key:
            cache["key"] = key
            cache["value"] = self.table[:, :, np.arange(self.n)[:, None], surf]
        return cache["value"]

    @classmethod
    def build(cls, configs: list[VehicleConfig], geos: list[ChassisGeometry],
              bodies: list[int]) -> FleetParams:
        """Arrays for the vehicles ``configs`` with chassis ``geos`` and body ids."""
        def col(fn, dtype=float) -> np.ndarray:
            return np.array([fn(c, g) for c, g in zip(configs, geos)], dtype=dtype)

        sigma = col(lambda c, g: (c.tire.relaxation_length_x_m, c.tire.relaxation_length_y_m))
        drive = col(lambda c, g: DRIVE_MASKS[c.gearbox.drive])
        bias = col(lambda c, g: (c.brakes.front_bias,) * 2 + (1 - c.brakes.front_bias,) * 2)
        rho = col(lambda c, g: c.aero.air_density_kgpm3)
        return cls(
            bodies=tuple(int(b) for b in bodies),
            ray_points=col(_ray_points),
            ray=col(lambda c, g: g.ray_length),
            spring=col(lambda c, g: g.spring_npm),
            damper=col(lambda c, g: g.damper_nspm),
            fz0=col(lambda c, g: g.static_load_n),
            bump=col(lambda c, g: g.static_load_n / g.spring_npm + c.suspension.travel_m),
            load_sens=col(lambda c, g: [c.tire.load_sensitivity]),
            radius=col(lambda c, g: [c.tire.radius_m]),
            inertia=col(lambda c, g: [c.tire.inertia_kgm2]),
            sigma=sigma.T[:, :, None].copy(),
            deflection_limit=(sigma * [1.0, MAX_TAN_ALPHA]).T[:, :, None].copy(),
            crr=col(lambda c, g: [c.tire.rolling_resistance]),
            table=np.stack([tire_table(c) for c in configs], 2),
            drive=drive / drive.sum(1, keepdims=True),
            brake_nm=bias / 2 * col(lambda c, g: c.brakes.max_torque_nm)[:, None],
            abs_off=col(lambda c, g: [0.0 if c.brakes.abs_enabled else 1.0]),
            tcs_off=col(lambda c, g: [0.0 if c.gearbox.traction_control else 1.0]),
            steer_max=col(lambda c, g: c.steering.max_angle_rad),
            steer_rate=col(lambda c, g: c.steering.rate_radps),
            half_rho_cda=0.5 * rho * col(lambda c, g: c.aero.drag_coefficient
                                         * c.aero.frontal_area_m2),
            half_rho_cla=0.5 * rho * col(lambda c, g: c.aero.downforce_coefficient
                                         * c.aero.frontal_area_m2),
            wake={"length": col(lambda c, g: c.aero.wake_length_m),
                  "max_deficit": col(lambda c, g: c.aero.wake_max_deficit),
                  "decay": col(lambda c, g: c.aero.wake_decay_m),
                  "half_width": col(lambda c, g: c.aero.wake_half_width_m),
                  "half_len": col(lambda c, g: c.body.length_m / 2)},
            mass=col(lambda c, g: c.body.mass_kg),
            full_damage=col(lambda c, g: c.damage.full_damage_impulse_ns),
            steer_bias=col(lambda c, g: c.damage.steer_bias_rad),
            power_loss=col(lambda c, g: c.damage.power_loss),
            drag_increase=col(lambda c, g: c.damage.drag_increase),
        )


def _ray_points(cfg: VehicleConfig, geo: ChassisGeometry) -> np.ndarray:
    """(8, 3) suspension ray starts (hardpoints) and ends, body frame."""
    ends = geo.hardpoints - np.array([0.0, 0.0, 1.0]) * geo.ray_length[:, None]
    return np.concatenate([geo.hardpoints, ends], 0)
