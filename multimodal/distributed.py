"""Process-group set-up: torchrun (env://), or ``--nproc N`` local processes; NCCL on GPUs,
gloo on CPU."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(preference: str, local_rank: int) -> torch.device:
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {preference!r} requested but CUDA is not available")
        return (
            torch.device("cuda", local_rank) if preference == "cuda" else torch.device(preference)
        )
    if preference != "cpu":
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {preference!r}")
    return torch.device("cpu")


def init_distributed(device: str = "auto") -> DistEnv:
    """Join the process group described by torchrun's environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if dev.type == "cpu":
        cpu_threads(int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistEnv(rank, world, local_rank, dev)


def cpu_threads(local_processes: int) -> int:
    """Give each local training process its share of the cores (unless OMP_NUM_THREADS says).

    torch's default (all cores in every process) oversubscribes a small machine: on 2 shared
    cores a tiny model's step took 10x longer with 2 threads than with 1 (measured)."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // (2 * max(1, local_processes))))
    return torch.get_num_threads()


TEARDOWN_GRACE_S = 0.2


def cleanup() -> None:
    """Leave the process group together (a rank destroying it while another still talks
    to it can hang the other at exit).

    After the barrier, gloo's worker thread still has to free the finished collectives,
    which takes the GIL to release their tensors; if the group is torn down first (its
    destructor joins that thread while holding the GIL), the process deadlocks. Seen in
    session 6: 4 of ~40 two-process CPU test runs hung in ``~ProcessGroupGloo``. Sleeping
    (the GIL released) lets the thread finish."""
    if dist.is_initialized():
        dist.barrier()
        time.sleep(TEARDOWN_GRACE_S)
        dist.destroy_process_group()


def mean_across_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over ranks (identity when not distributed)."""
    if not dist.is_initialized():
        return value
    out = value.detach().clone()
    if dist.get_backend() == "nccl" and not out.is_cuda:  # NCCL reduces GPU tensors only
        out = out.cuda()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return (out / dist.get_world_size()).to(value.device)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on ``device`` without a stream sync: a copy from pageable memory waits
    for every queued kernel, one from pinned memory does not."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def gather_floats(values: list[float]) -> list[list[float]]:
    """Every rank's ``values`` (same length on all ranks), in rank order."""
    mine = torch.tensor(values, dtype=torch.float64)
    if not dist.is_initialized():
        return [mine.tolist()]
    if dist.get_backend() == "nccl":
        mine = mine.cuda()
    rows = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(rows, mine)
    return [r.cpu().tolist() for r in rows]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawned(local_rank: int, nproc: int, port: int, fn: Callable, payload: object) -> None:
    os.environ.update(
        RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    fn(payload)


def spawn(fn: Callable[[object], object], nproc: int, payload: object) -> None:
    """Run ``fn(payload)`` in ``nproc`` local processes forming one process group."""
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    import torch.multiprocessing as mp

    mp.spawn(_spawned, args=(nproc, free_port(), fn, payload), nprocs=nproc, join=True)
