"""Training throughput benchmark: samples/s per device and the data-loader stall fraction,
for several loader worker counts and step modes (eager, captured as a CUDA graph) side by
side in one run."""

from __future__ import annotations

import argparse
import tempfile

from sim.atomic import atomic_write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, help="shard URLs to train on")
    parser.add_argument("--model", default="tiny", choices=("tiny", "small", "base"),
                        help="model size preset")
    parser.add_argument("--batch-size", type=int, default=32, help="per-step batch size")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    parser.add_argument("--workers", default="0,2", help="comma list of loader worker counts")
    parser.add_argument("--step-modes", default="eager",
                        help="comma list of eager, graph (--cuda-graph, GPU only): e.g. "
                             "eager,graph shows what capturing the step gains")  # fmt: skip
    parser.add_argument("--device", default="auto",
                        help="auto (cuda if available, else cpu), cpu, cuda, cuda:N")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                        help="bf16 = autocast")
    parser.add_argument("--json", default=None, help="also write the result here")


def _measure(args: argparse.Namespace, workers: int, mode: str) -> dict:
    from multimodal.train import launch
    from multimodal.train_config import TrainConfig

    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            train=args.train, out=out, model=args.model, batch_size=args.batch_size,
            steps_per_epoch=args.steps, workers=workers, device=args.device,
            precision=args.precision, progress=False, warmup_steps=0,
            cuda_graph=mode == "graph",
        )  # fmt: skip
        summary = launch(cfg)
    # the steady steps (start-up, warm-up and capture excluded), as training reports them
    rate = summary["samples_per_s"] or args.steps * args.batch_size / summary["seconds"]
    return {"workers": workers, "mode": mode, "samples_per_s_per_device": rate,
            "stall_fraction": summary["stall_fraction"],
            "steady_stall_fraction": summary["steady_stall_fraction"]}  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    if not counts or min(counts) < 0:
        raise ValueError(f"--workers must list counts >= 0, got {args.workers!r}")
    modes = [m.strip() for m in str(args.step_modes).split(",") if m.strip()]
    if not modes or set(modes) - {"eager", "graph"}:
        raise ValueError(f"--step-modes must list eager and/or graph, got {args.step_modes!r}")
    rows = [_measure(args, w, m) for m in modes for w in counts]
    base = rows[0]["samples_per_s_per_device"]
    print(f"{'mode':>6} {'workers':>8} {'samples/s/dev':>14} {'stall':>7} {'steady':>7} "
          f"{'vs first':>9}")  # fmt: skip
    for row in rows:
        row["ratio_vs_first"] = row["samples_per_s_per_device"] / base
        print(f"{row['mode']:>6} {row['workers']:>8} {row['samples_per_s_per_device']:>14.1f} "
              f"{row['stall_fraction']:>7.1%} {row['steady_stall_fraction'] or 0:>7.1%} "
              f"{row['ratio_vs_first']:>8.2f}x")  # fmt: skip
    result = {"benchmark": "train_throughput", "model": args.model, "rows": rows}
    if args.json:
        atomic_write_json(args.json, result)
    return result
