"""The v10 held-out fault set (faults_v10.py) on tiny real data sets; QC is not run.

Each fault, applied to a real clean sample, changes it (only in the members it declares) and
leaves it decodable, a clip's key frame still its rgb; the classes are issue 20's five, each
with at least 6 faults; the fault names are new to v10; magnitudes follow the seed; ``inject``
is deterministic in the seed, leaves untouched samples byte-identical, keeps the manifest
valid and names each broken sample's class, fault and rewritten members in its ground truth.
The data sets and the checks every set shares are in fault_set_checks.py.
"""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from datagen.sample import FRAMES_FILE, decode_sample
from qc_heldout import fault_set_checks as checks
from qc_heldout import faults_v10 as fv10
from qc_heldout.fault_set_checks import generate, indexed
from qc_heldout.faults_v2 import changed_members

applied = partial(checks.applied, fv10)
first_applied = partial(checks.first_applied, fv10)
check_inject = partial(checks.check_inject, fv10)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's data set: the real simulator, 4 scenarios x 3 frames at 32 px, three shards."""
    root = tmp_path_factory.mktemp("faults_v10") / "clean"
    return generate(root, "--scenarios", "4", "--frames", "3", "--samples-per-shard", "4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's clip samples: 2 scenarios x 2 clips of 4 frames at 4 Hz, at 32 px."""
    root = tmp_path_factory.mktemp("faults_v10") / "clips"
    return generate(root, "--scenarios", "2", "--frames", "2", "--clip-frames", "4",
                    "--clip-rate", "4", "--samples-per-shard", "2")  # fmt: skip


@pytest.fixture(scope="module")
def index(data: Path, clips: Path) -> list[tuple[list, dict]]:
    return [indexed(data), indexed(clips)]


def test_v10_registry_covers_issue_20s_five_classes_and_is_documented() -> None:
    checks.check_registry(fv10)


def test_v10_faults_are_new() -> None:
    checks.check_new(fv10)


@pytest.mark.parametrize("name", sorted(fv10.FAULTS))
def test_v10_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    checks.check_changes_a_real_sample(fv10, name, index)


KEY_FRAME_ONLY = {"rgb_chroma_planes_previous_frame"}  # a clip's first frame has no previous


@pytest.mark.parametrize("name", [n for n, t in sorted(fv10.TOUCHES.items()) if FRAMES_FILE in t])
def test_v10_camera_faults_keep_a_clips_key_frame(name: str, index) -> None:
    found = next(applied(name, [index[1]]), None)
    if found is None:
        pytest.skip(f"{name} applies to no clip sample here (needs an earlier scenario)")
    e, clean, target = found
    after = decode_sample({"__key__": e.key, **target.files})
    before = decode_sample({"__key__": e.key, **clean})
    assert after.frames.shape == before.frames.shape
    np.testing.assert_array_equal(after.frames[-1], after.rgb)
    assert not np.array_equal(after.rgb, before.rgb)
    if name not in KEY_FRAME_ONLY:
        assert not np.array_equal(after.frames[0], before.frames[0])


@pytest.mark.parametrize("name", sorted(n for n in fv10.FAULTS if FRAMES_FILE not in
                                        fv10.TOUCHES[n]))  # fmt: skip
def test_v10_other_faults_on_clip_samples_still_decode(name: str, index) -> None:
    """Where a fault applies to a clip sample, the clip still decodes with its key frame."""
    for e, clean, target in applied(name, [index[1]]):
        after = decode_sample({"__key__": e.key, **target.files})
        np.testing.assert_array_equal(after.frames[-1], after.rgb)
        assert set(changed_members(clean, target.files)) <= set(fv10.TOUCHES[name])
        break


FIXED = {  # faults with no magnitude or variant to draw: the bug has one outcome
    "box3d_world_yaw_ego_relative", "object_distance_nearest_corner",
    "box3d_corners_yaw_ignored", "bbox2d_bottom_left_origin", "weather_sun_angles_swapped",
    "weather_preset_name_previous_scenario", "ego_velocity_vector_previous_frame",
    "ego_pedals_percent", "road_lateral_offset_right_positive", "wheel_slip_ratio_percent",
    "ego_gear_invalid_as_neutral", "events_gear_shift_direction_swapped",
    "events_list_dropped_on_serialise",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(fv10.FAULTS) - FIXED))
def test_v10_magnitude_or_variant_follows_the_seed(name: str, index) -> None:
    """Some sample gets two outcomes over six seeds."""
    params: dict[str, set[str]] = {}
    for s in range(6):
        for e, _, t in applied(name, index, rng_seed=s):
            params.setdefault(e.sid, set()).add(json.dumps(t.params, sort_keys=True))
    assert params and max(len(v) for v in params.values()) >= 2, (name, params)


def boxes(meta: dict, key: str = "bbox3d_cam") -> list:
    return [o[key] for o in meta["objects"]]


def test_v10_label_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("inst_track_ids_swapped", index)
    x, y = t.params["swapped"]
    np.testing.assert_array_equal(a.inst == x, b.inst == y)
    np.testing.assert_array_equal(a.inst == y, b.inst == x)
    assert a.meta == b.meta

    b, a, t = first_applied("box3d_cam_metric_scale_drift", index)
    k = t.params["scale"]
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        np.testing.assert_allclose(oa["bbox3d_cam"]["center"],
                                   np.multiply(ob["bbox3d_cam"]["center"], k), rtol=1e-3)
        assert oa["bbox3d_world"] == ob["bbox3d_world"] and oa["distance_m"] == ob["distance_m"]

    b, a, t = first_applied("box3d_world_yaw_ego_relative", index)
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        assert oa["bbox3d_world"]["yaw"] == pytest.approx(
            ob["bbox3d_world"]["yaw"] - b.meta["ego"]["yaw"])

    b, a, t = first_applied("object_distance_nearest_corner", index)
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        assert oa["distance_m"] <= np.linalg.norm(ob["bbox3d_cam"]["center"]) + 1e-6
        assert oa["bbox3d_cam"] == ob["bbox3d_cam"]

    b, a, t = first_applied("box3d_corners_yaw_ignored", index)
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        assert oa["bbox3d_cam"]["center"] == ob["bbox3d_cam"]["center"]

    b, a, t = first_applied("box3d_cam_pitch_calibration_stale", index)
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        ca, cb = oa["bbox3d_cam"]["center"], ob["bbox3d_cam"]["center"]
        assert np.linalg.norm(ca) == pytest.approx(np.linalg.norm(cb)) and ca[0] == cb[0]

    b, a, t = first_applied("bbox2d_bottom_left_origin", index)
    h = b.rgb.shape[0]
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        assert oa["bbox2d"][1] == h - ob["bbox2d"][3] and oa["bbox2d"][0] == ob["bbox2d"][0]


def test_v10_stale_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("classes_colors_two_swapped", index)
    ca = sorted(tuple(c["color"]) for c in a.meta["classes"])
    assert ca == sorted(tuple(c["color"]) for c in b.meta["classes"])
    assert a.meta["classes"] != b.meta["classes"]

    b, a, t = first_applied("txt_from_other_caption_family", index)
    assert a.meta == b.meta and a.txt != b.txt
    assert a.txt in [c["text"] for c in b.meta["captions"][1:]]

    b, a, t = first_applied("weather_sun_angles_swapped", index)
    wa, wb = a.meta["weather"], b.meta["weather"]
    assert (wa["sun_altitude_deg"], wa["sun_azimuth_deg"]) == (
        wb["sun_azimuth_deg"], wb["sun_altitude_deg"])

    b, a, t = first_applied("ego_velocity_vector_previous_frame", index)
    assert a.meta["ego"]["velocity"] != b.meta["ego"]["velocity"]
    assert a.meta["ego"]["speed_mps"] == b.meta["ego"]["speed_mps"]

    b, a, t = first_applied("rgb_chroma_planes_previous_frame", index)
    ya = a.rgb.astype(float) @ [0.299, 0.587, 0.114]
    yb = b.rgb.astype(float) @ [0.299, 0.587, 0.114]
    assert np.abs(ya - yb).mean() < np.abs(a.rgb.astype(float) - b.rgb).mean() + 1e-9
    assert a.meta == b.meta

    b, a, t = first_applied("rgb_awb_state_previous_scenario", index)
    assert a.meta == b.meta and (a.rgb != b.rgb).any()

    b, a, t = first_applied("weather_preset_name_previous_scenario", index)
    assert a.meta["weather"]["preset"] != b.meta["weather"]["preset"] or (
        a.meta["weather"]["family"] != b.meta["weather"]["family"])
    assert a.meta["weather"]["visibility_m"] == b.meta["weather"]["visibility_m"]


def test_v10_unit_and_calibration_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("ego_pedals_percent", index)
    for k in t.params["pedals"]:
        assert a.meta["ego"][k] == pytest.approx(100 * b.meta["ego"][k])

    b, a, t = first_applied("wind_direction_to_convention", index)
    da, db = a.meta["weather"]["wind_direction_deg"], b.meta["weather"]["wind_direction_deg"]
    if t.params["convention"] == "blowing_to":
        assert (da - db) % 360 == pytest.approx(180.0)
    else:
        assert (da + db) % 360 == pytest.approx(270.0)

    b, a, t = first_applied("ego_velocity_ned_axes", index)
    assert np.linalg.norm(a.meta["ego"]["velocity"]) == pytest.approx(
        np.linalg.norm(b.meta["ego"]["velocity"]))

    b, a, t = first_applied("camera_near_plane_mm", index)
    assert a.meta["camera"]["near"] >= 100 * b.meta["camera"]["near"] - 1e-9

    b, a, t = first_applied("road_lateral_offset_right_positive", index)
    assert a.meta["road"]["lateral_offset_m"] == -b.meta["road"]["lateral_offset_m"]

    b, a, t = first_applied("wheel_slip_ratio_percent", index)
    np.testing.assert_allclose(a.meta["ego"]["wheel_slip"]["ratio"],
                               np.multiply(b.meta["ego"]["wheel_slip"]["ratio"], 100))

    b, a, t = first_applied("weather_cloudiness_oktas", index)
    assert a.meta["weather"]["cloudiness"] >= 8 * b.meta["weather"]["cloudiness"] - 1e-9


def test_v10_optics_faults_do_what_they_say(index) -> None:
    names = [n for n, c in fv10.FAULTS.items() if c == "degraded_optics"]
    for name in names:
        b, a, t = first_applied(name, index)
        assert a.meta == b.meta, name
        np.testing.assert_array_equal(a.seg, b.seg)
        if name.startswith("audio"):
            assert not np.allclose(a.audio, b.audio), name
            np.testing.assert_array_equal(a.rgb, b.rgb)
        else:
            assert (a.rgb != b.rgb).any(), name
            np.testing.assert_array_equal(a.audio, b.audio)

    b, a, t = first_applied("rgb_polariser_sky_darkening", index)
    assert (a.rgb.astype(int) <= b.rgb.astype(int)).all()

    b, a, t = first_applied("rgb_chroma_denoise_bleed", index)
    ya = a.rgb.astype(float) @ [0.299, 0.587, 0.114]
    yb = b.rgb.astype(float) @ [0.299, 0.587, 0.114]
    assert np.abs(ya - yb).mean() <= 1.0 and (a.rgb != b.rgb).any()

    b, a, t = first_applied("rgb_field_curvature_soft_corners", index)
    h, w = b.rgb.shape[:2]
    np.testing.assert_array_equal(a.rgb[h // 2, w // 2], b.rgb[h // 2, w // 2])

    b, a, t = first_applied("audio_alternator_whine", index)
    spec = np.abs(np.fft.rfft(a.audio.astype(float) - b.audio.astype(float)))
    peak = np.argmax(spec) * b.sample_rate / b.audio.size
    assert peak == pytest.approx(t.params["f0_hz"], abs=3.0) or peak == pytest.approx(
        2 * t.params["f0_hz"], abs=3.0)


def test_v10_metadata_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("ego_gear_invalid_as_neutral", index)
    assert a.meta["ego"]["gear"] == 0 and b.meta["ego"]["speed_mps"] >= 2.0

    b, a, t = first_applied("events_gear_shift_direction_swapped", index)
    for ea, eb in zip(a.meta["events"], b.meta["events"], strict=True):
        if eb["type"] == "gear_shift":
            assert (ea["from"], ea["to"]) == (eb["to"], eb["from"])

    b, a, t = first_applied("classes_table_entry_dropped", index)
    assert len(a.meta["classes"]) == len(b.meta["classes"]) - 1

    b, a, t = first_applied("camera_slot_name_other", index)
    assert a.meta["camera"]["name"] != b.meta["camera"]["name"]
    assert a.meta["rig"] == b.meta["rig"]

    b, a, t = first_applied("audio_events_surface_sound_mislabelled", index)
    assert a.meta["audio"]["events"] != b.meta["audio"]["events"]

    b, a, t = first_applied("split_field_other_split", index)
    assert a.meta["split"] != b.meta["split"]

    b, a, t = first_applied("events_list_dropped_on_serialise", index)
    assert b.meta["events"] and a.meta["events"] == []
    assert math.isfinite(a.meta["time_s"])


def test_v10_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    truth = check_inject(data, tmp_path / "one", seed=5)
    other = fv10.inject(data, tmp_path / "c", 0.5, seed=6)["faults"]
    assert other != truth


def test_v10_inject_on_clip_samples(clips: Path, tmp_path) -> None:
    check_inject(clips, tmp_path, seed=5)


def test_v10_every_class_appears_when_everything_is_broken(data: Path, tmp_path) -> None:
    seen = set()
    for seed in (1, 2):
        truth = fv10.inject(data, tmp_path / f"{seed}", 1.0, seed=seed)["faults"]
        seen |= {v["class"] for v in truth.values()}
    assert seen == set(fv10.CLASSES)
