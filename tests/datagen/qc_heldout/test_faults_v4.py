"""The v4 held-out fault set (faults_v4.py) on a tiny real data set; QC is not run.

Each fault, applied to a real clean sample, changes it (only in the members it declares) and
leaves it decodable; the classes are issue 20's five and each has faults; the fault names are
new to v4; ``inject`` is deterministic in the seed, leaves untouched samples byte-identical and
names each broken sample's class, fault and rewritten members in its ground truth.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from datagen.sample import decode_sample
from datagen.shards import verify_shard
from qc_heldout import faults_v4 as fv4
from qc_heldout.faults_v2 import changed_members, read_index
from qc_heldout.faults_v3 import scenes_of, shard_samples

SEED_OF_DATA = 3  # every fault applies to at least one sample of this data set


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real simulator: 4 scenarios x 3 frames at 32 px, in three shards."""
    from edge.cli import main

    root = tmp_path_factory.mktemp("faults_v4") / "clean"
    code = main(["generate", "--out", str(root), "--scenarios", "4", "--frames", "3",
                 "--image-size", "32", "--samples-per-shard", "4", "--seed", str(SEED_OF_DATA),
                 "--workers", "0", "--no-progress", "--no-card"])  # fmt: skip
    assert code == 0
    return root


@pytest.fixture(scope="module")
def index(data: Path) -> tuple[list, dict]:
    entries = read_index(sorted(data.glob("*.tar")))
    return entries, scenes_of(entries)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def first_applied(name: str, index: tuple[list, dict]):
    """(clean sample, broken sample, target) of the first sample fault ``name`` applies to."""
    entries, scenes = index
    for e in entries:
        files = dict(shard_samples(e.shard)[e.key])
        scene = scenes[(e.shard.name, e.scene)]
        target = fv4.Target(e, dict(files), scene, entries, fv4.sample_rng(11, e.sid))
        if fv4.apply_fault(name, target) is not None:
            before = decode_sample({"__key__": e.key, **files})
            after = decode_sample({"__key__": e.key, **target.files})
            return before, after, target
    raise AssertionError(f"{name} applies to no sample of the test data set")


def test_registry_covers_issue_20s_five_classes_and_is_documented() -> None:
    from qc_heldout import faults_v2

    assert fv4.CLASSES == faults_v2.CLASSES  # issue 20's classes, as v1 and v2
    assert 30 <= len(fv4.FAULTS) <= 45
    for cls in fv4.CLASSES:
        assert sum(c == cls for c in fv4.FAULTS.values()) >= 4, cls
    for name in fv4.FAULTS:
        assert f"\n  {name} " in fv4.__doc__, f"{name} missing from the module docstring"
        assert fv4.TOUCHES[name], name


def test_v4_faults_are_new() -> None:
    from qc_heldout import faults, faults_v2, faults_v3

    for earlier in (faults, faults_v2, faults_v3):
        assert not set(fv4.FAULTS) & set(earlier.FAULTS), earlier.__name__


@pytest.mark.parametrize("name", sorted(fv4.FAULTS))
def test_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    entries, scenes = index
    for e in entries:
        clean = dict(shard_samples(e.shard)[e.key])
        target = fv4.Target(e, dict(clean), scenes[(e.shard.name, e.scene)], entries,
                            fv4.sample_rng(11, e.sid))  # fmt: skip
        if fv4.apply_fault(name, target) is not None:
            break
    else:
        raise AssertionError(f"{name} applies to no sample of the test data set")
    changed = changed_members(clean, target.files)
    assert changed, name
    declared = {("rgb.png" if t == "rgb" else t) for t in fv4.TOUCHES[name]}
    assert set(changed) <= declared | {"rgb.jpg"}, (name, changed)
    before = decode_sample({"__key__": e.key, **clean})
    after = decode_sample({"__key__": e.key, **target.files})  # raises if it does not decode
    assert after.rgb.shape == before.rgb.shape and after.depth.shape == before.depth.shape
    assert after.audio.size == before.audio.size
    assert np.isfinite(after.depth).all() and after.depth.min() >= 0
    assert np.abs(after.audio).max() <= 1.0
    assert set(target.files) == set(clean)
    # the same sample, rng and fault give the same bytes
    again = fv4.Target(e, dict(clean), scenes[(e.shard.name, e.scene)], entries,
                       fv4.sample_rng(11, e.sid))  # fmt: skip
    assert fv4.apply_fault(name, again).files == target.files


def test_label_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("inst_mask_eroded", index)
    assert ((a.inst > 0) <= (b.inst > 0)).all() and (a.inst > 0).sum() < (b.inst > 0).sum()
    assert all(o["visible_px"] == (a.inst == o["instance_id"]).sum() for o in a.meta["objects"])

    b, a, t = first_applied("seg_link_misclassified", index)
    diff = np.argwhere(a.seg != b.seg)
    x0, y0, x1, y1 = next(o["bbox2d"] for o in b.meta["objects"]
                          if o["instance_id"] == t.params["instance_id"])  # fmt: skip
    assert diff[:, 0].max() < (y0 + y1) // 2 and (b.inst[a.seg != b.seg] ==
                                                 t.params["instance_id"]).all()  # fmt: skip

    b, a, t = first_applied("box3d_center_at_bottom", index)
    for ob, oa in zip(b.meta["objects"], a.meta["objects"], strict=True):
        wb, wa = ob["bbox3d_world"], oa["bbox3d_world"]
        assert wa["center"][2] == pytest.approx(wb["center"][2] - wb["size"][2] / 2)

    b, a, t = first_applied("rgb_buffer_offset", index)
    k = t.params["offset_px"]
    np.testing.assert_array_equal(a.rgb[:, k:], b.rgb[:, :-k])  # png: lossless


def test_unit_and_calibration_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("intrinsics_focal_mm", index)
    ratio = a.meta["camera"]["fx"] / b.meta["camera"]["fx"]
    assert 4.8 <= ratio * b.meta["camera"]["width"] <= 7.2
    assert a.meta["camera"]["cx"] == b.meta["camera"]["cx"]

    b, a, t = first_applied("pose_inverted", index)
    if a.meta.get("rig"):
        T_new = fv4.matrix(a.meta["rig"]["T_world_ego"])
        T_old = fv4.matrix(b.meta["rig"]["T_world_ego"])
        cam = fv4.rig_camera(a.meta)
        np.testing.assert_allclose(T_new @ fv4.matrix(cam["T_ego_cam"]),
                                   fv4.matrix(a.meta["camera"]["T_world_cam"]), atol=1e-6)
    else:
        T_new = fv4.matrix(a.meta["camera"]["T_world_cam"])
        T_old = fv4.matrix(b.meta["camera"]["T_world_cam"])
    np.testing.assert_allclose(T_new @ T_old, np.eye(4), atol=1e-5)
    assert a.meta["ego"]["position"] == b.meta["ego"]["position"]

    b, a, t = first_applied("depth_origin_offset", index)
    hit = b.depth > 0
    assert ((a.depth > 0) == hit).all()
    grown = a.depth[hit].astype(np.float64) - b.depth[hit]
    far = float(b.meta["camera"]["far"])
    assert np.allclose(grown[a.depth[hit] < far], t.params["offset_m"], atol=1e-3)


def test_signal_and_metadata_faults_do_what_they_say(index) -> None:
    b, a, t = first_applied("audio_8bit_pcm", index)
    steps = a.audio.astype(np.float64) * 127.0
    assert np.abs(steps - np.round(steps)).max() < 0.01  # 8-bit levels (stored as 16 bit)

    b, a, t = first_applied("rgb_channel_stuck", index)
    ch = "rgb".index(t.params["channel"])
    assert (a.rgb[..., ch] == t.params["level"]).all()

    b, a, t = first_applied("events_time_clip_relative", index)
    start = b.meta["time_s"] - b.meta["audio"]["duration_s"]
    for eb, ea in zip(b.meta["events"], a.meta["events"], strict=True):
        assert ea["time_s"] == pytest.approx(eb["time_s"] - start)

    b, a, t = first_applied("captions_adjacent_frame", index)
    assert a.meta["captions"] != b.meta["captions"] and a.meta["objects"] == b.meta["objects"]
    assert a.txt == a.meta["captions"][0]["text"]

    b, a, t = first_applied("time_of_day_clock_offset", index)
    old, new = t.params["time_of_day"]
    assert fv4.PHASES.index(new) == (fv4.PHASES.index(old) + 1) % 4
    assert a.meta["weather"]["sun_altitude_deg"] == b.meta["weather"]["sun_altitude_deg"]


def test_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    result = fv4.inject(data, tmp_path / "a", 0.5, seed=5, truth_path=tmp_path / "truth.json")
    truth = result["faults"]
    again = fv4.inject(data, tmp_path / "b", 0.5, seed=5)["faults"]
    assert truth == again and len(truth) >= 4
    assert json.loads((tmp_path / "truth.json").read_text())["faults"] == truth
    assert result["classes"] == list(fv4.CLASSES) and result["version"] == "faults_v4"
    for v in truth.values():
        assert fv4.FAULTS[v["fault"]] == v["class"] and v["files"]
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")
    other = fv4.inject(data, tmp_path / "c", 0.5, seed=6)["faults"]
    assert other != truth
    for shard in sorted(data.glob("*.tar")):
        src, dst = members(shard), members(tmp_path / "a" / shard.name)
        assert list(src) == list(dst)
        for name, data_bytes in src.items():
            key, _, ext = name.partition(".")
            hit = truth.get(f"{shard.name}/{key}")
            if hit is None or ext not in hit["files"]:
                assert dst[name] == data_bytes, name
            else:
                assert dst[name] != data_bytes, name
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    for entry in manifest["shards"]:
        assert verify_shard(tmp_path / "a" / entry["name"], entry["sha256"], entry["samples"])
