"""Car dynamics behind the driving env: the fast bicycle model or the PyBullet fleet.

Both expose ``reset(x, y, yaw, speed)``, ``advance(steer, throttle, brake, seconds)`` and
``kinematics()``. ``bicycle`` (training: ~3000 env steps/s) integrates
:class:`sim.drivers.bicycle.BicycleModel` at the physics rate; ``bullet`` builds the road
mesh in a :class:`sim.world.World` and drives a :class:`sim.vehicle.VehicleFleet` car
(ray-cast suspension, four Pacejka tires) at 240 Hz: the physics the data set uses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.drivers.bicycle import BicycleModel, BicycleParams
from sim.drivers.kinematics import Kinematics, kinematics_of_vehicle
from sim.vehicle import preset

PHYSICS_HZ = 240
BACKENDS = ("bicycle", "bullet")


class BicycleDynamics:
    def __init__(
        self,
        vehicle: str,
        surface_at_xy: Callable[[float, float], str],
        wind: Callable[[float], tuple[float, float, float]],
        **_: object,
    ) -> None:
        self.model = BicycleModel(BicycleParams.from_vehicle(preset(vehicle)))
        self.surface_at_xy, self.wind, self.time_s = surface_at_xy, wind, 0.0

    def reset(self, x: float, y: float, yaw: float, speed: float) -> None:
        self.model.reset(x, y, yaw, speed)
        self.time_s = 0.0

    def advance(self, steer: float, throttle: float, brake: float, seconds: float) -> None:
        m = self.model
        surface = self.surface_at_xy(m.x, m.y)
        w = self.wind(self.time_s)
        n = int(round(seconds * PHYSICS_HZ))
        m.advance(steer, throttle, brake, surface, (w[0], w[1]), 1.0 / PHYSICS_HZ, n)
        self.time_s += n / PHYSICS_HZ

    def kinematics(self) -> Kinematics:
        return self.model.kinematics()

    def close(self) -> None:
        pass


class BulletDynamics:
    def __init__(
        self,
        vehicle: str,
        surface_at_xy: Callable[[float, float], str],
        wind: Callable[[float], tuple[float, float, float]],
        road=None,
        road_seed: int = 0,
    ) -> None:
        from sim.road import build_road
        from sim.scene import SceneRegistry
        from sim.vehicle import VehicleFleet
        from sim.world import World

        self.world = World()
        build_road(self.world, road, SceneRegistry(), road_seed)
        self.fleet = VehicleFleet(self.world, surface_at=surface_at_xy, wind=wind)
        self.config = preset(vehicle)
        self.car = None

    def reset(self, x: float, y: float, yaw: float, speed: float) -> None:
        if self.car is not None:
            raise ValueError("BulletDynamics is single-episode; build a new one per reset")
        self.car = self.fleet.add(self.config, position=(x, y, 0.0), yaw=yaw, speed_mps=speed)

    def advance(self, steer: float, throttle: float, brake: float, seconds: float) -> None:
        self.car.set_controls(float(steer), float(throttle), float(brake))
        self.world.step(int(round(seconds * PHYSICS_HZ)))

    def kinematics(self) -> Kinematics:
        return kinematics_of_vehicle(self.car)

    def close(self) -> None:
        self.world.close()


def make_dynamics(backend: str, **kwargs: object) -> BicycleDynamics | BulletDynamics:
    if backend not in BACKENDS:
        raise ValueError(f"physics backend must be one of {BACKENDS}, got {backend!r}")
    cls = BicycleDynamics if backend == "bicycle" else BulletDynamics
    return cls(**kwargs)


def wrap_angle(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)
