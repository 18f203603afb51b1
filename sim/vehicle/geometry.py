"""Chassis geometry derived from a config: box, inertia, wheel hardpoints, springs.

Body frame: origin at the centre of mass, x forward, y left, z up. The collision box
spans ``ground_clearance_m .. height_m`` above the ground at static ride height, so its
centre sits ``box_dz`` above the centre of mass. Wheels: FL, FR, RL, RR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.vehicle.config import VehicleConfig

RAY_START_BELOW_BOX_M = 0.01


@dataclass(frozen=True)
class ChassisGeometry:
    half_extents: tuple[float, float, float]
    box_dz: float
    inertia_diag: tuple[float, float, float]
    hardpoints: np.ndarray  # (4, 3) body frame
    ray_length: np.ndarray  # (4,)
    spring_npm: np.ndarray  # (4,)
    damper_nspm: np.ndarray  # (4,)
    static_load_n: np.ndarray  # (4,)
    dimensions_lwh: tuple[float, float, float]
    bbox_center_offset: tuple[float, float, float]


def box_inertia(mass: float, lwh: tuple[float, float, float], dz: float,
                ) -> tuple[float, float, float]:
    """Inertia of a solid box about a centre of mass ``dz`` below its centre."""
    l, w, h = lwh
    ixx = mass / 12 * (w * w + h * h) + mass * dz * dz
    iyy = mass / 12 * (l * l + h * h) + mass * dz * dz
    izz = mass / 12 * (l * l + w * w)
    return ixx, iyy, izz


def chassis_geometry(cfg: VehicleConfig, gravity: float = 9.81) -> ChassisGeometry:
    b, s = cfg.body, cfg.suspension
    box_h = b.height_m - b.ground_clearance_m
    box_dz = b.ground_clearance_m + box_h / 2 - b.cg_height_m
    a = b.wheelbase_m * (1 - b.front_weight_fraction)  # CoM to front axle
    rear = b.wheelbase_m - a
    z_hp = b.ground_clearance_m - b.cg_height_m - RAY_START_BELOW_BOX_M
    half_t = b.track_m / 2
    hardpoints = np.array([[a, half_t, z_hp], [a, -half_t, z_hp],
                           [-rear, half_t, z_hp], [-rear, -half_t, z_hp]])
    frac = b.front_weight_fraction
    corner_mass = b.mass_kg * np.array([frac, frac, 1 - frac, 1 - frac]) / 2
    omega_n = 2 * np.pi * s.frequency_hz
    spring = corner_mass * omega_n**2
    damper = 2 * s.damping_ratio * np.sqrt(spring * corner_mass)
    static = corner_mass * gravity
    hp_height = b.ground_clearance_m - RAY_START_BELOW_BOX_M
    ray_length = hp_height + static / spring
    lwh = (b.length_m, b.width_m, box_h)
    return ChassisGeometry(
        half_extents=(lwh[0] / 2, lwh[1] / 2, lwh[2] / 2), box_dz=box_dz,
        inertia_diag=box_inertia(b.mass_kg, lwh, box_dz), hardpoints=hardpoints,
        ray_length=ray_length, spring_npm=spring, damper_nspm=damper, static_load_n=static,
        dimensions_lwh=(b.length_m, b.width_m, b.height_m),
        bbox_center_offset=(0.0, 0.0, b.height_m / 2 - b.cg_height_m),
    )
