"""The dataset card: README plus real PNG plots reflecting the data set's distributions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_qc import PRESETS, write_street_dataset

from datagen.card import gather, write_card


def test_card_writes_readme_and_pngs(tmp_path: Path) -> None:
    root = write_street_dataset(tmp_path / "d", samples=24, per_shard=12)
    readme = write_card(root)
    text = readme.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "samples.png" in images and len(images) >= 8
    for name in images:
        assert (root / "card" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = gather(root)
    assert stats.samples == 24
    assert sum(stats.counters["weather preset"].values()) == 24
    assert set(stats.counters["weather preset"]) == set(PRESETS)


def test_card_of_an_empty_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no shards"):
        write_card(tmp_path)
