"""The Vehicle handle other modules use: controls in, :class:`VehicleState` out.

Vehicles are created by :meth:`sim.vehicle.fleet.VehicleFleet.add`, which simulates all
of them together; a ``Vehicle`` is a view of one row of the fleet's arrays. Registration
in the scene registry is the caller's job: use ``body_id``, ``dimensions_lwh`` (whole
vehicle, wheels included) and ``bbox_center_offset`` (box centre in the body frame,
whose origin is the centre of mass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.vehicle.config import VehicleConfig
from sim.vehicle.damage import ZONES, damage_levels
from sim.vehicle.surfaces import SURFACE_NAMES

if TYPE_CHECKING:
    from sim.vehicle.fleet import VehicleFleet
    from sim.vehicle.geometry import ChassisGeometry


@dataclass
class VehicleState:
    """A snapshot of one vehicle. Wheels are ordered FL, FR, RL, RR.

    slip_ratio: (omega r - vx) / |vx| (transient), positive when driving;
    slip_angle [rad]: positive when the tire pushes the car to the left;
    steer [rad]: road-wheel angle, left positive; accel_mps2: along the heading.
    """

    time_s: float
    position: tuple[float, float, float]
    yaw: float
    velocity: tuple[float, float, float]
    speed_mps: float
    accel_mps2: float
    yaw_rate: float
    steer: float
    throttle: float
    brake: float
    gear: int
    rpm: float
    engine_load: float
    slip_ratio: list[float]
    slip_angle: list[float]
    wheel_load_n: list[float]
    surface: list[str]
    damage: dict[str, float] = field(default_factory=dict)
    drag_n: float = 0.0
    airspeed_mps: float = 0.0

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


class Vehicle:
    """One simulated car of a :class:`VehicleFleet`."""

    def __init__(self, fleet: VehicleFleet, index: int, body_id: int, config: VehicleConfig,
                 geometry: ChassisGeometry) -> None:
        self.fleet = fleet
        self.index = index
        self.body_id = body_id
        self.config = config
        self.geometry = geometry
        self.events: list[dict] = []

    @property
    def dimensions_lwh(self) -> tuple[float, float, float]:
        return self.geometry.dimensions_lwh

    @property
    def bbox_center_offset(self) -> tuple[float, float, float]:
        return self.geometry.bbox_center_offset

    def set_controls(self, steer: float, throttle: float, brake: float) -> None:
        """Steer in [-1, 1] (left positive), throttle and brake in [0, 1]."""
        for name, value, lo in (("steer", steer, -1.0), ("throttle", throttle, 0.0),
                                ("brake", brake, 0.0)):
            if not (isinstance(value, int | float) and lo <= value <= 1.0):
                raise ValueError(f"{name} must be in [{lo:g}, 1], got {value!r}")
        self.fleet.s["controls"][self.index] = (steer, throttle, brake)

    def state(self) -> VehicleState:
        f, i = self.fleet, self.index
        s, c = f.s, f.world.client
        pos, orn = c.getBasePositionAndOrientation(self.body_id)
        vel, ang = c.getBaseVelocity(self.body_id)
        yaw = c.getEulerFromQuaternion(orn)[2]
        dmg = damage_levels(s["impulse"][i : i + 1], f.p["full_dmg"][i : i + 1])[0]
        ctrl = s["controls"][i]
        return VehicleState(
            time_s=f.world.time_s, position=tuple(pos), yaw=yaw, velocity=tuple(vel),
            speed_mps=float(math.hypot(vel[0], vel[1])), accel_mps2=float(s["accel"][i]),
            yaw_rate=float(ang[2]), steer=float(s["steer"][i]), throttle=float(ctrl[1]),
            brake=float(ctrl[2]), gear=int(f.powertrain.gear[i]),
            rpm=float(f.powertrain.rpm[i]), engine_load=float(f.powertrain.load[i]),
            slip_ratio=_floats(s["kappa"][i]), slip_angle=_floats(s["alpha"][i]),
            wheel_load_n=_floats(s["fz"][i]),
            surface=[SURFACE_NAMES[k] for k in s["surf"][i]],
            damage={z: float(d) for z, d in zip(ZONES, dmg)},
            drag_n=float(s["drag_n"][i]), airspeed_mps=float(s["airspeed"][i]),
        )


def _floats(a: np.ndarray) -> list[float]:
    return [float(x) for x in a]
