"""scripts/style_ceiling.py on real generated clips: the window features follow the json,
the scenario-grouped report covers every clip, and single-frame data is refused (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import style_ceiling  # noqa: E402


def _generate(out: Path, *extra: str) -> Path:
    exe = Path(sys.executable).parent / "drivesynth"
    cmd = [str(exe), "generate", "--out", str(out), "--scenarios", "6", "--frames", "2",
           "--image-size", "16", "--workers", "0", "--no-card", "--no-progress", "--seed", "5",
           *extra]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return _generate(tmp_path_factory.mktemp("clips"), "--clip-frames", "4", "--clip-rate", "4")


def test_window_features_follow_the_clip_json(clips):
    shard = sorted(clips.glob("*.tar"))[0]
    with tarfile.open(shard) as tar:
        member = next(m for m in tar if m.name.endswith(".json"))
        meta = json.load(tar.extractfile(member))
    f = style_ceiling.window_features(meta)
    ego = meta["clip"]["ego"]
    assert f["speed_mean"] == pytest.approx(np.mean(ego["speed_mps"]))
    assert f["speed_change"] == pytest.approx(ego["speed_mps"][-1] - ego["speed_mps"][0])
    limit = meta["road"]["speed_limit_mps"]
    assert f["speed_over_limit"] == pytest.approx(np.mean(ego["speed_mps"]) / limit)
    assert f["rpm_mean"] == pytest.approx(np.mean(ego["rpm"]))
    assert set(style_ceiling.VISIBLE) | set(style_ceiling.HIDDEN) == set(f)
    assert not set(style_ceiling.VISIBLE) & set(style_ceiling.HIDDEN)


def test_report_covers_every_clip_by_window(clips, tmp_path, capsys):
    out = tmp_path / "ceiling.json"
    assert style_ceiling.main(["--data", str(clips), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    every = result["all_windows"]
    assert every["clips"] == 12 and every["scenarios"] == 6
    assert sorted(result["by_clip_index"]) == ["0", "1"]
    assert [e["clips"] for e in result["by_clip_index"].values()] == [6, 6]
    assert result["by_clip_index"]["1"]["t0_s"] == pytest.approx(1.0)  # 4 frames at 4 Hz
    assert 0 < every["majority"] <= 1
    acc = every["visible"]
    assert acc is None or 0 <= acc <= 1
    assert "12 clips of 6 scenarios" in capsys.readouterr().out


def test_single_frame_data_is_refused_in_one_line(tmp_path, capsys):
    data = _generate(tmp_path / "single")
    assert style_ceiling.main(["--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a clip sample" in err and "--clip-frames" in err
    assert len(err.splitlines()) == 1


def test_figures_repeat_across_processes(clips, tmp_path):
    """The folds follow the scenarios, not Python's per-process string hashing."""
    outs = []
    for salt in ("1", "2"):
        out = tmp_path / f"ceiling_{salt}.json"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "style_ceiling.py"), "--data",
                        str(clips), "--json", str(out)], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONHASHSEED": salt}, capture_output=True,
                       timeout=120)  # fmt: skip
        outs.append(json.loads(out.read_text()))
    assert outs[0] == outs[1]
    assert outs[0]["all_windows"]["visible"] is not None
