"""QC round 8 (issue 20): objects whose depth is one value over their whole mask
(``object_relief``). The frames of a real generated scenario pass; the same frames with each
object's depth replaced here by one value (its 3D box's centre depth, its nearest corner's or
its stated distance: billboards, impostors, a splatted distance) are flagged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from qc_samples import build_samples

from datagen.qc import object_relief, rules
from datagen.qc.shardio import Decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario with traffic and roadside objects: 4 frames at 48 px."""
    root = tmp_path_factory.mktemp("object_relief")
    found = build_samples(root, [{"seed": 83, "split": "r"}], frames=4, image_size=48)
    assert len(found) == 4
    return found


def checks(s: Decoded) -> list[str]:
    return [f.check for f in object_relief.check(s, object_relief.ObjectReliefConfig())]


def flattened(s: Decoded, pivot: str) -> Decoded:
    depth = s.depth_m.astype(np.float64).copy()
    for o in s.meta["objects"]:
        m = (s.inst == int(o["instance_id"])) & (depth > 0)
        corners = np.asarray(o["bbox3d_cam"]["corners"], float)
        value = {"centre": float(o["bbox3d_cam"]["center"][2]),
                 "near_corner": float(corners[:, 2].min()),
                 "distance": float(o["distance_m"])}[pivot]  # fmt: skip
        depth[m] = value
    return replace(s, depth_m=depth.astype(np.float32))


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    for s in frames:
        assert checks(s) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig()) if f.check == "object_relief"] == []


@pytest.mark.parametrize("pivot", ["centre", "near_corner", "distance"])
def test_one_depth_per_object_is_flagged(frames: list[Decoded], pivot: str) -> None:
    picked = [s for s in frames
              if object_relief.flat_objects(s, object_relief.ObjectReliefConfig())[1] >= 2]
    assert picked
    for s in picked:
        assert checks(flattened(s, pivot)) == ["object_relief"], s.key


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="min_flat"):
        object_relief.ObjectReliefConfig(min_flat=0)
