"""``drivesynth bench generate``: end-to-end generation next to the raw PyBullet loop.

Both loops run in this process (one core, CPU seconds), on the same planned scenarios, shard
by shard in alternating order, so load from other jobs hits both alike:

* **end to end**: :func:`datagen.generate.build_shard`, the function ``drivesynth generate``
  runs for every shard (plan item -> scenario set-up, control, physics with the vehicle
  model, render, labels, state trace, weather effects, audio, captions, validation,
  encoding, tar, sidecar), with ``generate``'s own defaults (random weather, driver,
  road and vehicle per scenario, 64 samples per shard).
* **raw PyBullet**: the same scenario's scene (every body it has at the end of its run:
  road, scenery, traffic, ego), then per captured frame the same number of
  ``stepSimulation`` calls (``physics_hz / frame_hz``) and one ``getCameraImage`` per camera
  with TinyRenderer, the same image size, segmentation flags, light settings and the
  viewpoints of the frames the scenario captured. Nothing else: no vehicle model, no
  control, no labels, no conversion of the buffers. Building the scene is not timed.

The headline is ``end-to-end samples/s per core / raw samples/s per core`` (one camera).
With ``--camera-counts 1,6`` each count k runs the first k cameras of the surround rig
(:data:`sim.camera.SURROUND_RIG`); a sample is one camera frame in both loops.

Where the time goes comes from :mod:`sim.timing` stages recorded during the end-to-end
pass (wall-clock shares, scaled to the pass's CPU seconds per sample).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sim.arguments import comma_list
from sim.camera import SURROUND_RIG

STAGES = ("set-up", "control", "physics", "vehicle model", "trace", "render", "labels",
          "weather", "audio", "captions", "validation", "encoding", "writing", "other")  # fmt: skip
TARGET_RATIO = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenarios", type=int, default=16, help="scenarios per camera count")
    parser.add_argument("--frames", type=int, default=8,
                        help="frames per scenario (the README's generate commands use 8)")
    parser.add_argument("--image-size", type=int, default=128, help="image size in px")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--samples-per-shard", type=int, default=64,
                        help="as generate's option (shards hold whole scenarios)")
    parser.add_argument("--camera-counts", type=comma_list(int, "camera count"), default=[1],
                        help="comma list: k runs the first k cameras of "
                             "front,front_left,front_right,rear_left,rear_right,rear")


def rig(count: int) -> tuple[str, ...]:
    if not 1 <= count <= len(SURROUND_RIG):
        raise ValueError(f"--camera-counts must be in [1, {len(SURROUND_RIG)}], got {count}")
    return SURROUND_RIG[:count]


def make_bench_plan(args: argparse.Namespace, cameras: tuple[str, ...], seed: int) -> list:
    """The plan ``drivesynth generate`` makes for these options (other options default)."""
    from datagen.builder import weather_presets
    from datagen.plan import GenerateConfig, make_plan

    extra = {"cameras": cameras} if cameras != ("front",) else {}
    return make_plan(GenerateConfig(
        scenarios=args.scenarios, frames=args.frames, split="bench", seed=seed,
        image_size=args.image_size, weather_presets=weather_presets(),
        samples_per_shard=args.samples_per_shard, **extra,
    ))  # fmt: skip


def end_to_end(shard, out: Path, recorder) -> tuple[int, float]:
    """Samples and CPU seconds of ``build_shard`` on ``shard``, stages into ``recorder``."""
    from datagen.generate import build_shard
    from sim.timing import recording, stage

    t0 = time.process_time()
    with recording(recorder), stage("other"):
        record = build_shard(shard, str(out))
    return int(record["samples"]), time.process_time() - t0


def raw_pybullet(shard) -> tuple[int, float]:
    """Samples and CPU seconds of the raw step + render loop on ``shard``'s scenes."""
    from datagen.builder import scenario_config
    from sim.scenario import Scenario

    samples, cpu = 0, 0.0
    for item in shard.scenarios:
        config = scenario_config(item)
        with Scenario(replace(config, record_trace=False)) as sc:
            views = [[r.T_world_cam for r in f.renders.values()]
                     for f in sc.run_frames(item.frames)]  # fmt: skip
            steps = int(round(config.physics_hz / config.frame_hz))
            cpu += raw_frames(sc.world.client, config.cameras, views, steps,
                              sc.lighting.camera_kwargs())  # fmt: skip
            samples += sum(len(v) for v in views)
    return samples, cpu


def raw_frames(client, cameras, views: list, steps: int, light: dict) -> float:
    """CPU seconds of ``steps`` x ``stepSimulation`` + one TinyRenderer image per camera,
    for each frame's camera poses in ``views``."""
    import numpy as np
    import pybullet as p

    from sim.camera import GL_FROM_CV, projection_matrix

    mats = [[(cam, np.linalg.inv(T @ GL_FROM_CV).T.ravel().tolist(),
              projection_matrix(cam).T.ravel().tolist()) for cam, T in zip(cameras, poses)]
            for poses in views]  # fmt: skip
    flags = p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX
    t0 = time.process_time()
    for frame in mats:
        for _ in range(steps):
            client.stepSimulation()
        for cam, view, proj in frame:
            client.getCameraImage(cam.width, cam.height, view, proj,
                                  renderer=p.ER_TINY_RENDERER, flags=flags, **light)
    return time.process_time() - t0


def measure(args: argparse.Namespace, count: int, root: Path) -> dict:
    """Both loops for the first ``count`` cameras of the rig, alternating per shard."""
    from sim.timing import StageRecorder

    cameras = rig(count)
    plan = make_bench_plan(args, cameras, args.seed)
    warm = make_bench_plan(args, cameras, args.seed + 1)[0]
    end_to_end(warm, _fresh(root, f"warm{count}"), StageRecorder())  # imports, caches
    out = _fresh(root, f"e2e{count}")
    rec = StageRecorder()
    e2e = {"samples": 0, "cpu_s": 0.0}
    raw = {"samples": 0, "cpu_s": 0.0}
    for k, shard in enumerate(plan):
        order = ("e2e", "raw") if k % 2 == 0 else ("raw", "e2e")
        for loop in order:
            n, cpu = end_to_end(shard, out, rec) if loop == "e2e" else raw_pybullet(shard)
            target = e2e if loop == "e2e" else raw
            target["samples"] += n
            target["cpu_s"] += cpu
    for d in (e2e, raw):
        d["samples_per_core_s"] = d["samples"] / d["cpu_s"]
    per_sample_ms = 1000.0 * e2e["cpu_s"] / e2e["samples"]
    shares = rec.shares()
    stages = {name: {"share": shares[name], "ms_per_sample": shares[name] * per_sample_ms}
              for name in (*STAGES, *sorted(set(shares) - set(STAGES))) if name in shares}
    return {"cameras": list(cameras), "end_to_end": e2e, "raw_pybullet": raw,
            "ratio": e2e["samples_per_core_s"] / raw["samples_per_core_s"],
            "stages": stages}  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    if not (2 <= args.scenarios <= 1024 and 1 <= args.frames <= 256
            and 16 <= args.image_size <= 1024):
        raise ValueError("--scenarios must be in [2, 1024], --frames in [1, 256], "
                         "--image-size in [16, 1024] (a benchmark, not a data set)")
    counts = [int(c) for c in args.camera_counts]
    for c in counts:
        rig(c)
    with tempfile.TemporaryDirectory(prefix="drivesynth-bench-generate-") as tmp:
        rows = {str(c): measure(args, c, Path(tmp)) for c in counts}
    head = rows[str(counts[0])]
    result = {
        "config": {"scenarios": args.scenarios, "frames": args.frames,
                   "image_size": args.image_size, "seed": args.seed,
                   "samples_per_shard": args.samples_per_shard, "renderer": "tiny"},
        "load_average": os.getloadavg()[0],
        "by_camera_count": rows,
        "ratio": head["ratio"],
        "target_ratio": TARGET_RATIO,
    }  # fmt: skip
    print_table(result)
    return result


def _fresh(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir()
    return path


def print_table(r: dict) -> None:
    c = r["config"]
    print(f"generate bench: {c['scenarios']} scenarios x {c['frames']} frames, "
          f"{c['image_size']}x{c['image_size']} px, TinyRenderer, one process (CPU seconds), "
          f"{os.cpu_count()} cores, load average {r['load_average']:.1f}")
    print(f"{'cameras':<9}{'end-to-end':>12}{'raw PyBullet':>14}{'ratio':>8}   samples/s per core")
    for k, row in r["by_camera_count"].items():
        e, w = row["end_to_end"]["samples_per_core_s"], row["raw_pybullet"]["samples_per_core_s"]
        print(f"{k:<9}{e:>12.2f}{w:>14.2f}{row['ratio']:>8.3f}")
    first = next(iter(r["by_camera_count"]))
    ok = "meets" if r["ratio"] >= r["target_ratio"] else "below"
    print(f"headline ({first} camera(s)): end to end {r['ratio']:.3f}x raw PyBullet "
          f"({ok} target {r['target_ratio']})")
    for k, row in r["by_camera_count"].items():
        stages = row["stages"]
        if not stages:
            continue
        print(f"where the end-to-end time goes, {k} camera(s), ms CPU per sample:")
        for name, s in stages.items():
            print(f"  {name:<16}{s['ms_per_sample']:>8.2f}{s['share']:>8.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
