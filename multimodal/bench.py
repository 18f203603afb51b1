"""Training throughput benchmark: samples/s per device and the data-loader stall fraction,
for several loader worker counts side by side in one run."""

from __future__ import annotations

import argparse
import tempfile

from sim.atomic import atomic_write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, help="shard URLs to train on")
    parser.add_argument("--model", default="tiny", choices=("tiny", "small", "base"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", default="0,2", help="comma list of loader worker counts")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--json", default=None, help="also write the result here")


def _measure(args: argparse.Namespace, workers: int) -> dict:
    from multimodal.train import TrainConfig, launch

    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            train=args.train, out=out, model=args.model, batch_size=args.batch_size,
            steps_per_epoch=args.steps, workers=workers, device=args.device,
            precision=args.precision, progress=False, warmup_steps=0,
        )  # fmt: skip
        summary = launch(cfg)
    rate = args.steps * args.batch_size / summary["seconds"]
    return {"workers": workers, "samples_per_s_per_device": rate,
            "stall_fraction": summary["stall_fraction"]}  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    if not counts or min(counts) < 0:
        raise ValueError(f"--workers must list counts >= 0, got {args.workers!r}")
    rows = [_measure(args, w) for w in counts]
    base = rows[0]["samples_per_s_per_device"]
    print(f"{'workers':>8} {'samples/s/dev':>14} {'stall':>7} {'vs first':>9}")
    for row in rows:
        row["ratio_vs_first"] = row["samples_per_s_per_device"] / base
        print(f"{row['workers']:>8} {row['samples_per_s_per_device']:>14.1f} "
              f"{row['stall_fraction']:>7.1%} {row['ratio_vs_first']:>8.2f}x")  # fmt: skip
    result = {"benchmark": "train_throughput", "model": args.model, "rows": rows}
    if args.json:
        atomic_write_json(args.json, result)
    return result
