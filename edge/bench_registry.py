"""The benchmarks' one registry: name -> (module, what it measures), and how one runs.

Every benchmark module exposes ``add_arguments(parser)`` and ``run(args) -> dict``; it
prints a table with ratios measured side by side in one run and returns JSON-serialisable
results (written to ``--json`` when given). ``bench all`` (:mod:`edge.bench_report`) runs
each in turn and writes one report.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from sim.arguments import CommandParser
from sim.atomic import atomic_write_json

BENCHMARKS: dict[str, tuple[str, str]] = {
    "sim": ("sim.bench", "labelled frames/s per core vs the bare PyBullet step+render loop"),
    "vehicle": ("sim.vehicle.bench", "vehicle physics steps/s for 1 and 6 cars vs bare PyBullet"),
    "audio": ("datagen.audio_bench", "audio synthesis speed, seconds of audio per second"),
    "samples": ("datagen.bench", "complete samples/s vs bare simulation; Dask 1 vs 2 workers"),
    "generate": ("datagen.generate_bench",
                 "end-to-end generate samples/s per core vs raw PyBullet step+render, "
                 "per camera count, and where the time goes"),
    "train": ("multimodal.bench", "training samples/s per device and loader stall fraction"),
    "edge": ("edge.bench", "edge variants: size, latency at 1/2/4 threads, accuracy"),
}


def benchmark_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    """The argument parser of benchmark ``name`` and its module."""
    module_name, desc = BENCHMARKS[name]
    module = importlib.import_module(module_name)
    parser = CommandParser(prog=f"drivesynth bench {name}", description=desc)
    module.add_arguments(parser)
    if not any(a.dest == "json" for a in parser._actions):
        parser.add_argument("--json", type=Path, default=None, help="write results here")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --json (and --plot) file")
    return parser, module


def run_one(name: str, argv: list[str]) -> dict:
    """Parse ``argv`` with benchmark ``name``'s options, run it, write ``--json`` if asked."""
    parser, module = benchmark_parser(name)
    args = parser.parse_args(argv)
    out = getattr(args, "json", None)
    if out and Path(out).is_dir():  # refused before the run
        raise ValueError(f"--json {out} is a folder; give a file name")
    if out and Path(out).exists() and not args.force:
        raise FileExistsError(f"--json {out} exists (use --force to replace it)")
    result = module.run(args)
    if getattr(args, "json", None):
        atomic_write_json(Path(args.json), result)
    return result
