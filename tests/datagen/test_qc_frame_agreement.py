"""QC's agreement checks of round 2 (issue 20): class colours (``white_balance``,
``class_swap``), rows of another frame (``torn_frame``), telemetry vs motion and the road
along the frames (``speed_vs_velocity``, ``road_curvature``), ground depth vs its plane
(``depth_precision``). A real scenario passes; each disagreement is flagged, the finding
saying what disagreed with what; missing fields and single frames do not crash."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from datagen.qc import class_colours, ego_telemetry, frame_tears, surface_depth
from datagen.qc.scenario_agreement import AgreementConfig, ScenarioAgreement
from datagen.qc.shardio import Decoded, iter_decoded
from sim.classes import CLASS_IDS


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario (PyBullet, weather, audio, captions): 4 frames at 64 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("frame_agreement")
    cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=23, split="a",
                         weather="clear_noon", weather_presets=weather_presets(),
                         driver_style="cautious", samples_per_shard=8)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    found = list(iter_decoded(sorted(Path(root).glob("*.tar"))))
    assert len(found) == 4
    return found


def findings(samples: list[Decoded], ignore: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """(key, check, reason) of every finding of the scenario agreement checks but ``ignore``."""
    agreement = ScenarioAgreement(AgreementConfig())
    for s in samples:
        agreement.add(s)
    return [(k, f.check, f.reason) for k, _, f in agreement.findings() if f.check not in ignore]


def only(samples: list[Decoded], check: str, ignore: tuple[str, ...] = ()) -> tuple[str, str]:
    """(key, reason) of the one finding of ``check``; no other check may flag another frame."""
    found = findings(samples, ignore)
    mine = [(k, why) for k, c, why in found if c == check]
    assert len(mine) == 1, found
    assert {k for k, _, _ in found} == {mine[0][0]}, found
    return mine[0]


def to_linear(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float64) / 255.0) ** 2.2


def to_srgb8(lin: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.clip(lin, 0, 1) ** (1 / 2.2) * 255.0), 0, 255).astype(np.uint8)


def test_a_clean_scenario_passes(frames: list[Decoded]) -> None:
    assert findings(frames) == []


@pytest.mark.parametrize("gains, side", [((0.65, 1.0, 1.45), "bluer"),
                                         ((1.45, 1.0, 0.65), "redder")])
def test_white_balance_of_another_light_is_found(frames: list[Decoded], gains: tuple,
                                                 side: str) -> None:  # fmt: skip
    s = copy.deepcopy(frames)
    s[2].rgb = to_srgb8(to_linear(s[2].rgb) * np.array(gains))
    key, why = only(s, "white_balance")
    assert key == s[2].key and side in why and "road" in why


def test_a_brighter_frame_is_not_a_tint(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    s[2].rgb = to_srgb8(to_linear(s[2].rgb) * 1.5)  # a flash: every channel alike
    assert [c for _, c, _ in findings(s) if c in ("white_balance", "class_swap")] == []


def test_two_classes_swapped_in_seg_are_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    seg = s[1].seg.copy()
    road, terrain = CLASS_IDS["road"], CLASS_IDS["terrain"]
    seg[s[1].seg == road], seg[s[1].seg == terrain] = terrain, road
    s[1].seg = seg
    found = [(k, why) for k, c, why in findings(s) if c == "class_swap"]
    assert [k for k, _ in found] == [s[1].key]
    assert "'road'" in found[0][1] and "'terrain'" in found[0][1]


def test_object_classes_are_not_judged_by_colour(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    seg = s[1].seg.copy()
    building, vegetation = CLASS_IDS["building"], CLASS_IDS["vegetation"]
    seg[s[1].seg == building], seg[s[1].seg == vegetation] = vegetation, building
    s[1].seg = seg  # objects are judged by their ids (object_tracks), not by class colours
    assert [c for _, c, _ in findings(s) if c == "class_swap"] == []


def test_rows_of_another_frame_are_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    s[2].rgb = s[2].rgb.copy()
    s[2].rgb[36:] = frames[1].rgb[36:]
    key, why = only(s, "torn_frame")
    assert key == s[2].key and "rows 36..63 (28) equal frame 1's" in why


def test_lagging_telemetry_is_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    s[2].meta["ego"]["speed_mps"] = frames[1].meta["ego"]["speed_mps"]
    key, why = only(s, "speed_vs_velocity")
    assert key == s[2].key and "frame 1's ground speed" in why


def test_a_flipped_curve_is_found(frames: list[Decoded]) -> None:
    # the made-up curvature contradicts the json's shape and the straight road seen in
    # seg/depth, which derived_fields and metadata_vs_sensors find: not judged here
    made_up = ("derived_fields", "metadata_vs_sensors")
    s = copy.deepcopy(frames)
    for k, f in enumerate(s):
        f.meta["road"]["curvature_ahead"] = 0.008 + 0.0005 * k
    assert findings(s, made_up) == []
    s[1].meta["road"]["curvature_ahead"] *= -1
    key, why = only(s, "road_curvature", made_up)
    assert key == s[1].key and "-0.0085" in why and "sign is flipped" in why


def test_a_winding_road_is_not_judged(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    for f, k in zip(s, (0.008, -0.004, 0.009, -0.006)):  # others do not lie on a line
        f.meta["road"]["curvature_ahead"] = k
    assert [c for _, c, _ in findings(s) if c == "road_curvature"] == []


def test_quantised_depth_is_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    d = s[3].depth_m.astype(np.float64)
    near, far = 0.1, 200.0
    zb = np.round(far * (d - near) / (np.maximum(d, near) * (far - near)) * 4096) / 4096
    s[3].depth_m = np.where(d > 0, near * far / (far - zb * (far - near)), 0).astype(np.float32)
    key, why = only(s, "depth_precision")
    assert key == s[3].key and "off their planes" in why


def test_edge_cases_do_not_crash(frames: list[Decoded]) -> None:
    assert findings(copy.deepcopy(frames[:1])) == []
    bare = Decoded("k", "x-000000.tar", meta={"frame": 0, "ego": {"velocity": "x"}})
    assert ego_telemetry.summarize(bare).speed is None
    assert frame_tears.summarize(bare) is None
    assert surface_depth.check(bare, surface_depth.SurfaceDepthConfig()) is None
    assert findings([bare, copy.deepcopy(bare)]) == []
    s = copy.deepcopy(frames)
    del s[1].meta["road"], s[2].meta["ego"]["velocity"]
    s[0].seg = None
    assert findings(s) == []


@pytest.mark.parametrize("make, field", [
    (lambda: class_colours.ClassColoursConfig(max_tint=0), "max_tint"),
    (lambda: class_colours.ClassColoursConfig(min_agree=1.5), "min_agree"),
    (lambda: frame_tears.FrameTearsConfig(edge_ratio=0.5), "edge_ratio"),
    (lambda: ego_telemetry.EgoTelemetryConfig(speed_tol_mps=-1), "speed_tol_mps"),
    (lambda: surface_depth.SurfaceDepthConfig(quantile=2), "quantile"),
])  # fmt: skip
def test_configs_name_the_bad_field(make, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()
