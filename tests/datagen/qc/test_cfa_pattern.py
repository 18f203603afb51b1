"""QC round 7 (issue 20): no gain pattern at the pixel pitch in one colour channel
(``cfa_pattern``). Frames of real generated scenarios (day and night) pass; frames given an
even/odd column gain in red or a checkerboard gain in blue here are flagged."""

from __future__ import annotations

import numpy as np
import pytest
from qc_samples import build_samples

from datagen.qc import cfa_pattern, rules
from datagen.qc.shardio import Decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """Two real scenarios (clear noon, rain at night): 3 frames each at 64 px."""
    root = tmp_path_factory.mktemp("cfa_pattern")
    found = build_samples(root, [{"weather": w, "seed": s, "split": w[:4]}
                                  for w, s in (("clear_noon", 74), ("rain_night", 75))],
                          frames=3, image_size=64)
    assert len(found) == 6
    return found


def checks(s: Decoded) -> list[str]:
    return [f.check for f in cfa_pattern.check(s, cfa_pattern.CfaPatternConfig())]


def with_gain(s: Decoded, channel: int, gain: np.ndarray) -> Decoded:
    rgb = s.rgb.astype(np.float64)
    rgb[..., channel] *= gain
    return Decoded(key=s.key, shard=s.shard, rgb=np.clip(np.round(rgb), 0, 255).astype(np.uint8),
                   meta=s.meta)  # fmt: skip


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    for s in frames:
        assert checks(s) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig())
                if f.check == "cfa_pattern"] == [], s.key  # fmt: skip


def test_column_gain_in_red_is_flagged(frames: list[Decoded]) -> None:
    """Even and odd columns read out by two amplifiers 10 % apart (red only)."""
    for s in frames:
        h, w = s.rgb.shape[:2]
        gain = np.where(np.arange(w)[None, :] % 2 == 0, 1.05, 0.95) * np.ones((h, 1))
        found = cfa_pattern.check(with_gain(s, 0, gain), cfa_pattern.CfaPatternConfig())
        assert [f.check for f in found] == ["cfa_pattern"], s.key
        assert "red" in found[0].reason and "column" in found[0].reason


def test_checkerboard_gain_in_blue_is_flagged(frames: list[Decoded]) -> None:
    for s in frames:
        h, w = s.rgb.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        gain = np.where((yy + xx) % 2 == 0, 0.92, 1.08)
        found = cfa_pattern.check(with_gain(s, 2, gain), cfa_pattern.CfaPatternConfig())
        assert [f.check for f in found] == ["cfa_pattern"], s.key
        assert "blue" in found[0].reason


def test_same_pattern_in_every_channel_is_not_ours(frames: list[Decoded]) -> None:
    """Scene texture at the pixel pitch modulates all channels alike."""
    s = frames[0]
    h, w = s.rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = s.rgb.astype(np.float64) * np.where((yy + xx) % 2 == 0, 1.1, 0.9)[..., None]
    flat = Decoded(key=s.key, shard=s.shard, rgb=np.clip(np.round(rgb), 0, 255).astype(np.uint8))
    assert checks(flat) == []


def test_small_or_clipped_images_are_left_alone() -> None:
    cfg = cfa_pattern.CfaPatternConfig()
    assert cfa_pattern.check(Decoded(key="k", shard="s", rgb=np.zeros((4, 4, 3), np.uint8)),
                             cfg) == []  # fmt: skip
    white = np.full((64, 64, 3), 255, np.uint8)
    assert cfa_pattern.check(Decoded(key="k", shard="s", rgb=white), cfg) == []
    with pytest.raises(ValueError, match="min_z"):
        cfa_pattern.CfaPatternConfig(min_z=0)
    with pytest.raises(ValueError, match="hi"):
        cfa_pattern.CfaPatternConfig(lo=200.0, hi=100.0)
