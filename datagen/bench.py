"""``drivesynth bench datagen``: batch generation on Dask next to the bare simulation loop.

All loops build the same planned scenarios, in one run:

* **bare**: ``Scenario.run_frames`` only (physics, control, TinyRenderer, labels) in this
  process, CPU seconds: the simulation + render floor.
* **complete**: :func:`datagen.generate.build_shard` in this process (weather effects, audio
  synthesis, captions, validation, PNG/FLAC encoding, tar and sidecar), CPU seconds. Its
  ratio to *bare* is what everything on top of simulation+render costs.
* **dask W**: the same shards on a LocalCluster of W worker processes (warmed up first:
  imports happen once per worker), wall seconds. Scaling efficiency is
  ``rate(2) / (2 * rate(1))``; per-task overhead is a task's wall time on Dask (submit to
  result) minus its wall time inside the worker.

A profiled pass attributes the complete loop's time to its stages, and the shards give the
bytes per sample, per file.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from datagen.generate import RunOptions, build_shard, dask_client
from datagen.plan import GenerateConfig, ScenarioItem, ShardPlan, make_plan
from sim.arguments import comma_list

# stage -> (file suffix, function name) whose cumulative profile time is the stage's time
STAGES: dict[str, tuple[str, str]] = {
    "scenario set-up": ("sim/scenario.py", "__init__"),
    "simulate + render + labels": ("sim/scenario.py", "run_frames"),
    "weather effects": ("sim/weather/effects.py", "apply_weather"),
    "audio synthesis": ("datagen/audio/synth.py", "synthesize"),
    "captions": ("datagen/captions/generate.py", "generate_captions"),
    "validation": ("datagen/schema.py", "validate_sample"),
    "PNG/FLAC/JSON encoding": ("datagen/sample.py", "encode_sample"),
    "tar + sha256 + sidecar": ("datagen/shards.py", "close"),
}
SCALING_TARGET = 0.9


MAX_SCENARIOS, MAX_FRAMES = 1024, 256  # a benchmark that would run for hours is refused


@dataclass(frozen=True)
class DatagenBenchConfig:
    """The data the benchmark builds and how many Dask workers it compares."""

    scenarios: int = 8
    frames: int = 6
    image_size: int = 64
    seed: int = 0
    workers: tuple[int, ...] = (1, 2)

    def __post_init__(self) -> None:
        if not 2 <= self.scenarios <= MAX_SCENARIOS:
            raise ValueError(f"DatagenBenchConfig.scenarios must be in [2, {MAX_SCENARIOS}] "
                             f"(a benchmark, not a data set), got {self.scenarios}")  # fmt: skip
        if not 3 <= self.frames <= MAX_FRAMES:
            raise ValueError(f"DatagenBenchConfig.frames must be in [3, {MAX_FRAMES}], "
                             f"got {self.frames}")  # fmt: skip
        if not 16 <= self.image_size <= 1024:
            raise ValueError(f"DatagenBenchConfig.image_size must be in [16, 1024], "
                             f"got {self.image_size}")  # fmt: skip
        if not self.workers or min(self.workers) < 1:
            raise ValueError(f"DatagenBenchConfig.workers must be >= 1 each, got {self.workers}")

    def plan(self) -> list[ShardPlan]:
        """One scenario per shard, so each Dask task is one scenario."""
        from datagen.builder import weather_presets

        return make_plan(GenerateConfig(
            scenarios=self.scenarios, frames=self.frames, seed=self.seed, split="bench",
            image_size=self.image_size, weather_presets=weather_presets(),
            samples_per_shard=self.frames,
        ))  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenarios", type=int, default=8, help="scenarios (default 8)")
    parser.add_argument("--frames", type=int, default=6, help="frames per scenario (default 6)")
    parser.add_argument("--image-size", type=int, default=64, help="image size px (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--workers", type=comma_list(int, "worker count"), default=[1, 2],
                        help="comma list of Dask worker counts to compare (default 1,2)")


def bare_item(item: ScenarioItem) -> int:
    """Simulate and render ``item`` with the builder's scenario config, nothing else;
    the number of camera frames rendered."""
    from datagen.builder import scenario_config
    from sim.scenario import Scenario

    with Scenario(scenario_config(item)) as scenario:
        return sum(len(f.renders) for f in scenario.run_frames(item.frames))


def bare_loop(plan: list[ShardPlan]) -> dict[str, float]:
    items = [item for shard in plan for item in shard.scenarios]
    t0 = time.process_time()
    samples = sum(bare_item(item) for item in items)
    cpu = time.process_time() - t0
    return {"samples": samples, "cpu_s": cpu, "samples_per_core_s": samples / cpu}


def complete_loop(plan: list[ShardPlan], out: Path) -> dict[str, float]:
    t0 = time.process_time()
    records = [build_shard(shard, str(out)) for shard in plan]
    cpu = time.process_time() - t0
    samples = sum(r["samples"] for r in records)
    return {"samples": samples, "cpu_s": cpu, "samples_per_core_s": samples / cpu,
            "cpu_s_per_task": cpu / len(plan)}


def timed_build_shard(shard: ShardPlan, out_dir: str) -> dict:
    """:func:`build_shard` plus its wall and CPU seconds inside the worker."""
    w0, c0 = time.perf_counter(), time.process_time()
    record = build_shard(shard, out_dir)
    return {"samples": record["samples"], "task_wall_s": time.perf_counter() - w0,
            "task_cpu_s": time.process_time() - c0}


def warm_worker() -> None:
    """Import everything a task needs, so the timed tasks measure steady state."""
    import datagen.audio  # noqa: F401
    import datagen.builder  # noqa: F401
    import datagen.captions  # noqa: F401
    import sim.scenario  # noqa: F401
    import sim.weather.effects  # noqa: F401


def dask_loop(plan: list[ShardPlan], workers: int, out: Path) -> dict[str, float]:
    """Steady-state throughput on a warmed LocalCluster; per-task overhead is worker time
    not spent inside tasks (scheduling, transfers, end-of-run imbalance) per task."""
    t0 = time.perf_counter()
    with dask_client(RunOptions(workers=workers, progress=False)) as client:
        client.run(warm_worker)  # type: ignore[attr-defined]
        start_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        futures = [client.submit(timed_build_shard, s, str(out), pure=False)  # type: ignore
                   for s in plan]
        rows = client.gather(futures)  # type: ignore[attr-defined]
        wall = time.perf_counter() - t1
    samples = sum(r["samples"] for r in rows)
    busy = sum(r["task_wall_s"] for r in rows)
    return {"workers": workers, "samples": samples, "wall_s": wall, "cluster_start_s": start_s,
            "samples_per_s": samples / wall,
            "task_overhead_s": max(0.0, workers * wall - busy) / len(rows),
            "task_cpu_s": sum(r["task_cpu_s"] for r in rows) / len(rows)}


def stage_profile(plan: list[ShardPlan], out: Path) -> dict[str, float]:
    """Share of the complete loop's profiled time spent in each stage of :data:`STAGES`."""
    profiler = cProfile.Profile()
    profiler.enable()
    for shard in plan:
        build_shard(shard, str(out))
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _, ct, _) in stats.values())
    shares = {}
    for stage, (suffix, name) in STAGES.items():
        ct = sum(v[3] for (path, _, fn), v in stats.items()
                 if fn == name and path.replace("\\", "/").endswith(suffix))
        shares[stage] = ct / total
    return shares


def bytes_per_file(out: Path) -> dict[str, float]:
    """Mean stored bytes per sample of each file kind, and in all (tar headers included)."""
    import tarfile

    sums: dict[str, int] = {}
    samples = set()
    shards = sorted(out.glob("*.tar"))
    for path in shards:
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                key, _, ext = m.name.partition(".")
                samples.add(key)
                sums[ext] = sums.get(ext, 0) + m.size
    n = max(1, len(samples))
    result = {ext: total / n for ext, total in sorted(sums.items())}
    result["total (tar)"] = sum(p.stat().st_size for p in shards) / n
    return result


def run(args: argparse.Namespace) -> dict:
    cfg = DatagenBenchConfig(scenarios=args.scenarios, frames=args.frames,
                             image_size=args.image_size, seed=args.seed,
                             workers=tuple(args.workers))
    plan = cfg.plan()
    with tempfile.TemporaryDirectory(prefix="drivesynth-bench-datagen-") as tmp:
        root = Path(tmp)
        build_shard(plan[0], str(_fresh(root, "warm")))  # imports and first-call costs, untimed
        bare = bare_loop(plan)
        complete = complete_loop(plan, _fresh(root, "complete"))
        sizes = bytes_per_file(root / "complete")
        dask = {str(w): dask_loop(plan, w, _fresh(root, f"dask{w}")) for w in cfg.workers}
        stages = stage_profile(plan[: max(2, len(plan) // 2)], _fresh(root, "profile"))
    for d in dask.values():  # 1.0: a task costs the same CPU on a worker as in-process
        d["worker_cpu_ratio"] = complete["cpu_s_per_task"] / d["task_cpu_s"]
    result = {"config": asdict(cfg), "load_average": os.getloadavg()[0], "bare": bare,
              "complete": complete, "dask": dask, "stages": stages, "bytes_per_sample": sizes,
              "complete_vs_bare_ratio": complete["samples_per_core_s"] / bare["samples_per_core_s"],
              "scaling_target": SCALING_TARGET}
    if "1" in dask and "2" in dask:
        result["scaling_efficiency"] = (dask["2"]["samples_per_s"]
                                        / (2 * dask["1"]["samples_per_s"]))
    print_table(result)
    return result


def _fresh(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir()
    return path


def print_table(r: dict) -> None:
    c = r["config"]
    print(f"datagen bench: {c['scenarios']} scenarios x {c['frames']} frames, "
          f"{c['image_size']}x{c['image_size']} px, one scenario per task, "
          f"{os.cpu_count()} cores, load average {r['load_average']:.1f}")
    print(f"{'loop':<36}{'samples/s':>10}{'ratio':>8}")
    base = r["bare"]["samples_per_core_s"]
    print(f"{'bare sim+render (per core, CPU s)':<36}{base:>10.2f}{1.0:>8.2f}")
    rate = r["complete"]["samples_per_core_s"]
    print(f"{'complete sample (per core, CPU s)':<36}{rate:>10.2f}{rate / base:>8.2f}")
    for w, d in r["dask"].items():
        label = f"dask {w} worker(s) (wall)"
        print(f"{label:<36}{d['samples_per_s']:>10.2f}{d['samples_per_s'] / base:>8.2f}")
    if "scaling_efficiency" in r:
        eff = r["scaling_efficiency"]
        ok = "meets" if eff >= r["scaling_target"] else "below"
        print(f"scaling efficiency 1 -> 2 workers: {eff:.2f} ({ok} target {r['scaling_target']})")
    for w, d in r["dask"].items():
        print(f"dask {w}: per-task overhead {d['task_overhead_s'] * 1000:.0f} ms, "
              f"task {r['complete']['cpu_s_per_task']:.2f} CPU s in-process vs "
              f"{d['task_cpu_s']:.2f} on a worker; cluster start {d['cluster_start_s']:.1f} s")
    print("where a complete sample's time goes (profiled):")
    for stage, share in sorted(r["stages"].items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<32}{share:>7.1%}")
    print("bytes per sample: " + ", ".join(
        f"{k} {v / 1024:.1f} KiB" for k, v in r["bytes_per_sample"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
