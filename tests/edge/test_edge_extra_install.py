"""``pip install 'drivesynth[edge]'`` in a new venv runs ``drivesynth edge run``: a real
install from requirements/edge-lock.txt (hashes, no torch), then the installed command."""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def edge_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("edge") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q"]
    lock = REPO / "requirements" / "edge-lock.txt"
    out = _run(pip + ["--require-hashes", "--no-deps", "-r", str(lock)])
    assert out.returncode == 0, out.stderr
    # a copy of the source tree, so that the build leaves nothing in the checkout
    src = tmp_path_factory.mktemp("src")
    _run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(src / "s.tar"), "HEAD"])
    _run(["tar", "-xf", str(src / "s.tar"), "-C", str(src)])
    out = _run(pip + ["--no-deps", "--no-build-isolation", f"{src}[edge]"])
    assert out.returncode == 0, out.stderr
    return env_dir


def test_edge_extra_has_no_torch(edge_venv: Path) -> None:
    out = _run([str(edge_venv / "bin" / "python"), "-c", "import torch"])
    assert out.returncode != 0 and "No module named 'torch'" in out.stderr


def test_edge_run_in_edge_only_install(edge_venv: Path, bundle: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    exe = str(edge_venv / "bin" / "drivesynth")
    out = _run([exe, "edge", "run", "--bundle", str(bundle), "--image", str(tmp_path / "a.png"),
                "--threads", "1"], cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    tasks = set(json.loads((bundle / "manifest.json").read_text())["labels"]["tasks"])
    assert set(report["image"][0]) == tasks
    version = _run([exe, "--version"])
    assert version.returncode == 0 and version.stdout.startswith("drivesynth ")


def test_full_commands_name_the_extra(edge_venv: Path, tmp_path: Path) -> None:
    exe = str(edge_venv / "bin" / "drivesynth")
    for argv in (["train", "--train", "x.tar", "--out", "run"], ["preview", "--out", "p.png"],
                 ["vehicle", "report"]):  # fmt: skip
        out = _run([exe, *argv], cwd=tmp_path)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2, (argv, out.stderr)
        assert len(lines) == 1 and "pip install 'drivesynth[full]'" in lines[0], out.stderr
    assert list(tmp_path.iterdir()) == []


def test_signed_update_and_feedback_in_edge_only_install(edge_venv: Path, tmp_path: Path) -> None:
    """The board's whole loop with only the edge extra: keys, signing, a verified install,
    a run of the installed bundle logging feedback (cryptography is in the edge lock)."""
    from boardkit import versioned_bundle, write_inputs

    exe = str(edge_venv / "bin" / "drivesynth")
    bundle = versioned_bundle(tmp_path / "v1", version=1)
    write_inputs(tmp_path / "in", 2)
    key, board, fb = tmp_path / "k.pem", tmp_path / "board", tmp_path / "fb"
    for argv in (["edge", "keygen", "--out", str(key)],
                 ["edge", "sign", "--bundle", str(bundle), "--key", str(key)],
                 ["edge", "update", "--bundle", str(bundle), "--into", str(board),
                  "--public-key", f"{key}.pub"],
                 ["edge", "run", "--bundle", str(board), "--inputs", str(tmp_path / "in"),
                  "--feedback", str(fb), "--feedback-criteria", "low_cosine",
                  "--min-cosine", "1"]):  # fmt: skip
        out = _run([exe, *argv], cwd=tmp_path)
        assert out.returncode == 0, (argv, out.stderr)
    report = json.loads(out.stdout)
    assert report["bundle"]["version"] == 1 and report["feedback"]["counts"]["logged"] == 2
    assert (fb / "feedback-000000.tar").is_file()
