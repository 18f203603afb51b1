"""Vehicle dynamics: ray-cast suspension, magic-formula tires, powertrain, aero, damage.

Usage::

    world = World()
    fleet = VehicleFleet(world, surface_at=weather.surface_at, wind=weather.wind)
    car = fleet.add(preset("sedan"), position=(0, 0, 0), yaw=0.0)
    car.set_controls(steer=0.0, throttle=0.5, brake=0.0)
    world.step(240)
    car.state().speed_mps
"""

from __future__ import annotations

from sim.vehicle.config import VehicleConfig, load_config, preset, preset_names
from sim.vehicle.fleet import VehicleFleet
from sim.vehicle.surfaces import SURFACE_NAMES, SURFACES, get_surface
from sim.vehicle.vehicle import Vehicle, VehicleState

__all__ = [
    "SURFACES", "SURFACE_NAMES", "Vehicle", "VehicleConfig", "VehicleFleet", "VehicleState",
    "get_surface", "load_config", "preset", "preset_names",
]
