"""The vectorised fleet step: batching, maths helpers, powertrain, skidpad, benchmark."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from sim.vehicle import VehicleFleet, preset
from sim.vehicle.bench import add_arguments
from sim.vehicle.bench import run as run_bench
from sim.vehicle.fleet import skew, summed_cross
from sim.vehicle.powertrain import TorqueCurves
from sim.vehicle.report import flat_world, skidpad_test
from sim.vehicle.skidpad import SkidpadConfig, best_average
from sim.vehicle.surfaces import SURFACES


def test_skew_and_summed_cross_match_numpy_cross():
    rng = np.random.default_rng(0)
    w, r = rng.normal(size=(5, 3)), rng.normal(size=(5, 4, 3))
    f = rng.normal(size=(5, 4, 3))
    np.testing.assert_allclose(r @ skew(w).transpose(0, 2, 1), np.cross(w[:, None], r),
                               atol=1e-12)
    np.testing.assert_allclose(summed_cross(r, f), np.cross(r, f).sum(1), atol=1e-12)


def test_torque_curves_equal_np_interp_for_curves_of_different_lengths():
    curves = [(np.array([1000.0, 3000.0, 6000.0]), np.array([150.0, 300.0, 200.0])),
              (np.array([800.0, 2000.0, 4000.0, 5000.0, 7000.0]),
               np.array([100.0, 250.0, 260.0, 240.0, 180.0]))]
    table = TorqueCurves(curves)
    for x in (0.0, 900.0, 1000.0, 2500.0, 4500.0, 6000.0, 6500.0, 9000.0):
        rpm = np.array([x, x])
        expected = [np.interp(x, xp, fp) for xp, fp in curves]
        np.testing.assert_allclose(table(rpm), expected, rtol=1e-12)


def _drive_alone_and_in_fleet(n: int) -> tuple[list, list]:
    def drive(cars_rows: list[int]) -> list:
        with flat_world() as world:
            # always sub-step: the adaptive choice is fleet-wide, so it would couple rows
            fleet = VehicleFleet(world, fine_below_mps=math.inf)
            cars = []
            for i in cars_rows:
                car = fleet.add(preset(("sedan", "van", "sports_car")[i % 3]),
                                (0.0, 60.0 * i, 0.0), 0.1 * i, 8.0 + i)
                car.set_controls(0.3 * (-1) ** i, 0.4 + 0.1 * i, 0.0)
                cars.append(car)
            world.step(240)
            for car in cars:
                car.set_controls(0.0, 0.0, 0.6)
            world.step(120)
            return [c.state().as_dict() for c in cars]

    together = drive(list(range(n)))
    alone = [drive([i])[0] for i in range(n)]
    return together, alone


def test_fleet_rows_do_not_mix_each_car_moves_as_if_alone():
    together, alone = _drive_alone_and_in_fleet(3)
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a["position"], b["position"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(a["velocity"], b["velocity"], rtol=0, atol=1e-9)
        assert a["gear"] == b["gear"] and a["surface"] == b["surface"]


def test_state_accel_is_the_change_of_forward_speed_over_the_step():
    with flat_world() as world:
        car = VehicleFleet(world).add(preset("sedan"), (0, 0, 0), 0.0, 5.0)
        car.set_controls(0.0, 1.0, 0.0)
        world.step(100)
        v0 = car.state().velocity[0]
        world.step(1)
        st = car.state()
        # along the (slightly pitched) heading, so close to but not exactly the x change
        assert st.accel_mps2 == pytest.approx((st.velocity[0] - v0) / world.dt, rel=5e-3)
        assert st.accel_mps2 > 1.0  # full throttle in first gear


def test_substeps_must_be_a_positive_int():
    with flat_world() as world:
        with pytest.raises(ValueError, match="substeps"):
            VehicleFleet(world, substeps=0)
        with pytest.raises(ValueError, match="fine_below_mps"):
            VehicleFleet(world, fine_below_mps=-1.0)


def _launch_speed(substeps: int, seconds: float = 0.75) -> float:
    with flat_world() as world:
        car = VehicleFleet(world, substeps=substeps).add(preset("sedan"))
        car.set_controls(0.0, 1.0, 0.0)
        world.step(round(seconds / world.dt))
        return car.state().speed_mps


def test_substeps_are_needed_at_standstill_and_converge():
    one, two, four = (_launch_speed(n) for n in (1, 2, 4))
    assert two == pytest.approx(four, rel=0.03)  # converged
    assert one < 0.8 * two  # one step lags: stiff tire/wheel coupling at rest


def test_best_average_ignores_windows_off_the_circle():
    values = [0.1, 0.9, 0.9, 0.2, 0.5, 0.5]
    valid = [True, False, True, True, True, True]
    assert best_average(values, valid, 2) == pytest.approx(0.55)
    assert best_average(values, [False] * 6, 2) == 0.0


def test_skidpad_config_rejects_bad_radius():
    with pytest.raises(ValueError, match="radius_m"):
        SkidpadConfig(radius_m=0.0)


@pytest.mark.slow
def test_skidpad_lateral_g_follows_grip_and_never_exceeds_it():
    lat = skidpad_test(preset("sports_car"))
    order = ["dry", "wet", "snow", "ice"]
    assert [lat[s] for s in order] == sorted((lat[s] for s in order), reverse=True)
    for name in order:
        mu = SURFACES[name].d
        assert lat[name] <= 1.05 * mu, name
    for name in ("dry", "wet", "snow"):
        assert lat[name] >= 0.8 * SURFACES[name].d, name


def _bench_args(**changes) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--steps", "50", "--rounds", "1", "--cars", "1,2"])
    for k, v in changes.items():
        setattr(args, k, v)
    return args


def test_bench_reports_fleet_and_bare_rates_per_fleet_size(capsys):
    result = run_bench(_bench_args())
    rows = result["results"]
    assert [r["cars"] for r in rows] == [1, 2]
    for r in rows:
        assert r["bare_steps_per_s"] > r["fleet_steps_per_s"] > 0
        assert r["slowdown_vs_bare"] == pytest.approx(
            r["bare_steps_per_s"] / r["fleet_steps_per_s"], rel=0.01)
    assert math.isfinite(rows[1]["us_per_extra_car"])
    assert "bare/fleet" in capsys.readouterr().out


def test_bench_rejects_bad_arguments():
    with pytest.raises(ValueError, match="--steps"):
        run_bench(_bench_args(steps=0))
