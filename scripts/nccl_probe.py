"""How fast the GPUs of this host talk: NCCL all-reduce bandwidth at the sizes DDP moves.

Run one process per GPU:  torchrun --standalone --nproc-per-node 2 scripts/nccl_probe.py
(set NCCL_DEBUG=INFO to see the transport NCCL picked: P2P/NVLink, P2P over PCIe or SHM
through host memory). Prints a table; ``--json`` writes the numbers. The sizes default to
the ``small`` model's gradients (66 M parameters: 266 MB in fp32, 133 MB in bf16).
"""

from __future__ import annotations

import argparse
import json
import os

import torch
import torch.distributed as dist


def time_all_reduce(numel: int, dtype: torch.dtype, iters: int, warmup: int = 3) -> float:
    """Median seconds of one all-reduce of ``numel`` elements (CUDA events, after warm-up)."""
    x = torch.randn(numel, device="cuda").to(dtype)
    times = []
    for i in range(warmup + iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dist.all_reduce(x)
        end.record()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=float, default=66.4e6, help="elements per all-reduce")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--json", default=None, help="write the results here (rank 0)")
    args = parser.parse_args()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local)
    dist.init_process_group("nccl")
    n = dist.get_world_size()
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for share in (0.25, 1.0):
            numel = int(args.params * share)
            sec = time_all_reduce(numel, dtype, args.iters)
            nbytes = numel * torch.finfo(dtype).bits // 8
            rows.append({"dtype": str(dtype).removeprefix("torch."), "mbytes": nbytes / 1e6,
                         "ms": sec * 1e3, "algbw_gbps": nbytes / sec / 1e9,
                         "busbw_gbps": nbytes / sec / 1e9 * 2 * (n - 1) / n})  # fmt: skip
    if dist.get_rank() == 0:
        peer = [[torch.cuda.can_device_access_peer(a, b) if a != b else None
                 for b in range(torch.cuda.device_count())]
                for a in range(torch.cuda.device_count())]  # fmt: skip
        result = {"world_size": n, "nccl": ".".join(map(str, torch.cuda.nccl.version())),
                  "peer_access": peer, "all_reduce": rows}  # fmt: skip
        print(f"world {n}  NCCL {result['nccl']}  peer access {peer}")
        for r in rows:
            print(f"{r['dtype']:>9} {r['mbytes']:8.1f} MB  {r['ms']:8.2f} ms  "
                  f"bus {r['busbw_gbps']:7.1f} GB/s")  # fmt: skip
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
