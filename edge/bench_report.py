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

RATIO_KEY = re.compile(r"(^|_)(ratio|efficiency|speedup|speed_up)($|_)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drivesynth bench all", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("report/bench"), help="report folder")
    p.add_argument("--demo", type=Path, default=Path("report"),
                   help="a `make demo` report folder: its checkpoint, bundle and test shards "
                        "feed the edge benchmark (skipped when absent)")  # fmt: skip
    p.add_argument("--only", default=None, help="comma list of benchmarks to run")
    return p


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


def run_all(argv: list[str]) -> int:
    from edge.commands.bench import BENCHMARKS, _write_json, run_one

    args = _parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    results, ratios, errors = {}, {}, {}
    for name in names:
        extra: list[str] = []
        if name == "train":
            train = _split_urls(args.demo, "train")
            if train is None:
                errors[name] = f"skipped: no training shards in {args.demo}/data/train"
                print(f"[bench all] {errors[name]} (run `make demo` first)")
                continue
            extra = ["--train", train, "--steps", "20", "--workers", "0,1"]
        if name == "edge":
            edge = _edge_args(args.demo)
            if edge is None:
                errors[name] = f"skipped: no checkpoint/bundle/test shards in {args.demo}"
                print(f"[bench all] {errors[name]} (run `make demo` first)")
                continue
            extra = edge + ["--plot", str(args.out / "edge.png")]
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
    _write_json(args.out / "bench.json", {"results": results, "ratios": ratios,
                                          "errors": errors})  # fmt: skip
    flat = {f"{n}: {k}": v for n, found in ratios.items() for k, v in found.items()}
    _plot(flat, args.out / "ratios.png")
    (args.out / "BENCHMARKS.md").write_text(_markdown(results, ratios, errors))
    print(f"\n[bench all] report: {args.out}/BENCHMARKS.md, bench.json, ratios.png")
    print(json.dumps(flat, indent=1))
    failed = [n for n, e in errors.items() if not e.startswith("skipped")]
    return 1 if failed else 0
