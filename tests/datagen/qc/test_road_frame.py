"""QC round 7 (issue 20): the json's road block against the scenario's road rebuilt from the
seed (``road_frame``). The frames of real generated scenarios pass; frames whose lateral
offset, lane index, lane count, speed limit or curvature ahead were rewritten here are
flagged."""

from __future__ import annotations

import copy

import pytest
from qc_samples import build_samples

from datagen.qc import road_frame, rules
from datagen.qc.shardio import Decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """Two real scenarios (a circuit and an open road): 3 frames each at 32 px."""
    root = tmp_path_factory.mktemp("road_frame")
    found = build_samples(root, [{"road_kind": k, "seed": s, "split": k}
                                  for k, s in (("circuit", 71), ("open", 72))],
                          frames=3, image_size=32)
    assert len(found) == 6
    return found


def checks(meta: dict) -> list[str]:
    return [f.check for f in road_frame.check(meta, road_frame.RoadFrameConfig())]


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    assert {s.meta["road"]["kind"] for s in frames} == {"circuit", "open"}
    for s in frames:
        assert checks(s.meta) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig()) if f.check == "road_frame"] == []


@pytest.mark.parametrize("reference", ["lane_centre", "left_edge", "feet", "mirrored"])
def test_lateral_offset_in_another_frame_is_flagged(frames: list[Decoded], reference: str) -> None:
    for s in frames:
        meta = copy.deepcopy(s.meta)
        road = meta["road"]
        lat = road["lateral_offset_m"]
        road["lateral_offset_m"] = {"lane_centre": lat + 1.75, "left_edge": lat - 3.5,
                                    "feet": lat * 3.28084, "mirrored": -lat}[reference]  # fmt: skip
        if abs(road["lateral_offset_m"] - lat) < 0.05:
            continue  # the car on the centre line: a mirror changes nothing
        assert "road_frame" in checks(meta), (s.key, reference)


def test_road_config_fields_are_checked(frames: list[Decoded]) -> None:
    s = frames[1]
    mph = copy.deepcopy(s.meta)
    mph["road"]["speed_limit_mps"] *= 2.236936
    assert checks(mph) == ["road_frame"]
    both_ways = copy.deepcopy(s.meta)
    both_ways["road"]["lanes"] *= 2
    assert checks(both_ways) == ["road_frame"]
    lane = copy.deepcopy(s.meta)
    lane["road"]["lane_index"] = 1 - lane["road"]["lane_index"]
    assert checks(lane) == ["road_frame"]
    curve = copy.deepcopy(s.meta)
    curve["road"]["curvature_ahead"] += 0.004
    assert checks(curve) == ["road_frame"]


def test_road_of_another_scenario_is_flagged(frames: list[Decoded]) -> None:
    """The json's seed names the road: another scenario's seed puts the car elsewhere."""
    meta = copy.deepcopy(frames[0].meta)
    meta["seed"] = frames[3].meta["seed"]
    assert "road_frame" in checks(meta)


def test_unjudgeable_samples_are_left_alone(frames: list[Decoded]) -> None:
    meta = copy.deepcopy(frames[0].meta)
    meta["road"]["kind"] = "motorway"  # not a simulator road kind: nothing to rebuild
    meta["road"]["lateral_offset_m"] = 40.0
    assert checks(meta) == []
    meta = copy.deepcopy(frames[0].meta)
    del meta["ego"]["position"]
    meta["road"]["lateral_offset_m"] = 40.0
    assert checks(meta) == []


def test_config_validates() -> None:
    with pytest.raises(ValueError, match="lateral_tol_m"):
        road_frame.RoadFrameConfig(lateral_tol_m=0.0)
    with pytest.raises(ValueError, match="curvature_tol"):
        road_frame.RoadFrameConfig(curvature_tol=float("nan"))
