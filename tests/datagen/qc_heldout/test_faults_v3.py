"""The v3 held-out fault set (faults_v3.py) on a tiny real data set; QC is not run.

Each fault, applied to a real clean sample, changes it (only in the members it declares) and
leaves it decodable; ``inject`` is deterministic in the seed, leaves untouched samples
byte-identical and names the rewritten members in its ground truth.
"""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest

from datagen.sample import decode_sample
from datagen.shards import verify_shard
from qc_heldout import faults_v3 as fv3

SEED_OF_DATA = 3  # every fault applies to at least one sample of this data set


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real simulator: 4 scenarios x 2 frames at 32 px, in two shards."""
    from edge.cli import main

    root = tmp_path_factory.mktemp("faults_v3") / "clean"
    code = main(["generate", "--out", str(root), "--scenarios", "4", "--frames", "2",
                 "--image-size", "32", "--samples-per-shard", "4", "--seed", str(SEED_OF_DATA),
                 "--workers", "0", "--no-progress", "--no-card"])  # fmt: skip
    assert code == 0
    return root


@pytest.fixture(scope="module")
def index(data: Path) -> tuple[list, dict]:
    entries = fv3.read_index(sorted(data.glob("*.tar")))
    return entries, fv3.scenes_of(entries)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def first_applied(name: str, index: tuple[list, dict]):
    """(clean files, target) of the first sample fault ``name`` applies to."""
    entries, scenes = index
    for e in entries:
        files = dict(fv3.shard_samples(e.shard)[e.key])
        scene = scenes[(e.shard.name, e.scene)]
        target = fv3.Target(e, dict(files), scene, entries, fv3.sample_rng(11, e.sid))
        if fv3.apply_fault(name, target) is not None:
            return files, target
    raise AssertionError(f"{name} applies to no sample of the test data set")


def test_registry_has_about_thirty_documented_faults_in_every_class() -> None:
    assert 28 <= len(fv3.FAULTS) <= 40
    for cls in fv3.CLASSES:
        assert sum(c == cls for c in fv3.FAULTS.values()) >= 5, cls
    for name in fv3.FAULTS:
        assert f"\n  {name} " in fv3.__doc__, f"{name} missing from the module docstring"
        assert fv3.TOUCHES[name], name


def test_v3_faults_are_new() -> None:
    from qc_heldout import faults_v2

    assert not set(fv3.FAULTS) & set(faults_v2.FAULTS)


@pytest.mark.parametrize("name", sorted(fv3.FAULTS))
def test_fault_changes_a_real_sample_which_still_decodes(name: str, index) -> None:
    clean, target = first_applied(name, index)
    key = target.entry.key
    changed = fv3.changed_members(clean, target.files)
    assert changed, name
    declared = {("rgb.png" if t == "rgb" else t) for t in fv3.TOUCHES[name]}
    assert set(changed) <= declared | {"rgb.jpg"}, (name, changed)
    before = decode_sample({"__key__": key, **clean})
    after = decode_sample({"__key__": key, **target.files})  # raises if it does not decode
    assert after.rgb.shape == before.rgb.shape and after.depth.shape == before.depth.shape
    assert after.audio.size == before.audio.size
    assert np.isfinite(after.depth).all() and after.depth.min() >= 0
    assert np.abs(after.audio).max() <= 1.0
    assert set(target.files) == set(clean)


def test_some_faults_do_what_they_say(index) -> None:
    clean, t = first_applied("rgb_rows_unflipped", index)
    b = decode_sample({"__key__": t.entry.key, **clean})
    a = decode_sample({"__key__": t.entry.key, **t.files})
    np.testing.assert_array_equal(a.rgb, b.rgb[::-1])
    np.testing.assert_array_equal(a.seg, b.seg)

    clean, t = first_applied("audio_reversed", index)
    b = decode_sample({"__key__": t.entry.key, **clean})
    a = decode_sample({"__key__": t.entry.key, **t.files})
    np.testing.assert_array_equal(a.audio, b.audio[::-1])

    clean, t = first_applied("instance_ids_renumbered", index)
    a = decode_sample({"__key__": t.entry.key, **t.files})
    ids = sorted(o["instance_id"] for o in a.meta["objects"])
    assert ids == list(range(1, len(ids) + 1)) == sorted(set(np.unique(a.inst)) - {0})

    clean, t = first_applied("intrinsics_diagonal_fov", index)
    b = decode_sample({"__key__": t.entry.key, **clean})
    a = decode_sample({"__key__": t.entry.key, **t.files})
    fx, fx_clean = a.meta["camera"]["fx"], b.meta["camera"]["fx"]
    assert math.isclose(fx, fx_clean * math.sqrt(2), rel_tol=1e-6)


def test_inject_is_deterministic_and_touches_only_what_it_names(data: Path, tmp_path) -> None:
    truth = fv3.inject(data, tmp_path / "a", 0.5, seed=5)["faults"]
    again = fv3.inject(data, tmp_path / "b", 0.5, seed=5)["faults"]
    assert truth == again and len(truth) >= 3
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")
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
