"""QC's cross-modal checks, one by one: each passes clean generated samples and names what
breaks (check, measured value, threshold) when one modality stops agreeing with the others."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from shard_factory import make_sample

from datagen.qc import (
    audio_check,
    caption_check,
    conditional,
    ego_state,
    geometry,
    photometric,
    temporal,
)
from datagen.qc.flag import Flag
from datagen.qc.report import run_qc
from datagen.qc.rules import RuleConfig, check
from datagen.qc.shardio import Decoded, iter_decoded


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real scenario (PyBullet, weather, audio, captions): 4 frames at 48 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("cross")
    cfg = GenerateConfig(scenarios=1, frames=4, image_size=48, seed=11, split="x",
                         weather="clear_noon", weather_presets=weather_presets(),
                         driver_style="cautious", samples_per_shard=8)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    return root


@pytest.fixture(scope="module")
def frames(generated: Path) -> list[Decoded]:
    return list(iter_decoded(sorted(generated.glob("*.tar"))))


def names(flags: list[Flag]) -> set[str]:
    return {f.check for f in flags}


def fresh(frames: list[Decoded], i: int = 1) -> Decoded:
    return copy.deepcopy(frames[i])


def test_clean_frames_pass_every_check(frames: list[Decoded]) -> None:
    cfg = RuleConfig()
    for s in frames:
        assert check(s, cfg) == [], s.key
    summaries = [temporal.summarize(s, temporal.TemporalConfig()) for s in frames]
    assert temporal.check(summaries, temporal.TemporalConfig()) == []


def test_depth_in_millimetres_breaks_the_road_plane(frames: list[Decoded]) -> None:
    s = fresh(frames)
    s.depth_m = s.depth_m * 1000.0
    found = [f for f in geometry.check(s, geometry.GeometryConfig()) if f.check == "road_plane"]
    assert found and found[0].value == pytest.approx(1000.0, rel=1e-3)
    assert "allowed 1 +- 0.02" in found[0].reason


def test_wrong_intrinsics_are_named(frames: list[Decoded]) -> None:
    s = fresh(frames)
    s.meta["camera"]["fx"] *= 1.5
    s.meta["camera"]["fy"] *= 1.5
    assert "intrinsics" in names(geometry.check(s, geometry.GeometryConfig()))
    s = fresh(frames)
    s.meta["camera"]["cx"] = 0.0
    s.meta["camera"]["cy"] = 0.0
    flags = geometry.intrinsics(s.meta, geometry.GeometryConfig())
    assert {f.reason.split(" ")[0] for f in flags} == {"cx", "cy"}


def test_pitched_pose_breaks_the_road_plane(frames: list[Decoded]) -> None:
    s = fresh(frames)
    T = np.array(s.meta["camera"]["T_world_cam"]).reshape(4, 4)
    a = math.radians(4.0)
    T[:3, :3] = T[:3, :3] @ np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)],
                                      [0, math.sin(a), math.cos(a)]])  # fmt: skip
    s.meta["camera"]["T_world_cam"] = T.ravel().tolist()
    assert "road_plane" in names(geometry.check(s, geometry.GeometryConfig()))


def test_labels_from_elsewhere_disagree_with_depth_and_boxes(frames: list[Decoded]) -> None:
    s = fresh(frames)
    s.seg = np.roll(s.seg, 4, axis=0)
    s.inst = np.roll(s.inst, 4, axis=0)
    found = names(geometry.check(s, geometry.GeometryConfig()))
    assert {"sky_depth", "mask_labels"} <= found
    s = fresh(frames)
    objs = [o for o in s.meta["objects"] if o["visible_px"] >= 2]
    assert objs
    o = objs[0]
    for key in ("center",):
        o["bbox3d_cam"][key] = [v * 1.5 for v in o["bbox3d_cam"][key]]
    o["bbox3d_cam"]["corners"] = [[v * 1.5 for v in p] for p in o["bbox3d_cam"]["corners"]]
    found = geometry.check(s, geometry.GeometryConfig())
    assert {"boxes3d", "mask_depth"} <= names(found)
    assert all(f.threshold for f in found)


def test_caption_checker_names_the_false_statement() -> None:
    sample = make_sample(4, n_objects=2)
    s = Decoded(key="k", shard="s", meta=sample.meta, text=sample.txt)
    assert caption_check.check(s) == []
    truth = sample.meta["weather"]["family"]
    sample.meta["weather"]["family"] = "snow" if truth != "snow" else "rain"
    found = caption_check.check(s)
    assert len(found) == 1 and "(weather)" in found[0].reason
    assert "json weather is" in found[0].reason and truth not in found[0].reason.split("json")[1]


def test_caption_of_another_sample_is_caught(frames: list[Decoded]) -> None:
    s = fresh(frames)
    other = make_sample(9, n_objects=3)
    s.text = other.txt
    s.meta["captions"] = other.meta["captions"]
    assert names(caption_check.check(s)) == {"captions"}


def test_engine_tone_must_match_rpm(frames: list[Decoded]) -> None:
    cfg = audio_check.AudioConfig()
    steady = [s for s in frames if audio_check._steady(s.meta, cfg)
              and "passby" not in s.meta["audio"]["events"]]  # fmt: skip
    if not steady:
        pytest.skip("no steady frame without a passing car in this scenario")
    s = copy.deepcopy(steady[0])
    assert audio_check.engine_harmonic(s, cfg) is None
    s.meta["ego"]["rpm"] *= 2.0
    f = audio_check.engine_harmonic(s, cfg)
    assert f is not None and f.value == pytest.approx(0.5, abs=0.1)
    # a passing car's engine may be the strongest tone: the window is not judged
    s.meta["audio"]["events"] = [*s.meta["audio"]["events"], "passby"]
    assert audio_check.engine_harmonic(s, cfg) is None


def test_rpm_and_speed_must_fit_a_gear(frames: list[Decoded]) -> None:
    s = fresh(frames)
    assert ego_state.check(s.meta, ego_state.EgoConfig()) == []
    s.meta["ego"]["speed_mps"] *= 3.6
    found = ego_state.check(s.meta, ego_state.EgoConfig())
    assert names(found) == {"powertrain"} and "rpm per m/s" in found[0].threshold


def test_sound_events_follow_the_weather(frames: list[Decoded]) -> None:
    s = fresh(frames)
    assert audio_check.sound_events(s.meta, audio_check.AudioConfig()) == []
    s.meta["weather"]["precip_type"] = "rain"
    s.meta["weather"]["precip_intensity"] = 0.8
    assert names(audio_check.sound_events(s.meta, audio_check.AudioConfig())) == {"sound_events"}
    s.meta["events"].append({"type": "crash", "time_s": 0.1, "zone": "front"})
    assert names(audio_check.events(s.meta)) == {"events"}


def test_dead_column_and_stuck_pixels(frames: list[Decoded]) -> None:
    cfg = photometric.PhotometricConfig()
    s = fresh(frames)
    assert photometric.dead_pixels(s, cfg) is None
    s.rgb = s.rgb.copy()
    s.rgb[:, 20] = 255
    assert photometric.dead_pixels(s, cfg) is not None
    s = fresh(frames)
    s.rgb = s.rgb.copy()
    rng = np.random.default_rng(0)
    s.rgb[rng.random(s.rgb.shape[:2]) < 0.02] = 255
    f = photometric.dead_pixels(s, cfg)
    assert f is not None and f.value > cfg.stuck_fraction


def test_labels_shifted_off_the_image_are_found_by_edges(frames: list[Decoded]) -> None:
    cfg = photometric.PhotometricConfig()
    s = fresh(frames)
    assert photometric.label_alignment(s, cfg) is None
    s.seg = np.roll(s.seg, (4, 3), axis=(0, 1))
    s.inst = np.roll(s.inst, (4, 3), axis=(0, 1))
    s.depth_m = np.roll(s.depth_m, (4, 3), axis=(0, 1))
    f = photometric.label_alignment(s, cfg)
    assert f is not None and "(-3, -4)" in f.reason


def test_sequence_checks_pin_the_odd_frame(frames: list[Decoded]) -> None:
    cfg = temporal.TemporalConfig()
    base = [temporal.summarize(s, cfg) for s in frames]

    def odd(edit) -> list[tuple[str, str]]:
        seq = copy.deepcopy(base)
        edit(seq[2])
        return [(k, f.check) for k, _, f in temporal.check(seq, cfg)]

    key = base[2].key

    def faster(f):
        f.speed *= 2.5

    def stale(f):
        f.thumb = base[1].thumb.copy()

    def moved(f):
        f.T = f.T.copy()
        f.T[:3, 3] += np.array([0.0, 2.0, 0.0])

    def weather(f):
        f.constants = {**f.constants, "weather": '{"preset": "dense_fog"}'}

    assert odd(faster) == [(key, "motion_speed")]
    assert odd(stale) == [(key, "stale_frame")]
    assert odd(moved) == [(key, "camera_rig")]
    assert odd(weather) == [(key, "scenario_constants")]


def test_conditional_judge_flags_a_frame_unlike_its_peers_not_an_unusual_scenario() -> None:
    rng = np.random.default_rng(0)
    n = 200
    values = rng.normal(100.0, 2.0, (n, 1))
    conds = [np.array([float((i // 4) % 10) * 0.01]) for i in range(n)]  # fixed per scenario
    groups = [i // 4 for i in range(n)]
    values[8:12, 0] = 160.0  # a whole scenario unlike the others: not a finding
    values[21, 0] = 40.0  # one frame unlike its scenario and its peers
    cfg = conditional.ConditionalConfig()
    out = conditional.judge(values, conds, groups, ("brightness",), (3.0,), "weather", "x", cfg)
    flagged = [i for i, f in enumerate(out) if f]
    assert flagged == [21]
    assert out[21][0].reason.startswith("brightness 40 vs 10")
    assert out[21][0].threshold == "|z| <= 10"


def test_report_json_carries_value_and_threshold(generated: Path, tmp_path: Path) -> None:
    import json

    from datagen.qc.inject import depth_mm
    from datagen.qc.shardio import RawSample, iter_raw, write_raw

    origin = sorted(generated.glob("*.tar"))[0]
    raws = list(iter_raw(origin))
    depth_mm(raws[2], np.random.default_rng(0), [RawSample(r.key, dict(r.files)) for r in raws])
    (tmp_path / "d").mkdir()
    write_raw(tmp_path / "d" / origin.name, raws)
    doc = json.loads(json.dumps(run_qc(tmp_path / "d").to_json()))
    assert {f["key"] for f in doc["findings"]} == {raws[2].key}
    found = [f for f in doc["findings"] if f["check"] == "road_plane"]
    assert found and found[0]["value"] == pytest.approx(1000.0, rel=1e-3)
    assert found[0]["threshold"] == "allowed 1 +- 0.02"
