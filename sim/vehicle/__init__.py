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

from sim.lazy import lazy_exports

_EXPORTS = {
    "VehicleConfig": "sim.vehicle.config",
    "load_config": "sim.vehicle.config",
    "preset": "sim.vehicle.config",
    "preset_names": "sim.vehicle.config",
    "VehicleFleet": "sim.vehicle.fleet",
    "SURFACE_NAMES": "sim.vehicle.surfaces",
    "SURFACES": "sim.vehicle.surfaces",
    "get_surface": "sim.vehicle.surfaces",
    "Vehicle": "sim.vehicle.vehicle",
    "VehicleState": "sim.vehicle.vehicle",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
