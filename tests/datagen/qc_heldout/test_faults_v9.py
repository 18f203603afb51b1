"""The v9 held-out fault set (faults_v9.py) on tiny real data sets; QC is not run.

Each fault, applied to a real clean sample, changes it (only in the members it declares) and
leaves it decodable, a clip's key frame still its rgb; the classes are issue 20's five, each
with at least 6 faults; the fault names are new to v9; magnitudes follow the seed; ``inject``
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
from qc_heldout import faults_v9 as fv9
from qc_heldout.fault_set_checks import generate, indexed
from qc_heldout.faults_v2 import changed_members

applied = partial(checks.applied, fv9)
first_applied = partial(checks.first_applied, fv9)
check_inject = partial(checks.check_inject, fv9)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's data set: the real simulator, 4 scenarios x 3 frames at 32 px, three shards."""
    root = tmp_path_factory.mktemp("faults_v9") / "clean"
    return generate(root, "--scenarios", "4", "--frames", "3", "--samples-per-shard", "4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v6's clip samples: 2 scenarios x 2 clips of 4 frames at 4 Hz, at 32 px."""
    root = tmp_path_factory.mktemp("faults_v9") / "clips"
    return generate(root, "--scenarios", "2", "--frames", "2", "--clip-frames", "4",
                    "--clip-rate", "4", "--samples-per-shard", "2")  # fmt: skip


@pytest.fixture(scope="module")
def index(data: Path, clips: Path) -> list[tuple[list, dict]]:
    return [indexed(data), indexed(clips)]


def test_v9_registry_covers_issue_20s_five_classes_and_is_documented() -> None:
    checks.check_registry(fv9)


def test_v9_faults_are_new() -> None:
    checks.check_new(fv9)


@pytest.mark.parametrize("name", sorted(fv9.FAULTS))
def test_v9_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    checks.check_changes_a_real_sample(fv9, name, index)


KEY_FRAME_ONLY = {"rgb_debug_seg_overlay", "rgb_codec_skip_blocks"}  # not every frame changes


@pytest.mark.parametrize("name", [n for n, t in sorted(fv9.TOUCHES.items()) if FRAMES_FILE in t])
def test_v9_camera_faults_keep_a_clips_key_frame(name: str, index) -> None:
    e, clean, target = next(applied(name, [index[1]]))
    after = decode_sample({"__key__": e.key, **target.files})
    before = decode_sample({"__key__": e.key, **clean})
    assert after.frames.shape == before.frames.shape
    np.testing.assert_array_equal(after.frames[-1], after.rgb)
    assert not np.array_equal(after.rgb, before.rgb)
    if name not in KEY_FRAME_ONLY:
        assert not np.array_equal(after.frames[0], before.frames[0])


@pytest.mark.parametrize("name", sorted(n for n, c in fv9.FAULTS.items()
                                        if c != "degraded_optics" and FRAMES_FILE not in
                                        fv9.TOUCHES[n]))  # fmt: skip
def test_v9_other_faults_on_clip_samples_still_decode(name: str, index) -> None:
    """Where a fault applies to a clip sample, the clip still decodes with its key frame."""
    for e, clean, target in applied(name, [index[1]]):
        after = decode_sample({"__key__": e.key, **target.files})
        np.testing.assert_array_equal(after.frames[-1], after.rgb)
        assert set(changed_members(clean, target.files)) <= set(fv9.TOUCHES[name])
        break


FIXED = {  # faults with no magnitude or variant to draw: the bug has one outcome
    "objects_2d_fields_previous_frame", "frame_index_one_based",
    "captions_speed_from_speed_limit", "driver_style_default_normal",
    "road_lane_index_from_left",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(fv9.FAULTS) - FIXED))
def test_v9_magnitude_or_variant_follows_the_seed(name: str, index) -> None:
    """Some sample gets two outcomes over six seeds (a variant may need, say, two vehicles in
    view, so not every sample has every outcome)."""
    params: dict[str, set[str]] = {}
    for s in range(6):
        for e, _, t in applied(name, index, rng_seed=s):
            params.setdefault(e.sid, set()).add(json.dumps(t.params, sort_keys=True))
    assert params and max(len(v) for v in params.values()) >= 2, (name, params)


def ids_of(meta: dict) -> dict[str, int]:
    return {c["name"]: c["id"] for c in meta["classes"]}


def test_v9_label_faults_do_what_they_say(index) -> None:
    for name in ("labels_lens_distortion_applied", "labels_anamorphic_stretch"):
        b, a, t = first_applied(name, index)
        np.testing.assert_array_equal(a.rgb, b.rgb)
        assert not np.array_equal(a.seg, b.seg) and not np.array_equal(a.depth, b.depth), name

    b, a, t = first_applied("inst_masks_as_boxes", index)
    for o in b.meta["objects"]:
        x0, y0, x1, y1 = o["bbox2d"]
        assert (a.inst[y0:y1, x0:x1] > 0).all()
    assert not np.array_equal(a.inst, b.inst)
    assert a.meta == b.meta

    b, a, t = first_applied("depth_objects_as_billboards", index)
    np.testing.assert_array_equal(a.depth[b.inst == 0], b.depth[b.inst == 0])
    for o in b.meta["objects"]:
        vals = np.unique(a.depth[(b.inst == o["instance_id"]) & (b.depth > 0)])
        assert vals.size <= 1, o["instance_id"]

    b, a, t = first_applied("box3d_cam_other_axes", index)
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        ca, cb = oa["bbox3d_cam"]["center"], ob["bbox3d_cam"]["center"]
        assert np.linalg.norm(ca) == pytest.approx(np.linalg.norm(cb))
        assert ca[2] != pytest.approx(cb[2]) or cb[2] == 0

    b, a, t = first_applied("seg_thin_classes_dilated", index)
    ids = ids_of(b.meta)
    grown = [ids[c] for c in t.params["classes"]]
    assert np.isin(a.seg[a.seg != b.seg], grown).all()
    np.testing.assert_array_equal(a.inst, b.inst)

    b, a, t = first_applied("box3d_corners_other_order", index)
    for oa, ob in zip(a.meta["objects"], b.meta["objects"], strict=True):
        assert sorted(map(tuple, oa["bbox3d_cam"]["corners"])) == sorted(
            map(tuple, ob["bbox3d_cam"]["corners"]))
        assert oa["bbox3d_cam"]["center"] == ob["bbox3d_cam"]["center"]


def test_v9_stale_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("rgb_debug_seg_overlay", index)
    assert a.meta == b.meta and (a.rgb != b.rgb).any()
    np.testing.assert_array_equal(a.seg, b.seg)

    b, a, t = first_applied("ego_pose_other_actor_handle", index)
    o = next(o for o in b.meta["objects"] if o["instance_id"] == t.params["instance_id"])
    assert a.meta["ego"]["position"][:2] == o["bbox3d_world"]["center"][:2]
    assert a.meta["camera"] == b.meta["camera"] and a.meta["rig"] == b.meta["rig"]

    b, a, t = first_applied("rgb_codec_skip_blocks", index)
    assert (a.rgb != b.rgb).any() and a.meta == b.meta

    b, a, t = first_applied("objects_2d_fields_previous_frame", index)
    assert [o["bbox2d"] for o in a.meta["objects"]] != [o["bbox2d"] for o in b.meta["objects"]]
    np.testing.assert_array_equal(a.inst, b.inst)
    assert [o["bbox3d_world"] for o in a.meta["objects"]] == [
        o["bbox3d_world"] for o in b.meta["objects"]]

    b, a, t = first_applied("wheel_slip_axle_order_swapped", index)
    ra, rb = a.meta["ego"]["wheel_slip"]["ratio"], b.meta["ego"]["wheel_slip"]["ratio"]
    assert sorted(ra) == sorted(rb) and ra != rb

    b, a, t = first_applied("rgb_readout_taps_swapped", index)
    assert sorted(a.rgb.reshape(-1, 3).tolist()) == sorted(b.rgb.reshape(-1, 3).tolist())
    assert not np.array_equal(a.rgb, b.rgb)

    b, a, t = first_applied("ego_can_state_previous_scenario", index)
    assert a.meta["ego"]["speed_mps"] == b.meta["ego"]["speed_mps"]
    assert any(a.meta["ego"][k] != b.meta["ego"][k] for k in fv9.CAN_FIELDS)
    assert a.meta["scenario_id"] > 0 and a.meta["frame"] < 2


def test_v9_unit_and_calibration_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("pose_translation_extrinsic_convention", index)
    Ta, Tb = (np.reshape(m["camera"]["T_world_cam"], (4, 4)) for m in (a.meta, b.meta))
    np.testing.assert_allclose(Ta[:3, :3], Tb[:3, :3])
    np.testing.assert_allclose(Ta[:3, 3], -Tb[:3, :3].T @ Tb[:3, 3])

    b, a, t = first_applied("pose_lever_arm_sign_flipped", index)
    Ta, Tb = (np.reshape(m["camera"]["T_world_cam"], (4, 4)) for m in (a.meta, b.meta))
    np.testing.assert_allclose(Ta[:3, :3], Tb[:3, :3])
    assert np.linalg.norm(Ta[:3, 3] - Tb[:3, 3]) >= 1.0
    T = np.reshape(a.meta["rig"]["T_world_ego"], (4, 4)) @ np.reshape(
        a.meta["rig"]["cameras"][0]["T_ego_cam"], (4, 4))
    np.testing.assert_allclose(T, Ta, atol=1e-6)

    b, a, t = first_applied("road_curvature_radius_units", index)
    ka, kb = a.meta["road"]["curvature_ahead"], b.meta["road"]["curvature_ahead"]
    assert ka == pytest.approx(1000 * kb if t.params["unit"] == "per_km" else 1 / kb)

    b, a, t = first_applied("ego_accel_imu_tilt_uncompensated", index)
    tilt = math.radians(t.params["tilt_deg"])
    want = b.meta["ego"]["accel_mps2"] * math.cos(tilt) + fv9.G * math.sin(tilt)
    assert a.meta["ego"]["accel_mps2"] == pytest.approx(want, abs=1e-3)

    b, a, t = first_applied("depth_scale_descriptor_mm", index)
    assert a.meta["camera"]["depth"]["scale"] < 0.1
    np.testing.assert_array_equal(a.depth, b.depth)

    b, a, t = first_applied("object_distance_ego_origin", index)
    da = [o["distance_m"] for o in a.meta["objects"]]
    db = [o["distance_m"] for o in b.meta["objects"]]
    assert max(abs(x - y) for x, y in zip(da, db, strict=True)) >= 0.3
    assert [o["bbox3d_cam"] for o in a.meta["objects"]] == [
        o["bbox3d_cam"] for o in b.meta["objects"]]

    b, a, t = first_applied("intrinsics_roi_offset_twice", index)
    assert b.meta["camera"]["cx"] - a.meta["camera"]["cx"] == t.params["dx_px"]
    assert b.meta["camera"]["cy"] - a.meta["camera"]["cy"] == t.params["dy_px"]
    assert a.meta["rig"]["cameras"][0]["cx"] == a.meta["camera"]["cx"]

    b, a, t = first_applied("ego_speed_tyre_radius_wrong", index)
    ratio = a.meta["ego"]["speed_mps"] / b.meta["ego"]["speed_mps"]
    assert 1 / 1.15 - 1e-9 <= ratio <= 1.15 + 1e-9 and abs(ratio - 1) >= 0.03
    assert a.meta["ego"]["velocity"] == b.meta["ego"]["velocity"]


def test_v9_optics_faults_do_what_they_say(index) -> None:
    names = [n for n, c in fv9.FAULTS.items() if c == "degraded_optics"]
    for name in names:
        b, a, t = first_applied(name, index)
        assert a.meta == b.meta, name
        np.testing.assert_array_equal(a.seg, b.seg)
        if name.startswith("audio"):
            assert not np.allclose(a.audio, b.audio), name
            np.testing.assert_array_equal(a.rgb, b.rgb)
        else:
            assert (a.rgb != b.rgb).any(), name

    b, a, t = first_applied("rgb_windshield_shade_band", index)
    assert (a.rgb[0].astype(int) <= b.rgb[0].astype(int)).all()
    np.testing.assert_array_equal(a.rgb[-1], b.rgb[-1])

    b, a, t = first_applied("rgb_amp_glow", index)
    assert (a.rgb.astype(int) >= b.rgb.astype(int)).all()

    b, a, t = first_applied("rgb_highlights_wb_after_clip", index)
    changed = (a.rgb != b.rgb).any(axis=2)
    assert (a.rgb[changed][:, 1].astype(int) <= b.rgb[changed][:, 1].astype(int)).all()

    b, a, t = first_applied("audio_noise_gate_chopping", index)
    assert (np.abs(a.audio) <= np.abs(b.audio) + 1e-3).all()


def test_v9_metadata_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("road_lane_index_from_left", index)
    road = b.meta["road"]
    assert a.meta["road"]["lane_index"] == road["lanes"] - 1 - road["lane_index"]

    b, a, t = first_applied("frame_index_one_based", index)
    assert a.meta["frame"] == b.meta["frame"] + 1 and a.meta["time_s"] == b.meta["time_s"]

    for name in ("captions_speed_from_speed_limit", "captions_visibility_km"):
        b, a, t = first_applied(name, index)
        assert a.meta["captions"] != b.meta["captions"] and a.txt == a.meta["captions"][0]["text"]
        assert {k: v for k, v in a.meta.items() if k != "captions"} == {
            k: v for k, v in b.meta.items() if k != "captions"}

    b, a, t = first_applied("driver_style_default_normal", index)
    assert a.meta["driver"]["style"] == "normal" != b.meta["driver"]["style"]
    assert a.meta["driver"]["policy_id"] == b.meta["driver"]["policy_id"]

    b, a, t = first_applied("time_s_integer_truncated", index)
    step = t.params["step_s"]
    assert a.meta["time_s"] < b.meta["time_s"] and a.meta["time_s"] / step == round(
        a.meta["time_s"] / step)

    b, a, t = first_applied("camera_far_field_default", index)
    assert a.meta["camera"]["far"] != b.meta["camera"]["far"]
    assert a.meta["camera"]["depth"] == b.meta["camera"]["depth"]


def test_v9_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    truth = check_inject(data, tmp_path / "one", seed=5)
    other = fv9.inject(data, tmp_path / "c", 0.5, seed=6)["faults"]
    assert other != truth


def test_v9_inject_on_clip_samples(clips: Path, tmp_path) -> None:
    check_inject(clips, tmp_path, seed=5)


def test_v9_every_class_appears_when_everything_is_broken(data: Path, tmp_path) -> None:
    seen = set()
    for seed in (1, 2):
        truth = fv9.inject(data, tmp_path / f"{seed}", 1.0, seed=seed)["faults"]
        seen |= {v["class"] for v in truth.values()}
    assert seen == set(fv9.CLASSES)
