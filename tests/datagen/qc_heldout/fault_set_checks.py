"""What the tests of the held-out fault sets v5-v10 share: their tiny real data sets, and the
checks that are the same for every set, given its module (``faults_vN``)."""

from __future__ import annotations

import importlib
import json
import tarfile
from pathlib import Path
from types import ModuleType

import numpy as np

from datagen.sample import decode_sample
from datagen.shards import verify_shard
from qc_heldout.faults_v2 import changed_members, read_index
from qc_heldout.faults_v3 import scenes_of, shard_samples

SEED_OF_DATA = 3  # every fault applies to at least one sample of these data sets


def generate(root: Path, *extra: str) -> Path:
    from edge.cli import main

    code = main(["generate", "--out", str(root), "--image-size", "32", "--seed",
                 str(SEED_OF_DATA), "--workers", "0", "--no-progress", "--no-card",
                 *extra])  # fmt: skip
    assert code == 0
    return root


def indexed(root: Path) -> tuple[list, dict]:
    entries = read_index(sorted(root.glob("*.tar")))
    return entries, scenes_of(entries)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def applied(fs: ModuleType, name: str, index, rng_seed: int = 11):
    """(entry, clean files, target) of each sample fault ``name`` of set ``fs`` applies to."""
    for entries, scenes in index:
        for e in entries:
            clean = dict(shard_samples(e.shard)[e.key])
            target = fs.Target(e, dict(clean), scenes[(e.shard.name, e.scene)], entries,
                               fs.sample_rng(rng_seed, e.sid))  # fmt: skip
            if fs.apply_fault(name, target) is not None:
                yield e, clean, target


def first_applied(fs: ModuleType, name: str, index):
    """(clean sample, broken sample, target) of the first sample fault ``name`` applies to."""
    for e, clean, target in applied(fs, name, index):
        before = decode_sample({"__key__": e.key, **clean})
        after = decode_sample({"__key__": e.key, **target.files})
        return before, after, target
    raise AssertionError(f"{name} applies to no sample of the test data sets")


def check_inject(fs: ModuleType, src: Path, tmp: Path, seed: int) -> dict:
    """``fs.inject`` is deterministic in the seed, names each broken sample's class, fault and
    rewritten members, leaves every other member byte-identical and the manifest valid."""
    result = fs.inject(src, tmp / "a", 0.5, seed=seed, truth_path=tmp / "truth.json")
    truth = result["faults"]
    again = fs.inject(src, tmp / "b", 0.5, seed=seed)["faults"]
    assert truth == again and len(truth) >= 2
    assert json.loads((tmp / "truth.json").read_text())["faults"] == truth
    version = fs.__name__.rpartition(".")[2]
    assert result["classes"] == list(fs.CLASSES) and result["version"] == version
    for v in truth.values():
        assert fs.FAULTS[v["fault"]] == v["class"] and v["files"]
        assert set(v) == {"class", "fault", "params", "files"}
    assert folder_bytes(tmp / "a") == folder_bytes(tmp / "b")
    for shard in sorted(src.glob("*.tar")):
        before, after = members(shard), members(tmp / "a" / shard.name)
        assert list(before) == list(after)
        for name, data_bytes in before.items():
            key, _, ext = name.partition(".")
            hit = truth.get(f"{shard.name}/{key}")
            if hit is None or ext not in hit["files"]:
                assert after[name] == data_bytes, name
            else:
                assert after[name] != data_bytes, name
    manifest = json.loads((tmp / "a" / "manifest.json").read_text())
    for entry in manifest["shards"]:
        assert verify_shard(tmp / "a" / entry["name"], entry["sha256"], entry["samples"])
    return truth


def version_of(fs: ModuleType) -> int:
    """N of ``qc_heldout.faults_vN``."""
    return int(fs.__name__.rpartition("_v")[2])


def earlier_sets(fs: ModuleType) -> list[ModuleType]:
    """The fault-set modules written before ``fs``: faults.py (v1), faults_v2 ... v(N-1)."""
    names = ["faults"] + [f"faults_v{n}" for n in range(2, version_of(fs))]
    return [importlib.import_module(f"qc_heldout.{n}") for n in names]


def check_registry(fs: ModuleType) -> None:
    """Issue 20's five classes, each with >= 6 faults, >= 35 in all; every fault in the module
    docstring with its closest earlier fault and the members it touches; a seed tag and
    version of its own."""
    from qc_heldout import faults_v2

    assert fs.CLASSES == faults_v2.CLASSES
    assert len(fs.FAULTS) >= 35
    for cls in fs.CLASSES:
        assert sum(c == cls for c in fs.FAULTS.values()) >= 6, cls
    doc = " ".join(fs.__doc__.split())
    for name in fs.FAULTS:
        assert f"\n  {name} " in fs.__doc__, f"{name} missing from the module docstring"
        assert f"{name} (v" in doc, f"{name}: no closest earlier fault"
        assert fs.TOUCHES[name], name
    earlier = earlier_sets(fs)
    assert fs.SEED_TAG not in {m.SEED_TAG for m in earlier if hasattr(m, "SEED_TAG")}
    assert fs.FAULT_SET.version == f"v{version_of(fs)}"


def check_new(fs: ModuleType) -> None:
    """No fault name of ``fs`` is one of an earlier set."""
    for earlier in earlier_sets(fs):
        assert not set(fs.FAULTS) & set(earlier.FAULTS), earlier.__name__


def check_changes_a_real_sample(fs: ModuleType, name: str, index) -> None:
    """Fault ``name`` changes a real single-frame sample only in the members it declares,
    which still decodes with the same shapes, finite depth and audio in range; applied
    again with the same seed it gives the same bytes."""
    found = next(applied(fs, name, [index[0]]), None)
    assert found is not None, f"{name} applies to no single-frame sample of the test data"
    e, clean, target = found
    changed = changed_members(clean, target.files)
    assert changed, name
    declared = {("rgb.png" if t == "rgb" else t) for t in fs.TOUCHES[name]}
    assert set(changed) <= declared | {"rgb.jpg"}, (name, changed)
    before = decode_sample({"__key__": e.key, **clean})
    after = decode_sample({"__key__": e.key, **target.files})  # raises if it does not decode
    assert after.rgb.shape == before.rgb.shape and after.depth.shape == before.depth.shape
    assert after.seg.shape == before.seg.shape and after.inst.shape == before.inst.shape
    assert after.audio.size == before.audio.size
    assert np.isfinite(after.depth).all() and after.depth.min() >= 0
    assert np.abs(after.audio).max() <= 1.0
    assert set(target.files) == set(clean)
    entries, scenes = index[0]
    again = fs.Target(e, dict(clean), scenes[(e.shard.name, e.scene)], entries,
                      fs.sample_rng(11, e.sid))  # fmt: skip
    assert fs.apply_fault(name, again).files == target.files
