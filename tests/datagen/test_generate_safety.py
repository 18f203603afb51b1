"""generate (issue 19): one run per folder, --resume only with the data set's options and
trusting the manifest when sidecars are gone, no silent overwrite, prompt refusal of huge
plans, and one line about whatever listens at --scheduler."""

from __future__ import annotations

import http.server
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

import datagen.generate as gen
from datagen.generate import RUN_CONFIG, RunOptions, clear_dataset, generate, shard_fingerprint
from datagen.lock import LOCK_NAME, FolderLock
from datagen.manifest import build_manifest, label_stats, sha256_file, sidecar_path
from datagen.plan import GenerateConfig, make_plan
from edge.cli import main
from sim.atomic import atomic_write_json

TINY = ["--scenarios", "4", "--frames", "3", "--image-size", "64", "--samples-per-shard", "3",
        "--seed", "5", "--workers", "0", "--no-progress", "--no-card"]  # fmt: skip
REPO = Path(__file__).resolve().parents[2]


def _cfg(**changes) -> GenerateConfig:
    from datagen.builder import weather_presets

    kw = dict(scenarios=4, frames=3, image_size=64, samples_per_shard=3, seed=5,
              weather_presets=weather_presets())  # fmt: skip
    return GenerateConfig(**{**kw, **changes})


def _tree(root: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = sha256_file(path) if path.is_file() and not path.is_symlink() else None
        out[path.relative_to(root).as_posix()] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def _err(capsys: pytest.CaptureFixture) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def fake_dataset(out: Path, cfg: GenerateConfig) -> dict:
    """A complete data set of small, valid tars (no simulation): shards, sidecars, manifest."""
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for shard in make_plan(cfg):
        buf = io.BytesIO()
        metas = []
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for item in shard.scenarios:
                for frame in range(cfg.frames):
                    meta = {"scenario_id": item.scenario_id, "frame": frame,
                            "weather": {"preset": item.weather, "time_of_day": "noon"},
                            "driver": {"style": item.driver_style},
                            "objects": [{"class": "vehicle"}]}  # fmt: skip
                    metas.append(meta)
                    data = json.dumps(meta).encode()
                    info = tarfile.TarInfo(f"{item.scenario_id:08d}_front_{frame:05d}.json")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        (out / shard.name).write_bytes(buf.getvalue())
        record = {"name": shard.name, "plan": shard_fingerprint(shard), "samples": len(metas),
                  "scenarios": [i.scenario_id for i in shard.scenarios],
                  "sha256": sha256_file(out / shard.name), "bytes": len(buf.getvalue()),
                  "stats": label_stats(metas)}  # fmt: skip
        atomic_write_json(sidecar_path(out, shard.name), record)
        records.append(record)
    manifest = build_manifest(cfg.to_json(), records)
    atomic_write_json(out / "manifest.json", manifest)
    return manifest


@pytest.fixture()
def no_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("a shard was rebuilt")

    monkeypatch.setattr(gen, "build_shard", refuse)


# --- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize("extra,needle", [
    (["--scenarios", "100000000"], "--scenarios 100000000"),
    (["--frames", "1000000000"], "--frames 1000000000"),
    (["--workers", "100000"], "workers"),
    (["--resume", "--force"], "exclude each other"),
    (["--connect-timeout", "nan"], "connect_timeout"),
])  # fmt: skip
def test_huge_or_contradictory_options_are_refused_promptly(tmp_path, capsys, extra, needle):
    start = time.monotonic()
    assert main(["generate", "--out", str(tmp_path / "out"), *TINY, *extra]) == 2
    err = _err(capsys)
    assert len(err) == 1 and needle in err[0], err
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out").exists()


# --- existing outputs ---------------------------------------------------------------------


def test_folder_with_manifest_and_card_but_no_shards_is_refused(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    (out / "card").mkdir(parents=True)
    (out / "card" / "README.md").write_text("card\n")
    (out / "manifest.json").write_text('{"config": {}}\n')
    before = _tree(out)
    assert main(["generate", "--out", str(out), *TINY]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "--resume" in err[0] and "--force" in err[0], err
    assert _tree(out) == before


def test_resume_refuses_other_options_naming_the_field(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    fake_dataset(out, _cfg())
    before = _tree(out)
    assert main(["generate", "--out", str(out), *TINY, "--seed", "6", "--resume"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "--seed 6" in err[0] and "5" in err[0], err
    assert main(["generate", "--out", str(out), *TINY, "--image-size", "32", "--resume"]) == 2
    assert "--image-size 32" in _err(capsys)[0]
    assert _tree(out) == before


def test_resume_of_a_killed_run_checks_its_recorded_options(tmp_path, capsys) -> None:
    """No manifest yet (the run was killed): the run's own record of its options counts."""
    out = tmp_path / "out"
    fake_dataset(out, _cfg())
    (out / "manifest.json").unlink()
    atomic_write_json(out / RUN_CONFIG, _cfg().to_json())
    assert main(["generate", "--out", str(out), *TINY, "--weather", "heavy_rain",
                 "--resume"]) == 2  # fmt: skip
    err = _err(capsys)
    assert len(err) == 1 and "--weather 'heavy_rain'" in err[0] and RUN_CONFIG in err[0], err


def test_resume_trusts_the_manifest_when_sidecars_are_gone(tmp_path, no_building) -> None:
    out = tmp_path / "out"
    manifest = fake_dataset(out, _cfg())
    sidecars = {p.name: p.read_bytes() for p in (out / ".shards").iterdir()}
    shards = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    manifest_bytes = (out / "manifest.json").read_bytes()
    for path in (out / ".shards").iterdir():
        path.unlink()
    assert generate(_cfg(), out, RunOptions(workers=0, resume=True, progress=False)) == manifest
    assert (out / "manifest.json").read_bytes() == manifest_bytes
    assert {p.name: p.read_bytes() for p in (out / ".shards").iterdir()} == sidecars
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")} == shards
    assert not (out / RUN_CONFIG).exists() and not (out / LOCK_NAME).exists()


def test_resume_rebuilds_a_shard_not_matching_the_manifest(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    fake_dataset(out, _cfg())
    for path in (out / ".shards").iterdir():
        path.unlink()
    victim = sorted(out.glob("*.tar"))[1]
    victim.write_bytes(victim.read_bytes()[:700])
    built = []
    monkeypatch.setattr(gen, "run_shards", lambda client, todo, *_: built.extend(todo))
    with pytest.raises(RuntimeError, match=f"shards not built: {victim.name}"):
        generate(_cfg(), out, RunOptions(workers=0, resume=True, progress=False))
    assert [s.name for s in built] == [victim.name]


def test_force_removes_only_the_old_data_set(tmp_path) -> None:
    out = tmp_path / "out"
    fake_dataset(out, _cfg())
    (out / "card").mkdir()
    (out / "card" / "README.md").write_text("x")
    (out / "notes.txt").write_text("mine")
    (out / "other.tar.gz").write_text("mine too")
    clear_dataset(out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "other.tar.gz"]


def test_a_run_that_fails_before_writing_leaves_no_folder(tmp_path, monkeypatch) -> None:
    def broken(_opts):
        raise ValueError("cannot use scheduler tcp://x:1: boom")

    monkeypatch.setattr(gen, "executor", broken)
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(ValueError, match="boom"):
        generate(_cfg(), out, RunOptions(workers=0, progress=False))
    assert list(tmp_path.iterdir()) == []


# --- one run per folder -------------------------------------------------------------------

HOLD = """
import sys, time
from pathlib import Path
from datagen.lock import FolderLock
with FolderLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_folder_locked_by_a_live_run_is_refused(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["generate", "--out", str(out), *TINY]) == 2
        err = _err(capsys)
        assert len(err) == 1 and f"in use by another run (pid {holder.pid}" in err[0], err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_runs_lock_does_not_block(tmp_path, no_building) -> None:
    out = tmp_path / "out"
    fake_dataset(out, _cfg())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    generate(_cfg(), out, RunOptions(workers=0, resume=True, progress=False))
    assert not (out / LOCK_NAME).exists()


def test_a_lock_file_naming_a_live_process_blocks(tmp_path) -> None:
    """A lock written without flock (another tool, another file system) still counts."""
    out = tmp_path / "out"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid,
                                                 "host": socket.gethostname()}))  # fmt: skip
        with pytest.raises(ValueError, match=f"pid {sleeper.pid}"):
            FolderLock(out).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    with FolderLock(out):
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (out / LOCK_NAME).exists()


@pytest.mark.slow
def test_two_concurrent_generates_do_not_both_succeed(tmp_path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "edge.cli", "generate", "--out", str(out), *TINY]
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out / LOCK_NAME).exists():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = subprocess.run([*cmd, "--seed", "1"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 2
    assert "in use by another run" in second.stderr or "already holds" in second.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and not (out / LOCK_NAME).exists()


# --- what listens at --scheduler ----------------------------------------------------------


def _listener(kind: str) -> int:
    if kind == "http":
        class Quiet(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        class QuietServer(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # the probe hangs up early; a traceback here would reach a later test

        server = QuietServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_address[1]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held = []

    def serve() -> None:
        while True:
            conn, _ = sock.accept()
            held.append(conn)
            if kind == "banner":
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            elif kind == "huge":
                conn.sendall(b"\xff" * 64)

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


@pytest.mark.parametrize("kind,needle", [
    ("silent", "sent no Dask handshake within 1 s"),
    ("http", "is an HTTP server (HTTP/1.0 501"),
    ("banner", "is not a Dask scheduler: it sent 'SSH-2.0-OpenSSH_9.6"),
    ("huge", "is not a Dask scheduler"),
])  # fmt: skip
def test_scheduler_that_is_not_dask_is_one_line(tmp_path, capsys, kind, needle) -> None:
    port = _listener(kind)
    start = time.monotonic()
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), *TINY, "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--connect-timeout", "1"]) == 2  # fmt: skip
    err = _err(capsys)
    assert len(err) == 1 and needle in err[0], err
    assert time.monotonic() - start < 15
    assert not out.exists()


def test_a_lock_that_is_a_symlink_is_refused(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    assert main(["generate", "--out", str(out), *TINY]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "cannot open its lock file" in err[0], err
    assert not (tmp_path / "elsewhere").exists()
