"""Choosing and applying a held-out fault set's faults (the plumbing v4, v5 and v6 share).

A fault set is its registry of faults (name -> class, files touched, function), its classes
and its seed tag; everything else is the same for every set: a sample's rng from (seed, tag,
sample id), a class drawn uniformly then a fault of it (the next in the draw when one does not
apply), about ``fraction`` of the samples chosen, shards rewritten, bookkeeping and card
updated, the ground truth returned.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qc_heldout.faults_v2 import (
    Entry,
    Target,
    changed_members,
    copy_extras,
    read_index,
    rewrite_shard,
    update_bookkeeping,
    update_card,
)
from qc_heldout.faults_v3 import scenes_of, shard_samples

Registry = dict[str, tuple[str, tuple[str, ...], Callable[[Target], dict | None]]]
Broken = tuple[str, dict, dict[str, bytes]]  # fault name, its parameters, the new members


@dataclass(frozen=True)
class FaultSet:
    version: str  # "v4": the truth's "version" is "faults_v4"
    classes: tuple[str, ...]
    registry: Registry  # filled by the set's module as it registers its faults
    seed_tag: int  # separates this set's draws from other sets' for the same seed

    def fault_class(self, name: str) -> str:
        return self.registry[name][0]

    def sample_rng(self, seed: int, sid: str) -> np.random.Generator:
        return np.random.default_rng(
            np.random.SeedSequence([seed, self.seed_tag, zlib.crc32(sid.encode())]))

    def apply_fault(self, name: str, target: Target) -> Target | None:
        """``target`` with fault ``name`` applied (params in ``target.params``), or None when
        the fault does not apply or would change nothing."""
        before = dict(target.files)
        params = self.registry[name][2](target)
        if params is None or not changed_members(before, target.files):
            return None
        target.params = params
        return target

    def break_sample(self, entry: Entry, files: dict[str, bytes], scene: list[Entry],
                     index: list[Entry], seed: int, pool: Sequence[str]) -> Broken | None:
        """One fault applied to a sample: a class drawn uniformly, then a fault of it; the
        next one in the draw when a fault does not apply."""
        rng = self.sample_rng(seed, entry.sid)
        classes = [c for c in self.classes if any(self.fault_class(n) == c for n in pool)]
        for ci in rng.permutation(len(classes)):
            names = [n for n in pool if self.fault_class(n) == classes[ci]]
            for ni in rng.permutation(len(names)):
                target = self.apply_fault(names[ni], Target(entry, dict(files), scene, index, rng))
                if target is not None:
                    return names[ni], target.params, target.files
        return None

    def choose(self, index: list[Entry], fraction: float, seed: int) -> set[str]:
        n = min(len(index), max(1, round(fraction * len(index)))) if fraction > 0 else 0
        rng = np.random.default_rng(np.random.SeedSequence([seed, self.seed_tag]))
        return {index[i].sid for i in rng.choice(len(index), size=n, replace=False)}

    def check_args(self, src: Path, dst: Path, fraction: float,
                   pool: Sequence[str]) -> list[Path]:  # fmt: skip
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        unknown = sorted(set(pool) - set(self.registry))
        if unknown or not pool:
            raise ValueError(f"unknown faults {unknown}; known: {sorted(self.registry)}")
        shards = sorted(src.glob("*.tar"))
        if not shards:
            raise FileNotFoundError(f"{src} holds no shards (*.tar)")
        if dst.exists() and any(dst.iterdir()):
            raise FileExistsError(f"{dst} exists and is not empty")
        return shards

    def break_shard(self, shard: Path, dst: Path, mine: list[Entry], scenes: dict,
                    index: list[Entry], seed: int, pool: Sequence[str]) -> dict[str, dict]:
        """``shard`` copied to ``dst`` with the samples ``mine`` broken; their ground truth."""
        samples = shard_samples(shard) if mine else {}
        replaced: dict[str, bytes] = {}
        truth: dict[str, dict] = {}
        for e in mine:
            files = samples[e.key]
            done = self.break_sample(e, files, scenes[(shard.name, e.scene)], index, seed, pool)
            if done is None:
                continue
            name, params, new = done
            changed = changed_members(files, new)
            replaced.update({f"{e.key}.{ext}": new[ext] for ext in changed})
            truth[e.sid] = {"class": self.fault_class(name), "fault": name, "params": params,
                            "files": changed}  # fmt: skip
        if replaced:
            rewrite_shard(shard, dst / shard.name, replaced)
        else:
            shutil.copyfile(shard, dst / shard.name)
        return truth

    def inject(self, src_dir: Path, dst_dir: Path, fraction: float, seed: int, *,
               faults: Sequence[str] | None = None,
               truth_path: Path | None = None) -> dict:  # fmt: skip
        """Copy the data set ``src_dir`` to ``dst_dir`` (new or empty) with about ``fraction``
        of its samples broken, one fault each; return the ground truth (also written to
        ``truth_path`` when given). ``faults`` restricts the draw to those fault names."""
        src, dst = Path(src_dir), Path(dst_dir)
        pool = list(self.registry if faults is None else faults)
        shards = self.check_args(src, dst, fraction, pool)
        index = read_index(shards)
        scenes, chosen = scenes_of(index), self.choose(index, fraction, seed)
        dst.mkdir(parents=True, exist_ok=True)
        copy_extras(src, dst)
        truth: dict[str, dict] = {}
        rewritten = []
        for shard in shards:
            mine = [e for e in index if e.shard == shard and e.sid in chosen]
            broken = self.break_shard(shard, dst, mine, scenes, index, seed, pool)
            truth.update(broken)
            rewritten += [shard.name] if broken else []
        shard_samples.cache_clear()
        update_bookkeeping(dst, rewritten)
        update_card(src, dst)
        result = {"version": f"faults_{self.version}", "source": str(src), "seed": seed,
                  "fraction": fraction, "samples": len(index), "classes": list(self.classes),
                  "faults": truth}  # fmt: skip
        if truth_path is not None:
            Path(truth_path).write_text(json.dumps(result, indent=2, sort_keys=True))
        return result

    def main(self, argv: Sequence[str] | None = None) -> None:
        import argparse

        parser = argparse.ArgumentParser(
            description=f"Inject the {self.version} held-out faults into a copy of a data set.")
        parser.add_argument("src", type=Path)
        parser.add_argument("dst", type=Path)
        parser.add_argument("--fraction", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--truth", type=Path, help="where to write the ground truth json")
        args = parser.parse_args(argv)
        result = self.inject(args.src, args.dst, args.fraction, args.seed, truth_path=args.truth)
        by_fault: dict[str, int] = {}
        for f in result["faults"].values():
            by_fault[f["fault"]] = by_fault.get(f["fault"], 0) + 1
        print(f"{len(result['faults'])} of {result['samples']} samples broken: {by_fault}")
