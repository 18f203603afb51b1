"""DIR/manifest.json and the per-shard sidecars: checksums, counts, label statistics.

Each finished shard gets a sidecar ``DIR/.shards/NAME.json`` (its sha256, size, sample
count, label statistics and the fingerprint of the plan that produced it); ``--resume``
trusts a shard only when its bytes hash to the sidecar's sha256 and the fingerprint matches.
The manifest is assembled from the sidecars at the end of a run, written atomically, and
holds no timestamps, so identical runs give identical manifests. When the sidecars are gone,
``--resume`` trusts a shard whose bytes hash to the manifest's sha256 instead, and restores
its sidecar from the shard itself (:func:`restore_sidecar`).
"""

from __future__ import annotations

import hashlib
import json
import platform
import tarfile
from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from datagen.shards import sha256_of as sha256_file  # the one file hash of datagen
from sim.atomic import atomic_write_json

MANIFEST = "manifest.json"
SIDECAR_DIR = ".shards"
VERSIONED = ("drivesynth", "pybullet", "numpy", "pillow", "soundfile", "dask", "distributed")
STAT_KEYS = ("weather", "time_of_day", "style", "classes", "events")


def fingerprint(obj: object) -> str:
    """A short stable hash of a JSON-serialisable description (e.g. a shard's plan)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def sidecar_path(out: Path, shard_name: str) -> Path:
    return out / SIDECAR_DIR / f"{shard_name}.json"


def read_sidecar(out: Path, shard_name: str) -> dict | None:
    try:
        return json.loads(sidecar_path(out, shard_name).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def shard_is_intact(out: Path, shard_name: str, plan_fingerprint: str) -> bool:
    """True when the shard exists and hashes to what its sidecar recorded for this plan."""
    side = read_sidecar(out, shard_name)
    path = out / shard_name
    if side is None or side.get("plan") != plan_fingerprint or not path.is_file():
        return False
    return path.stat().st_size == side.get("bytes") and sha256_file(path) == side.get("sha256")


def restore_sidecar(out: Path, shard_name: str, plan_fingerprint: str, entry: dict) -> dict | None:
    """Rebuild a lost sidecar from the shard when its bytes match the manifest's ``entry``.

    Returns the record written (the one the build wrote: counts and label statistics come
    from the shard's ``json`` members), or None when the shard does not match ``entry``.
    """
    path = out / shard_name
    try:
        if not path.is_file() or path.stat().st_size != entry.get("bytes"):
            return None
        if sha256_file(path) != entry.get("sha256"):
            return None
        with tarfile.open(path) as tar:
            metas = [json.loads(tar.extractfile(m).read()) for m in tar
                     if m.isfile() and m.name.endswith(".json")]  # fmt: skip
    except (OSError, tarfile.TarError, ValueError, AttributeError):
        return None
    if len(metas) != entry.get("samples") or not all(isinstance(m, dict) for m in metas):
        return None
    record = {
        "name": shard_name,
        "plan": plan_fingerprint,
        "samples": len(metas),
        "scenarios": entry.get("scenarios"),
        "sha256": entry["sha256"],
        "bytes": entry["bytes"],
        "stats": label_stats(metas),
    }
    atomic_write_json(sidecar_path(out, shard_name), record)
    return record


def label_stats(metas: Iterable[dict]) -> dict[str, dict[str, int]]:
    """Counts of weather presets, times of day, driver styles, object classes and events."""
    counts: dict[str, Counter] = {k: Counter() for k in STAT_KEYS}
    for m in metas:
        weather = m.get("weather", {})
        counts["weather"][str(weather.get("preset"))] += 1
        counts["time_of_day"][str(weather.get("time_of_day"))] += 1
        counts["style"][str(m.get("driver", {}).get("style"))] += 1
        counts["classes"].update(str(o.get("class")) for o in m.get("objects", []))
        counts["events"].update(str(e.get("type")) for e in m.get("events", []))
    return {k: dict(sorted(c.items())) for k, c in counts.items()}


def merge_stats(stats: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, Counter] = {k: Counter() for k in STAT_KEYS}
    for s in stats:
        for k in STAT_KEYS:
            total[k].update(s.get(k, {}))
    return {k: dict(sorted(c.items())) for k, c in total.items()}


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def build_manifest(config: dict, records: list[dict]) -> dict:
    """The manifest of a complete run; ``records`` are the shard sidecars in shard order."""
    shards = [
        {k: r[k] for k in ("name", "samples", "scenarios", "sha256", "bytes")} for r in records
    ]
    manifest = {
        "format": "drivesynth-shards/1",
        "config": config,
        "seed": config.get("seed"),
        "split": config.get("split"),
        "versions": library_versions(),
        "shards": shards,
        "totals": {
            "shards": len(records),
            "samples": sum(r["samples"] for r in records),
            "scenarios": sum(len(r["scenarios"]) for r in records),
            "bytes": sum(r["bytes"] for r in records),
        },
        "label_stats": merge_stats(r["stats"] for r in records),
    }
    devices = {json.dumps(r["renderer_device"], sort_keys=True) for r in records
               if r.get("renderer_device")}  # fmt: skip
    if devices:  # EGL: the GPU model and driver the bytes hold for
        manifest["renderer_devices"] = [json.loads(d) for d in sorted(devices)]
    return manifest


def write_manifest(out: Path, manifest: dict) -> Path:
    path = out / MANIFEST
    atomic_write_json(path, manifest)
    return path


def read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a drivesynth data set directory")
    return json.loads(path.read_text())
