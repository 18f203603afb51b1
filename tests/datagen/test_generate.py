"""drivesynth generate: the plan, fail-fast validation, resume, and real Dask clusters."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from datagen.generate import RunOptions, pending_shards, shard_fingerprint
from datagen.manifest import sha256_file, shard_is_intact, sidecar_path
from datagen.plan import GenerateConfig, make_plan
from edge.cli import main
from sim.atomic import atomic_write_json

PRESETS = ("clear_noon", "heavy_rain")
TINY = [
    "--scenarios",
    "4",
    "--frames",
    "3",
    "--image-size",
    "64",
    "--samples-per-shard",
    "3",
    "--seed",
    "5",
    "--split",
    "train",
    "--no-progress",
    "--no-card",
]


def test_plan_is_pure_and_partitions_whole_scenarios() -> None:
    cfg = GenerateConfig(
        scenarios=7, frames=3, seed=9, weather_presets=PRESETS, samples_per_shard=7
    )
    plan = make_plan(cfg)
    assert plan == make_plan(cfg)
    ids = [s.scenario_id for shard in plan for s in shard.scenarios]
    assert ids == list(range(7)) and [len(s.scenarios) for s in plan] == [2, 2, 2, 1]
    assert len({s.seed for shard in plan for s in shard.scenarios}) == 7
    other = make_plan(replace(cfg, split="val"))
    assert {s.seed for p in other for s in p.scenarios}.isdisjoint(
        {s.seed for p in plan for s in p.scenarios}
    )


def test_plan_item_seeds_do_not_depend_on_dataset_size() -> None:
    small = make_plan(GenerateConfig(scenarios=2, frames=1, weather_presets=PRESETS))
    big = make_plan(GenerateConfig(scenarios=50, frames=1, weather_presets=PRESETS))
    assert small[0].scenarios == big[0].scenarios[:2]


@pytest.mark.parametrize(
    "field,value",
    [("scenarios", 0), ("frames", 0), ("seed", -1), ("image_size", 8), ("split", "Bad-Name")],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    kwargs = {"scenarios": 1, "frames": 1, field: value}
    with pytest.raises(ValueError, match=f"GenerateConfig.{field}"):
        GenerateConfig(**kwargs)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--scenarios", "0"], "scenarios"),
        (["--weather", "sunny_mars"], "weather"),
        (["--scheduler", "not-an-address"], "scheduler"),
        (["--scheduler", "tcp://127.0.0.1:1"], "cannot reach scheduler"),
        (["--caption-families", "haiku"], "caption family"),
        (["--driver-style", "sleepy"], "driver_style"),
        (["--vehicle-preset", "tank"], "vehicle_preset"),
    ],
)
def test_invalid_arguments_fail_fast_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), *TINY, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_fails_fast(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["generate", "--out", str(locked / "out"), *TINY]) == 2
    assert "not writable" in capsys.readouterr().err


def test_output_that_is_a_file_fails_fast(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "f").write_text("x")
    assert main(["generate", "--out", str(tmp_path / "f"), *TINY]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_resume_keeps_intact_shards_and_rebuilds_corrupt_or_missing(tmp_path: Path) -> None:
    plan = make_plan(
        GenerateConfig(scenarios=3, frames=1, samples_per_shard=1, weather_presets=PRESETS)
    )
    for shard in plan[:2]:
        path = tmp_path / shard.name
        path.write_bytes(os.urandom(4096))
        atomic_write_json(
            sidecar_path(tmp_path, shard.name),
            {"plan": shard_fingerprint(shard), "sha256": sha256_file(path), "bytes": 4096},
        )
    assert shard_is_intact(tmp_path, plan[0].name, shard_fingerprint(plan[0]))
    assert not shard_is_intact(tmp_path, plan[0].name, shard_fingerprint(plan[1]))
    data = (tmp_path / plan[1].name).read_bytes()
    (tmp_path / plan[1].name).write_bytes(data[:1000])  # truncated
    assert [s.name for s in pending_shards(plan, tmp_path, resume=True)] == [
        plan[1].name,
        plan[2].name,
    ]
    assert len(pending_shards(plan, tmp_path, resume=False)) == 3


def test_run_options_validate() -> None:
    with pytest.raises(ValueError, match="RunOptions.workers"):
        RunOptions(workers=-1)


# --- end to end on real clusters (real simulator, tiny data) ----------------------------


def _generate_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edge.cli", "generate", "--out", str(out), *TINY, *extra]


def _shard_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.tar"))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_first_shard(out: Path, run: subprocess.Popen, timeout_s: float = 120) -> None:
    """Return once a shard's sidecar exists; fail if the command ends or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not list(out.glob(".shards/*.json")):
        assert run.poll() is None, f"generate ended early with status {run.returncode}"
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "local2"
    subprocess.run(_generate_cmd(out, "--workers", "2"), check=True, timeout=300)
    return out


def _wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 120) -> None:
    """Return once something accepts on ``port`` (a loaded machine starts Dask slowly)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, "the scheduler exited"
            assert time.monotonic() < deadline, "the scheduler did not start in time"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def external_cluster() -> tuple[str, list[subprocess.Popen]]:
    address = f"tcp://127.0.0.1:{_free_port()}"
    bindir = Path(sys.executable).parent
    sched = subprocess.Popen(
        [
            bindir / "dask",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rsplit(":", 1)[1],
            "--dashboard-address",
            ":0",
        ],
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(int(address.rsplit(":", 1)[1]), sched)
    workers = [
        subprocess.Popen(
            [bindir / "dask", "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"],
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    yield address, workers
    for p in [*workers, sched]:
        p.terminate()
        p.wait(timeout=30)


@pytest.mark.slow
def test_local_cluster_writes_a_valid_manifest(reference: Path) -> None:
    from datagen.shards import verify_shard

    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["totals"]["scenarios"] == 4
    for shard in manifest["shards"]:
        assert verify_shard(reference / shard["name"], shard["sha256"], shard["samples"])


@pytest.mark.slow
def test_external_scheduler_gives_identical_shards(
    reference: Path, external_cluster: tuple, tmp_path: Path
) -> None:
    address, _ = external_cluster
    subprocess.run(_generate_cmd(tmp_path / "ext", "--scheduler", address), check=True, timeout=300)
    assert _shard_bytes(tmp_path / "ext") == _shard_bytes(reference)
    assert (tmp_path / "ext/manifest.json").read_bytes() != b""


@pytest.mark.slow
def test_killing_a_worker_mid_run_still_completes(
    reference: Path, external_cluster: tuple, tmp_path: Path
) -> None:
    address, workers = external_cluster
    run = subprocess.Popen(_generate_cmd(tmp_path / "k", "--scheduler", address))
    _wait_for_first_shard(tmp_path / "k", run)
    workers[0].kill()
    assert run.wait(timeout=300) == 0
    assert _shard_bytes(tmp_path / "k") == _shard_bytes(reference)
    assert not list((tmp_path / "k").glob(".build-*")), "private build folders left behind"


@pytest.mark.slow
def test_killed_command_resumes_identically(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    run = subprocess.Popen(_generate_cmd(out, "--workers", "1"), start_new_session=True)
    _wait_for_first_shard(out, run)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    done = sorted(p.name for p in out.glob("*.tar"))
    assert 0 < len(done) < len(_shard_bytes(reference))
    kept_mtime = (out / done[0]).stat().st_mtime_ns
    subprocess.run(_generate_cmd(out, "--workers", "1", "--resume"), check=True, timeout=300)
    assert _shard_bytes(out) == _shard_bytes(reference)
    assert (out / done[0]).stat().st_mtime_ns == kept_mtime
    assert (out / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes()


@pytest.mark.slow
def test_truncated_shard_is_rebuilt_on_resume(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "t"
    shutil.copytree(reference, out)
    victim = sorted(out.glob("*.tar"))[1]
    victim.write_bytes(victim.read_bytes()[:700])
    subprocess.run(_generate_cmd(out, "--workers", "0", "--resume"), check=True, timeout=300)
    assert _shard_bytes(out) == _shard_bytes(reference)
