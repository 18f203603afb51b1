"""The v2 held-out fault injector (faults_v2.py) on a tiny real data set; QC is not run.

Each fault changes the sample the ground truth names (only the members it lists, in the way
it claims), leaves every other sample byte-identical, is deterministic in the seed, and the
shards, manifest and sidecars it writes stay readable and consistent.
"""

from __future__ import annotations

import json
import math
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from datagen.manifest import label_stats, merge_stats
from datagen.sample import decode_sample
from datagen.shards import verify_shard
from qc_heldout import faults_v2 as fv2

SEED_OF_DATA = 3  # every fault applies to at least one sample of this data set


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real simulator: 4 scenarios x 2 frames at 32 px, in two shards."""
    from edge.cli import main

    root = tmp_path_factory.mktemp("faults_v2") / "clean"
    code = main(["generate", "--out", str(root), "--scenarios", "4", "--frames", "2",
                 "--image-size", "32", "--samples-per-shard", "4", "--seed", str(SEED_OF_DATA),
                 "--workers", "0", "--no-progress", "--no-card"])  # fmt: skip
    assert code == 0
    assert len(list(root.glob("*.tar"))) == 2
    return root


def members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path, "r:") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]


def samples(root: Path) -> dict[str, dict[str, bytes]]:
    """Every sample of a data set folder: ``SHARD/KEY`` -> {ext: bytes}."""
    out: dict[str, dict[str, bytes]] = {}
    for shard in sorted(root.glob("*.tar")):
        for name, data in members(shard):
            key, _, ext = name.partition(".")
            out.setdefault(f"{shard.name}/{key}", {})[ext] = data
    return out


def decoded(files: dict[str, bytes], sid: str):
    return decode_sample({"__key__": sid.split("/")[1], **files})


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_registry_covers_every_class_and_documents_each_fault() -> None:
    assert len(fv2.CLASSES) == 5
    for cls in fv2.CLASSES:
        assert sum(c == cls for c in fv2.FAULTS.values()) >= 3, cls
    assert set(fv2.FAULTS.values()) <= set(fv2.CLASSES)
    for name in fv2.FAULTS:
        assert f"\n  {name} " in fv2.__doc__, f"{name} missing from the module docstring"
        assert fv2.TOUCHES[name], name


# Per fault: what the change must look like (b, a: the sample before and after; p: the
# fault's params; scene: the clean samples of its scenario as {frame: {ext: bytes}}).
def check_bgr(b, a, p, scene) -> None:
    np.testing.assert_array_equal(a.rgb, b.rgb[..., ::-1])


def check_mirror(b, a, p, scene) -> None:
    np.testing.assert_array_equal(a.seg, b.seg[:, ::-1])
    np.testing.assert_array_equal(a.inst, b.inst[:, ::-1])
    np.testing.assert_array_equal(a.depth, b.depth)


def check_xywh(b, a, p, scene) -> None:
    for old, new in zip(b.meta["objects"], a.meta["objects"], strict=True):
        x0, y0, x1, y1 = old["bbox2d"]
        assert new["bbox2d"] == [x0, y0, x1 - x0, y1 - y0]


def check_speed(b, a, p, scene) -> None:
    assert math.isclose(a.meta["ego"]["speed_mps"], b.meta["ego"]["speed_mps"] * p["factor"],
                        rel_tol=1e-6)  # fmt: skip
    assert a.meta["ego"]["velocity"] == b.meta["ego"]["velocity"]


def check_yaw_rate(b, a, p, scene) -> None:
    assert math.isclose(a.meta["ego"]["yaw_rate"], math.degrees(b.meta["ego"]["yaw_rate"]),
                        rel_tol=1e-6)  # fmt: skip


def check_gear(b, a, p, scene) -> None:
    assert a.meta["ego"]["gear"] == b.meta["ego"]["gear"] + p["offset"]


def check_sun(b, a, p, scene) -> None:
    assert a.meta["weather"]["sun_altitude_deg"] == -b.meta["weather"]["sun_altitude_deg"]
    assert a.meta["weather"]["time_of_day"] != b.meta["weather"]["time_of_day"]


def check_intrinsics(b, a, p, scene) -> None:
    assert math.isclose(a.meta["camera"]["fx"], b.meta["camera"]["fx"] * p["scale"])
    assert a.meta["camera"]["width"] == b.meta["camera"]["width"]


def check_range_depth(b, a, p, scene) -> None:
    assert np.all((a.depth == 0) | (a.depth >= b.depth)) and np.any(a.depth > b.depth)


def check_far_depth(b, a, p, scene) -> None:
    assert np.array_equal(a.depth > 0, b.depth > 0)
    assert a.depth.max() <= p["far_used_m"] * 1.001 < b.meta["camera"]["far"]


def check_pose_units(b, a, p, scene) -> None:
    before, after = (np.reshape(s.meta["camera"]["T_world_cam"], (4, 4)) for s in (b, a))
    np.testing.assert_allclose(after[:3, 3], before[:3, 3] * p["scale"], rtol=1e-6)
    assert a.meta["ego"]["position"] == b.meta["ego"]["position"]


def check_timestamp(b, a, p, scene) -> None:
    times = {json.loads(f["json"])["time_s"] for fr, f in scene.items() if fr != b.meta["frame"]}
    assert a.meta["time_s"] in times and a.meta["time_s"] != b.meta["time_s"]


def check_optics(b, a, p, scene) -> None:
    assert a.rgb.shape == b.rgb.shape
    assert fv2.visible_change(b.rgb, a.rgb) >= fv2.MIN_VISIBLE_LEVELS  # not an invisible fault


CHECKS = {
    "rgb_bgr": check_bgr,
    "label_mirror_x": check_mirror,
    "bbox2d_xywh": check_xywh,
    "speed_unit": check_speed,
    "yaw_rate_degrees": check_yaw_rate,
    "gear_off_by_one": check_gear,
    "sun_altitude_sign": check_sun,
    "intrinsics_other_size": check_intrinsics,
    "depth_range_as_z": check_range_depth,
    "depth_wrong_far": check_far_depth,
    "pose_translation_units": check_pose_units,
    "timestamp_stale": check_timestamp,
    **{n: check_optics for n, c in fv2.FAULTS.items() if c == "degraded_optics"},
}


def byte_copy_of_another_frame(ext: str):
    """The member is byte-identical to that of another frame of the same scenario."""

    def check(b, a, files_after, scene) -> None:
        others = [f[ext] for fr, f in scene.items() if fr != b.meta["frame"]]
        assert files_after[ext] in others

    return check


BYTE_CHECKS = {
    "audio_other_frame": byte_copy_of_another_frame("audio.flac"),
    "rgb_stale_buffer": byte_copy_of_another_frame("rgb.png"),
    "label_buffer_lag": byte_copy_of_another_frame("seg.png"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(fv2.FAULTS))
def test_each_fault_changes_only_what_it_claims(data: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "broken"
    truth = fv2.inject(data, out, 1.0, seed=0, faults=[name])
    assert truth["faults"], f"{name} applied to no sample of the test data set"
    before, after = samples(data), samples(out)
    assert list(before) == list(after)
    for shard in sorted(data.glob("*.tar")):  # same members, same order, readable with tarfile
        assert [n for n, _ in members(shard)] == [n for n, _ in members(out / shard.name)]
    for sid, files in before.items():
        if sid not in truth["faults"]:
            assert after[sid] == files, f"{sid} changed without a fault"
            continue
        entry = truth["faults"][sid]
        assert (entry["fault"], entry["class"]) == (name, fv2.FAULTS[name])
        changed = sorted(k for k in files if after[sid][k] != files[k])
        assert changed and changed == entry["files"], (changed, entry["files"])
        allowed = {"rgb.png" if t == "rgb" else t for t in fv2.TOUCHES[name]}
        assert set(changed) <= allowed, (changed, allowed)
        json.dumps(entry["params"])  # serialisable
        b, a = decoded(files, sid), decoded(after[sid], sid)  # still decodes
        assert a.txt == a.meta["captions"][0]["text"]
        scene = {json.loads(f["json"])["frame"]: f for s, f in before.items()
                 if s.split("/")[0] == sid.split("/")[0]
                 and json.loads(f["json"])["scenario_id"] == b.meta["scenario_id"]}  # fmt: skip
        if name in CHECKS:
            CHECKS[name](b, a, entry["params"], scene)
        if name in BYTE_CHECKS:
            BYTE_CHECKS[name](b, a, after[sid], scene)


@pytest.mark.slow
def test_deterministic_in_the_seed(data: Path, tmp_path: Path) -> None:
    one = fv2.inject(data, tmp_path / "one", 0.5, seed=7)
    two = fv2.inject(data, tmp_path / "two", 0.5, seed=7)
    other = fv2.inject(data, tmp_path / "other", 0.5, seed=8)
    assert one["faults"] == two["faults"]
    assert folder_bytes(tmp_path / "one") == folder_bytes(tmp_path / "two")
    assert one["faults"] != other["faults"]
    assert len(one["faults"]) == 4  # half of the 8 samples
    assert all(sid in samples(data) for sid in one["faults"])


@pytest.mark.slow
def test_untouched_samples_and_shards_stay_byte_identical(data: Path, tmp_path: Path) -> None:
    truth = fv2.inject(data, tmp_path / "few", 0.2, seed=1)
    broken_shards = {sid.split("/")[0] for sid in truth["faults"]}
    assert 0 < len(truth["faults"]) < 8
    for shard in data.glob("*.tar"):
        same = shard.read_bytes() == (tmp_path / "few" / shard.name).read_bytes()
        assert same == (shard.name not in broken_shards)
    before, after = samples(data), samples(tmp_path / "few")
    assert [s for s in before if before[s] != after[s]] == sorted(truth["faults"])


@pytest.mark.slow
def test_fraction_zero_is_a_byte_copy(data: Path, tmp_path: Path) -> None:
    truth = fv2.inject(data, tmp_path / "copy", 0.0, seed=0)
    assert truth["faults"] == {}
    assert folder_bytes(tmp_path / "copy") == folder_bytes(data)


@pytest.mark.slow
def test_manifest_sidecars_and_card_follow_the_rewritten_shards(data: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(data, src)
    total = sum(p.stat().st_size for p in src.glob("*.tar"))
    (src / "card").mkdir()
    (src / "card" / "README.md").write_text(f"  splits:\n  - name: train\n    num_bytes: {total}\n")
    out = tmp_path / "out"
    truth = fv2.inject(src, out, 1.0, seed=2, truth_path=tmp_path / "truth.json")
    assert json.loads((tmp_path / "truth.json").read_text()) == truth
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["shards"]:
        assert verify_shard(out / entry["name"], entry["sha256"], entry["samples"])
        assert entry["bytes"] == (out / entry["name"]).stat().st_size
        side = json.loads((out / ".shards" / f"{entry['name']}.json").read_text())
        assert (side["sha256"], side["bytes"]) == (entry["sha256"], entry["bytes"])
    metas = [json.loads(f["json"]) for f in samples(out).values()]
    assert manifest["label_stats"] == merge_stats([label_stats(metas)])
    new_total = sum(p.stat().st_size for p in out.glob("*.tar"))
    assert manifest["totals"]["bytes"] == new_total
    assert f"num_bytes: {new_total}\n" in (out / "card" / "README.md").read_text()


@pytest.mark.slow
def test_regenerated_captions_are_the_builders(data: Path) -> None:
    """Faults regenerate captions with the builder's generator: on a clean sample that gives
    back exactly the stored captions."""
    for files in samples(data).values():
        meta = json.loads(files["json"])
        assert fv2.regenerate_captions(meta) == meta["captions"]


@pytest.mark.slow
def test_refuses_bad_arguments(data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fraction"):
        fv2.inject(data, tmp_path / "a", 1.5, seed=0)
    with pytest.raises(ValueError, match="unknown faults"):
        fv2.inject(data, tmp_path / "b", 0.5, seed=0, faults=["no_such_fault"])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError):
        fv2.inject(data, tmp_path / "full", 0.5, seed=0)
    with pytest.raises(FileNotFoundError):
        fv2.inject(tmp_path / "full", tmp_path / "c", 0.5, seed=0)
