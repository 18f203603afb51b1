"""``drivesynth bench NAME``: the benchmarks, each measured side by side in one run.

Every benchmark module exposes ``add_arguments(parser)`` and ``run(args) -> dict``; it
prints a table with ratios and returns JSON-serialisable results, written to ``--json``.
``bench all`` runs each in turn and writes one report (Markdown + JSON + plots).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from sim.atomic import atomic_write_json

BENCHMARKS: dict[str, tuple[str, str]] = {
    "sim": ("sim.bench", "labelled frames/s per core vs the bare PyBullet step+render loop"),
    "vehicle": ("sim.vehicle.bench", "vehicle physics steps/s for 1 and 6 cars vs bare PyBullet"),
    "audio": ("datagen.audio_bench", "audio synthesis speed, seconds of audio per second"),
    "samples": ("datagen.bench", "complete samples/s vs bare simulation; Dask 1 vs 2 workers"),
    "train": ("multimodal.bench", "training samples/s per device and loader stall fraction"),
    "edge": ("edge.bench", "edge variants: size, latency at 1/2/4 threads, accuracy"),
}


def register(sub: argparse._SubParsersAction) -> None:
    lines = "\n".join(f"  {k:<8} {v[1]}" for k, v in BENCHMARKS.items())
    p = sub.add_parser(
        "bench",
        help="run benchmarks (ratios side by side, JSON output)",
        description=__doc__,
        epilog=f"benchmarks:\n{lines}\n  all      every benchmark, one report in --out",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=[*BENCHMARKS, "all"], help="which benchmark")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of that benchmark")
    p.set_defaults(func=_handle)


def run_one(name: str, argv: list[str]) -> dict:
    module_name, desc = BENCHMARKS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"drivesynth bench {name}", description=desc)
    module.add_arguments(parser)
    if not any(a.dest == "json" for a in parser._actions):
        parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)
    result = module.run(args)
    if getattr(args, "json", None):
        atomic_write_json(Path(args.json), result)
    return result


def _handle(args: argparse.Namespace) -> int:
    if args.name != "all":
        run_one(args.name, list(args.rest))
        return 0
    from edge.report import run_all

    return run_all(list(args.rest))


if __name__ == "__main__":
    sys.exit(_handle(argparse.Namespace(name=sys.argv[1], rest=sys.argv[2:])))
