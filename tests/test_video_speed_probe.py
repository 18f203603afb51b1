"""scripts/video_speed_probe.py: the arms' views of a clip, a short real run on generated
clips, and the refusals (shared scenarios, single-frame data) as one-line exit 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import video_speed_probe as probe  # noqa: E402


def _generate(out: Path, split: str, *extra: str) -> Path:
    exe = Path(sys.executable).parent / "drivesynth"
    cmd = [str(exe), "generate", "--out", str(out), "--scenarios", "3", "--frames", "2",
           "--image-size", "16", "--workers", "0", "--no-card", "--no-progress", "--seed", "9",
           "--split", split, *extra]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def clip_sets(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("speed_probe")
    clips = ("--clip-frames", "4", "--clip-rate", "4")
    return _generate(root / "train", "train", *clips), _generate(root / "test", "test", *clips)


def test_arm_views_keep_shuffle_or_drop_the_motion():
    frames = np.arange(3 * 4).reshape(3, 4, 1, 1, 1) * np.ones((1, 1, 2, 2, 3), dtype=int)
    rng = np.random.default_rng(0)
    assert np.array_equal(probe.arm_view(frames, "video", rng), frames)
    shuffled = probe.arm_view(frames, "shuffled", rng)
    for clip, original in zip(shuffled, frames):
        assert sorted(clip[:, 0, 0, 0]) == sorted(original[:, 0, 0, 0])
    key = probe.arm_view(frames, "key_frame", rng)
    assert (key == frames[:, -1:]).all()


def test_short_run_reports_every_arm(clip_sets, tmp_path, capsys):
    train, test = clip_sets
    out = tmp_path / "probe.json"
    assert probe.main(["--train", str(train), "--test", str(test), "--steps", "2",
                       "--batch-size", "4", "--json", str(out)]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    assert result["train_clips"] == 6 and result["test_clips"] == 6
    assert result["clip_shape"] == [4, 16, 16, 3]
    assert set(result["arms"]) == set(probe.ARMS)
    for r in result["arms"].values():
        assert math.isfinite(r["r2"]) and r["mae_mps"] >= 0
        assert 0 <= r["band_accuracy"] <= 1 and 0 < r["band_majority"] <= 1
    assert "6 train / 6 test clips" in capsys.readouterr().out


def test_shared_scenarios_and_single_frames_are_refused(clip_sets, tmp_path, capsys):
    train, _ = clip_sets
    assert probe.main(["--train", str(train), "--test", str(train)]) == 2
    err = capsys.readouterr().err.strip()
    assert "share scenarios" in err and len(err.splitlines()) == 1
    single = _generate(tmp_path / "single", "test")
    assert probe.main(["--train", str(train), "--test", str(single)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--clip-frames" in err and len(err.splitlines()) == 1
    assert probe.main(["--train", str(train), "--test", str(train), "--arms", "x"]) == 2
