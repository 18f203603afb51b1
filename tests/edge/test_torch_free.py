"""edge.runtime imports and runs inference in a process where importing torch fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, json
for name in ("torch", "torchaudio", "torchvision", "open_clip", "webdataset"):
    sys.modules[name] = None  # any import of these now raises ImportError
import argparse
import edge.runtime
from edge.commands import edge as edge_cmd
parser = argparse.ArgumentParser()
edge_cmd.register(parser.add_subparsers())
args = parser.parse_args(["edge", "run", "--bundle", sys.argv[1], "--image", sys.argv[2],
                          "--audio", sys.argv[3], "--variant", "int8", "--threads", "1"])
sys.exit(args.func(args))
"""


def test_edge_run_without_torch(bundle: Path, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    sf.write(tmp_path / "a.flac", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(bundle), str(tmp_path / "a.png"),
         str(tmp_path / "a.flac")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["variant"] == "int8"
    tasks = set(json.loads((bundle / "manifest.json").read_text())["labels"]["tasks"])
    assert set(report["image"][0]) == set(report["audio"][0]) == tasks
    assert -1.0 <= report["image_audio_cosine"][0][0] <= 1.0
