"""``drivesynth bench NAME``: the benchmarks, each measured side by side in one run.

The registry and the runner live in :mod:`edge.bench_registry`; ``bench all`` in
:mod:`edge.bench_report`. This module only parses the command line.
"""

from __future__ import annotations

import argparse

from edge.bench_registry import BENCHMARKS, run_one


def register(sub: argparse._SubParsersAction) -> None:
    lines = "\n".join(f"  {k:<8} {v[1]}" for k, v in BENCHMARKS.items())
    p = sub.add_parser(
        "bench",
        help="run benchmarks (ratios side by side, JSON output)",
        description=__doc__,
        epilog=f"benchmarks:\n{lines}\n  all      every benchmark, one report in --out\n\n"
               "Run 'drivesynth bench NAME --help' for the options of one benchmark.",
    )  # fmt: skip
    p.add_argument("name", choices=[*BENCHMARKS, "all"], help="which benchmark")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of that benchmark")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    if args.name != "all":
        run_one(args.name, list(args.rest))
        return 0
    from edge.bench_report import run_all

    return run_all(list(args.rest))
