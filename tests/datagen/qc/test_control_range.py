"""QC round 7 (issue 20): the ego's normalised controls and damage inside the simulator's
ranges (``control_range``). Frames of a real generated scenario pass; a steer stored as a
road-wheel angle in degrees, a pedal in per cent, a damage in per cent are flagged, in a
frame's ego block and in a clip's per-frame series."""

from __future__ import annotations

import copy
import math

import pytest
from qc_samples import build_samples

from datagen.qc import control_range, rules
from datagen.qc.shardio import Decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario with an erratic driver (large steer): 4 frames at 32 px."""
    root = tmp_path_factory.mktemp("control_range")
    found = build_samples(root, [{"seed": 73, "split": "c"}], frames=4, image_size=32,
                          driver_style="erratic")
    assert len(found) == 4
    return found


def checks(meta: dict) -> list[str]:
    return [f.check for f in control_range.check(meta, control_range.ControlRangeConfig())]


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    for s in frames:
        assert checks(s.meta) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig())
                if f.check == "control_range"] == [], s.key  # fmt: skip


def test_steer_as_road_wheel_degrees_is_flagged(frames: list[Decoded]) -> None:
    s = max(frames, key=lambda f: abs(f.meta["ego"]["steer"]))
    st = s.meta["ego"]["steer"]
    if abs(st) < 0.04:
        pytest.skip("no frame steering noticeably in this scenario")
    meta = copy.deepcopy(s.meta)
    meta["ego"]["steer"] = math.degrees(st * 0.55)  # the sedan's 0.55 rad lock, in degrees
    found = control_range.check(meta, control_range.ControlRangeConfig())
    assert [f.check for f in found] == ["control_range"] and "ego.steer" in found[0].reason


def test_pedal_and_damage_in_per_cent_are_flagged(frames: list[Decoded]) -> None:
    meta = copy.deepcopy(frames[-1].meta)
    meta["ego"]["throttle"], meta["ego"]["brake"] = 0.4 * 100, 0.0
    assert checks(meta) == ["control_range"]
    meta = copy.deepcopy(frames[-1].meta)
    meta["ego"]["brake"] = -0.3  # a brake reported as a negative acceleration command
    assert checks(meta) == ["control_range"]
    meta = copy.deepcopy(frames[-1].meta)
    meta["ego"]["damage"]["front"] = 35.0
    assert checks(meta) == ["control_range"]


def test_clip_series_are_checked(frames: list[Decoded]) -> None:
    meta = copy.deepcopy(frames[-1].meta)
    meta["clip"] = {"ego": {"steer": [0.1, -0.2, 0.3], "throttle": [0.0, 0.5, 1.0],
                            "brake": [0.0, 0.0, 0.2]}}  # fmt: skip
    assert checks(meta) == []
    meta["clip"]["ego"]["steer"][1] = -0.2 * 34.0
    found = control_range.check(meta, control_range.ControlRangeConfig())
    assert [f.check for f in found] == ["control_range"]
    assert "clip.ego.steer[1]" in found[0].reason


def test_boundaries_and_malformed_values() -> None:
    cfg = control_range.ControlRangeConfig()
    edge = {"ego": {"steer": -1.0, "throttle": 1.0, "brake": -0.0,
                    "damage": {"front": 1.0, "rear": 0.0}}}  # fmt: skip
    assert control_range.check(edge, cfg) == []
    odd = {"ego": {"steer": "left", "throttle": None, "brake": True}}
    assert control_range.check(odd, cfg) == []  # the schema check's finding, not ours
    with pytest.raises(ValueError, match="margin"):
        control_range.ControlRangeConfig(margin=-1.0)
