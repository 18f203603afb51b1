"""The v5 held-out fault set (faults_v5.py) on tiny real data sets; QC is not run.

Each fault, applied to a real clean sample (single-frame or clip), changes it (only in the
members it declares) and leaves it decodable, a clip's key frame still its rgb; the classes
are issue 20's five, each with 6-9 faults; the fault names are new to v5; magnitudes follow
the seed; ``inject`` is deterministic in the seed, leaves untouched samples byte-identical,
keeps the manifest valid and names each broken sample's class, fault and rewritten members
in its ground truth.
"""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from datagen.sample import decode_sample
from qc_heldout import fault_set_checks as checks
from qc_heldout import faults_v5 as fv5
from qc_heldout.fault_set_checks import generate, indexed
from qc_heldout.faults_v2 import changed_members

applied = partial(checks.applied, fv5)
first_applied = partial(checks.first_applied, fv5)
check_inject = partial(checks.check_inject, fv5)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real simulator: 4 scenarios x 3 frames at 32 px, in three shards."""
    root = tmp_path_factory.mktemp("faults_v5") / "clean"
    return generate(root, "--scenarios", "4", "--frames", "3", "--samples-per-shard", "4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Clip samples: 2 scenarios x 2 clips of 4 frames at 4 Hz, at 32 px."""
    root = tmp_path_factory.mktemp("faults_v5") / "clips"
    return generate(root, "--scenarios", "2", "--frames", "2", "--clip-frames", "4",
                    "--clip-rate", "4", "--samples-per-shard", "2")  # fmt: skip


@pytest.fixture(scope="module")
def index(data: Path, clips: Path) -> list[tuple[list, dict]]:
    return [indexed(data), indexed(clips)]


def test_registry_covers_issue_20s_five_classes_and_is_documented() -> None:
    from qc_heldout import faults_v2

    assert fv5.CLASSES == faults_v2.CLASSES  # issue 20's classes
    assert 30 <= len(fv5.FAULTS) <= 45
    for cls in fv5.CLASSES:
        assert 6 <= sum(c == cls for c in fv5.FAULTS.values()) <= 9, cls
    for name in fv5.FAULTS:
        assert f"\n  {name} " in fv5.__doc__, f"{name} missing from the module docstring"
        assert f"{name} (v" in " ".join(fv5.__doc__.split()), f"{name}: no closest earlier fault"
        assert fv5.TOUCHES[name], name


def test_v5_faults_are_new() -> None:
    from qc_heldout import faults, faults_v2, faults_v3, faults_v4

    for earlier in (faults, faults_v2, faults_v3, faults_v4):
        assert not set(fv5.FAULTS) & set(earlier.FAULTS), earlier.__name__


@pytest.mark.parametrize("name", sorted(fv5.FAULTS))
def test_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    found = next(applied(name, index), None)
    assert found is not None, f"{name} applies to no sample of the test data sets"
    e, clean, target = found
    changed = changed_members(clean, target.files)
    assert changed, name
    declared = {("rgb.png" if t == "rgb" else t) for t in fv5.TOUCHES[name]}
    assert set(changed) <= declared | {"rgb.jpg"}, (name, changed)
    before = decode_sample({"__key__": e.key, **clean})
    after = decode_sample({"__key__": e.key, **target.files})  # raises if it does not decode
    assert after.rgb.shape == before.rgb.shape and after.depth.shape == before.depth.shape
    assert after.seg.shape == before.seg.shape and after.inst.shape == before.inst.shape
    assert after.audio.size == before.audio.size
    assert np.isfinite(after.depth).all() and after.depth.min() >= 0
    assert np.abs(after.audio).max() <= 1.0
    assert set(target.files) == set(clean)
    if before.frames is not None:  # a clip: same shape, key frame still the rgb
        assert after.frames.shape == before.frames.shape
        np.testing.assert_array_equal(after.frames[-1], after.rgb)
    # the same sample, rng and fault give the same bytes
    entries, scenes = next(ix for ix in index if any(x.sid == e.sid and x.shard == e.shard
                                                     for x in ix[0]))  # fmt: skip
    again = fv5.Target(e, dict(clean), scenes[(e.shard.name, e.scene)], entries,
                       fv5.sample_rng(11, e.sid))  # fmt: skip
    assert fv5.apply_fault(name, again).files == target.files


DRAWN = ("seg_linear_interpolated", "label_pass_zoomed", "inst_ids_offset", "audio_ring_rotated",
         "audio_stutter_repeat", "rgb_tile_stale", "rgb_temporal_ghost", "depth_as_disparity",
         "intrinsics_principal_point_units", "pose_rear_axle_origin", "rgb_bayer_phase_wrong",
         "rgb_low_bit_depth", "rgb_oversharpened", "rgb_lens_distortion", "audio_mains_hum",
         "audio_zero_order_hold", "audio_agc_pumping", "audio_bus_echo",
         "camera_size_default_config", "audio_events_accumulated", "box3d_world_y_up",
         "weather_visibility_km", "audio_double_buffer_stale", "clip_frame_repeated",
         "clip_frames_out_of_order")  # fmt: skip


@pytest.mark.parametrize("name", DRAWN)
def test_magnitude_or_variant_follows_the_seed(name: str, index) -> None:
    e, _, _ = next(applied(name, index))
    params = set()
    for s in range(8):
        for e2, _, t in applied(name, index, rng_seed=s):
            if e2.sid == e.sid and e2.shard == e.shard:
                params.add(json.dumps(t.params, sort_keys=True))
    assert len(params) >= 2, (name, params)


def test_label_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("labels_column_major", index)
    np.testing.assert_array_equal(a.seg, b.seg.T)
    np.testing.assert_array_equal(a.inst, b.inst.T)
    assert all(o["visible_px"] == (a.inst == o["instance_id"]).sum() for o in a.meta["objects"])

    b, a, t = first_applied("inst_ids_offset", index)
    k = t.params["offset"]
    np.testing.assert_array_equal(a.inst[b.inst > 0], b.inst[b.inst > 0] + k)
    assert a.meta == b.meta

    b, a, t = first_applied("seg_linear_interpolated", index)
    assert 0 < (a.seg != b.seg).sum() and np.array_equal(a.inst, b.inst)

    b, a, t = first_applied("inst_painter_order", index)
    moved = a.inst != b.inst
    assert (b.inst[moved] == t.params["near_id"]).all()
    assert (a.inst[moved] == t.params["far_id"]).all()

    b, a, t = first_applied("box3d_half_extent", index)
    for ob, oa in zip(b.meta["objects"], a.meta["objects"], strict=True):
        assert oa["bbox3d_world"]["size"] == pytest.approx(np.divide(ob["bbox3d_world"]["size"], 2))
        assert oa["bbox3d_cam"]["center"] == pytest.approx(ob["bbox3d_cam"]["center"], abs=1e-6)

    b, a, t = first_applied("bbox2d_yx_order", index)
    for ob, oa in zip(b.meta["objects"], a.meta["objects"], strict=True):
        x0, y0, x1, y1 = ob["bbox2d"]
        assert oa["bbox2d"] == [y0, x0, y1, x1]


def test_stale_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("audio_ring_rotated", index)
    np.testing.assert_allclose(a.audio, np.roll(b.audio, -t.params["rotated_by"]), atol=1e-4)

    b, a, t = first_applied("txt_stale_handle", index)
    assert a.txt != b.txt and a.meta == b.meta

    b, a, t = first_applied("seg_cached_first_frame", index)
    assert a.meta["frame"] != t.params["seg_of_frame"] and np.array_equal(a.inst, b.inst)

    b, a, t = first_applied("clip_frame_repeated", index)
    i = t.params["frame"]
    np.testing.assert_array_equal(a.frames[i], a.frames[i - 1])
    np.testing.assert_array_equal(a.frames[-1], b.frames[-1])

    b, a, t = first_applied("clip_frames_out_of_order", index)
    i, j = t.params["frames"]
    np.testing.assert_array_equal(a.frames[i], b.frames[j])
    np.testing.assert_array_equal(a.frames[j], b.frames[i])

    b, a, t = first_applied("rgb_tile_stale", index)
    changed = np.argwhere((a.rgb != b.rgb).any(-1))
    n = t.params["grid"]
    h = b.rgb.shape[0] // n
    assert (changed // h == t.params["tile"]).all()


def test_unit_and_calibration_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("depth_as_disparity", index)
    hit = b.depth > 0
    np.testing.assert_allclose(a.depth[hit] * b.depth[hit],
                               b.meta["camera"]["fx"] * t.params["baseline_m"], rtol=1e-3)

    b, a, t = first_applied("depth_uint16_wrapped", index)
    far = b.depth > 65.535
    assert (a.depth[far] < 65.536).all() and np.allclose(a.depth[~far], b.depth[~far], atol=1e-3)

    b, a, t = first_applied("pose_column_major", index)
    np.testing.assert_allclose(fv5.matrix(a.meta["camera"]["T_world_cam"]),
                               fv5.matrix(b.meta["camera"]["T_world_cam"]).T)

    b, a, t = first_applied("pose_rear_axle_origin", index)
    moved = np.subtract(fv5.matrix(a.meta["camera"]["T_world_cam"])[:3, 3],
                        fv5.matrix(b.meta["camera"]["T_world_cam"])[:3, 3])  # fmt: skip
    assert np.linalg.norm(moved) == pytest.approx(t.params["offset_m"], abs=1e-3)

    b, a, t = first_applied("box3d_yaw_degrees", index)
    yaws = [(o["bbox3d_world"]["yaw"], p["bbox3d_world"]["yaw"])
            for o, p in zip(a.meta["objects"], b.meta["objects"], strict=True)]  # fmt: skip
    assert any(ya == pytest.approx(math.degrees(yb)) for ya, yb in yaws)

    b, a, t = first_applied("ego_accel_in_g", index)
    assert a.meta["ego"]["accel_mps2"] * fv5.G == pytest.approx(b.meta["ego"]["accel_mps2"])


def test_signal_and_metadata_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("rgb_low_bit_depth", index)
    for c, bits in enumerate(t.params["bits"]):
        assert len(np.unique(a.rgb[..., c])) <= 2**bits

    b, a, t = first_applied("audio_zero_order_hold", index)
    d = t.params["factor"]
    n = a.audio.size // d * d
    held = a.audio[:n].reshape(-1, d)
    assert np.abs(held - held[:, :1]).max() < 1e-4

    b, a, t = first_applied("audio_mains_hum", index)
    spec = np.abs(np.fft.rfft(a.audio - b.audio))
    freqs = np.fft.rfftfreq(a.audio.size, 1.0 / a.meta["audio"]["sample_rate"])
    assert freqs[int(np.argmax(spec))] == pytest.approx(t.params["hz"], abs=2.0)

    b, a, t = first_applied("ego_velocity_body_frame", index)
    assert np.linalg.norm(a.meta["ego"]["velocity"]) == pytest.approx(
        np.linalg.norm(b.meta["ego"]["velocity"]))
    assert a.meta["ego"]["velocity"] != b.meta["ego"]["velocity"]

    b, a, t = first_applied("camera_size_default_config", index)
    assert a.meta["camera"]["width"] != a.rgb.shape[1]

    b, a, t = first_applied("audio_events_accumulated", index)
    assert a.meta["audio"]["events"] == b.meta["audio"]["events"] + t.params["added"]

    b, a, t = first_applied("throttle_brake_swapped", index)
    assert a.meta["ego"]["throttle"] == b.meta["ego"]["brake"]
    assert a.meta["ego"]["brake"] == b.meta["ego"]["throttle"]

    b, a, t = first_applied("clip_ego_series_reversed", index)
    assert a.meta["clip"]["ego"]["speed_mps"] == b.meta["clip"]["ego"]["speed_mps"][::-1]


def test_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    truth = check_inject(data, tmp_path / "one", seed=5)
    other = fv5.inject(data, tmp_path / "c", 0.5, seed=6)["faults"]
    assert other != truth


def test_inject_on_clip_samples(clips: Path, tmp_path) -> None:
    check_inject(clips, tmp_path, seed=5)


def test_every_class_appears_when_everything_is_broken(data: Path, clips: Path,
                                                       tmp_path) -> None:  # fmt: skip
    seen = set()
    for i, src in enumerate((data, clips)):
        for seed in (1, 2):
            truth = fv5.inject(src, tmp_path / f"{i}-{seed}", 1.0, seed=seed)["faults"]
            seen |= {v["class"] for v in truth.values()}
    assert seen == set(fv5.CLASSES)
