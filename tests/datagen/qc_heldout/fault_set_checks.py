"""What the tests of the held-out fault sets v5-v8 share: their tiny real data sets, and the
checks that are the same for every set, given its module (``faults_vN``)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from types import ModuleType

from datagen.sample import decode_sample
from datagen.shards import verify_shard
from qc_heldout.faults_v2 import read_index
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
