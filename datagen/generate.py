"""Run a dataset plan on Dask: one task per shard, atomic writes, retries, resume.

Each task (:func:`build_shard`) simulates the shard's scenarios, writes the tar through a
temporary name and a rename, then writes its sidecar; a task that dies costs only its own
shard. With ``resume`` the shards whose bytes match their sidecar (or, sidecars lost, the
manifest's sha256) are kept and only missing or corrupt ones are rebuilt. Output bytes
depend on the plan only, never on the number of workers or the order in which they finish.

An output folder belongs to one run at a time (:class:`datagen.lock.FolderLock`), and holds
one data set: a folder that already holds one (shards, ``manifest.json``, ``card/``, sidecars
or an unfinished run's ``.generate-config.json``) is refused unless ``resume`` (same options
as the data set's, else refused naming the option) or ``force`` (the old data set is removed
first). Sizes are bounded (:data:`MAX_SCENARIOS`, :data:`MAX_FRAMES`) so planning is prompt.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from datagen.lock import FolderLock
from datagen.manifest import (
    MANIFEST,
    SIDECAR_DIR,
    build_manifest,
    fingerprint,
    label_stats,
    read_sidecar,
    restore_sidecar,
    shard_is_intact,
    sidecar_path,
    write_manifest,
)
from datagen.plan import (
    FOCUS_FIELDS,
    GenerateConfig,
    ShardPlan,
    make_plan,
    omitted_clip_fields,
    scenarios_per_shard,
)
from datagen.scheduler import probe_scheduler
from sim.arguments import option
from sim.atomic import atomic_write_json

SCHEDULER_RE = re.compile(r"^(tcp|tls|inproc|ws|wss)://[^\s:/]+:\d{1,5}$")
TASK_RETRIES = 2
BUILD_PREFIX = ".build-"
RUN_CONFIG = ".generate-config.json"  # the options of a run not finished yet (for --resume)
CARD_DIR = "card"
SHARD_RE = re.compile(r"^[a-z0-9_]+-\d{6}\.tar$")
MAX_SCENARIOS = 100_000  # per run; planning takes ~0.4 ms a scenario
MAX_FRAMES = 10_000  # per scenario
MAX_SHARDS = 1_000_000  # shard names have six digits


def max_workers() -> int:
    return max(8, 4 * (os.cpu_count() or 1))


@dataclass(frozen=True)
class RunOptions:
    """How to run a plan (never changes the bytes written). Fields declared with ``option``
    are ``generate``'s command-line options (``--config`` never sets them)."""

    workers: int = option("LocalCluster worker processes; 0 = run in this process", default=2)
    scheduler: str | None = option(
        "existing Dask scheduler, tcp://HOST:PORT (default: start a cluster)", default=None,
        metavar="ADDR",
    )  # fmt: skip
    resume: bool = option(
        "keep shards whose sha256 matches their sidecar (or the manifest's), rebuild the "
        "rest; the options must be the data set's (e.g. --config DIR/manifest.json)",
        default=False,
    )  # fmt: skip
    progress: bool = option("no progress bar", default=True)  # --no-progress
    connect_timeout_s: float = option(
        "seconds to wait for --scheduler to connect and answer", default=10.0,
        flag="--connect-timeout", metavar="S",
    )  # fmt: skip
    force: bool = option("replace the data set already in DIR (its shards, manifest and card)",
                         default=False)  # fmt: skip

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"RunOptions.workers must be >= 0, got {self.workers}")
        if self.workers > max_workers():
            raise ValueError(
                f"RunOptions.workers must be <= {max_workers()} (4 per CPU here), "
                f"got {self.workers}"
            )
        if self.resume and self.force:
            raise ValueError("--resume and --force exclude each other: resume keeps the data "
                             "set, force replaces it")  # fmt: skip
        if self.scheduler is not None and not SCHEDULER_RE.match(self.scheduler):
            raise ValueError(
                f"RunOptions.scheduler must look like tcp://HOST:PORT, got {self.scheduler!r}"
            )
        if not 0 < self.connect_timeout_s <= 3600:
            raise ValueError(
                f"RunOptions.connect_timeout_s must be in (0, 3600], got {self.connect_timeout_s}"
            )


def shard_fingerprint(shard: ShardPlan) -> str:
    plan = asdict(shard)
    for item in plan["scenarios"]:  # plans without clips (or tiling ones): as they always were
        for name in omitted_clip_fields(item):
            del item[name]
    return fingerprint(plan)


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


@functools.lru_cache(maxsize=1)
def freeze_long_lived() -> None:
    """Once per process, after its first shard: collect the garbage, then move every object
    alive (modules, torch, caches, pooled PyBullet clients) to the collector's permanent
    generation (``gc.freeze``). Full collections then stop re-walking these ~300k objects:
    building a scenario allocates many lists (mesh vertices for PyBullet, metadata), and the
    collections they triggered cost ~3.7 ms CPU per sample (0.5 ms after the freeze,
    measured with ``gc.callbacks`` over the generate bench's 16 scenarios). Objects freed
    by reference counting are freed as before; nothing here changes a byte written."""
    gc.collect()
    gc.freeze()


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
    device = renderer_device({item.renderer for item in shard.scenarios})
    if device:  # EGL's bytes hold for one GPU model and driver: say which
        record["renderer_device"] = device
    atomic_write_json(sidecar_path(out, shard.name), record)
    freeze_long_lived()
    return record


@functools.lru_cache(maxsize=8)
def _renderer_info(name: str) -> tuple[tuple[str, str], ...]:
    from sim.camera import renderer_info

    return tuple(sorted(renderer_info(name).items()))


def renderer_device(renderers: set[str]) -> dict:
    """What the shard's renderers ran on in this process ({} for TinyRenderer, the same code
    everywhere; GL vendor, renderer and version for EGL), asked once per process."""
    out: dict = {}
    for name in sorted(renderers):
        out.update(_renderer_info(name))
    return out


def remove_stale_builds(out: Path) -> None:
    """Delete private build folders left by killed tasks (call when no task runs)."""
    for stale in out.glob(f"{BUILD_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)


def dataset_files(out: Path) -> list[str]:
    """What in ``out`` belongs to a data set (shards, manifest, card, sidecars, run config)."""
    if not out.is_dir():
        return []
    found = [name for name in (MANIFEST, CARD_DIR, SIDECAR_DIR, RUN_CONFIG)
             if (out / name).exists() or (out / name).is_symlink()]  # fmt: skip
    shards = sum(1 for p in out.glob("*.tar"))
    return found + ([f"{shards} shard(s)"] if shards else [])


def check_output_dir(out: Path, resume: bool, force: bool = False) -> None:
    """Fail before writing anything when ``out`` cannot take a data set."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    probe = out if out.exists() else next(p for p in out.absolute().parents if p.exists())
    if not probe.is_dir():
        raise ValueError(f"--out {out}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} is not writable")
    held = dataset_files(out)
    if held and not resume and not force:
        raise ValueError(
            f"--out {out} already holds a data set ({', '.join(held)}); pass --resume to "
            "complete it, --force to replace it, or use a new folder"
        )


_FLAGS = {"weather_presets": "the weather preset list (weather_presets)"}


def previous_config(out: Path) -> tuple[dict | None, str]:
    """The options of the data set in ``out`` (its manifest, else an unfinished run's
    config), and where they were read; ``(None, "")`` when there is none."""
    for name, key in ((MANIFEST, "config"), (RUN_CONFIG, None)):
        path = out / name
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            config = data[key] if key else data
        except (OSError, ValueError, KeyError, TypeError):
            config = None
        if not isinstance(config, dict):
            raise ValueError(f"--resume: {path} is unreadable or not a drivesynth data set's; "
                             "use --force to replace the data set or a new folder")  # fmt: skip
        return config, str(path)
    return None, ""


def _focus_text(config: dict) -> str:
    """A config's ``--focus`` in a few words (for messages)."""
    focus = config.get("weather_focus")
    if isinstance(focus, dict):
        return (f"--focus ({len(focus.get('files') or [])} feedback file(s), strength "
                f"{focus.get('strength')})")  # fmt: skip
    return "--focus weights" if config.get("weather_weights") else "no --focus"


def check_resume_config(out: Path, cfg: GenerateConfig) -> dict | None:
    """Refuse ``--resume`` with options other than those of the data set in ``out``, naming
    the first that differs. Returns the manifest (when there is one) for its checksums."""
    old, where = previous_config(out)
    if old is None:
        return None
    new = cfg.to_json()
    for key in sorted(set(new) | set(old)):
        if new.get(key) != old.get(key):
            if key in FOCUS_FIELDS:
                raise ValueError(
                    f"--resume with {_focus_text(new)}, but the data set in {out} was made "
                    f"with {_focus_text(old)} ({where}: {key} differs); rerun with its options "
                    f"(--config {where}), or --force to replace it"
                )
            flag = _FLAGS.get(key, "--" + key.replace("_", "-"))
            raise ValueError(
                f"--resume with {flag} {new.get(key)!r}, but the data set in {out} was made "
                f"with {old.get(key)!r} ({where}); rerun with its options, or --force to "
                "replace it"
            )
    if where.endswith(MANIFEST):
        return json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    return None


def clear_dataset(out: Path) -> None:
    """``--force``: remove the data set in ``out`` (shards, sidecars, manifest, card, run
    config, partial files); other files are left alone."""
    for name in (MANIFEST, RUN_CONFIG):
        (out / name).unlink(missing_ok=True)
    for name in (CARD_DIR, SIDECAR_DIR):
        path = out / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
    for path in out.iterdir():
        if SHARD_RE.match(path.name) and (path.is_file() or path.is_symlink()):
            path.unlink()
        elif path.name.startswith(".") and path.name.endswith(".tar.partial"):
            path.unlink()
    remove_stale_builds(out)


def check_scale(cfg: GenerateConfig) -> None:
    """Refuse sizes that cannot be planned promptly or named (before planning)."""
    if cfg.scenarios > MAX_SCENARIOS:
        raise ValueError(
            f"--scenarios {cfg.scenarios} is more than the {MAX_SCENARIOS} scenarios one run "
            "plans; write a larger data set as several runs (other --seed or --split, each "
            "into its own folder)"
        )
    if cfg.frames_per_scenario > MAX_FRAMES:
        raise ValueError(f"--frames {cfg.frames} is more than {MAX_FRAMES} frames a scenario"
                         + (f" ({cfg.frames} clips of {cfg.clip_frames})" if cfg.clip_frames
                            else ""))  # fmt: skip
    shards = -(-cfg.scenarios // scenarios_per_shard(cfg))
    if shards > MAX_SHARDS:
        raise ValueError(f"{shards} shards is more than {MAX_SHARDS}; raise --samples-per-shard")


def pending_shards(
    plan: list[ShardPlan], out: Path, resume: bool, manifest: dict | None = None
) -> list[ShardPlan]:
    """The shards to build: all of them, or with ``resume`` those not intact. A shard whose
    sidecar is gone counts as intact when its bytes match ``manifest`` (a manifest of the same
    options), and gets its sidecar back."""
    if not resume:
        return list(plan)
    listed = {}
    if manifest is not None:
        listed = {e.get("name"): e for e in manifest.get("shards", []) if isinstance(e, dict)}
    todo = []
    for s in plan:
        fp = shard_fingerprint(s)
        if shard_is_intact(out, s.name, fp):
            continue
        entry = listed.get(s.name)
        ids = [item.scenario_id for item in s.scenarios]
        lost = read_sidecar(out, s.name) is None and entry is not None
        if lost and entry.get("scenarios") == ids and restore_sidecar(out, s.name, fp, entry):
            continue
        todo.append(s)
    return todo


@contextmanager
def dask_client(opts: RunOptions) -> Iterator[object]:
    """A distributed Client: to ``opts.scheduler``, or to a fresh LocalCluster."""
    from distributed import Client, LocalCluster

    if opts.scheduler:
        probe_scheduler(opts.scheduler, opts.connect_timeout_s)
        try:
            client = Client(opts.scheduler, timeout=opts.connect_timeout_s)
        except Exception as exc:  # noqa: BLE001 - connect, handshake and version errors
            msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ValueError(f"cannot use scheduler {opts.scheduler}: {msg}") from None
        with client:
            if not client.scheduler_info().get("workers"):
                print(f"scheduler {opts.scheduler} has no workers yet: tasks wait for some",
                      file=sys.stderr)  # fmt: skip
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


def _missing_dirs(out: Path) -> list[Path]:
    """``out`` and its ancestors that do not exist yet, innermost first."""
    missing = []
    for path in [out, *out.absolute().parents]:
        if path.exists():
            break
        missing.append(path)
    return missing


def generate(cfg: GenerateConfig, out: Path, opts: RunOptions, card: bool = False) -> dict:
    """Plan, build every missing shard, write DIR/manifest.json (and with ``card`` the data
    set card); returns the manifest.

    Everything that can be checked (sizes, config, output folder, scheduler address) is
    checked before the first byte is written; the folder is then locked for the whole run,
    and a failed run leaves no folder it created empty behind.
    """
    check_scale(cfg)
    check_output_dir(out, opts.resume, opts.force)
    if opts.resume:
        check_resume_config(out, cfg)
    plan = make_plan(cfg)
    if opts.scheduler:
        probe_scheduler(opts.scheduler, opts.connect_timeout_s)
    created = _missing_dirs(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out} cannot be created ({exc.strerror or exc})") from None
    try:
        with FolderLock(out):
            # The folder may have changed while this run was getting ready: check it again.
            check_output_dir(out, opts.resume, opts.force)
            manifest = check_resume_config(out, cfg) if opts.resume else None
            return _run(cfg, plan, out, opts, manifest, card)
    except BaseException:
        for path in created:  # only folders this run made, and only when still empty
            try:
                path.rmdir()
            except OSError:
                break
        raise


def _run(cfg: GenerateConfig, plan: list[ShardPlan], out: Path, opts: RunOptions,
         previous: dict | None, card: bool) -> dict:  # fmt: skip
    try:
        with executor(opts) as client:  # the cluster is up: from here on, write
            if opts.force:
                clear_dataset(out)
            atomic_write_json(out / RUN_CONFIG, cfg.to_json())  # for --resume after a kill
            todo = pending_shards(plan, out, opts.resume, previous)
            start = time.perf_counter()
            with _progress(todo, cfg.split, opts.progress) as bar:
                run_shards(client, todo, out, lambda rec: bar.update(rec["samples"]))
    finally:
        remove_stale_builds(out)
    records = [read_sidecar(out, s.name) for s in plan]
    missing = [s.name for s, r in zip(plan, records) if r is None]
    if missing:
        raise RuntimeError(f"shards not built: {', '.join(missing)}")
    manifest = build_manifest(cfg.to_json(), records)  # type: ignore[arg-type]
    write_manifest(out, manifest)
    (out / RUN_CONFIG).unlink(missing_ok=True)
    _report(len(todo), len(plan), manifest, time.perf_counter() - start)
    if card:
        from datagen.card import write_card

        write_card(out)
    return manifest


def _progress(todo: list[ShardPlan], split: str, enabled: bool) -> object:
    from tqdm import tqdm

    from datagen.builder import cameras_per_frame

    total = sum(s.frames for s in todo) * cameras_per_frame()
    if todo and todo[0].scenarios:  # a rig gives one sample per camera and frame
        total = sum(i.frames * len(i.cameras) for s in todo for i in s.scenarios)
    return tqdm(total=total, unit="sample", disable=not enabled, smoothing=0.1,
                desc=f"generate {split}", file=sys.stderr)


def _report(built: int, planned: int, manifest: dict, seconds: float) -> None:
    n = manifest["totals"]["samples"]
    print(f"built {built}/{planned} shards ({planned - built} kept), {n} samples in the data set,"
          f" {seconds:.1f} s", file=sys.stderr)
