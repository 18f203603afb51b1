"""The v8 held-out fault set (faults_v8.py) on tiny real data sets; QC is not run.

Each fault, applied to a real clean sample, changes it (only in the members it declares) and
leaves it decodable, a clip's key frame still its rgb; the classes are issue 20's five, each
with at least 6 faults; the fault names are new to v8; magnitudes follow the seed; ``inject``
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
from qc_heldout import faults_v8 as fv8
from qc_heldout.fault_set_checks import generate, indexed

applied = partial(checks.applied, fv8)
first_applied = partial(checks.first_applied, fv8)
check_inject = partial(checks.check_inject, fv8)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's data set: the real simulator, 4 scenarios x 3 frames at 32 px, three shards."""
    root = tmp_path_factory.mktemp("faults_v8") / "clean"
    return generate(root, "--scenarios", "4", "--frames", "3", "--samples-per-shard", "4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's clip samples: 2 scenarios x 2 clips of 4 frames at 4 Hz, at 32 px."""
    root = tmp_path_factory.mktemp("faults_v8") / "clips"
    return generate(root, "--scenarios", "2", "--frames", "2", "--clip-frames", "4",
                    "--clip-rate", "4", "--samples-per-shard", "2")  # fmt: skip


@pytest.fixture(scope="module")
def index(data: Path, clips: Path) -> list[tuple[list, dict]]:
    return [indexed(data), indexed(clips)]


def test_v8_registry_covers_issue_20s_five_classes_and_is_documented() -> None:
    checks.check_registry(fv8)


def test_v8_faults_are_new() -> None:
    checks.check_new(fv8)


@pytest.mark.parametrize("name", sorted(fv8.FAULTS))
def test_v8_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    checks.check_changes_a_real_sample(fv8, name, index)


@pytest.mark.parametrize("name", [n for n, t in sorted(fv8.TOUCHES.items()) if FRAMES_FILE in t])
def test_v8_camera_faults_keep_a_clips_key_frame(name: str, index) -> None:
    e, clean, target = next(applied(name, [index[1]]))
    after = decode_sample({"__key__": e.key, **target.files})
    before = decode_sample({"__key__": e.key, **clean})
    assert after.frames.shape == before.frames.shape
    np.testing.assert_array_equal(after.frames[-1], after.rgb)
    assert not np.array_equal(after.frames[0], before.frames[0])


FIXED = {  # faults with no magnitude or variant to draw: the bug has one outcome
    "rgb_gamma_doubled", "rgb_object_layer_previous_frame", "json_record_one_frame_behind",
    "arrays_one_frame_behind_json", "captions_time_of_day_default", "road_kind_default",
    "box3d_table_previous_scenario",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(fv8.FAULTS) - FIXED))
def test_v8_magnitude_or_variant_follows_the_seed(name: str, index) -> None:
    """Some sample gets two outcomes over six seeds (a variant may need, say, an actor in
    view, so not every sample has every outcome)."""
    params: dict[str, set[str]] = {}
    for s in range(6):
        for e, _, t in applied(name, index, rng_seed=s):
            params.setdefault(e.sid, set()).add(json.dumps(t.params, sort_keys=True))
    assert params and max(len(v) for v in params.values()) >= 2, (name, params)


def ids_of(meta: dict) -> dict[str, int]:
    return {c["name"]: c["id"] for c in meta["classes"]}


def test_v8_label_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("labels_camera_roll", index)
    assert 3 <= abs(t.params["roll_deg"]) <= 7 and not np.array_equal(a.seg, b.seg)
    np.testing.assert_array_equal(a.rgb, b.rgb)

    b, a, t = first_applied("depth_actor_free_pass", index)
    changed = a.depth != b.depth
    assert changed.any() and (b.inst[changed] > 0).all()
    np.testing.assert_array_equal(a.inst, b.inst)

    b, a, t = first_applied("bbox2d_from_class_mask", index)
    ids = ids_of(b.meta)
    for o in a.meta["objects"]:
        ys, xs = np.nonzero(b.seg == ids[o["class"]])
        assert o["bbox2d"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]

    b, a, t = first_applied("objects_list_capped", index)
    assert a.meta["objects"] == b.meta["objects"][: t.params["cap"]]

    b, a, t = first_applied("inst_none_as_max", index)
    assert (a.inst[b.inst == 0] == t.params["none"]).all() and not (a.inst == 0).any()

    b, a, t = first_applied("bbox2d_half_resolution", index)
    h, w = b.inst.shape
    for o in a.meta["objects"]:
        assert o["bbox2d"][2] <= (w + 1) // 2 and o["bbox2d"][3] <= (h + 1) // 2

    b, a, t = first_applied("labels_parallax_other_mount", index)
    sky = ids_of(b.meta)["sky"]
    assert not np.array_equal(a.seg, b.seg) and 0.2 <= abs(t.params["baseline_m"]) <= 0.5
    assert ((a.seg == sky) | (b.seg != sky)).mean() > 0.9  # the sky stays where it was


def test_v8_stale_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("rgb_sky_layer_other_scenario", index)
    sky = b.seg == ids_of(b.meta)["sky"]
    np.testing.assert_array_equal(a.rgb[~sky], b.rgb[~sky])
    assert (a.rgb[sky] != b.rgb[sky]).any()

    b, a, t = first_applied("rgb_object_layer_previous_frame", index)
    assert b.meta["frame"] > 0 and (a.rgb != b.rgb).any() and a.meta == b.meta

    b, a, t = first_applied("json_record_one_frame_behind", index)
    assert a.meta["frame"] == b.meta["frame"] and a.meta["time_s"] == b.meta["time_s"]
    assert a.meta["camera"]["T_world_cam"] != b.meta["camera"]["T_world_cam"]
    np.testing.assert_array_equal(a.rgb, b.rgb)

    b, a, t = first_applied("arrays_one_frame_behind_json", index)
    assert a.meta == b.meta and not np.array_equal(a.rgb, b.rgb)

    b, a, t = first_applied("sun_position_other_scenario", index)
    assert a.meta["weather"]["time_of_day"] != b.meta["weather"]["time_of_day"]

    b, a, t = first_applied("box3d_table_previous_scenario", index)
    moved = [o for o, p in zip(a.meta["objects"], b.meta["objects"], strict=True)
             if o["bbox3d_world"] != p["bbox3d_world"]]  # fmt: skip
    assert [o["instance_id"] for o in moved] == t.params["replaced"]

    b, a, t = first_applied("vehicle_preset_other_scenario", index)
    assert a.meta["vehicle"] != b.meta["vehicle"]


def test_v8_unit_and_calibration_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("images_cropped_intrinsics_stale", index)
    assert a.meta["camera"] == b.meta["camera"] and not np.array_equal(a.rgb, b.rgb)

    b, a, t = first_applied("pose_local_origin", index)
    Ta, Tb = (np.reshape(m["camera"]["T_world_cam"], (4, 4)) for m in (a.meta, b.meta))
    np.testing.assert_allclose(Ta[:3, :3], Tb[:3, :3])
    assert np.linalg.norm(Ta[:3, 3] - Tb[:3, 3]) >= 5.0
    assert a.meta["ego"]["position"] == b.meta["ego"]["position"]

    b, a, t = first_applied("ego_frame_y_forward", index)
    Ta, Tb = (np.reshape(m["rig"]["T_world_ego"], (4, 4)) for m in (a.meta, b.meta))
    np.testing.assert_allclose(Ta[:3, 3], Tb[:3, 3])
    assert abs(float(Ta[:3, 0] @ Tb[:3, 0])) < 1e-6  # the forward axis turned 90 deg

    b, a, t = first_applied("road_lateral_offset_lane_relative", index)
    assert abs(a.meta["road"]["lateral_offset_m"] - b.meta["road"]["lateral_offset_m"]) >= 1.0

    b, a, t = first_applied("sun_azimuth_radians", index)
    w = a.meta["weather"]
    assert w["sun_azimuth_deg"] == pytest.approx(math.radians(b.meta["weather"]["sun_azimuth_deg"]))

    b, a, t = first_applied("speed_limit_kmh", index)
    assert a.meta["road"]["speed_limit_mps"] > 2 * b.meta["road"]["speed_limit_mps"]

    b, a, t = first_applied("yaw_rate_per_tick", index)
    assert abs(a.meta["ego"]["yaw_rate"]) <= abs(b.meta["ego"]["yaw_rate"]) / 60 + 1e-12

    b, a, t = first_applied("steer_wheel_angle_degrees", index)
    assert abs(a.meta["ego"]["steer"]) >= 30 * abs(b.meta["ego"]["steer"])


def test_v8_optics_faults_do_what_they_say(index) -> None:
    names = [n for n, c in fv8.FAULTS.items() if c == "degraded_optics"]
    for name in names:
        b, a, t = first_applied(name, index)
        assert a.meta == b.meta, name
        np.testing.assert_array_equal(a.seg, b.seg)
        if name.startswith("audio"):
            assert not np.allclose(a.audio, b.audio), name
            np.testing.assert_array_equal(a.rgb, b.rgb)
        else:
            assert (a.rgb != b.rgb).any(), name

    b, a, t = first_applied("rgb_image_circle_clipped", index)
    assert (a.rgb[0, 0] == 0).all() and (a.rgb.astype(int) <= b.rgb.astype(int)).all()

    b, a, t = first_applied("rgb_gamma_doubled", index)
    assert (a.rgb.astype(int) >= b.rgb.astype(int)).all()

    b, a, t = first_applied("audio_gain_attenuated", index)
    ratio = np.sqrt(np.mean(a.audio**2) / np.mean(b.audio**2))
    assert 20 * math.log10(ratio) == pytest.approx(-t.params["attenuation_db"], abs=0.5)


def test_v8_metadata_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("weather_phantom_snow_cover", index)
    assert a.meta["weather"]["snow_cover"] >= 0.55 > b.meta["weather"]["snow_cover"]
    assert a.meta["weather"]["surface"] == "snow"

    b, a, t = first_applied("captions_time_of_day_default", index)
    assert a.meta["weather"] == b.meta["weather"] and a.meta["captions"] != b.meta["captions"]
    assert a.txt == a.meta["captions"][0]["text"]

    b, a, t = first_applied("road_kind_default", index)
    assert a.meta["road"]["kind"] != b.meta["road"]["kind"]

    b, a, t = first_applied("road_lanes_per_direction", index)
    assert a.meta["road"]["lanes"] in (b.meta["road"]["lanes"] // 2, 2 * b.meta["road"]["lanes"])

    b, a, t = first_applied("time_s_warmup_offset", index)
    assert a.meta["time_s"] - b.meta["time_s"] == pytest.approx(t.params["warmup_s"], abs=1e-3)

    b, a, t = first_applied("ego_speed_wheel_dropout", index)
    assert a.meta["ego"]["speed_mps"] < 0.6 and b.meta["ego"]["speed_mps"] >= 3.0
    assert a.meta["ego"]["velocity"] == b.meta["ego"]["velocity"]

    b, a, t = first_applied("ego_altitude_datum", index)
    dz = a.meta["ego"]["position"][2] - b.meta["ego"]["position"][2]
    assert 25 <= dz <= 60 and a.meta["camera"] == b.meta["camera"]


def test_v8_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    truth = check_inject(data, tmp_path / "one", seed=5)
    other = fv8.inject(data, tmp_path / "c", 0.5, seed=6)["faults"]
    assert other != truth


def test_v8_inject_on_clip_samples(clips: Path, tmp_path) -> None:
    check_inject(clips, tmp_path, seed=5)


def test_v8_every_class_appears_when_everything_is_broken(data: Path, tmp_path) -> None:
    seen = set()
    for seed in (1, 2):
        truth = fv8.inject(data, tmp_path / f"{seed}", 1.0, seed=seed)["faults"]
        seen |= {v["class"] for v in truth.values()}
    assert seen == set(fv8.CLASSES)
