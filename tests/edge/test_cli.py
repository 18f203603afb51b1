"""CLI failure paths: one-line errors and exit status 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge.cli import main


def test_export_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--out",
                 str(tmp_path / "b"), "--data", "x.tar"])  # fmt: skip
    assert code == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_edge_run_missing_bundle(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    img = tmp_path / "a.png"
    img.write_bytes(b"")
    assert main(["edge", "run", "--bundle", str(tmp_path / "nope"), "--image", str(img)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_edge_select_bad_budget(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["edge", "select", "--bundle", str(tmp_path), "--budget", "-1"]) == 2
    assert "budget" in capsys.readouterr().err


@pytest.mark.slow
def test_edge_run_tampered_bundle(bundle: Path, tmp_path: Path, capsys) -> None:
    copy = Path(shutil.copytree(bundle, tmp_path / "b"))
    (copy / "audio.fp32.onnx").write_bytes(b"not a model")
    audio = tmp_path / "a.flac"
    import numpy as np
    import soundfile as sf

    sf.write(audio, np.zeros(16000, np.float32), 16000)
    assert main(["edge", "run", "--bundle", str(copy), "--audio", str(audio)]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch for audio.fp32.onnx" in err and len(err.strip().splitlines()) == 1
