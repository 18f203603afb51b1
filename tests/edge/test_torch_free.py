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
from edge.cli import main
sys.exit(main(["edge", "run", "--bundle", sys.argv[1], "--image", sys.argv[2],
               "--audio", sys.argv[3], "--variant", "int8", "--threads", "1"]))
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
    assert set(report["image"][0]) == set(report["audio"][0]) == {"weather", "time_of_day",
                                                                  "driver_style"}  # fmt: skip
    assert -1.0 <= report["image_audio_cosine"][0][0] <= 1.0
