"""Benchmark: physics steps per second of the vehicle fleet next to the bare PyBullet step.

For each fleet size (default 1 and 6 cars) one world holds a ground plane and the cars,
driving with throttle and steer. The *fleet* loop is ``World.step`` with the
:class:`~sim.vehicle.fleet.VehicleFleet` hook (ray-cast suspension, tires, powertrain,
aero, damage); the *bare* loop is ``stepSimulation`` of the same scene without the hook.
The two run in alternating rounds in one process so load changes on the machine hit both
alike; times are CPU seconds of this process (``time.process_time``).
"""

from __future__ import annotations

import argparse
import time

from sim.arguments import comma_list


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cars", type=comma_list(int, "fleet size"), default=[1, 6],
                        help="comma list of fleet sizes to measure (default 1,6)")
    parser.add_argument("--steps", type=int, default=2000,
                        help="physics steps per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds; the best round counts (default 3)")
    parser.add_argument("--substeps", type=int, default=2,
                        help="tire/wheel sub-steps per physics step below 5 m/s (default 2, "
                             "the fleet's default)")
    parser.add_argument("--preset", default="sedan", help="vehicle preset (default sedan)")


def _check(args: argparse.Namespace) -> None:
    if not args.cars or min(args.cars) < 1:
        raise ValueError(f"--cars must be >= 1, got {args.cars}")
    for name in ("steps", "rounds", "substeps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
    from sim.vehicle.config import preset

    preset(args.preset)  # an unknown name: one line, before PyBullet prints its banner


def _scene(n_cars: int, preset_name: str, substeps: int):
    from sim.vehicle import VehicleFleet, preset
    from sim.vehicle.report import flat_world

    world = flat_world()
    fleet = VehicleFleet(world, substeps=substeps)
    cfg = preset(preset_name)
    for i in range(n_cars):
        car = fleet.add(cfg, (0.0, 8.0 * i, 0.0), 0.0, 15.0)
        car.set_controls(0.1 * (-1) ** i, 0.5, 0.0)
    world.step(24)  # settle the suspension
    return world, fleet


def _steps_per_s(step, n: int) -> float:
    t0 = time.process_time()
    step(n)
    return n / max(time.process_time() - t0, 1e-9)


def measure(n_cars: int, args: argparse.Namespace) -> dict:
    """Best-round steps/s of the fleet loop and of the bare loop for ``n_cars``."""
    world, fleet = _scene(n_cars, args.preset, args.substeps)
    client = world.client

    def bare(n: int) -> None:
        for _ in range(n):
            client.stepSimulation()

    fleet_rates, bare_rates = [], []
    with world:
        for _ in range(args.rounds):
            fleet_rates.append(_steps_per_s(world.step, args.steps))
            world.remove_hook(fleet)
            bare_rates.append(_steps_per_s(bare, args.steps))
            world.add_hook(fleet)
    best, bare_best = max(fleet_rates), max(bare_rates)
    return {"cars": n_cars, "fleet_steps_per_s": round(best, 1),
            "bare_steps_per_s": round(bare_best, 1),
            "fleet_us_per_step": round(1e6 / best, 1),
            "bare_us_per_step": round(1e6 / bare_best, 1),
            "slowdown_vs_bare": round(bare_best / best, 2)}


def run(args: argparse.Namespace) -> dict:
    _check(args)
    rows = [measure(n, args) for n in sorted(set(args.cars))]
    base = rows[0]
    for row in rows:
        extra = row["cars"] - base["cars"]
        cost = row["fleet_us_per_step"] - base["fleet_us_per_step"]
        row["us_per_extra_car"] = round(cost / extra, 1) if extra else None
        row["cost_ratio_vs_first"] = round(row["fleet_us_per_step"]
                                           / base["fleet_us_per_step"], 2)
    print(f"vehicle physics, preset {args.preset}, substeps {args.substeps}, "
          f"{args.steps} steps x {args.rounds} rounds (CPU time)")
    print(f"{'cars':>4} {'fleet steps/s':>14} {'bare steps/s':>13} {'us/step':>8} "
          f"{'bare/fleet':>10} {'cost vs 1st':>11} {'us/extra car':>12}")
    for r in rows:
        extra = "-" if r["us_per_extra_car"] is None else f"{r['us_per_extra_car']:.1f}"
        print(f"{r['cars']:>4} {r['fleet_steps_per_s']:>14.0f} {r['bare_steps_per_s']:>13.0f} "
              f"{r['fleet_us_per_step']:>8.1f} {r['slowdown_vs_bare']:>9.1f}x "
              f"{r['cost_ratio_vs_first']:>10.2f}x {extra:>12}")
    return {"benchmark": "vehicle", "preset": args.preset, "substeps": args.substeps,
            "steps": args.steps, "rounds": args.rounds, "results": rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
