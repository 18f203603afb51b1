"""How much of the driver style a clip window carries, from its json alone (issue 25).

A ceiling for what a video model could learn: for each clip of a clip data set, features of
the ego's recorded motion over the window, in two sets:

* ``visible``: what a forward camera shows over the window — speed (how fast the scene
  moves), its change, acceleration, yaw rate and its changes, lateral position in the road
  and its spread, the gap to a car ahead, the road's speed limit (the kind of road is in view);
* ``all``: ``visible`` plus what only the car's own sensors know — throttle, brake, rpm and
  steering changes (the engine load the audio carries).

A random forest tells the styles apart under scenario-grouped 5-fold cross-validation (a
scenario's clips never sit on both sides), per clip index (the window's place in the
scenario) and over all windows. Chance is the share of the most common style.

    python scripts/style_ceiling.py --data DIR [--json OUT]

DIR: shards of ``drivesynth generate --clip-frames T`` (any rate, size and stride).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

VISIBLE = ("speed_mean", "speed_change", "speed_over_limit", "speed_limit", "accel_std",
           "accel_max", "yaw_rate_mean", "yaw_rate_change", "lateral_mean", "lateral_std",
           "lead_gap_min", "has_lead")  # fmt: skip
HIDDEN = ("throttle_mean", "brake_mean", "rpm_mean", "steer_change")
NO_LEAD_M = 200.0


def window_features(meta: dict) -> dict[str, float]:
    """The ``VISIBLE`` and ``HIDDEN`` features of one clip sample's json."""
    clip, ego = meta["clip"], meta["clip"]["ego"]
    limit = float(meta["road"]["speed_limit_mps"])
    speed, accel = np.asarray(ego["speed_mps"], float), np.asarray(ego["accel_mps2"], float)
    yaw, lat = np.asarray(ego["yaw_rate"], float), np.asarray(ego["lateral_offset_m"], float)
    lead = [d for d in clip["lead_distance_m"] if d is not None]
    return {
        "speed_mean": speed.mean(), "speed_change": speed[-1] - speed[0],
        "speed_over_limit": speed.mean() / limit, "speed_limit": limit,
        "accel_std": accel.std(), "accel_max": np.abs(accel).max(),
        "yaw_rate_mean": np.abs(yaw).mean(), "yaw_rate_change": np.abs(np.diff(yaw)).mean(),
        "lateral_mean": lat.mean(), "lateral_std": lat.std(),
        "lead_gap_min": min(lead) if lead else NO_LEAD_M, "has_lead": float(bool(lead)),
        "throttle_mean": float(np.mean(ego["throttle"])),
        "brake_mean": float(np.mean(ego["brake"])),
        "rpm_mean": float(np.mean(ego["rpm"])),
        "steer_change": float(np.abs(np.diff(ego["steer"])).mean()),
    }  # fmt: skip


def read_windows(data: Path) -> list[dict]:
    """One row per clip sample: scenario, clip index, style and features."""
    import tarfile

    from datagen.sample import decode_meta

    rows = []
    for shard in sorted(data.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if not member.name.endswith(".json"):
                    continue
                meta = decode_meta(member.name[:-5], tar.extractfile(member).read())
                if "clip" not in meta:
                    raise ValueError(f"{shard.name}: {member.name} is not a clip sample; "
                                     "make the data set with generate --clip-frames T")
                rows.append({"scenario": (meta["split"], meta["scenario_id"]),
                             "index": int(meta["clip"]["index"]),
                             "t0": float(meta["clip"]["t0"]),
                             "style": meta["driver"]["style"], **window_features(meta)})
    if not rows:
        raise ValueError(f"no shards in {data}")
    return rows


def grouped_accuracy(rows: list[dict], names: tuple[str, ...], seed: int) -> float | None:
    """Scenario-grouped 5-fold CV accuracy of a random forest on ``names``."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GroupKFold, cross_val_score

    # stable ids in reading order (hash() of a str tuple changes from process to process,
    # and with it GroupKFold's folds)
    ids: dict[tuple, int] = {}
    groups = [ids.setdefault(r["scenario"], len(ids)) for r in rows]
    if len(set(groups)) < 5 or len({r["style"] for r in rows}) < 2:
        return None
    x = np.array([[r[n] for n in names] for r in rows], dtype=float)
    y = [r["style"] for r in rows]
    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    return float(cross_val_score(forest, x, y, groups=groups, cv=GroupKFold(5)).mean())


def summarise(rows: list[dict], seed: int) -> dict:
    def entry(sub: list[dict]) -> dict:
        styles = Counter(r["style"] for r in sub)
        return {"clips": len(sub), "scenarios": len({r["scenario"] for r in sub}),
                "majority": max(styles.values()) / len(sub),
                "visible": grouped_accuracy(sub, VISIBLE, seed),
                "all": grouped_accuracy(sub, VISIBLE + HIDDEN, seed),
                "speed_over_limit": {s: float(np.mean([r["speed_over_limit"] for r in sub
                                                       if r["style"] == s]))
                                     for s in sorted(styles)}}  # fmt: skip

    by_index = {}
    for k in sorted({r["index"] for r in rows}):
        sub = [r for r in rows if r["index"] == k]
        by_index[str(k)] = {"t0_s": min(r["t0"] for r in sub), **entry(sub)}
    return {"all_windows": entry(rows), "by_clip_index": by_index}


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="folder of clip shards")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--seed", type=int, default=0, help="the forests' seed")
    args = ap.parse_args(argv)
    try:
        result = summarise(read_windows(args.data), args.seed)
    except (OSError, ValueError, KeyError) as exc:
        print(f"style_ceiling: {exc}", file=sys.stderr)
        return 2
    a = result["all_windows"]
    print(f"{a['clips']} clips of {a['scenarios']} scenarios; majority style {a['majority']:.3f}")
    print("window      clips  visible  all    speed/limit by style")
    for k, e in [("all", a), *result["by_clip_index"].items()]:
        label = "all" if k == "all" else f"#{k} t0={e['t0_s']:.1f}s"
        spl = " ".join(f"{s} {v:.2f}" for s, v in e["speed_over_limit"].items())
        print(f"{label:<11} {e['clips']:>5}  {fmt(e['visible'])}    {fmt(e['all'])}  {spl}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
