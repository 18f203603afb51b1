"""Characterise a vehicle config with real simulation runs on a flat ground plane.

Runs (headless, 240 Hz, simple control loops; several cars share one world where the
test allows, each on its own surface band ``surface_band``):
braking from 25 m/s per surface (ABS on), peak friction used per surface, 0-100 km/h and
top speed, steady skidpad lateral acceleration per surface (radius-holding steer),
drafting drag ratios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.vehicle.config import VehicleConfig
from sim.vehicle.fleet import VehicleFleet
from sim.vehicle.skidpad import RadiusHolder, SkidpadConfig, run_skidpad
from sim.vehicle.surfaces import SURFACE_NAMES
from sim.world import World

G = 9.81
BAND_M = 200.0


def flat_world() -> World:
    """A 240 Hz world with an infinite static ground plane (no pybullet_data needed)."""
    world = World()
    c = world.client
    c.createMultiBody(0, c.createCollisionShape(c.GEOM_PLANE))
    return world


def surface_band(x: float, y: float) -> str:
    """Surface by lateral band: y in [0, 200) dry, [200, 400) wet, snow, then ice."""
    return SURFACE_NAMES[min(max(int(y // BAND_M), 0), len(SURFACE_NAMES) - 1)]


def band_y(surface: str) -> float:
    return (SURFACE_NAMES.index(surface) + 0.5) * BAND_M


def braking_test(cfg: VehicleConfig, speed: float = 25.0, max_s: float = 40.0,
                 ) -> dict[str, dict[str, float]]:
    """Stopping distance [m] and peak friction used, per surface, braking from ``speed``."""
    with flat_world() as world:
        fleet = VehicleFleet(world, surface_at=surface_band)
        cars = {s: fleet.add(cfg, (0.0, band_y(s), 0.0), 0.0, speed) for s in SURFACE_NAMES}
        for car in cars.values():
            car.set_controls(0.0, 0.0, 1.0)
        start = {s: car.state().position for s, car in cars.items()}
        peak = dict.fromkeys(cars, 0.0)
        stopped: dict[str, float] = {}
        for _ in range(int(max_s * 60)):
            world.step(4)
            for s, car in cars.items():
                peak[s] = max(peak[s], float(fleet.friction_used()[car.index]))
                st = car.state()
                if s not in stopped and st.speed_mps < 0.05:
                    stopped[s] = math.dist(st.position[:2], start[s][:2])
            if len(stopped) == len(cars):
                break
        return {s: {"distance_m": stopped.get(s, math.inf), "peak_mu": peak[s]} for s in cars}


def estimated_top_speed(cfg: VehicleConfig) -> float:
    """Power balance estimate: peak power = (drag + rolling resistance) * v."""
    e, a = cfg.engine, cfg.aero
    power = max(t * r for t, r in zip(e.curve_nm, e.curve_rpm)) * 2 * math.pi / 60
    power *= cfg.gearbox.efficiency
    k = 0.5 * a.air_density_kgpm3 * a.drag_coefficient * a.frontal_area_m2
    roll = cfg.tire.rolling_resistance * cfg.body.mass_kg * G
    return float(np.roots([k, 0.0, roll, -power]).real.max())


@dataclass
class SpeedRun:
    times: list[float] = field(default_factory=list)
    speeds: list[float] = field(default_factory=list)
    zero_to_100_s: float = math.inf
    top_speed_mps: float = 0.0
    top_speed_rpm: float = 0.0
    final_accel_mps2: float = 0.0


def speed_run(cfg: VehicleConfig, duration_s: float = 30.0) -> SpeedRun:
    """Full throttle from rest (0-100 km/h, speed curve) and, beside it, a car launched
    near its top speed that settles on the drag-limited top speed."""
    run = SpeedRun()
    with flat_world() as world:
        fleet = VehicleFleet(world)
        launch = fleet.add(cfg, (0.0, 0.0, 0.0))
        cruise = fleet.add(cfg, (0.0, 50.0, 0.0), 0.0, 0.9 * estimated_top_speed(cfg))
        for car in (launch, cruise):
            car.set_controls(0.0, 1.0, 0.0)
        last = []
        for _ in range(int(duration_s * 10)):
            world.step(24)
            st = launch.state()
            run.times.append(st.time_s)
            run.speeds.append(st.speed_mps)
            if st.speed_mps >= 100 / 3.6 and math.isinf(run.zero_to_100_s):
                run.zero_to_100_s = st.time_s
            last = (last + [cruise.state().speed_mps])[-11:]
        top = cruise.state()
        run.top_speed_mps = top.speed_mps
        run.top_speed_rpm = top.rpm
        run.final_accel_mps2 = (last[-1] - last[0]) / 1.0
    return run


def skidpad_test(cfg: VehicleConfig, skidpad: SkidpadConfig | None = None,
                 ) -> dict[str, float]:
    """Steady lateral acceleration [g] per surface on a fixed-radius circle (see
    :mod:`sim.vehicle.skidpad`): the car's grip limit on that surface."""
    skidpad = skidpad or SkidpadConfig()
    with flat_world() as world:
        fleet = VehicleFleet(world, surface_at=surface_band)
        holders = {}
        for s in SURFACE_NAMES:
            center = (0.0, band_y(s))
            car = fleet.add(cfg, (0.0, center[1] - skidpad.radius_m, 0.0), 0.0,
                            skidpad.start_speed_mps)
            holders[s] = RadiusHolder(car, center, skidpad)
        return run_skidpad(world, holders, skidpad)


def drafting_test(cfg: VehicleConfig, speed: float = 25.0, gaps=(5.0, 30.0),
                  duration_s: float = 3.0) -> dict[float, float]:
    """Follower drag / solo drag at ``speed`` for leaders ``gap`` m ahead (bumper gap)."""
    with flat_world() as world:
        fleet = VehicleFleet(world)
        solo = fleet.add(cfg, (0.0, 0.0, 0.0), 0.0, speed)
        pairs = {}
        for i, gap in enumerate(gaps):
            y = 30.0 * (i + 1)
            leader = fleet.add(cfg, (cfg.body.length_m + gap, y, 0.0), 0.0, speed)
            pairs[gap] = (leader, fleet.add(cfg, (0.0, y, 0.0), 0.0, speed))
        cars = [solo] + [c for p in pairs.values() for c in p]
        drag = {id(c): [] for c in cars}
        for _ in range(int(duration_s * 60)):
            for car in cars:
                st = car.state()
                car.set_controls(0.0, float(np.clip(0.5 * (speed - st.speed_mps) + 0.3, 0, 1)),
                                 0.0)
                drag[id(car)].append(st.drag_n)
            world.step(4)
        base = np.mean(drag[id(solo)][-60:])
        return {g: float(np.mean(drag[id(f)][-60:]) / base) for g, (_, f) in pairs.items()}


def vehicle_report(cfg: VehicleConfig) -> tuple[dict, dict]:
    """The JSON report and the raw curves used by the plot."""
    braking = braking_test(cfg)
    run = speed_run(cfg)
    skid = skidpad_test(cfg)
    draft = drafting_test(cfg)
    report = {
        "preset": cfg.name,
        "stopping_distance_m": {s: round(v["distance_m"], 3) for s, v in braking.items()},
        "peak_mu": {s: round(v["peak_mu"], 4) for s, v in braking.items()},
        "top_speed_mps": round(run.top_speed_mps, 3),
        "zero_to_100_s": round(run.zero_to_100_s, 3),
        "skidpad_lateral_g": {s: round(v, 4) for s, v in skid.items()},
        "drag_ratio_leader_5m": round(draft[5.0], 4),
        "drag_ratio_leader_30m": round(draft[30.0], 4),
    }
    return report, {"speed_run": run, "braking": braking}
