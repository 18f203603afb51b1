"""Run a dataset plan on Dask: one task per shard, atomic writes, retries, resume.

Each task (:func:`build_shard`) simulates the shard's scenarios, writes the tar through a
temporary name and a rename, then writes its sidecar; a task that dies costs only its own
shard. With ``resume`` the shards whose bytes match their sidecar are kept and only missing
or corrupt ones are rebuilt. Output bytes depend on the plan only, never on the number of
workers or the order in which they finish.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from datagen.manifest import (
    build_manifest,
    fingerprint,
    label_stats,
    read_sidecar,
    shard_is_intact,
    sidecar_path,
    write_manifest,
)
from datagen.plan import GenerateConfig, ShardPlan, make_plan
from sim.atomic import atomic_write_json

SCHEDULER_RE = re.compile(r"^(tcp|tls|inproc|ws|wss)://[^\s:/]+:\d{1,5}$")
TASK_RETRIES = 2
BUILD_PREFIX = ".build-"


@dataclass(frozen=True)
class RunOptions:
    """How to run a plan (never changes the bytes written)."""

    workers: int = 2
    scheduler: str | None = None
    resume: bool = False
    progress: bool = True
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"RunOptions.workers must be >= 0, got {self.workers}")
        if self.scheduler is not None and not SCHEDULER_RE.match(self.scheduler):
            raise ValueError(
                f"RunOptions.scheduler must look like tcp://HOST:PORT, got {self.scheduler!r}"
            )
        if self.connect_timeout_s <= 0:
            raise ValueError(
                f"RunOptions.connect_timeout_s must be > 0, got {self.connect_timeout_s}"
            )


def shard_fingerprint(shard: ShardPlan) -> str:
    return fingerprint(asdict(shard))


@contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run torch ops (the audio synthesis) on one intra-op thread, then restore the count.

    Parallelism comes from worker processes; on short clips torch's thread pool only adds
    synchronisation (measured here: 2 threads made a 16k-sample ``sin`` 8x slower).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_shard(shard: ShardPlan, out_dir: str) -> dict:
    """Simulate ``shard``'s scenarios, write its tar atomically and its sidecar; the record.

    The tar is written in a private folder and renamed into place, so two attempts at the
    same shard (a task rescheduled while a presumed-dead worker still runs) never interleave.
    """
    from datagen.builder import build_scenario_samples, sample_metadata
    from datagen.shards import write_shard

    out = Path(out_dir)
    with single_threaded_torch():
        samples = [s for item in shard.scenarios for s in build_scenario_samples(item)]
    path = out / shard.name
    with tempfile.TemporaryDirectory(prefix=BUILD_PREFIX, dir=out) as private:
        info = write_shard(Path(private) / shard.name, samples)
        os.replace(Path(private) / shard.name, path)
    record = {
        "name": shard.name,
        "plan": shard_fingerprint(shard),
        "samples": info.count,
        "scenarios": [item.scenario_id for item in shard.scenarios],
        "sha256": info.sha256,
        "bytes": info.bytes,
        "stats": label_stats(sample_metadata(s) for s in samples),
    }
    atomic_write_json(sidecar_path(out, shard.name), record)
    return record


def remove_stale_builds(out: Path) -> None:
    """Delete private build folders left by killed tasks (call when no task runs)."""
    for stale in out.glob(f"{BUILD_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)


def check_output_dir(out: Path, resume: bool) -> None:
    """Fail before writing anything when ``out`` cannot take a data set."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    probe = out if out.exists() else next(p for p in out.parents if p.exists())
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} is not writable")
    if out.is_dir() and not resume and any(out.glob("*.tar")):
        raise ValueError(f"--out {out} already holds shards; pass --resume or use a new folder")


def pending_shards(plan: list[ShardPlan], out: Path, resume: bool) -> list[ShardPlan]:
    if not resume:
        return list(plan)
    return [s for s in plan if not shard_is_intact(out, s.name, shard_fingerprint(s))]


def check_reachable(address: str, timeout_s: float) -> None:
    """Fail at once when nothing listens at a tcp:// scheduler address (Client would retry
    until its timeout)."""
    scheme, _, hostport = address.partition("://")
    if scheme != "tcp":
        return
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(f"cannot reach scheduler {address}: {exc}") from None


@contextmanager
def dask_client(opts: RunOptions) -> Iterator[object]:
    """A distributed Client: to ``opts.scheduler``, or to a fresh LocalCluster."""
    from distributed import Client, LocalCluster

    if opts.scheduler:
        check_reachable(opts.scheduler, opts.connect_timeout_s)
        try:
            client = Client(opts.scheduler, timeout=opts.connect_timeout_s)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach scheduler {opts.scheduler}: {exc}") from None
        with client:
            yield client
        return
    with LocalCluster(
        n_workers=opts.workers, threads_per_worker=1, processes=True,
        dashboard_address=":0", silence_logs=40,
    ) as cluster, Client(cluster) as client:
        yield client


@contextmanager
def executor(opts: RunOptions) -> Iterator[object | None]:
    """A Dask client, or None for the in-process path (workers 0, no scheduler)."""
    if opts.workers == 0 and not opts.scheduler:
        yield None
        return
    with dask_client(opts) as client:
        print(f"dask dashboard: {client.dashboard_link}", file=sys.stderr)
        yield client


def run_shards(
    client: object | None, todo: list[ShardPlan], out: Path, on_done: Callable[[dict], None]
) -> None:
    """Build ``todo`` on ``client`` (or in this process), calling ``on_done`` per shard."""
    if client is None:
        for shard in todo:
            on_done(build_shard(shard, str(out)))
        return
    from distributed import as_completed

    futures = [
        client.submit(build_shard, s, str(out), key=f"shard-{s.name}-{shard_fingerprint(s)}",
                      retries=TASK_RETRIES, pure=False)
        for s in todo
    ]
    for fut in as_completed(futures):
        on_done(fut.result())


def generate(cfg: GenerateConfig, out: Path, opts: RunOptions) -> dict:
    """Plan, build every missing shard, write DIR/manifest.json; returns the manifest.

    Everything that can be checked (config, output folder, scheduler address) is checked
    before the first byte is written.
    """
    check_output_dir(out, opts.resume)
    plan = make_plan(cfg)
    with executor(opts) as client:
        out.mkdir(parents=True, exist_ok=True)
        todo = pending_shards(plan, out, opts.resume)
        start = time.perf_counter()
        with _progress(todo, cfg.split, opts.progress) as bar:
            run_shards(client, todo, out, lambda rec: bar.update(rec["samples"]))
    remove_stale_builds(out)
    records = [read_sidecar(out, s.name) for s in plan]
    missing = [s.name for s, r in zip(plan, records) if r is None]
    if missing:
        raise RuntimeError(f"shards not built: {', '.join(missing)}")
    manifest = build_manifest(cfg.to_json(), records)  # type: ignore[arg-type]
    write_manifest(out, manifest)
    _report(len(todo), len(plan), manifest, time.perf_counter() - start)
    return manifest


def _progress(todo: list[ShardPlan], split: str, enabled: bool) -> object:
    from tqdm import tqdm

    from datagen.builder import cameras_per_frame

    total = sum(s.frames for s in todo) * cameras_per_frame()
    return tqdm(total=total, unit="sample", disable=not enabled, smoothing=0.1,
                desc=f"generate {split}", file=sys.stderr)


def _report(built: int, planned: int, manifest: dict, seconds: float) -> None:
    n = manifest["totals"]["samples"]
    print(f"built {built}/{planned} shards ({planned - built} kept), {n} samples in the data set,"
          f" {seconds:.1f} s", file=sys.stderr)
