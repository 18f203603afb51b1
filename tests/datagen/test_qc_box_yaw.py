"""QC's ``box_yaw_unit`` (issue 20, round 3): a 3D box's world yaw is a wrapped angle in
radians; one in degrees is flagged with the object and its reading as radians; boxes without
a yaw or frames without objects do not crash."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from datagen.qc.box_yaw import BoxYawConfig, check


def sample(*yaws: object) -> SimpleNamespace:
    objects = [{"instance_id": i, "bbox3d_world": {"center": [0, 0, 0], "size": [4, 2, 1.5],
                                                   "yaw": y}} for i, y in enumerate(yaws)]
    return SimpleNamespace(meta={"objects": objects})


def test_yaws_in_radians_pass() -> None:
    assert check(sample(0.3, -3.1, math.pi, -math.pi), BoxYawConfig()) is None


def test_a_yaw_in_degrees_is_found() -> None:
    f = check(sample(0.3, math.degrees(2.2), math.degrees(0.3)), BoxYawConfig())
    assert f is not None and f.check == "box_yaw_unit"
    assert "2 of 3 objects" in f.reason and "instance 1" in f.reason and "+2.200 rad" in f.reason


@pytest.mark.parametrize("meta", [{}, {"objects": "none"}, {"objects": [None, {"x": 1}]},
                                  {"objects": [{"bbox3d_world": {"yaw": None}}]}, "broken"])
def test_missing_fields_do_not_crash(meta: object) -> None:
    assert check(SimpleNamespace(meta=meta), BoxYawConfig()) is None


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="max_abs_rad"):
        BoxYawConfig(max_abs_rad=1.0)
