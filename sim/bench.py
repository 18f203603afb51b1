"""Benchmark: labelled frames per second per core next to the bare PyBullet loop.

Both loops run on the same scenario, in one process (one core), in alternating rounds so
load changes on the machine hit both alike (times are CPU seconds). The *labelled* loop
is ``Scenario.run_frames``: ego and traffic control, physics between frames, TinyRenderer,
depth linearisation, segmentation decoding and label extraction. The *bare* loop is
the same number of physics steps plus one ``getCameraImage`` per camera with the same
matrices, in two forms: ``World.step`` (the same physics, i.e. PyBullet plus the vehicle
model's ray-cast suspension and tyre forces of the dynamic ego: ``ratio``, the cost of the
sensors, labels and control) and raw ``stepSimulation`` (PyBullet alone: ``ratio_raw``, which
also charges the vehicle model written in Python).
A further loop also records the 60 Hz state trace (``record_trace``), for information.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-size", type=int, default=128, help="render size (default 128)")
    parser.add_argument("--frames", type=int, default=20, help="frames per round (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="scenario seed")
    parser.add_argument("--n-npc", type=int, default=8, help="traffic cars in the scene")


def _bare_frames(sc, n: int, steps: int, same_physics: bool) -> float:
    """Seconds for ``n`` frames of plain step + render on the scenario's scene."""
    import pybullet as p

    from sim.camera import GL_FROM_CV, camera_pose, projection_matrix

    client = sc.world.client
    T_body = sc.T_world_body()
    mats = []
    for cam in sc.config.cameras:
        view = np.linalg.inv(camera_pose(cam, T_body) @ GL_FROM_CV)
        mats.append((cam, view.T.ravel().tolist(), projection_matrix(cam).T.ravel().tolist()))
    t0 = time.process_time()
    for _ in range(n):
        if same_physics:
            sc.world.step(steps)
        else:
            for _ in range(steps):
                client.stepSimulation()
        for cam, view, proj in mats:
            client.getCameraImage(
                cam.width, cam.height, view, proj, renderer=p.ER_TINY_RENDERER,
                flags=p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX,
            )  # fmt: skip
    return time.process_time() - t0


def _labelled_frames(sc, n: int) -> tuple[float, int]:
    """Seconds and object count for ``n`` frames of the full scenario loop."""
    t0 = time.process_time()
    objects = sum(len(f.objects[c.name]) for f in sc.run_frames(n) for c in sc.config.cameras)
    return time.process_time() - t0, objects


def run(args: argparse.Namespace) -> dict:
    if args.image_size < 1 or args.frames < 1 or args.rounds < 1:
        raise ValueError("--image-size, --frames and --rounds must be >= 1")
    # Checked before PyBullet is imported: it prints a banner line on stderr.
    from sim.camera import preset_camera
    from sim.scenario import Scenario, ScenarioConfig

    cam = preset_camera("front", args.image_size)
    config = ScenarioConfig(seed=args.seed, n_npc=args.n_npc, cameras=(cam,), record_trace=False)
    traced = Scenario(dataclasses.replace(config, record_trace=True))
    bare_s = raw_s = labelled_s = traced_s = 0.0
    objects = 0
    with Scenario(config) as sc, traced:
        steps = int(round(config.physics_hz / config.frame_hz))
        for _ in range(args.rounds):
            bare_s += _bare_frames(sc, args.frames, steps, same_physics=True)
            raw_s += _bare_frames(sc, args.frames, steps, same_physics=False)
            dt, n_obj = _labelled_frames(sc, args.frames)
            labelled_s += dt
            objects += n_obj
            traced_s += _labelled_frames(traced, args.frames)[0]
    total = args.frames * args.rounds
    result = {
        "image_size": args.image_size,
        "frames": total,
        "physics_steps_per_frame": steps,
        "bare_fps": total / bare_s,
        "labelled_fps": total / labelled_s,
        "ratio": bare_s / labelled_s,
        "raw_pybullet_fps": total / raw_s,
        "ratio_raw": raw_s / labelled_s,
        "with_trace_fps": total / traced_s,
        "with_trace_ratio": bare_s / traced_s,
        "objects_per_frame": objects / total,
        "target_ratio": 0.85,
    }
    _print_table(result)
    return result


def _print_table(r: dict) -> None:
    print(f"sim bench: {r['image_size']}x{r['image_size']}, {r['frames']} frames, "
          f"{r['physics_steps_per_frame']} physics steps/frame, 1 core")  # fmt: skip
    print(f"{'loop':<34}{'frames/s':>10}")
    print(f"{'raw stepSimulation + render':<34}{r['raw_pybullet_fps']:>10.1f}")
    print(f"{'same physics (World.step) + render':<34}{r['bare_fps']:>10.1f}")
    print(f"{'labelled (control+render+labels)':<34}{r['labelled_fps']:>10.1f}")
    print(f"{'labelled + 60 Hz state trace':<34}{r['with_trace_fps']:>10.1f}")
    ok = "meets" if r["ratio"] >= r["target_ratio"] else "below"
    print(f"ratio labelled/bare: {r['ratio']:.2f} ({ok} target {r['target_ratio']}); "
          f"with trace: {r['with_trace_ratio']:.2f}; vs raw PyBullet (vehicle model in "
          f"Python charged too): {r['ratio_raw']:.2f}")  # fmt: skip
    print(f"objects labelled per frame: {r['objects_per_frame']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
