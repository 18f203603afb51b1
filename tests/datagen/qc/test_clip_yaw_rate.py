"""QC round 7 (issue 20): a clip's yaw-rate series against its own camera poses
(``clip_yaw_rate``). The clip samples of a real generated scenario pass; a series rewritten
here in degrees per second, per control tick or with the other sign is flagged."""

from __future__ import annotations

import copy
import math

import pytest
from qc_samples import build_samples

from datagen.qc import clip_yaw_rate, rules
from datagen.qc.shardio import Decoded


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario with an erratic driver: 2 clips of 6 frames at 4 Hz, 32 px."""
    root = tmp_path_factory.mktemp("clip_yaw_rate")
    found = build_samples(root, [{"seed": 76, "split": "y"}], frames=2, image_size=32,
                          driver_style="erratic", clip_frames=6, clip_rate=4.0)
    assert len(found) == 2 and all("clip" in s.meta for s in found)
    return found


def checks(meta: dict) -> list[str]:
    return [f.check for f in clip_yaw_rate.check(meta, clip_yaw_rate.ClipYawRateConfig())]


def turning(clips: list[Decoded]) -> Decoded:
    s = max(clips, key=lambda c: max(abs(v) for v in c.meta["clip"]["ego"]["yaw_rate"][1:]))
    if max(abs(v) for v in s.meta["clip"]["ego"]["yaw_rate"][1:]) < 0.1:
        pytest.skip("no clip turning noticeably in this scenario")
    return s


def test_clean_clips_pass(clips: list[Decoded]) -> None:
    for s in clips:
        assert checks(s.meta) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig())
                if f.check == "clip_yaw_rate"] == [], s.key  # fmt: skip


@pytest.mark.parametrize("unit", [math.degrees(1.0), 1 / 60, -1.0])
def test_yaw_rate_in_another_unit_is_flagged(clips: list[Decoded], unit: float) -> None:
    meta = copy.deepcopy(turning(clips).meta)
    meta["clip"]["ego"]["yaw_rate"] = [v * unit for v in meta["clip"]["ego"]["yaw_rate"]]
    assert checks(meta) == ["clip_yaw_rate"]


def test_series_one_frame_behind_is_flagged(clips: list[Decoded]) -> None:
    meta = copy.deepcopy(turning(clips).meta)
    series = meta["clip"]["ego"]["yaw_rate"]
    shifted = [series[0], *series[:-1]]
    if max(abs(a - b) for a, b in zip(series, shifted, strict=True)) < 0.1:
        pytest.skip("the yaw rate barely changes from frame to frame in this clip")
    meta["clip"]["ego"]["yaw_rate"] = shifted
    assert checks(meta) == ["clip_yaw_rate"]


def test_single_frames_and_malformed_clips_are_left_alone(clips: list[Decoded]) -> None:
    meta = copy.deepcopy(clips[0].meta)
    del meta["clip"]
    assert checks(meta) == []
    meta = copy.deepcopy(clips[0].meta)
    meta["clip"]["T_world_cam"] = [[0.0] * 3 for _ in meta["clip"]["T_world_cam"]]
    assert checks(meta) == []
    with pytest.raises(ValueError, match="tol_rad_s"):
        clip_yaw_rate.ClipYawRateConfig(tol_rad_s=-0.1)
