"""The v6 held-out fault set (faults_v6.py) on tiny real data sets; QC is not run.

Each fault, applied to a real clean sample (single-frame or clip), changes it (only in the
members it declares) and leaves it decodable, a clip's key frame still its rgb; the classes
are issue 20's five, each with 6-8 faults; the fault names are new to v6; magnitudes follow
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
from qc_heldout import faults_v6 as fv6
from qc_heldout.fault_set_checks import generate, indexed
from qc_heldout.faults_v2 import changed_members

applied = partial(checks.applied, fv6)
first_applied = partial(checks.first_applied, fv6)
check_inject = partial(checks.check_inject, fv6)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real simulator: 4 scenarios x 3 frames at 32 px, in three shards."""
    root = tmp_path_factory.mktemp("faults_v6") / "clean"
    return generate(root, "--scenarios", "4", "--frames", "3", "--samples-per-shard", "4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Clip samples: 2 scenarios x 2 clips of 4 frames at 4 Hz, at 32 px."""
    root = tmp_path_factory.mktemp("faults_v6") / "clips"
    return generate(root, "--scenarios", "2", "--frames", "2", "--clip-frames", "4",
                    "--clip-rate", "4", "--samples-per-shard", "2")  # fmt: skip


@pytest.fixture(scope="module")
def index(data: Path, clips: Path) -> list[tuple[list, dict]]:
    return [indexed(data), indexed(clips)]


def test_registry_covers_issue_20s_five_classes_and_is_documented() -> None:
    from qc_heldout import faults_v2

    assert fv6.CLASSES == faults_v2.CLASSES  # issue 20's classes
    assert 30 <= len(fv6.FAULTS) <= 45
    for cls in fv6.CLASSES:
        assert 6 <= sum(c == cls for c in fv6.FAULTS.values()) <= 8, cls
    for name in fv6.FAULTS:
        assert f"\n  {name} " in fv6.__doc__, f"{name} missing from the module docstring"
        assert f"{name} (v" in " ".join(fv6.__doc__.split()), f"{name}: no closest earlier fault"
        assert fv6.TOUCHES[name], name


def test_v6_faults_are_new() -> None:
    from qc_heldout import faults, faults_v2, faults_v3, faults_v4, faults_v5

    for earlier in (faults, faults_v2, faults_v3, faults_v4, faults_v5):
        assert not set(fv6.FAULTS) & set(earlier.FAULTS), earlier.__name__


def single_frame(index) -> list:
    return [index[0]]


@pytest.mark.parametrize("name", sorted(fv6.FAULTS))
def test_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    found = next(applied(name, single_frame(index)), None)
    assert found is not None, f"{name} applies to no single-frame sample of the test data"
    found = next(applied(name, index), None)
    e, clean, target = found
    changed = changed_members(clean, target.files)
    assert changed, name
    declared = {("rgb.png" if t == "rgb" else t) for t in fv6.TOUCHES[name]}
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
    again = fv6.Target(e, dict(clean), scenes[(e.shard.name, e.scene)], entries,
                       fv6.sample_rng(11, e.sid))  # fmt: skip
    assert fv6.apply_fault(name, again).files == target.files


DRAWN = sorted(set(fv6.FAULTS) - {"ego_off_road_inverted"})


@pytest.mark.parametrize("name", DRAWN)
def test_magnitude_or_variant_follows_the_seed(name: str, index) -> None:
    e, _, _ = next(applied(name, index))
    params = set()
    for s in range(8):
        for e2, _, t in applied(name, index, rng_seed=s):
            if e2.sid == e.sid and e2.shard == e.shard:
                params.add(json.dumps(t.params, sort_keys=True))
    assert len(params) >= 2, (name, params)


def ids_of(meta: dict) -> dict[str, int]:
    return {c["name"]: c["id"] for c in meta["classes"]}


def test_label_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("seg_object_class_table_rotated", index)
    objs, ids, k = b.meta["objects"], ids_of(b.meta), t.params["rotation"]
    for i, o in enumerate(objs):
        m = b.inst == o["instance_id"]
        assert (a.seg[m] == ids[objs[(i + k) % len(objs)]["class"]]).all()
    assert np.array_equal(a.seg[b.inst == 0], b.seg[b.inst == 0])

    b, a, t = first_applied("bbox2d_padded", index)
    for ob, oa in zip(b.meta["objects"], a.meta["objects"], strict=True):
        assert oa["bbox2d"][:2] <= ob["bbox2d"][:2] and oa["bbox2d"][2:] >= ob["bbox2d"][2:]
    assert a.meta["objects"] != b.meta["objects"]

    b, a, t = first_applied("inst_ids_as_class", index)
    m = b.inst > 0
    np.testing.assert_array_equal(a.inst[m], b.seg[m])

    b, a, t = first_applied("seg_hood_mask_other_rig", index)
    assert (a.seg[-t.params["rows"] :] == ids_of(b.meta)["ego"]).all()
    np.testing.assert_array_equal(a.seg[: -t.params["rows"]], b.seg[: -t.params["rows"]])

    b, a, t = first_applied("visible_px_box_area", index)
    e = int(t.params["inclusive"])
    for o in a.meta["objects"]:
        x0, y0, x1, y1 = o["bbox2d"]
        assert o["visible_px"] == (x1 - x0 + e) * (y1 - y0 + e)

    b, a, t = first_applied("seg_median_filtered", index)
    assert (a.seg != b.seg).sum() == t.params["pixels"] > 0 and np.array_equal(a.inst, b.inst)

    b, a, t = first_applied("inst_small_masks_zeroed", index)
    for i in t.params["cleared"]:
        assert (b.inst == i).sum() < t.params["threshold_px"] and not (a.inst == i).any()
    assert a.meta == b.meta


def test_stale_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("ego_record_other_scenario", index)
    assert a.meta["ego"] != b.meta["ego"] and a.meta["objects"] == b.meta["objects"]

    b, a, t = first_applied("weather_block_other_scenario", index)
    assert a.meta["weather"]["preset"] == t.params["preset"] != b.meta["weather"]["preset"]

    b, a, t = first_applied("rgb_channel_previous_frame", index)
    c = "rgb".index(t.params["channel"])
    keep = [i for i in range(3) if i != c]
    np.testing.assert_array_equal(a.rgb[..., keep], b.rgb[..., keep])

    b, a, t = first_applied("labels_keyed_by_frame_index", index)
    assert not np.array_equal(a.seg, b.seg) and a.meta == b.meta

    b, a, t = first_applied("audio_unflushed_tail", index)
    n = int(t.params["ms"] / 1000 * b.sample_rate)
    np.testing.assert_allclose(a.audio[n + 10 :], b.audio[n + 10 :], atol=2e-4)
    assert not np.allclose(a.audio[:n], b.audio[:n], atol=1e-3)

    b, a, t = first_applied("audio_bus_crosstalk", index)
    assert not np.allclose(a.audio, b.audio, atol=1e-3)


def test_unit_and_calibration_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("depth_log_encoded", index)
    f = np.log1p if t.params["base"] == "e" else (lambda z: np.log10(1 + z))
    np.testing.assert_allclose(a.depth, f(b.depth.astype(np.float64)), rtol=1e-5, atol=1e-5)

    b, a, t = first_applied("fov_deg_in_radians", index)
    assert a.meta["camera"]["fov_deg"] < b.meta["camera"]["fov_deg"]

    b, a, t = first_applied("intrinsics_pixel_aspect", index)
    cam = a.meta["camera"]
    assert cam["fy"] == pytest.approx(cam["fx"] * t.params["aspect"], rel=1e-3)

    b, a, t = first_applied("intrinsics_cy_bottom_origin", index)
    assert a.meta["camera"]["cy"] == b.meta["camera"]["height"] - b.meta["camera"]["cy"]

    for name in ("pose_euler_order_wrong", "pose_quaternion_order"):
        b, a, t = first_applied(name, index)
        Ta, Tb = (np.reshape(m["camera"]["T_world_cam"], (4, 4)) for m in (a.meta, b.meta))
        np.testing.assert_allclose(Ta[:3, 3], Tb[:3, 3])
        np.testing.assert_allclose(Ta[:3, :3] @ Ta[:3, :3].T, np.eye(3), atol=1e-6)
        assert not np.allclose(Ta[:3, :3], Tb[:3, :3], atol=1e-3), name

    b, a, t = first_applied("box3d_size_centimetres", index)
    k = 100 if t.params["unit"] == "cm" else 1000
    for ob, oa in zip(b.meta["objects"], a.meta["objects"], strict=True):
        assert oa["bbox3d_world"]["size"] == pytest.approx(
            np.multiply(ob["bbox3d_world"]["size"], k)
        )

    b, a, t = first_applied("ego_yaw_compass_heading", index)
    h = (math.pi / 2 - b.meta["ego"]["yaw"]) % (2 * math.pi)
    assert a.meta["ego"]["yaw"] == pytest.approx(
        h if t.params["unit"] == "rad" else math.degrees(h)
    )


def test_signal_and_metadata_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("rgb_nearest_upscaled", index)
    f = t.params["factor"]
    np.testing.assert_array_equal(a.rgb[::f, ::f], b.rgb[::f, ::f])
    np.testing.assert_array_equal(a.rgb[1::f], a.rgb[::f][: a.rgb[1::f].shape[0]])

    b, a, t = first_applied("rgb_column_fpn", index)
    d = a.rgb.astype(int) - b.rgb.astype(int)
    assert np.abs(d).sum() > 0

    b, a, t = first_applied("rgb_sensor_blooming", index)
    assert (a.rgb.astype(int) >= b.rgb.astype(int)).all() and (a.rgb != b.rgb).any()

    b, a, t = first_applied("rgb_hue_rotated", index)
    grey = (b.rgb[..., 0] == b.rgb[..., 1]) & (b.rgb[..., 1] == b.rgb[..., 2])
    assert (a.rgb != b.rgb).any()
    assert (np.abs(a.rgb[grey].astype(int) - b.rgb[grey].astype(int)) <= 1).all()

    for name in ("audio_wow_flutter", "audio_preamp_hiss", "audio_mulaw_undecoded",
                 "audio_wind_rumble"):  # fmt: skip
        b, a, t = first_applied(name, index)
        assert not np.allclose(a.audio, b.audio, atol=1e-4), name
    b, a, t = first_applied("audio_mulaw_undecoded", index)
    assert np.abs(a.audio).mean() > np.abs(b.audio).mean()

    b, a, t = first_applied("ego_off_road_inverted", index)
    assert a.meta["ego"]["off_road"] is (not b.meta["ego"]["off_road"])

    b, a, t = first_applied("ego_surface_stale", index)
    assert a.meta["ego"]["surface"] not in (b.meta["ego"]["surface"], b.meta["weather"]["surface"])

    b, a, t = first_applied("ego_damage_phantom", index)
    assert a.meta["ego"]["damage"][t.params["side"]] >= 0.2 and not a.meta["events"]

    b, a, t = first_applied("road_shape_mislabelled", index)
    assert a.meta["road"]["shape"] != b.meta["road"]["shape"]

    b, a, t = first_applied("audio_events_truncated", index)
    ev = b.meta["audio"]["events"]
    assert a.meta["audio"]["events"] == ev[: t.params["kept"]] and len(ev) > t.params["kept"]

    b, a, t = first_applied("audio_duration_field_wrong", index)
    assert a.meta["audio"]["duration_s"] == pytest.approx(
        b.meta["audio"]["duration_s"] * t.params["factor"]
    )

    b, a, t = first_applied("weather_road_dry", index)
    assert a.meta["weather"]["surface"] == "dry"
    assert a.meta["weather"]["road_wetness"] <= 0.1 * b.meta["weather"]["road_wetness"] + 1e-9


def test_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    truth = check_inject(data, tmp_path / "one", seed=5)
    other = fv6.inject(data, tmp_path / "c", 0.5, seed=6)["faults"]
    assert other != truth


def test_inject_on_clip_samples(clips: Path, tmp_path) -> None:
    check_inject(clips, tmp_path, seed=5)


def test_every_class_appears_when_everything_is_broken(data: Path, clips: Path,
                                                       tmp_path) -> None:  # fmt: skip
    seen = set()
    for i, src in enumerate((data, clips)):
        for seed in (1, 2):
            truth = fv6.inject(src, tmp_path / f"{i}-{seed}", 1.0, seed=seed)["faults"]
            seen |= {v["class"] for v in truth.values()}
    assert seen == set(fv6.CLASSES)
