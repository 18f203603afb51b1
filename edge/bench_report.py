"""``drivesynth bench all``: every benchmark in one run, one report (Markdown, JSON, plot).

Each benchmark prints its own table; this module collects their JSON, pulls out every
ratio (keys naming a ratio, an efficiency or a speed-up) and writes
``OUT/bench.json``, ``OUT/BENCHMARKS.md`` and ``OUT/ratios.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import time
import traceback
from pathlib import Path

from edge.bench_registry import BENCHMARKS, run_one
from sim.arguments import CommandParser
from sim.atomic import atomic_write_bytes, atomic_write_json

RATIO_KEY = re.compile(r"(^|_)(ratio|efficiency|speedup|speed_up)($|_)")


# Small settings for `bench all --quick`: every benchmark in seconds, to check the
# pipeline (the ratios are noisy at this size; the defaults are what docs report).
QUICK_ARGS: dict[str, list[str]] = {
    "sim": ["--image-size", "48", "--frames", "4", "--rounds", "1", "--n-npc", "2"],
    "vehicle": ["--cars", "1,2", "--steps", "200", "--rounds", "1"],
    "audio": ["--duration", "2", "--repeats", "1"],
    "samples": ["--scenarios", "2", "--frames", "3", "--image-size", "32", "--workers", "1"],
    "generate": ["--scenarios", "2", "--frames", "2", "--image-size", "32",
                 "--samples-per-shard", "2"],
    "train": ["--steps", "4", "--workers", "0", "--batch-size", "8"],
    "edge": ["--samples", "8", "--threads", "1"],
}


def _parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="drivesynth bench all", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("report/bench"), help="report folder")
    p.add_argument("--demo", type=Path, default=Path("report"),
                   help="a `make demo` report folder: its checkpoint, bundle and shards "
                        "feed the train and edge benchmarks (skipped when absent)")  # fmt: skip
    p.add_argument("--only", type=_names, default=list(BENCHMARKS),
                   help=f"comma list of benchmarks to run, from {','.join(BENCHMARKS)}")
    p.add_argument("--quick", action="store_true",
                   help="small settings: checks every benchmark runs, in seconds")
    return p


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark {','.join(unknown) or repr(text)}; choose from "
            f"{','.join(BENCHMARKS)}")
    return names


def find_ratios(result: object, prefix: str = "", depth: int = 0) -> dict[str, float]:
    """Every numeric value whose key names a ratio, flattened with dotted paths."""
    found: dict[str, float] = {}
    if depth > 4:
        return found
    if isinstance(result, dict):
        for key, value in result.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if RATIO_KEY.search(str(key).lower()) and math.isfinite(value):
                    found[path] = float(value)
            else:
                found.update(find_ratios(value, path, depth + 1))
    elif isinstance(result, list):
        for i, value in enumerate(result[:16]):
            found.update(find_ratios(value, f"{prefix}[{i}]", depth + 1))
    return found


def _split_urls(demo: Path, split: str) -> str | None:
    shards = sorted((demo / "data" / split).glob(f"{split}-*.tar"))
    if not shards:
        return None
    return str(demo / "data" / split / f"{split}-{{000000..{len(shards) - 1:06d}}}.tar")


def _edge_args(demo: Path) -> list[str] | None:
    ckpt, bundle, urls = demo / "run" / "checkpoint.pt", demo / "bundle", _split_urls(demo, "test")
    if not (ckpt.exists() and bundle.exists() and urls):
        return None
    return ["--bundle", str(bundle), "--checkpoint", str(ckpt), "--data", urls]


def _plot(ratios: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not ratios:
        return
    names = list(ratios)[:40]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(names) + 1.2))
    ax.barh(range(len(names)), [ratios[n] for n in names], color="#4c72b0")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("ratio (measured side by side in one run)")
    ax.set_title("drivesynth benchmarks")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _markdown(results: dict, ratios: dict[str, dict[str, float]], errors: dict) -> str:
    lines = ["# drivesynth benchmark report", "",
             f"Machine: {platform.machine()} {platform.processor() or ''}, "
             f"Python {platform.python_version()}.", "",
             "| benchmark | measure | value |", "|---|---|---|"]  # fmt: skip
    for name, found in ratios.items():
        for key, value in found.items():
            lines.append(f"| {name} | {key} | {value:.3f} |")
    for name, err in errors.items():
        lines.append(f"| {name} | FAILED | {err} |")
    lines += ["", "Full results: `bench.json`. Plot: `ratios.png`.", ""]
    return "\n".join(lines)


def _inputs_of(name: str, args: argparse.Namespace) -> tuple[list[str], str]:
    """The data a benchmark needs from the demo report, or why it is skipped."""
    if name == "train":
        train = _split_urls(args.demo, "train")
        if train is None:
            return [], f"no training shards in {args.demo}/data/train"
        return ["--train", train, "--steps", "20", "--workers", "0,1"], ""
    if name == "edge":
        edge = _edge_args(args.demo)
        if edge is None:
            return [], f"no checkpoint/bundle/test shards in {args.demo}"
        return edge + ["--plot", str(args.out / "edge.png")], ""
    return [], ""


def run_all(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.demo.exists() and not args.demo.is_dir():
        raise ValueError(f"--demo must be a `make demo` report folder, got a file: {args.demo}")
    args.out.mkdir(parents=True, exist_ok=True)
    results, ratios, errors = {}, {}, {}
    for name in args.only:
        extra, skipped = _inputs_of(name, args)
        if skipped:
            errors[name] = f"skipped: {skipped}"
            print(f"[bench all] {errors[name]} (run `make demo` first)")
            continue
        extra += QUICK_ARGS[name] if args.quick else []
        print(f"\n[bench all] === {name}: {BENCHMARKS[name][1]}", flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = run_one(name, extra)
        except Exception as exc:  # record and go on: one broken benchmark keeps the rest
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        results[name]["wall_s"] = time.perf_counter() - t0
        ratios[name] = find_ratios(results[name])
    atomic_write_json(args.out / "bench.json",
                      {"results": results, "ratios": ratios, "errors": errors})
    flat = {f"{n}: {k}": v for n, found in ratios.items() for k, v in found.items()}
    _plot(flat, args.out / "ratios.png")
    atomic_write_bytes(args.out / "BENCHMARKS.md", _markdown(results, ratios, errors).encode())
    print(f"\n[bench all] report: {args.out}/BENCHMARKS.md, bench.json, ratios.png")
    print(json.dumps(flat, indent=1))
    failed = [n for n, e in errors.items() if not e.startswith("skipped")]
    return 1 if failed else 0
