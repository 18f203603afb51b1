"""The index of the viewer: one small record per sample (what the filters and the grid use),
and the QC findings of a ``drivesynth qc DIR --json FILE`` report matched to samples."""

from __future__ import annotations

import json
from pathlib import Path

# record field -> what the index page calls it (the filters, in this order)
FACETS: dict[str, str] = {
    "split": "split",
    "preset": "weather preset",
    "family": "weather family",
    "tod": "time of day",
    "style": "driver style",
    "events": "events",
    "qc": "QC findings",
}
MULTI_VALUED = ("events", "qc")
QC_CLEAN = "none"
QC_UNCHECKED = "unchecked"  # a folder without a report, next to one with
QC_DEFAULT_NAMES = ("qc.json", "qc/report.json")


def split_of(shard: str, meta: dict) -> str:
    split = meta.get("split")
    return str(split) if split else shard.rsplit("-", 1)[0]


def record_of(shard: str, key: str, meta: dict, txt: str, folder: str) -> dict:
    """The index record of one sample (``folder``: its assets, relative to the site root)."""
    weather = meta.get("weather") or {}
    events = sorted({str(e.get("type")) for e in meta.get("events") or [] if e.get("type")})
    camera = meta.get("camera") or {}
    return {
        "shard": shard, "key": key, "dir": folder,
        "split": split_of(shard, meta),
        "scenario": int(meta.get("scenario_id", -1)),
        "camera": str(camera.get("name", "")),
        "frame": int(meta.get("frame", -1)),
        "time_s": float(meta.get("time_s", 0.0)),
        "preset": str(weather.get("preset", "")),
        "family": str(weather.get("family", "")),
        "tod": str(weather.get("time_of_day", "")),
        "style": str((meta.get("driver") or {}).get("style", "")),
        "events": events,
        "speed": round(float((meta.get("ego") or {}).get("speed_mps", 0.0)), 2),
        "objects": len(meta.get("objects") or []),
        "caption": txt,
        "w": int(camera.get("width", 0)), "h": int(camera.get("height", 0)),
    }  # fmt: skip


def find_qc_report(root: Path) -> Path | None:
    for name in QC_DEFAULT_NAMES:
        if (root / name).is_file():
            return root / name
    return None


def load_qc(path: Path) -> dict[tuple[str, str], list[dict]]:
    """``(shard, key) -> [{check, source, reason}]`` from a QC JSON report. A finding about a
    whole unreadable shard is filed under ``(shard, "")``."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        findings = report["findings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a QC report of 'drivesynth qc --json' ({exc})") from None
    out: dict[tuple[str, str], list[dict]] = {}
    for f in findings:
        shard, key = str(f.get("shard", "")), str(f.get("key", ""))
        if key == shard:  # the shard itself could not be read
            key = ""
        out.setdefault((shard, key), []).append(
            {"check": str(f.get("check", "?")), "source": str(f.get("source", "")),
             "reason": str(f.get("reason", ""))})  # fmt: skip
    return out


def attach_qc(records: list[dict], findings: dict[tuple[str, str], list[dict]] | None,
              checked: set[str] | None = None) -> None:  # fmt: skip
    """Set each record's ``qc`` (sorted check names, ``[QC_CLEAN]`` when none) and, for
    flagged ones, ``qc_detail``; without a report, ``qc`` is empty (no QC filter then).
    ``checked``: the shards a report covers (None: all); others get ``[QC_UNCHECKED]``."""
    for r in records:
        r.pop("qc_detail", None)
        if findings is None:
            r["qc"] = []
            continue
        if checked is not None and r["shard"] not in checked:
            r["qc"] = [QC_UNCHECKED]
            continue
        found = findings.get((r["shard"], r["key"]), []) + findings.get((r["shard"], ""), [])
        if found:
            r["qc_detail"] = found
        r["qc"] = sorted({f["check"] for f in found}) or [QC_CLEAN]


def facet_counts(records: list[dict]) -> dict[str, dict[str, int]]:
    """For each facet, how many samples have each value."""
    counts: dict[str, dict[str, int]] = {f: {} for f in FACETS}
    for r in records:
        for f in FACETS:
            values = r.get(f, []) if f in MULTI_VALUED else [r.get(f, "")]
            for v in values:
                counts[f][v] = counts[f].get(v, 0) + 1
    return {f: dict(sorted(c.items())) for f, c in counts.items()}
