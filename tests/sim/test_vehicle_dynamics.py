"""Vehicle dynamics from real PyBullet runs: braking, top speed, drafting, crash, slope."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.vehicle import VehicleFleet, preset
from sim.vehicle.aero import GustyWind
from sim.vehicle.report import braking_test, drafting_test, estimated_top_speed, flat_world
from sim.vehicle.surfaces import SURFACE_NAMES, SURFACES

G = 9.81


@pytest.mark.slow
def test_braking_distance_grows_as_friction_falls_and_matches_theory():
    result = braking_test(preset("sedan"), speed=25.0)
    dist = [result[s]["distance_m"] for s in SURFACE_NAMES]
    assert dist == sorted(dist)  # dry < wet < snow < ice
    for name in SURFACE_NAMES:
        theory = 25.0**2 / (2 * SURFACES[name].d * G)
        assert abs(result[name]["distance_m"] - theory) / theory < 0.25, name


@pytest.mark.slow
def test_top_speed_is_drag_limited_and_drops_with_drag():
    base = preset("sedan")
    draggy = base.with_changes("aero", drag_coefficient=2 * base.aero.drag_coefficient)
    with flat_world() as world:
        fleet = VehicleFleet(world)
        cars = [fleet.add(c, (0, 40.0 * i, 0), 0.0, 0.95 * estimated_top_speed(c))
                for i, c in enumerate((base, draggy))]
        for car in cars:
            car.set_controls(0.0, 1.0, 0.0)
        world.step(240 * 12)
        before = [c.state().speed_mps for c in cars]
        world.step(240 * 2)
        after = [c.state() for c in cars]
    assert after[1].speed_mps < after[0].speed_mps - 5.0
    for st, v0 in zip(after, before):
        assert abs(st.speed_mps - v0) / 2 < 0.15  # settled: ~no acceleration at full throttle
        assert st.rpm < base.engine.redline_rpm  # not rev-limited: drag limits it
        assert st.throttle == 1.0


def test_follower_close_behind_feels_less_drag():
    ratios = drafting_test(preset("sedan"), gaps=(5.0, 30.0), duration_s=1.0)
    assert ratios[5.0] < 0.9
    assert ratios[30.0] == pytest.approx(1.0, abs=0.02)


def _wall(world, x: float) -> int:
    c = world.client
    shape = c.createCollisionShape(c.GEOM_BOX, halfExtents=(0.5, 5.0, 1.5))
    return c.createMultiBody(0, shape, basePosition=(x, 0, 1.5))


def test_crash_raises_damage_and_changes_handling():
    cfg = preset("sedan")
    with flat_world() as world:
        _wall(world, 15.0)
        fleet = VehicleFleet(world)
        crashed = fleet.add(cfg, (0, 0, 0), 0.0, 12.0)
        fresh = fleet.add(cfg, (0, 40, 0), 0.0, 0.0)
        world.step(240 * 2)
        state = crashed.state()
        assert state.damage["front"] > 0.1 and state.damage["rear"] == 0.0
        crashes = [e for e in crashed.events if e["type"] == "crash"]
        assert len(crashes) == 1 and crashes[0]["zone"] == "front"
        assert crashes[0]["impulse_ns"] > 0.5 * cfg.body.mass_kg * 12.0
        world.client.resetBasePositionAndOrientation(crashed.body_id, (0, -40, 0.52),
                                                     (0, 0, 0, 1))
        world.client.resetBaseVelocity(crashed.body_id, (0, 0, 0), (0, 0, 0))
        for car in (crashed, fresh):
            car.set_controls(0.0, 1.0, 0.0)
        world.step(240 * 4)
        assert crashed.state().speed_mps < 0.95 * fresh.state().speed_mps
        assert fresh.state().damage == dict.fromkeys(("front", "rear", "left", "right"), 0.0)


@pytest.mark.parametrize("surface", ["dry", "ice"])
def test_braked_car_stays_put_on_a_slope_it_can_grip(surface):
    # 12 degrees needs mu >= tan(12 deg) = 0.21: dry grips, ice (mu 0.1) does not.
    with flat_world() as world:
        c = world.client
        slope = c.getQuaternionFromEuler((0, -math.radians(12), 0))
        c.createMultiBody(0, c.createCollisionShape(c.GEOM_PLANE), basePosition=(0, 0, -50),
                          baseOrientation=slope)
        world.client.removeBody(0)  # drop the flat plane: only the slope remains
        fleet = VehicleFleet(world, surface_at=lambda x, y: surface)
        car = fleet.add(preset("sedan"), (0, 0, -50 + 0.4), 0.0)
        car.set_controls(0.0, 0.0, 1.0)
        world.step(240 * 2)
        start = np.array(car.state().position)
        world.step(240 * 4)
        moved = np.linalg.norm(np.array(car.state().position) - start)
        speed = car.state().speed_mps
    if surface == "dry":
        assert moved < 0.01 and speed < 0.01
    else:
        assert moved > 1.0


def _drive(seed: int) -> list[dict]:
    with flat_world() as world:
        fleet = VehicleFleet(world, wind=GustyWind((3.0, -4.0, 0.0), 5.0, 1.0, seed))
        car = fleet.add(preset("sports_car"), (0, 0, 0), 0.3, 10.0)
        car.set_controls(0.2, 0.6, 0.0)
        out = []
        for _ in range(6):
            world.step(40)
            st = car.state().as_dict()
            out.append(st)
        return out


def test_deterministic_for_a_seed():
    assert _drive(3) == _drive(3)
    assert _drive(3) != _drive(4)


def test_set_controls_rejects_out_of_range():
    with flat_world() as world:
        car = VehicleFleet(world).add(preset("van"))
        with pytest.raises(ValueError, match="throttle"):
            car.set_controls(0.0, 1.5, 0.0)
        with pytest.raises(ValueError, match="steer"):
            car.set_controls(-2.0, 0.0, 0.0)


def test_unknown_surface_from_callable_is_an_error():
    with flat_world() as world:
        fleet = VehicleFleet(world, surface_at=lambda x, y: "lava")
        fleet.add(preset("sedan"))
        with pytest.raises(ValueError, match="lava"):
            world.step(1)
