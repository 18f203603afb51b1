"""The v7 held-out fault set (faults_v7.py) on tiny real data sets; QC is not run.

Each fault, applied to a real clean sample, changes it (only in the members it declares) and
leaves it decodable, a clip's key frame still its rgb; the classes are issue 20's five, each
with at least 6 faults; the fault names are new to v7; magnitudes follow the seed; ``inject``
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
from qc_heldout import faults_v7 as fv7
from qc_heldout.fault_set_checks import generate, indexed

applied = partial(checks.applied, fv7)
first_applied = partial(checks.first_applied, fv7)
check_inject = partial(checks.check_inject, fv7)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's data set: the real simulator, 4 scenarios x 3 frames at 32 px, three shards."""
    root = tmp_path_factory.mktemp("faults_v7") / "clean"
    return generate(root, "--scenarios", "4", "--frames", "3", "--samples-per-shard", "4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's clip samples: 2 scenarios x 2 clips of 4 frames at 4 Hz, at 32 px."""
    root = tmp_path_factory.mktemp("faults_v7") / "clips"
    return generate(root, "--scenarios", "2", "--frames", "2", "--clip-frames", "4",
                    "--clip-rate", "4", "--samples-per-shard", "2")  # fmt: skip


@pytest.fixture(scope="module")
def index(data: Path, clips: Path) -> list[tuple[list, dict]]:
    return [indexed(data), indexed(clips)]


def test_v7_registry_covers_issue_20s_five_classes_and_is_documented() -> None:
    checks.check_registry(fv7)


def test_v7_faults_are_new() -> None:
    checks.check_new(fv7)


@pytest.mark.parametrize("name", sorted(fv7.FAULTS))
def test_v7_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    checks.check_changes_a_real_sample(fv7, name, index)


@pytest.mark.parametrize("name", [n for n, t in sorted(fv7.TOUCHES.items()) if FRAMES_FILE in t])
def test_v7_camera_faults_keep_a_clips_key_frame(name: str, index) -> None:
    e, clean, target = next(applied(name, [index[1]]))
    after = decode_sample({"__key__": e.key, **target.files})
    before = decode_sample({"__key__": e.key, **clean})
    assert after.frames.shape == before.frames.shape
    np.testing.assert_array_equal(after.frames[-1], after.rgb)
    assert not np.array_equal(after.frames[0], before.frames[0])


FIXED = {  # faults with no magnitude or variant to draw: the bug has one outcome
    "inst_byteswapped", "inst_previous_frame", "rgb_previous_scenario_last_frame",
    "weather_cloudiness_inverted", "sun_altitude_as_zenith", "ego_accel_sign_flipped",
    "weather_precip_type_unknown",  # a variant for hail and snow only
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(fv7.FAULTS) - FIXED))
def test_v7_magnitude_or_variant_follows_the_seed(name: str, index) -> None:
    e, _, _ = next(applied(name, index))
    params = set()
    for s in range(6):
        for e2, _, t in applied(name, index, rng_seed=s):
            if e2.sid == e.sid and e2.shard == e.shard:
                params.add(json.dumps(t.params, sort_keys=True))
    assert len(params) >= 2, (name, params)


def ids_of(meta: dict) -> dict[str, int]:
    return {c["name"]: c["id"] for c in meta["classes"]}


def test_v7_label_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("labels_row_flip_off_by_one", index)
    np.testing.assert_array_equal(a.seg, np.roll(b.seg, t.params["rows"], axis=0))
    np.testing.assert_array_equal(a.inst, np.roll(b.inst, t.params["rows"], axis=0))

    b, a, t = first_applied("inst_byteswapped", index)
    np.testing.assert_array_equal(a.inst, b.inst.byteswap())
    assert a.meta == b.meta

    b, a, t = first_applied("objects_border_truncated_dropped", index)
    kept = {o["instance_id"] for o in a.meta["objects"]}
    assert kept.isdisjoint(t.params["dropped"]) and np.array_equal(a.inst, b.inst)

    b, a, t = first_applied("label_pass_short_far_plane", index)
    far = b.depth > t.params["far_m"]
    assert far.any() and (a.depth[far] == 0).all() and (a.inst[far] == 0).all()
    assert (a.seg[far] == ids_of(b.meta)["sky"]).all()
    np.testing.assert_array_equal(a.seg[~far], b.seg[~far])

    b, a, t = first_applied("objects_sort_ids_misaligned", index)
    assert [o["instance_id"] for o in a.meta["objects"]] == [
        o["instance_id"] for o in b.meta["objects"]
    ]
    assert a.meta["objects"] != b.meta["objects"]

    b, a, t = first_applied("seg_boundary_ignore_label", index)
    changed = a.seg != b.seg
    assert (a.seg[changed] == t.params["label"]).all() and changed.sum() == t.params["pixels"]

    b, a, t = first_applied("seg_coarse_class_map", index)
    ids = ids_of(b.meta)
    for pair in t.params["merged"]:
        src, dst = pair.split("->")
        assert not (a.seg == ids[src]).any() and (a.seg[b.seg == ids[src]] == ids[dst]).all()


def test_v7_stale_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("inst_previous_frame", index)
    assert not np.array_equal(a.inst, b.inst) and np.array_equal(a.seg, b.seg)

    b, a, t = first_applied("objects_block_other_scenario", index)
    assert a.meta["objects"] != b.meta["objects"] and a.meta["ego"] == b.meta["ego"]

    b, a, t = first_applied("road_block_other_scenario", index)
    assert a.meta["road"]["shape"] == t.params["shape"] != b.meta["road"]["shape"]

    b, a, t = first_applied("pose_cached_first_frame", index)
    assert a.meta["camera"]["T_world_cam"] != b.meta["camera"]["T_world_cam"]
    assert a.meta["frame"] == b.meta["frame"] and t.params["moved_m"] >= 0.5

    b, a, t = first_applied("audio_events_list_other_scenario", index)
    assert sorted(a.meta["audio"]["events"]) != sorted(b.meta["audio"]["events"])

    b, a, t = first_applied("rgb_previous_scenario_last_frame", index)
    assert b.meta["frame"] == 0 and not np.array_equal(a.rgb, b.rgb)

    b, a, t = first_applied("audio_preroll_previous_scenario", index)
    n = int(t.params["ms"] / 1000 * b.sample_rate)
    moved = np.flatnonzero(np.abs(a.audio - b.audio) > 1e-4)
    assert moved.size and moved[-1] - moved[0] < n + 1  # one block of the silent pre-roll
    assert np.abs(b.audio[moved]).max() <= 1e-3 < np.abs(a.audio[moved]).max()


def test_v7_unit_and_calibration_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("depth_zbuffer_raw", index)
    hit = b.depth > 0
    assert (a.depth[hit] <= 1.0).all() and (a.depth[~hit] == 0).all()
    assert np.corrcoef(a.depth[hit], b.depth[hit])[0, 1] > 0  # monotone in z

    b, a, t = first_applied("intrinsics_full_fov_tangent", index)
    cam = b.meta["camera"]
    assert a.meta["camera"]["fx"] == pytest.approx(
        cam["width"] / 2 / math.tan(math.radians(cam["fov_deg"]))
    )

    b, a, t = first_applied("pose_world_axis_mirrored", index)
    Ta, Tb = (np.reshape(m["camera"]["T_world_cam"], (4, 4)) for m in (a.meta, b.meta))
    k = "xyz".index(t.params["axis"])
    assert Ta[k, 3] == pytest.approx(-Tb[k, 3])
    assert np.linalg.det(Ta[:3, :3]) == pytest.approx(1.0)

    b, a, t = first_applied("pose_camera_is_mount_pose", index)
    assert a.meta["camera"]["T_world_cam"] == b.meta["rig"]["cameras"][0]["T_ego_cam"]

    b, a, t = first_applied("rpm_angular_units", index)
    assert a.meta["ego"]["rpm"] < b.meta["ego"]["rpm"] / 9

    b, a, t = first_applied("object_distance_feet", index)
    for ob, oa in zip(b.meta["objects"], a.meta["objects"], strict=True):
        assert oa["distance_m"] > ob["distance_m"] or ob["distance_m"] == 0

    b, a, t = first_applied("wheel_slip_angle_degrees", index)
    np.testing.assert_allclose(
        a.meta["ego"]["wheel_slip"]["angle"], np.degrees(b.meta["ego"]["wheel_slip"]["angle"])
    )

    b, a, t = first_applied("wind_speed_kmh", index)
    assert a.meta["weather"]["wind_speed_mps"] > 1.9 * b.meta["weather"]["wind_speed_mps"]


def test_v7_optics_faults_do_what_they_say(index) -> None:
    names = [n for n, c in fv7.FAULTS.items() if c == "degraded_optics"]
    for name in names:
        b, a, t = first_applied(name, index)
        assert (a.rgb != b.rgb).any() and a.meta == b.meta, name
        np.testing.assert_array_equal(a.seg, b.seg)

    b, a, t = first_applied("rgb_saturation_wrong", index)
    spread = [float(np.mean(np.ptp(x.rgb.astype(int), axis=2))) for x in (b, a)]
    assert (spread[1] < spread[0]) == (t.params["saturation"] < 1)

    b, a, t = first_applied("rgb_sensor_dust", index)
    assert (a.rgb.astype(int) <= b.rgb.astype(int)).all()


def test_v7_metadata_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("weather_fog_fields_lost", index)
    assert a.meta["weather"]["visibility_m"] >= 1.5 * b.meta["weather"]["visibility_m"]

    b, a, t = first_applied("weather_precip_type_unknown", index)
    assert a.meta["weather"]["precip_type"] == "none"
    assert b.meta["weather"]["precip_type"].lower() in str(t.params["unknown_types"]).lower()

    b, a, t = first_applied("weather_cloudiness_inverted", index)
    assert a.meta["weather"]["cloudiness"] == pytest.approx(1 - b.meta["weather"]["cloudiness"])

    b, a, t = first_applied("visibility_clear_air_default", index)
    assert a.meta["weather"]["visibility_m"] >= 2 * b.meta["weather"]["visibility_m"]

    b, a, t = first_applied("sun_altitude_as_zenith", index)
    w = a.meta["weather"]
    assert w["sun_altitude_deg"] == pytest.approx(90 - b.meta["weather"]["sun_altitude_deg"])

    b, a, t = first_applied("ego_accel_sign_flipped", index)
    assert a.meta["ego"]["accel_mps2"] == -b.meta["ego"]["accel_mps2"]

    b, a, t = first_applied("rpm_stuck_idle", index)
    assert 700 <= a.meta["ego"]["rpm"] <= 950 < b.meta["ego"]["rpm"]


def test_v7_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    truth = check_inject(data, tmp_path / "one", seed=5)
    other = fv7.inject(data, tmp_path / "c", 0.5, seed=6)["faults"]
    assert other != truth


def test_v7_inject_on_clip_samples(clips: Path, tmp_path) -> None:
    check_inject(clips, tmp_path, seed=5)


def test_v7_every_class_appears_when_everything_is_broken(data: Path, tmp_path) -> None:
    seen = set()
    for seed in (1, 2):
        truth = fv7.inject(data, tmp_path / f"{seed}", 1.0, seed=seed)["faults"]
        seen |= {v["class"] for v in truth.values()}
    assert seen == set(fv7.CLASSES)
