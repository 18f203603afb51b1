"""Where a training step's time goes, on every rank: the trainer's own step, fed by its
real loader and then by one fixed batch (the loader taken out), side by side in one run,
with the accelerator's busy time per step from torch.profiler.

    python scripts/step_probe.py --train 'data/train/train-{000000..000005}.tar' --model small
    torchrun --standalone --nproc-per-node 2 scripts/step_probe.py --train ... --model small

Per rank and feed it prints samples/s, wall ms per step, host ms per step spent in
``train_step`` (dispatch) and waiting for the loader, and, over ``--profile-steps`` steps,
the GPU's busy ms per step (union of kernel intervals) split into compute and NCCL
kernels. Wall >> GPU busy means the host sets the pace; NCCL time that grows with the
world size is ranks waiting for each other. ``--json`` writes the rows (rank 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def kernel_times(trace_path: Path, steps: int) -> dict:
    """GPU busy ms per step from a chrome trace: union of all kernel intervals, the sum of
    NCCL kernels and the union of the others (compute)."""
    events = json.loads(trace_path.read_text())["traceEvents"]
    kernels = [(e["ts"], e["ts"] + e["dur"], "nccl" in e["name"].lower())
               for e in events if e.get("cat") == "kernel" and "dur" in e]  # fmt: skip

    def union(spans: list[tuple[float, float]]) -> float:
        total, end = 0.0, float("-inf")
        for a, b in sorted(spans):
            if b > end:
                total += b - max(a, end)
                end = b
        return total

    every = union([(a, b) for a, b, _ in kernels])
    compute = union([(a, b) for a, b, nccl in kernels if not nccl])
    nccl = sum(b - a for a, b, is_nccl in kernels if is_nccl)
    per, n = 1e-3 / max(steps, 1), max(steps, 1)  # us -> ms per step
    return {"gpu_busy_ms": every * per, "compute_busy_ms": compute * per,
            "nccl_kernel_ms": nccl * per, "kernels_per_step": len(kernels) / n}  # fmt: skip


def _sync(trainer) -> None:
    import torch
    import torch.distributed as dist

    if trainer.env.device.type == "cuda":
        torch.cuda.synchronize(trainer.env.device)
    if dist.is_initialized():
        dist.barrier()


def measure(trainer, feed, args: argparse.Namespace, out: Path, name: str) -> dict:
    """Warm up, then time ``args.steps`` steps and profile ``args.profile_steps`` more."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for _ in range(args.warmup):
        trainer.train_step([next(feed)])
    _sync(trainer)
    wait = dispatch = 0.0
    start = time.perf_counter()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        batch = next(feed)
        t1 = time.perf_counter()
        trainer.train_step([batch])
        wait, dispatch = wait + t1 - t0, dispatch + time.perf_counter() - t1
    _sync(trainer)
    wall = time.perf_counter() - start
    row = {"feed": name, "rank": trainer.env.rank, "world_size": trainer.env.world_size,
           "batch_per_rank": args.batch_size,
           "samples_per_s": args.steps * args.batch_size * trainer.env.world_size / wall,
           "wall_ms": 1e3 * wall / args.steps, "dispatch_ms": 1e3 * dispatch / args.steps,
           "loader_wait_ms": 1e3 * wait / args.steps}  # fmt: skip
    if args.profile_steps and trainer.env.device.type == "cuda":
        activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA]
        with profile(activities=activities) as prof:
            for _ in range(args.profile_steps):
                trainer.train_step([next(feed)])
            torch.cuda.synchronize(trainer.env.device)
        trace = out / f"trace_{name}_rank{trainer.env.rank}.json"
        prof.export_chrome_trace(str(trace))
        row.update(kernel_times(trace, args.profile_steps))
    return row


def fixed_feed(loader):
    """The loader's first batch, forever (pinned once, copied to the device every step)."""
    batch = next(iter(loader))
    while True:
        yield batch


def run(args: argparse.Namespace) -> list[dict]:
    from multimodal.data import train_loader
    from multimodal.distributed import gather_floats
    from multimodal.train_config import TrainConfig, data_config
    from multimodal.trainer import Trainer

    total = args.warmup + args.steps + args.profile_steps
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(train=args.train, out=tmp, model=args.model, device=args.device,
                          batch_size=args.batch_size, steps_per_epoch=2 * total,
                          workers=args.workers, precision=args.precision, lr=args.lr,
                          warmup_steps=10, progress=False,
                          cuda_graph=args.cuda_graph)  # fmt: skip
        trainer = Trainer(cfg)
        data_cfg = data_config(cfg, trainer.model_cfg, cfg.train, train=True)
        rows = []
        for name in args.feeds.split(","):
            loader = train_loader(data_cfg, 0, total + 1)
            feed = iter(loader) if name == "loader" else fixed_feed(loader)
            rows.append(measure(trainer, feed, args, Path(args.trace_dir or tmp), name))
            del feed, loader
        keys = [k for k in rows[0] if isinstance(rows[0][k], float)]
        gathered = gather_floats([r[k] for r in rows for k in keys])
    n = len(keys)
    table = [dict(rows[i], rank=rank, **dict(zip(keys, vals[i * n:(i + 1) * n])))
             for rank, vals in enumerate(gathered) for i in range(len(rows))]  # fmt: skip
    if trainer.env.is_main:
        _print(table)
        if args.json:
            from sim.atomic import atomic_write_json

            atomic_write_json(args.json, {"args": vars(args), "rows": table})
    from multimodal.distributed import cleanup

    trainer.close()  # a captured graph goes before the process group
    cleanup()
    return table


def _print(table: list[dict]) -> None:
    cols = ["samples_per_s", "wall_ms", "dispatch_ms", "loader_wait_ms", "gpu_busy_ms",
            "compute_busy_ms", "nccl_kernel_ms", "kernels_per_step"]  # fmt: skip
    print(f"{'feed':>7} {'rank':>4} " + " ".join(f"{c[:14]:>14}" for c in cols))
    for row in table:
        print(f"{row['feed']:>7} {row['rank']:>4} "
              + " ".join(f"{row.get(c, float('nan')):>14.1f}" for c in cols))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="training shards (brace list)")
    parser.add_argument("--model", default="tiny", choices=("tiny", "small", "base"))
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--workers", type=int, default=2, help="loader workers per rank")
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per feed")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per feed")
    parser.add_argument("--profile-steps", type=int, default=10, help="profiled steps (GPU)")
    parser.add_argument("--cuda-graph", action="store_true", help="the trainer's --cuda-graph")
    parser.add_argument("--feeds", default="loader,fixed", help="comma list: loader, fixed")
    parser.add_argument("--trace-dir", default=None, help="keep the chrome traces here")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    for feed in args.feeds.split(","):
        if feed not in ("loader", "fixed"):
            raise SystemExit(f"--feeds: unknown feed {feed!r} (use loader, fixed)")
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
