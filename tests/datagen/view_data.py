"""A small data set made by the real ``drivesynth generate`` (in this process), shared by the
viewer tests of one pytest process: 3 scenarios x 6 frames at 64 px, one scenario a shard."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli import main

GENERATE = ["--scenarios", "3", "--frames", "6", "--image-size", "64", "--samples-per-shard",
            "6", "--seed", "5", "--split", "train", "--workers", "0", "--no-progress",
            "--no-card"]  # fmt: skip
_MADE: dict[str, Path] = {}


def generated(factory: pytest.TempPathFactory) -> Path:
    """The data set folder (made once per process)."""
    if "ds" not in _MADE:
        out = factory.mktemp("view_ds") / "ds"
        assert main(["generate", "--out", str(out), *GENERATE]) == 0
        _MADE["ds"] = out
    return _MADE["ds"]


def samples(root: Path) -> list:
    """Every sample of the data set, decoded by the project's decoder, in shard order."""
    from datagen.sample import decode_sample
    from datagen.shards import iter_files

    return [(p.name, decode_sample(f)) for p in sorted(root.glob("*.tar")) for f in iter_files(p)]
