"""QC round 8 (issue 20): the camera's clip planes against the depth encoding written from
them (``camera_planes``). The frames of a real generated scenario pass; the same frames with
the far plane rewritten here (a library default, another camera's), the encoding's range
edited alone, or near and far crossed, are flagged."""

from __future__ import annotations

import copy

import pytest
from qc_samples import build_samples

from datagen.qc import camera_planes, rules
from datagen.qc.shardio import Decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario: 2 frames at 32 px."""
    root = tmp_path_factory.mktemp("camera_planes")
    found = build_samples(root, [{"seed": 95, "split": "p"}], frames=2, image_size=32)
    assert len(found) == 2
    return found


def checks(meta: dict) -> list[str]:
    return [f.check for f in camera_planes.check(meta, camera_planes.CameraPlanesConfig())]


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    for s in frames:
        assert checks(s.meta) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig()) if f.check == "camera_planes"] == []


@pytest.mark.parametrize("far", [100.0, 250.0, 1000.0])
def test_far_plane_rewritten_is_flagged(frames: list[Decoded], far: float) -> None:
    for s in frames:
        meta = copy.deepcopy(s.meta)
        meta["camera"]["far"] = far
        assert checks(meta) == ["camera_planes"], s.key


def test_encoding_range_edited_alone_is_flagged(frames: list[Decoded]) -> None:
    meta = copy.deepcopy(frames[0].meta)
    meta["camera"]["depth"]["max_m"] = meta["camera"]["far"] * 1000.0
    assert checks(meta) == ["camera_planes"]


def test_near_beyond_far_is_flagged(frames: list[Decoded]) -> None:
    meta = copy.deepcopy(frames[0].meta)
    meta["camera"]["near"], meta["camera"]["far"] = meta["camera"]["far"], meta["camera"]["near"]
    assert checks(meta) == ["camera_planes"]


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="rel_tol"):
        camera_planes.CameraPlanesConfig(rel_tol=-1.0)
