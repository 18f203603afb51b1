"""Fit QC's learned image-degradation check (issue 20): datagen/qc/image_degradation_fit.json.

    python scripts/fit_image_degradation.py --data runs/qcfit_clean

Clean frames of ``--data`` (seed 9191, never the seed-4040 evaluation set) against copies
degraded by :mod:`datagen.qc.degrade` (``--copies`` per frame, seeded), features relative to
the same scenario's other (clean) frames; ``--calib`` (seed 5151) adds clean frames used only
for the threshold. Gradient-boosted trees (scikit-learn, fixed
random_state) are fit and exported to arrays; the threshold is the largest out-of-fold score
of a clean frame (folds by scenario) times ``--margin`` so that no held-back clean frame,
of any weather
preset, is flagged. Writes JSON only (no pickle); the same data and arguments give the same
bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datagen.qc import degrade as dg  # noqa: E402
from datagen.qc import image_degradation as idg  # noqa: E402
from datagen.qc.report import shard_paths  # noqa: E402
from datagen.qc.shardio import iter_decoded  # noqa: E402


def load(root: Path, limit: int | None = None):
    frames = []
    for s in iter_decoded(shard_paths(root)):
        if s.rgb is None or not isinstance(s.meta, dict):
            continue
        assert s.rgb.shape[:2] == idg.IMAGE_SIZE, "the check judges frames of IMAGE_SIZE"
        group = (s.shard.rsplit("-", 1)[0], str(s.meta.get("scenario_id")),
                 s.key.rsplit("_", 1)[0])
        frames.append((s.rgb, s.seg, group, s.meta.get("weather", {}).get("preset", "?")))
        if limit and len(frames) >= limit:
            break
    return frames


def build(frames, copies: int, seed: int):
    rng = np.random.default_rng(seed)
    raw = np.array([idg.frame_features(rgb, seg) for rgb, seg, _, _ in frames])
    groups = [g for _, _, g, _ in frames]
    X_clean = idg.design(raw, groups)
    members: dict = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    X_deg, deg_src = [], []
    for i, (rgb, seg, g, _) in enumerate(frames):
        others = [j for j in members[g] if j != i]
        for _ in range(copies):
            bad, _names = dg.degrade(rgb, rng)
            r = np.vstack([idg.frame_features(bad, seg)[None], raw[others]])
            X_deg.append(idg.design(r, [0] * len(r))[0])
            deg_src.append(i)
    return X_clean, np.array(X_deg), np.array(deg_src)


GB = {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8,
      "random_state": 0}


def fit_gb(X: np.ndarray, y: np.ndarray) -> tuple[dict, np.ndarray]:
    """Fit scikit-learn's GradientBoostingClassifier and export it to plain arrays; checks
    that :class:`idg.Model` reproduces its decision function."""
    from sklearn.ensemble import GradientBoostingClassifier

    m = GradientBoostingClassifier(**GB).fit(X, y)
    trees = []
    for est in m.estimators_[:, 0]:
        t = est.tree_
        trees.append({"feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
                      "left": t.children_left.tolist(), "right": t.children_right.tolist(),
                      "value": t.value[:, 0, 0].tolist()})
    tree_sum = sum(GB["learning_rate"] * est.predict(X) for est in m.estimators_[:, 0])
    init = float(np.median(m.decision_function(X) - tree_sum))
    params = {"init": init, "rate": GB["learning_rate"], "trees": trees,
              "importance": m.feature_importances_.tolist()}
    return params, m.decision_function(X)


def _model(params: dict, X_clean: np.ndarray) -> idg.Model:
    std = X_clean.std(axis=0)
    std[std < 1e-9] = 1.0
    return idg.Model({**params, "threshold": 1.0, "clean_mean": X_clean.mean(axis=0).tolist(),
                      "clean_std": std.tolist()})


def fit(frames, copies: int = 2, seed: int = 0, folds: int = 3, margin: float = 1.0,
        calib=()) -> dict:  # fmt: skip
    X_clean, X_deg, src = build(frames, copies, seed)
    groups = [g for _, _, g, _ in frames]
    presets = [p for _, _, _, p in frames]
    uniq = sorted(set(groups))
    fold_of = {g: k % folds for k, g in enumerate(uniq)}
    fc = np.array([fold_of[g] for g in groups])
    fd = fc[src]
    oof = np.zeros(len(X_clean))
    oof_deg = np.zeros(len(X_deg))
    for k in range(folds):
        Xt = np.vstack([X_clean[fc != k], X_deg[fd != k]])
        yt = np.r_[np.zeros((fc != k).sum()), np.ones((fd != k).sum())]
        model = _model(fit_gb(Xt, yt)[0], X_clean)
        oof[fc == k] = model.score(X_clean[fc == k])
        oof_deg[fd == k] = model.score(X_deg[fd == k])
    X = np.vstack([X_clean, X_deg])
    y = np.r_[np.zeros(len(X_clean)), np.ones(len(X_deg))]
    params, decision = fit_gb(X, y)
    model = _model(params, X_clean)
    assert np.allclose(model.raw(X), decision, atol=1e-6), "exported trees disagree"
    held = oof
    if calib:  # clean frames of another seed, never trained on: scored by the final model
        raw = np.array([idg.frame_features(rgb, seg) for rgb, seg, _, _ in calib])
        held = np.r_[oof, model.score(idg.design(raw, [g for _, _, g, _ in calib]))]
        presets = presets + [p for _, _, _, p in calib]
    threshold = min(float(held.max()) * margin, 0.999999)
    clean_max: dict[str, float] = {}
    for p, s in zip(presets, held):
        clean_max[p] = max(clean_max.get(p, 0.0), float(s))
    r6 = lambda v: float(f"{v:.6g}")  # noqa: E731
    return {
        "about": "datagen.qc.image_degradation gradient-boosted trees as arrays; "
                 "scripts/fit_image_degradation.py",
        "features": idg.input_names(),
        **params,
        "clean_mean": model.clean_mean.tolist(), "clean_std": model.clean_std.tolist(),
        "threshold": threshold,
        "clean_max": {p: r6(v) for p, v in sorted(clean_max.items())},
        "fit": {"clean_frames": len(X_clean), "degraded": len(X_deg), "copies": copies,
                "seed": seed, "folds": folds, "margin": margin, "gb": GB,
                "oof_degraded_recall": r6(float((oof_deg > threshold).mean())),
                "oof_clean_p99": r6(float(np.percentile(oof, 99))),
                "calibration_clean_frames": len(held)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "qcfit_clean")
    ap.add_argument("--calib", type=Path, default=ROOT / "runs" / "qcfit_calib5151",
                    help="more clean frames (another seed, not 4040) for the threshold only")
    ap.add_argument("--out", type=Path, default=idg.MODEL_PATH)
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args(argv)
    calib = load(a.calib, a.limit) if a.calib and a.calib.is_dir() else []
    params = fit(load(a.data, a.limit), a.copies, a.seed, margin=a.margin, calib=calib)
    a.out.write_text(json.dumps(params, indent=1, sort_keys=True) + "\n")
    print(json.dumps(params["fit"]), "threshold", params["threshold"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
