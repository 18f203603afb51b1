"""Hostile-input corpus (issue 19): the real ``drivesynth`` CLI, run as a user would, on a
generated set of bad inputs of every class: missing, empty, truncated, random bytes, wrong
type, huge, path escapes, non-finite numbers and existing outputs.

For each case: exit status 2, exactly one line on stderr, no traceback, and the whole sandbox
(inputs, bundles, existing outputs, the output folder and TMPDIR) byte-for-byte unchanged,
which also means nothing written outside the output folder and no temporary file left;
each within a time bound. Covers edge run/select, export's refusals, generate, vehicle
report, preview, drivers, view, qc, bench NAME and edge update/sign/verify/keygen/watch.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import io
import json
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TIME_LIMIT_S = 30.0


def _tinybundle():
    spec = importlib.util.spec_from_file_location("tinybundle", REPO / "tests/edge/tinybundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the corpus -----------------------------------------------------------------------------


def _png(size: tuple[int, int] = (24, 32)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _claiming(width: int, height: int) -> bytes:
    data = bytearray(_png((1, 1)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _sound(wave: np.ndarray, rate: int = 16000, fmt: str = "FLAC", sub: str = "PCM_16") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wave, rate, format=fmt, subtype=sub)
    return buf.getvalue()


RANDOM = np.random.default_rng(19).bytes

INPUTS = {
    "empty.png": b"",
    "text.png": b"this is a caption, not a picture\n",
    "random.png": RANDOM(3000),
    "truncated.png": _png()[:70],
    "bomb.png": _claiming(20000, 20000),
    "good.png": _png(),
    "empty.flac": b"",
    "random.flac": RANDOM(5000),
    "truncated.flac": _sound(np.zeros(16000, np.float32))[:60],
    "image.flac": _png(),
    "nan.wav": _sound(np.full(16000, np.nan, np.float32), fmt="WAV", sub="FLOAT"),
    "inf.wav": _sound(np.r_[np.ones(100), np.inf].astype(np.float32), fmt="WAV", sub="FLOAT"),
    "rate.flac": _sound(np.zeros(800, np.float32), rate=1000),  # below what is resampled
    "empty.yaml": b"",
    "random.yaml": RANDOM(2000),
    "syntax.yaml": b"body: {mass_kg: 1500\n",
    "list.yaml": b"- body\n- tire\n",
    "types.yaml": b"body: {mass_kg: heavy}\n",
    "nan.yaml": b"body: {mass_kg: .nan}\n",
    "section.yaml": b"engine: 12\n",
    "python.yaml": b"!!python/object/apply:os.system ['touch /tmp/pwned']\n",
    "huge.yaml": b"# " + b"y" * (2 << 20),
    "empty.pt": b"",
}


def _mutations(tb) -> dict:
    """Bundle name -> how to damage a copy of the good bundle (given its folder)."""

    def manifest_edit(fn):
        def apply(b: Path) -> None:
            m = tb.read_manifest(b)
            fn(m, b)
            tb.write_manifest(b, m)

        return apply

    def tower_to(rel: str):
        def fn(m, b):
            target = b.parent.parent / "outside" / "evil.onnx"
            m["files"][rel] = hashlib.sha256(target.read_bytes()).hexdigest()
            m["towers"]["image"]["variants"]["fp32"]["file"] = rel

        return fn

    def symlink_out(b: Path) -> None:
        target = b.parent.parent / "outside" / "evil.onnx"
        (b / "link.onnx").symlink_to(target)
        m = tb.read_manifest(b)
        m["files"]["link.onnx"] = hashlib.sha256(target.read_bytes()).hexdigest()
        m["towers"]["image"]["variants"]["fp32"]["file"] = "link.onnx"
        tb.write_manifest(b, m)

    def garbage_tower(b: Path) -> None:
        (b / "image.fp32.onnx").write_bytes(RANDOM(500))
        m = tb.read_manifest(b)
        m["files"]["image.fp32.onnx"] = hashlib.sha256((b / "image.fp32.onnx").read_bytes()
                                                       ).hexdigest()  # fmt: skip
        tb.write_manifest(b, m)

    def flip(b: Path) -> None:
        data = bytearray((b / "audio.fp32.onnx").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (b / "audio.fp32.onnx").write_bytes(bytes(data))

    def labels_outside(m, b):
        outside = b.parent.parent / "outside" / "labels.npz"
        m["files"]["../../outside/labels.npz"] = hashlib.sha256(outside.read_bytes()).hexdigest()
        m["labels"]["file"] = "../../outside/labels.npz"

    def escape_files(m, b):
        secret = b.parent.parent / "outside" / "secret.txt"
        m["files"]["../../outside/secret.txt"] = hashlib.sha256(secret.read_bytes()).hexdigest()

    return {
        "abs_tower": manifest_edit(lambda m, b: tower_to(str(b.parent.parent / "outside"
                                                            / "evil.onnx"))(m, b)),  # fmt: skip
        "dotdot_tower": manifest_edit(tower_to("../../outside/evil.onnx")),
        "escape_files": manifest_edit(escape_files),
        "labels_outside": manifest_edit(labels_outside),
        "symlink_out": symlink_out,
        "no_towers": manifest_edit(lambda m, b: m.pop("towers")),
        "no_labels": manifest_edit(lambda m, b: m.pop("labels")),
        "towers_list": manifest_edit(lambda m, b: m.update(towers=[1, 2])),
        "files_str": manifest_edit(lambda m, b: m.update(files="all")),
        "nan_scale": manifest_edit(lambda m, b: m["labels"].update(logit_scale=float("nan"))),
        "bad_preprocess": manifest_edit(lambda m, b: m["preprocess"].update(image=[])),
        "manifest_empty": lambda b: (b / "manifest.json").write_bytes(b""),
        "manifest_random": lambda b: (b / "manifest.json").write_bytes(RANDOM(900)),
        "manifest_truncated": lambda b: (b / "manifest.json").write_bytes(
            (b / "manifest.json").read_bytes()[:150]),
        "manifest_list": lambda b: (b / "manifest.json").write_text("[]"),
        "tampered": flip,
        "garbage_tower": garbage_tower,
        "missing_file": lambda b: (b / "labels.npz").unlink(),
        "unlisted_file": lambda b: (b / "extra.onnx").write_bytes(b"x"),
        "fifo_inside": lambda b: os.mkfifo(b / "pipe.onnx"),
    }


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    tb = _tinybundle()
    for sub in ("in", "bundles", "outside", "existing", "out", "tmp"):
        (root / sub).mkdir()
    for name, data in INPUTS.items():
        (root / "in" / name).write_bytes(data)
    (root / "in" / "folder.png").mkdir()
    os.mkfifo(root / "in" / "pipe.png")
    good = tb.make_bundle(root / "bundles" / "good")
    shutil.copy(good / "image.fp32.onnx", root / "outside" / "evil.onnx")
    shutil.copy(good / "labels.npz", root / "outside" / "labels.npz")
    (root / "outside" / "secret.txt").write_text("secret\n")
    (root / "bundles" / "empty").mkdir()
    (root / "bundles" / "a_file").write_bytes(b"not a bundle")
    for name, damage in _mutations(tb).items():
        damage(Path(shutil.copytree(good, root / "bundles" / name)))
    ex = root / "existing"
    (ex / "old.png").write_bytes(_png())
    (ex / "old.json").write_text('{"keep": true}\n')
    (ex / "a_file").write_text("a file, not a folder\n")
    (ex / "policies").mkdir()
    (ex / "policies" / "normal.npz").write_bytes(b"a trained policy")
    ds = ex / "dataset_no_shards"
    (ds / "card").mkdir(parents=True)
    (ds / "card" / "README.md").write_text("# card\n")
    (ds / "manifest.json").write_text(json.dumps({"format": "drivesynth-shards/1",
                                                  "config": {"seed": 0}, "shards": []}))
    resumable = ex / "dataset_seed0"
    resumable.mkdir()
    from datagen.builder import weather_presets
    from datagen.plan import GenerateConfig

    cfg = GenerateConfig(scenarios=2, frames=2, seed=0, image_size=64,
                         weather_presets=weather_presets())  # fmt: skip
    (resumable / "manifest.json").write_text(json.dumps({"config": cfg.to_json(), "shards": []}))
    (resumable / "train-000000.tar").write_bytes(b"\0" * 1024)
    shutil.copytree(good, ex / "bundle")
    _datasets(root / "in", tb, good)
    # Libraries make these in $TMPDIR on their first import and never change them again:
    # onnxruntime 1.31's native library $TMPDIR/.ses (a session id), torch (imported by
    # edge.export) the empty cache folder $TMPDIR/torchinductor_$USER. Let them exist before
    # the first snapshot: they are not the commands' doing.
    env = {**os.environ, "TMPDIR": str(root / "tmp")}
    subprocess.run([sys.executable, "-c", "import onnxruntime, edge.export"], check=True,
                   timeout=300, cwd=REPO, env=env)  # fmt: skip
    return root


def _tar(members: dict[str, bytes]) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _datasets(inp: Path, tb, good: Path) -> None:
    """Data set folders for view/qc/bench train, and key files for edge sign/verify/update."""
    sample = {"s0.json": b'{"scenario": 0}', "s0.rgb.png": _png()}
    shards = {
        "ds_zero": b"",
        "ds_random": RANDOM(4096),
        "ds_truncated": _tar(sample)[:700],
        "ds_json_list": _tar({"s0.json": b"[]", "s0.rgb.png": _png()}),
    }
    (inp / "ds_empty").mkdir()
    for name, data in shards.items():
        (inp / name).mkdir()
        (inp / name / "train-000000.tar").write_bytes(data)
    (inp / "ds_random" / "manifest.json").write_bytes(RANDOM(300))
    (inp / "empty.pem").write_bytes(b"")
    (inp / "random.pem").write_bytes(RANDOM(600))
    (inp / "text.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot base64 !!\n"
                                  "-----END PRIVATE KEY-----\n")  # fmt: skip
    (inp / "only.pem.pub").write_text("a public key that must stay\n")
    (inp / "install_empty").mkdir()
    (inp / "watch").mkdir()


def tree_state(root: Path) -> dict[str, tuple]:
    """Everything under ``root``: kind, mode, size, mtime and content hash of each entry
    (folders by name and mode: creating then removing a temporary changes their mtime)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISDIR(st.st_mode):
                state[rel] = ("dir", st.st_mode)
            elif stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                state[rel] = ("file", st.st_mode, st.st_size, st.st_mtime_ns, digest)
            else:
                state[rel] = ("other", st.st_mode)
    return state


# --- listeners that are not Dask schedulers -------------------------------------------------


def _listener(kind: str) -> int:
    if kind == "http":
        class Quiet(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_address[1]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    conns = []

    def serve() -> None:
        while True:
            conn, _ = sock.accept()
            conns.append(conn)
            if kind == "banner":
                conn.sendall(b"220 smtp.example ESMTP ready\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


@pytest.fixture(scope="module")
def listeners() -> dict[str, int]:
    return {kind: _listener(kind) for kind in ("silent", "http", "banner")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the cases --------------------------------------------------------------------------------

GEN = ["--scenarios", "2", "--frames", "2", "--image-size", "64", "--workers", "0",
       "--no-progress", "--no-card"]  # fmt: skip
IN, B, EX, OUT = "{in}", "{bundles}", "{existing}", "{out}"

EDGE_RUN = [
    # missing / wrong type / empty / truncated / random / huge inputs
    ("run-missing-image", ["edge", "run", "--bundle", B + "/good", "--image", IN + "/nope.png"]),
    *[(f"run-image-{n}", ["edge", "run", "--bundle", B + "/good", "--image", f"{IN}/{n}.png"])
      for n in ("empty", "text", "random", "truncated", "bomb", "folder", "pipe")],
    *[(f"run-audio-{n}", ["edge", "run", "--bundle", B + "/good", "--audio", f"{IN}/{n}"])
      for n in ("empty.flac", "random.flac", "truncated.flac", "image.flac", "nan.wav",
                "inf.wav", "rate.flac", "good.png")],
    ("run-no-inputs", ["edge", "run", "--bundle", B + "/good"]),
    ("run-threads-0", ["edge", "run", "--bundle", B + "/good", "--image", IN + "/good.png",
                       "--threads", "0"]),
    ("run-threads-huge", ["edge", "run", "--bundle", B + "/good", "--image", IN + "/good.png",
                          "--threads", "100000"]),
    ("run-variant-absent", ["edge", "run", "--bundle", B + "/good", "--image",
                            IN + "/good.png", "--variant", "fp16"]),
    ("run-threads-text", ["edge", "run", "--bundle", B + "/good", "--threads", "many"]),
    # bundles: missing, wrong type, empty, escapes, malformed, tampered
    *[(f"run-bundle-{n}", ["edge", "run", "--bundle", f"{B}/{n}", "--image", IN + "/good.png"])
      for n in ("nope", "a_file", "empty", *_mutations(None))],
]  # fmt: skip

EDGE_SELECT = [
    ("select-escape", ["edge", "select", "--bundle", B + "/dotdot_tower", "--samples", "2"]),
    ("select-symlink", ["edge", "select", "--bundle", B + "/symlink_out", "--samples", "2"]),
    ("select-manifest-random", ["edge", "select", "--bundle", B + "/manifest_random"]),
    ("select-budget-nan", ["edge", "select", "--bundle", B + "/good", "--budget", "nan"]),
    ("select-samples-0", ["edge", "select", "--bundle", B + "/good", "--samples", "0"]),
]

EXPORT = [
    ("export-missing-checkpoint", ["export", "--checkpoint", IN + "/nope.pt", "--out",
                                   OUT + "/b", "--data", IN + "/nope.tar"]),
    ("export-existing-out", ["export", "--checkpoint", IN + "/empty.pt", "--out",
                             EX + "/bundle", "--data", IN + "/nope.tar"]),
    ("export-out-is-file", ["export", "--checkpoint", IN + "/empty.pt", "--out",
                            EX + "/a_file", "--data", IN + "/nope.tar"]),
    ("export-out-under-file", ["export", "--checkpoint", IN + "/empty.pt", "--out",
                               EX + "/a_file/b", "--data", IN + "/nope.tar"]),
]  # fmt: skip

GENERATE = [
    ("gen-out-is-file", ["generate", "--out", EX + "/a_file", *GEN]),
    ("gen-out-under-file", ["generate", "--out", EX + "/a_file/d", *GEN]),
    ("gen-existing-dataset", ["generate", "--out", EX + "/dataset_no_shards", *GEN]),
    ("gen-resume-other-seed", ["generate", "--out", EX + "/dataset_seed0", *GEN, "--seed", "3",
                               "--resume"]),
    ("gen-existing-shards", ["generate", "--out", EX + "/dataset_seed0", *GEN]),
    ("gen-resume-and-force", ["generate", "--out", OUT + "/d", *GEN, "--resume", "--force"]),
    ("gen-scenarios-huge", ["generate", "--out", OUT + "/d", *GEN, "--scenarios", "100000000"]),
    ("gen-frames-huge", ["generate", "--out", OUT + "/d", *GEN, "--frames", "1000000000"]),
    ("gen-workers-huge", ["generate", "--out", OUT + "/d", *GEN, "--workers", "100000"]),
    ("gen-image-huge", ["generate", "--out", OUT + "/d", *GEN, "--image-size", "1000000"]),
    ("gen-split-escape", ["generate", "--out", OUT + "/d", *GEN, "--split", "../../x"]),
    ("gen-seed-negative", ["generate", "--out", OUT + "/d", *GEN, "--seed", "-1"]),
    ("gen-timeout-nan", ["generate", "--out", OUT + "/d", *GEN, "--scheduler",
                         "tcp://127.0.0.1:9", "--connect-timeout", "nan"]),
    ("gen-scheduler-garbage", ["generate", "--out", OUT + "/d", *GEN, "--scheduler",
                               "http://x/../../"]),
    ("gen-scheduler-closed", ["generate", "--out", OUT + "/d", *GEN, "--scheduler",
                              "tcp://127.0.0.1:{free_port}", "--connect-timeout", "2"]),
]  # fmt: skip

SCHEDULERS = [
    (f"gen-scheduler-{kind}", ["generate", "--out", OUT + "/d", *GEN, "--scheduler",
                               f"tcp://127.0.0.1:{{port_{kind}}}", "--connect-timeout", "2"])
    for kind in ("silent", "http", "banner")
]  # fmt: skip

VEHICLE = [
    *[(f"vehicle-config-{n}", ["vehicle", "report", "--config", f"{IN}/{n}"])
      for n in ("nope.yaml", "empty.yaml", "random.yaml", "syntax.yaml", "list.yaml",
                "types.yaml", "nan.yaml", "section.yaml", "python.yaml", "huge.yaml",
                "good.png", "folder.png")],
    ("vehicle-existing-json", ["vehicle", "report", "--json", EX + "/old.json"]),
    ("vehicle-existing-plot", ["vehicle", "report", "--plot", EX + "/old.png"]),
    ("vehicle-json-under-file", ["vehicle", "report", "--json", EX + "/a_file/r.json"]),
    ("vehicle-unknown-preset", ["vehicle", "report", "--preset", "../../etc/passwd"]),
]  # fmt: skip

PREVIEW = [
    ("preview-existing-out", ["preview", "--frames", "1", "--out", EX + "/old.png"]),
    ("preview-out-folder", ["preview", "--frames", "1", "--out", IN + "/folder.png"]),
    ("preview-out-under-file", ["preview", "--frames", "1", "--out", EX + "/a_file/p.png"]),
    ("preview-out-not-png", ["preview", "--frames", "1", "--out", OUT + "/p.txt"]),
    ("preview-seeds-huge", ["preview", "--out", OUT + "/p.png", "--seeds", "1000000"]),
    ("preview-frames-huge", ["preview", "--out", OUT + "/p.png", "--frames", "1000000000"]),
    ("preview-size-huge", ["preview", "--out", OUT + "/p.png", "--image-size", "100000"]),
    ("preview-weather", ["preview", "--out", OUT + "/p.png", "--weather", "../../x"]),
    ("preview-camera", ["preview", "--out", OUT + "/p.png", "--cameras", "roof"]),
    ("preview-seed-nan", ["preview", "--out", OUT + "/p.png", "--seed", "nan"]),
]  # fmt: skip

DRIVERS = [
    ("drivers-existing-json", ["drivers", "eval", "--episodes", "1", "--json",
                               EX + "/old.json"]),
    ("drivers-episodes-0", ["drivers", "eval", "--episodes", "0"]),
    ("drivers-existing-policy", ["drivers", "train", "--style", "normal", "--out",
                                 EX + "/policies"]),
]  # fmt: skip

CASES = [*EDGE_RUN, *EDGE_SELECT, *EXPORT, *GENERATE, *VEHICLE, *PREVIEW, *DRIVERS]
# One case per command and class of input runs by default (~1 s each); the other variations
# are marked slow (CI runs them too).
FAST = {
    "run-image-empty", "run-image-random", "run-image-bomb", "run-image-pipe",
    "run-audio-truncated.flac", "run-audio-nan.wav", "run-threads-0", "run-missing-image",
    "run-bundle-nope", "run-bundle-abs_tower", "run-bundle-dotdot_tower",
    "run-bundle-escape_files", "run-bundle-labels_outside", "run-bundle-symlink_out",
    "run-bundle-no_towers", "run-bundle-manifest_random", "run-bundle-tampered",
    "run-bundle-garbage_tower", "run-bundle-fifo_inside", "select-escape",
    "gen-out-is-file", "gen-existing-dataset", "gen-resume-other-seed",
    "gen-scenarios-huge", "vehicle-config-syntax.yaml", "vehicle-config-types.yaml",
    "vehicle-config-nan.yaml", "vehicle-existing-json", "preview-existing-out",
    "preview-frames-huge", "drivers-existing-json",
}  # fmt: skip


def run_cli(sandbox: Path, argv: list[str], fill: dict[str, object]) -> tuple:
    values = {"in": sandbox / "in", "bundles": sandbox / "bundles",
              "existing": sandbox / "existing", "out": sandbox / "out", **fill}  # fmt: skip
    argv = [a.format(**values) for a in argv]
    env = {**os.environ, "TMPDIR": str(sandbox / "tmp"), "OMP_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "edge.cli", *argv], cwd=sandbox / "out",
                          env=env, capture_output=True, text=True, timeout=TIME_LIMIT_S * 4,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    return proc, time.monotonic() - start


def check_case(sandbox: Path, argv: list[str], fill: dict[str, object]) -> None:
    before = tree_state(sandbox)
    proc, seconds = run_cli(sandbox, argv, fill)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(err) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and err[0].startswith("drivesynth"), err
    limit = TIME_LIMIT_S * (3 if argv[0] == "export" else 1)  # export imports torch first
    assert seconds < limit, f"took {seconds:.1f} s"
    after = tree_state(sandbox)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"changed or left behind: {changed[:5]}"


@pytest.mark.parametrize("argv", [
    pytest.param(argv, id=name, marks=() if name in FAST else pytest.mark.slow)
    for name, argv in CASES
])  # fmt: skip
def test_bad_input_is_refused_cleanly(sandbox: Path, argv: list[str]) -> None:
    check_case(sandbox, argv, {"free_port": _free_port()})


@pytest.mark.slow
@pytest.mark.parametrize("argv", [c[1] for c in SCHEDULERS], ids=[c[0] for c in SCHEDULERS])
def test_a_scheduler_that_is_not_dask_is_refused_cleanly(sandbox: Path, listeners,
                                                         argv: list[str]) -> None:  # fmt: skip
    check_case(sandbox, argv, {f"port_{k}": p for k, p in listeners.items()})

VIEW = [
    *[(f"view-dir-{n}", ["view", f"{IN}/{n}", "--html", OUT + "/site"])
      for n in ("nope", "ds_empty", "good.png")],
    ("view-no-output", ["view", IN + "/ds_json_list"]),
    ("view-html-is-file", ["view", IN + "/ds_json_list", "--html", EX + "/old.json"]),
    ("view-html-existing", ["view", IN + "/ds_json_list", "--html", EX + "/policies"]),
    ("view-html-under-file", ["view", IN + "/ds_json_list", "--html", EX + "/a_file/s"]),
    ("view-rerun-existing", ["view", IN + "/ds_json_list", "--rerun", EX + "/old.json"]),
    ("view-rerun-folder", ["view", IN + "/ds_json_list", "--rerun", IN + "/folder.png"]),
    ("view-qc-missing", ["view", IN + "/ds_json_list", "--html", OUT + "/s", "--qc",
                         IN + "/nope.json"]),
    ("view-qc-random", ["view", IN + "/ds_json_list", "--html", OUT + "/s", "--qc",
                        IN + "/random.yaml"]),
    ("view-workers-0", ["view", IN + "/ds_json_list", "--html", OUT + "/s", "--workers", "0"]),
    ("view-thumb-negative", ["view", IN + "/ds_json_list", "--html", OUT + "/s",
                             "--thumb-px", "-5"]),
    ("view-page-size-0", ["view", IN + "/ds_json_list", "--html", OUT + "/s",
                          "--page-size", "0"]),
]  # fmt: skip

QC = [
    *[(f"qc-dir-{n}", ["qc", f"{IN}/{n}"]) for n in ("nope", "ds_empty", "good.png")],
    ("qc-json-folder", ["qc", IN + "/ds_json_list", "--json", IN + "/folder.png"]),
    ("qc-json-existing", ["qc", IN + "/ds_json_list", "--json", EX + "/old.json"]),
    ("qc-list-existing", ["qc", IN + "/ds_json_list", "--list", EX + "/old.json"]),
    ("qc-json-under-file", ["qc", IN + "/ds_json_list", "--json", EX + "/a_file/q.json"]),
    ("qc-inject-zero", ["qc", IN + "/ds_zero", "--inject-eval", OUT + "/w"]),
    ("qc-inject-existing", ["qc", IN + "/ds_json_list", "--inject-eval", EX + "/policies"]),
    ("qc-model-missing", ["qc", IN + "/ds_json_list", "--model", IN + "/nope.pt"]),
    ("qc-model-empty", ["qc", IN + "/ds_json_list", "--model", IN + "/empty.pt"]),
    ("qc-model-random", ["qc", IN + "/ds_json_list", "--model", IN + "/random.png"]),
    ("qc-device-unknown", ["qc", IN + "/ds_json_list", "--model", IN + "/empty.pt",
                           "--device", "tpu9"]),
]  # fmt: skip

BENCH = [
    ("bench-unknown", ["bench", "nope"]),
    ("bench-unknown-option", ["bench", "sim", "--nope", "1"]),
    ("bench-sim-frames-negative", ["bench", "sim", "--frames", "-1"]),
    ("bench-sim-size-0", ["bench", "sim", "--image-size", "0"]),
    ("bench-sim-rounds-0", ["bench", "sim", "--rounds", "0"]),
    ("bench-sim-json-folder", ["bench", "sim", "--json", IN + "/folder.png", "--frames", "1",
                               "--rounds", "1", "--image-size", "32", "--n-npc", "0"]),
    ("bench-vehicle-cars-nan", ["bench", "vehicle", "--cars", "nan"]),
    ("bench-vehicle-cars-0", ["bench", "vehicle", "--cars", "0"]),
    ("bench-vehicle-preset", ["bench", "vehicle", "--preset", "../../etc/passwd"]),
    ("bench-vehicle-steps-negative", ["bench", "vehicle", "--steps", "-5"]),
    ("bench-audio-duration-nan", ["bench", "audio", "--duration", "nan"]),
    ("bench-audio-duration-negative", ["bench", "audio", "--duration", "-1"]),
    ("bench-audio-duration-inf", ["bench", "audio", "--duration", "inf"]),
    ("bench-audio-hz-0", ["bench", "audio", "--frame-hz", "0"]),
    ("bench-samples-workers-0", ["bench", "samples", "--workers", "0"]),
    ("bench-samples-scenarios-huge", ["bench", "samples", "--scenarios", "100000000"]),
    ("bench-generate-scenarios-huge", ["bench", "generate", "--scenarios", "100000000"]),
    ("bench-all-demo-file", ["bench", "all", "--demo", IN + "/empty.pt", "--only", "audio",
                             "--out", OUT + "/benchall"]),
    ("bench-generate-cameras-9", ["bench", "generate", "--camera-counts", "9"]),
    ("bench-generate-cameras-text", ["bench", "generate", "--camera-counts", "front"]),
    ("bench-generate-frames-0", ["bench", "generate", "--frames", "0"]),
    ("bench-train-missing", ["bench", "train", "--train", IN + "/nope.tar", "--device", "cpu"]),
    ("bench-train-zero", ["bench", "train", "--train", IN + "/ds_zero/train-000000.tar",
                          "--device", "cpu", "--workers", "0", "--steps", "1"]),
    ("bench-train-random", ["bench", "train", "--train", IN + "/ds_random/train-000000.tar",
                            "--device", "cpu", "--workers", "0", "--steps", "1"]),
    ("bench-train-device", ["bench", "train", "--train", IN + "/ds_zero/train-000000.tar",
                            "--device", "tpu9"]),
    ("bench-train-batch-0", ["bench", "train", "--train", IN + "/ds_zero/train-000000.tar",
                             "--batch-size", "0", "--device", "cpu"]),
    *[(f"bench-edge-bundle-{n}", ["bench", "edge", "--bundle", f"{B}/{n}", "--samples", "2",
                                  "--repeats", "1", "--threads", "1"])
      for n in ("nope", "a_file", "empty", "dotdot_tower", "tampered", "manifest_random")],
    ("bench-edge-checkpoint-empty", ["bench", "edge", "--checkpoint", IN + "/empty.pt"]),
    ("bench-edge-threads-0", ["bench", "edge", "--bundle", B + "/good", "--threads", "0"]),
    ("bench-edge-samples-negative", ["bench", "edge", "--bundle", B + "/good",
                                     "--samples", "-1"]),
    ("bench-edge-json-existing", ["bench", "edge", "--bundle", B + "/good", "--json",
                                  EX + "/old.json", "--data", IN + "/ds_zero/train-000000.tar"]),
    ("bench-edge-plot-existing", ["bench", "edge", "--bundle", B + "/good", "--plot",
                                  EX + "/old.png", "--data", IN + "/ds_zero/train-000000.tar"]),
    ("bench-edge-data-zero", ["bench", "edge", "--bundle", B + "/good", "--data",
                              IN + "/ds_zero/train-000000.tar", "--samples", "2",
                              "--repeats", "1", "--threads", "1"]),
    ("bench-all-out-file", ["bench", "all", "--out", EX + "/a_file", "--quick", "--only", "audio"]),
    ("bench-all-out-under-file", ["bench", "all", "--out", EX + "/a_file/r", "--quick",
                                  "--only", "audio"]),
    ("bench-all-only-unknown", ["bench", "all", "--out", OUT + "/r", "--only", "nope"]),
    ("bench-all-only-escape", ["bench", "all", "--out", OUT + "/r", "--only", "../../x"]),
]  # fmt: skip

EDGE_OPS = [
    # update
    ("update-bundle-missing", ["edge", "update", "--bundle", B + "/nope", "--into", OUT + "/i"]),
    *[(f"update-bundle-{n}", ["edge", "update", "--bundle", f"{B}/{n}", "--into",
                              OUT + "/i", "--no-smoke"])
      for n in ("a_file", "empty", "tampered", "dotdot_tower", "symlink_out",
                "manifest_random", "escape_files")],
    ("update-into-file", ["edge", "update", "--bundle", B + "/good", "--into", EX + "/a_file"]),
    ("update-into-under-file", ["edge", "update", "--bundle", B + "/good", "--into",
                                EX + "/a_file/i"]),
    ("update-into-bundle", ["edge", "update", "--bundle", B + "/good", "--into",
                            EX + "/policies"]),
    ("update-keep-1", ["edge", "update", "--bundle", B + "/good", "--into", OUT + "/i",
                       "--keep", "1"]),
    ("update-keep-negative", ["edge", "update", "--bundle", B + "/good", "--into",
                              OUT + "/i", "--keep", "-3"]),
    ("update-threads-0", ["edge", "update", "--bundle", B + "/good", "--into", OUT + "/i",
                          "--threads", "0"]),
    ("update-key-missing", ["edge", "update", "--bundle", B + "/good", "--into", OUT + "/i",
                            "--public-key", IN + "/nope.pem"]),
    *[(f"update-key-{n}", ["edge", "update", "--bundle", B + "/good", "--into", OUT + "/i",
                           "--public-key", f"{IN}/{n}.pem"]) for n in ("empty", "random", "text")],
    ("update-key-folder", ["edge", "update", "--bundle", B + "/good", "--into", OUT + "/i",
                           "--public-key", IN + "/folder.png"]),
    ("update-unsigned-with-key", ["edge", "update", "--bundle", B + "/good", "--into",
                                  OUT + "/i", "--public-key", "{pub}"]),
    ("update-rollback-empty", ["edge", "update", "--rollback", "--into", IN + "/install_empty"]),
    ("update-rollback-missing", ["edge", "update", "--rollback", "--into", OUT + "/i"]),
    ("update-status-missing", ["edge", "update", "--status", "--into", OUT + "/i"]),
    ("update-status-file", ["edge", "update", "--status", "--into", EX + "/a_file"]),
    # sign
    ("sign-key-missing", ["edge", "sign", "--bundle", EX + "/bundle", "--key", IN + "/nope.pem"]),
    *[(f"sign-key-{n}", ["edge", "sign", "--bundle", EX + "/bundle", "--key", f"{IN}/{n}.pem"])
      for n in ("empty", "random", "text")],
    ("sign-key-public", ["edge", "sign", "--bundle", EX + "/bundle", "--key", "{pub}"]),
    ("sign-key-folder", ["edge", "sign", "--bundle", EX + "/bundle", "--key", IN + "/folder.png"]),
    *[(f"sign-bundle-{n}", ["edge", "sign", "--bundle", f"{B}/{n}", "--key", "{priv}"])
      for n in ("nope", "a_file", "empty", "tampered", "dotdot_tower", "manifest_random",
                "symlink_out")],
    # verify
    *[(f"verify-bundle-{n}", ["edge", "verify", "--bundle", f"{B}/{n}"])
      for n in ("nope", "a_file", "empty", "tampered", "dotdot_tower", "abs_tower",
                "escape_files", "labels_outside", "symlink_out", "manifest_random",
                "manifest_empty", "towers_list", "files_str", "missing_file", "unlisted_file",
                "fifo_inside")],
    ("verify-unsigned-with-key", ["edge", "verify", "--bundle", B + "/good", "--public-key",
                                  "{pub}"]),
    *[(f"verify-key-{n}", ["edge", "verify", "--bundle", B + "/good", "--public-key",
                           f"{IN}/{n}.pem"]) for n in ("nope", "empty", "random", "text")],
    ("verify-install-empty", ["edge", "verify", "--bundle", IN + "/install_empty"]),
    # keygen
    ("keygen-existing", ["edge", "keygen", "--out", EX + "/old.json"]),
    ("keygen-existing-pub", ["edge", "keygen", "--out", IN + "/only.pem"]),
    ("keygen-out-folder", ["edge", "keygen", "--out", IN + "/folder.png"]),
    ("keygen-out-under-file", ["edge", "keygen", "--out", EX + "/a_file/k.pem"]),
    # watch
    *[(f"watch-dir-{n}", ["edge", "watch", "--bundle", B + "/good", f"{IN}/{n}", "--polls", "1",
                          "--poll", "0.1", "--settle", "0"])
      for n in ("nope", "good.png", "pipe.png")],
    *[(f"watch-bundle-{n}", ["edge", "watch", "--bundle", f"{B}/{n}", IN + "/watch", "--polls",
                             "1", "--poll", "0.1", "--settle", "0"])
      for n in ("nope", "a_file", "empty", "tampered", "dotdot_tower", "manifest_random")],
    *[(f"watch-{opt.strip('-')}-{v}", ["edge", "watch", "--bundle", B + "/good", IN + "/watch",
                                       "--polls", "1", opt, v])
      for opt, v in (("--poll", "nan"), ("--poll", "-1"), ("--settle", "inf"),
                     ("--settle", "-1"), ("--polls", "-1"), ("--flush", "nan"),
                     ("--flush", "-1"), ("--batch", "0"), ("--threads", "0"),
                     ("--shard-samples", "0"), ("--min-score", "nan"),
                     ("--min-margin", "inf"), ("--min-cosine", "nan"),
                     ("--feedback-budget", "lots"), ("--feedback-budget", "-5M"),
                     ("--feedback-budget", "nan"), ("--feedback-criteria", "nope"),
                     ("--feedback-criteria", ""), ("--variant", "fp64"))],
    ("watch-variant-absent", ["edge", "watch", "--bundle", B + "/good", IN + "/watch",
                              "--polls", "1", "--variant", "fp16"]),
    ("watch-feedback-file", ["edge", "watch", "--bundle", B + "/good", IN + "/watch",
                             "--polls", "1", "--feedback", EX + "/a_file"]),
    ("watch-feedback-under-file", ["edge", "watch", "--bundle", B + "/good", IN + "/watch",
                                   "--polls", "1", "--feedback", EX + "/a_file/fb"]),
    ("watch-feedback-is-dir", ["edge", "watch", "--bundle", B + "/good", IN + "/watch",
                               "--polls", "1", "--feedback", IN + "/watch"]),
]  # fmt: skip

NEW_CASES = [*VIEW, *QC, *BENCH, *EDGE_OPS]
# One case per command and class of input runs by default.
NEW_FAST = {
    "view-dir-nope", "view-dir-ds_empty", "view-dir-good.png", "view-html-is-file",
    "view-html-existing", "view-thumb-negative", "view-html-under-file",
    "qc-dir-nope", "qc-dir-ds_empty", "qc-dir-good.png", "qc-json-folder", "qc-json-existing",
    "qc-inject-zero",
    "bench-unknown", "bench-sim-frames-negative", "bench-vehicle-cars-nan",
    "bench-vehicle-preset", "bench-audio-duration-nan", "bench-train-missing",
    "bench-edge-bundle-nope", "bench-edge-bundle-dotdot_tower", "bench-all-out-file",
    "bench-audio-duration-inf", "bench-sim-json-folder",
    "bench-all-only-unknown",
    "update-bundle-missing", "update-bundle-tampered", "update-bundle-dotdot_tower",
    "update-into-file", "update-into-bundle", "update-keep-1", "update-key-random",
    "update-rollback-empty",
    "sign-key-missing", "sign-key-random", "sign-key-public", "sign-bundle-tampered",
    "verify-bundle-tampered", "verify-bundle-dotdot_tower", "verify-bundle-symlink_out",
    "verify-key-random", "verify-unsigned-with-key",
    "keygen-existing", "keygen-out-folder", "keygen-out-under-file",
    "watch-dir-nope", "watch-dir-good.png", "watch-bundle-tampered", "watch-poll-nan",
    "watch-settle--1", "watch-feedback-budget-lots", "watch-feedback-criteria-nope",
    "watch-feedback-file", "watch-feedback-is-dir", "watch-variant-absent",
}  # fmt: skip


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A real key pair, outside the sandbox (made by 'edge keygen', which the cases attack)."""
    folder = tmp_path_factory.mktemp("keys")
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "edge", "keygen", "--out",
                           str(folder / "k.pem")], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items()
                                            if k != "DRIVESYNTH_KEY_PASSPHRASE"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return {"priv": str(folder / "k.pem"), "pub": str(folder / "k.pem.pub")}


@pytest.mark.parametrize("argv", [
    pytest.param(argv, id=name, marks=() if name in NEW_FAST else pytest.mark.slow)
    for name, argv in NEW_CASES
])  # fmt: skip
def test_bad_input_to_view_qc_bench_and_edge_ops_is_refused_cleanly(sandbox: Path, keys,
                                                                    argv: list[str]) -> None:
    check_case(sandbox, argv, {"free_port": _free_port(), **keys})


@pytest.mark.parametrize("name", ["ds_zero", "ds_random", "ds_truncated"])
def test_damaged_shards_are_findings_for_qc_and_errors_shown_by_view(sandbox: Path,
                                                                     name: str) -> None:
    """0-byte, random and truncated shards are what qc and view exist to show: qc reports
    them as 'shard_unreadable' findings and view shows them as errors (exit 0 both), with
    no traceback, within the time bound, and nothing changed outside view's --html."""
    before = tree_state(sandbox)
    proc, seconds = run_cli(sandbox, ["qc", f"{{in}}/{name}"], {})
    assert proc.returncode == 0 and "shard_unreadable" in proc.stdout, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and seconds < TIME_LIMIT_S
    site = sandbox / "out" / f"site_{name}"
    try:
        proc, seconds = run_cli(sandbox, ["view", f"{{in}}/{name}", "--html", str(site)], {})
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert len(proc.stderr.strip().splitlines()) <= 1, proc.stderr[-2000:]
        assert "could not be decoded" in proc.stderr and "Traceback" not in proc.stderr
        assert seconds < TIME_LIMIT_S
        assert (site / "index.html").is_file()
    finally:
        shutil.rmtree(site, ignore_errors=True)
    after = tree_state(sandbox)
    assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == set()


def test_the_new_fast_cases_exist() -> None:
    names = [name for name, _ in NEW_CASES]
    assert NEW_FAST <= set(names) and len(names) == len(set(names))


def test_the_fast_cases_exist() -> None:
    assert FAST <= {name for name, _ in CASES}


def test_the_corpus_is_really_hostile(sandbox: Path) -> None:
    """The good bundle and inputs work, so the refusals above are about the bad parts."""
    proc, _ = run_cli(sandbox, ["edge", "run", "--bundle", "{bundles}/good", "--image",
                                "{in}/good.png"], {})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"invalid JSON {c}"))
    for name in _mutations(None):
        assert (sandbox / "bundles" / name / "manifest.json").exists()
