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
from typing import TYPE_CHECKING, Protocol

import pybullet

from sim.vehicle.config import VehicleConfig
from sim.vehicle.damage import ZONES, damage_levels
from sim.vehicle.surfaces import SURFACE_NAMES

if TYPE_CHECKING:
    from sim.vehicle.fleet_state import FleetState
    from sim.vehicle.geometry import ChassisGeometry
    from sim.vehicle.params import FleetParams
    from sim.vehicle.powertrain import Powertrain
    from sim.world import World


class FleetArrays(Protocol):
    """What a :class:`Vehicle` reads of the fleet that simulates it (``VehicleFleet``)."""

    s: FleetState
    p: FleetParams
    powertrain: Powertrain
    world: World
    world_client_id: int


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
    """One simulated car of a ``VehicleFleet``: a view of row ``index`` of its arrays."""

    def __init__(self, fleet: FleetArrays, index: int, body_id: int, config: VehicleConfig,
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
        self.fleet.s.controls[self.index] = (steer, throttle, brake)

    def drivetrain(self) -> dict:
        """The drivetrain and tire values of :meth:`state` that the state trace records
        (speed_mps, rpm, gear, throttle, brake, engine_load, steer, slip_ratio, slip_angle,
        airspeed_mps): the same numbers, without the pose queries (every control step)."""
        f, i = self.fleet, self.index
        s = f.s
        vel = pybullet.getBaseVelocity(self.body_id, physicsClientId=f.world_client_id)[0]
        ctrl = s.controls[i].tolist()
        pt = f.powertrain
        return {
            "speed_mps": float(math.hypot(vel[0], vel[1])), "rpm": float(pt.rpm[i]),
            "gear": int(pt.gear[i]), "throttle": ctrl[1], "brake": ctrl[2],
            "engine_load": float(pt.load[i]), "steer": float(s.steer[i]),
            "slip_ratio": s.slip[0, i].tolist(), "slip_angle": s.slip[1, i].tolist(),
            "airspeed_mps": float(s.airspeed[i]),
        }  # fmt: skip

    def state(self) -> VehicleState:
        """A snapshot after the last physics step (built on demand, not every step)."""
        f, i = self.fleet, self.index
        s, cid = f.s, f.world_client_id
        pos, orn = pybullet.getBasePositionAndOrientation(self.body_id, physicsClientId=cid)
        vel, ang = pybullet.getBaseVelocity(self.body_id, physicsClientId=cid)
        yaw = pybullet.getEulerFromQuaternion(orn)[2]
        fwd = pybullet.getMatrixFromQuaternion(orn)[0:9:3]
        accel = sum((a - b) * x for a, b, x in zip(vel, s.vel_before[i].tolist(), fwd))
        dmg = damage_levels(s.impulse[i : i + 1], f.p.full_damage[i : i + 1])[0]
        ctrl = s.controls[i].tolist()
        pt = f.powertrain
        return VehicleState(
            time_s=f.world.time_s, position=tuple(pos), yaw=yaw, velocity=tuple(vel),
            speed_mps=float(math.hypot(vel[0], vel[1])), accel_mps2=accel / f.world.dt,
            yaw_rate=float(ang[2]), steer=float(s.steer[i]), throttle=ctrl[1],
            brake=ctrl[2], gear=int(pt.gear[i]), rpm=float(pt.rpm[i]),
            engine_load=float(pt.load[i]), slip_ratio=s.slip[0, i].tolist(),
            slip_angle=s.slip[1, i].tolist(), wheel_load_n=s.fz[i].tolist(),
            surface=[SURFACE_NAMES[k] for k in s.surf[i]],
            damage=dict(zip(ZONES, dmg.tolist())),
            drag_n=float(s.drag_n[i]), airspeed_mps=float(s.airspeed[i]),
        )


