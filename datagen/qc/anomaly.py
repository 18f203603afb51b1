"""The learned check: an anomaly model fitted on the data set's own per-sample statistics.

Each sample becomes a feature vector (image, depth, label, audio and ego statistics). Two
detectors are fitted on the data set itself: robust z-scores (median and MAD per feature)
and an IsolationForest (scikit-learn, seeded). A sample is flagged when its largest robust
z-score exceeds ``z_threshold`` and the forest also calls it an outlier, so both a large
deviation in one statistic and an unusual combination are needed: few false alarms on
healthy data, which varies a lot between weather presets. Data sets smaller than
``min_samples`` are left to the rules: a handful of scenarios says little about what is normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.shardio import Decoded

FEATURES = (
    "rgb_mean", "rgb_std", "rgb_r_g", "rgb_b_g", "rgb_edge", "depth_zero", "depth_median_m",
    "seg_classes", "objects", "audio_rms_db", "audio_peak", "audio_zcr", "speed_mps",
)


@dataclass(frozen=True)
class AnomalyConfig:
    z_threshold: float = 8.0
    contamination: float = 0.1
    n_estimators: int = 200
    seed: int = 0
    min_samples: int = 50  # below this, too little data to learn what normal is

    def __post_init__(self) -> None:
        if self.min_samples < 8:
            raise ValueError(f"AnomalyConfig.min_samples must be >= 8, got {self.min_samples}")
        if self.z_threshold <= 0:
            raise ValueError(f"AnomalyConfig.z_threshold must be > 0, got {self.z_threshold}")
        if not 0 < self.contamination <= 0.5:
            raise ValueError(
                f"AnomalyConfig.contamination must be in (0, 0.5], got {self.contamination}")
        if self.n_estimators < 1:
            raise ValueError(
                f"AnomalyConfig.n_estimators must be >= 1, got {self.n_estimators}")


def features(s: Decoded) -> np.ndarray:
    """One row of FEATURES; NaN where a part is missing (scored as missing, not as zero)."""
    f = dict.fromkeys(FEATURES, np.nan)
    if s.rgb is not None and s.rgb.ndim == 3:
        rgb = s.rgb[..., :3].astype(np.float32)
        ch = rgb.reshape(-1, 3).mean(axis=0) + 1.0
        gray = rgb.mean(axis=2)
        f.update(rgb_mean=rgb.mean(), rgb_std=rgb.std(), rgb_r_g=np.log(ch[0] / ch[1]),
                 rgb_b_g=np.log(ch[2] / ch[1]),
                 rgb_edge=np.abs(np.diff(gray, axis=1)).mean())
    if s.depth_m is not None:
        hit = s.depth_m[s.depth_m > 0]
        f.update(depth_zero=float((s.depth_m == 0).mean()),
                 depth_median_m=float(np.median(hit)) if hit.size else 0.0)
    if s.seg is not None:
        f["seg_classes"] = float(len(np.unique(s.seg)))
    if s.audio is not None and s.audio.size:
        a = s.audio.astype(np.float64)
        f.update(audio_rms_db=20 * np.log10(np.sqrt(np.mean(a * a)) + 1e-9),
                 audio_peak=np.abs(a).max(),
                 audio_zcr=np.mean(np.signbit(a[1:]) != np.signbit(a[:-1])))
    if s.meta is not None:
        f["objects"] = float(len(s.meta.get("objects", [])))
        speed = s.meta.get("ego", {}).get("speed_mps")
        f["speed_mps"] = float(speed) if isinstance(speed, int | float) else np.nan
    return np.array([f[k] for k in FEATURES], dtype=np.float64)


# Smallest spread a feature is scored against, in its own units: in a small data set a
# physical quantity can vary little (short scenarios all start near the same speed), and a
# MAD near zero would turn ordinary values into huge z-scores.
MIN_SPREAD = {"speed_mps": 2.0, "depth_median_m": 0.5, "objects": 1.0, "seg_classes": 1.0,
              "audio_rms_db": 1.0}


def robust_z(x: np.ndarray) -> np.ndarray:
    """|x - median| / max(1.4826 MAD, MIN_SPREAD) per column; missing values score as +inf."""
    med = np.nanmedian(x, axis=0)
    mad = 1.4826 * np.nanmedian(np.abs(x - med), axis=0)
    floor = np.array([MIN_SPREAD.get(name, 0.0) for name in FEATURES])
    spread = np.maximum(np.maximum(mad, floor), 1e-3 * (np.abs(med) + 1e-6))
    z = np.abs(x - med) / spread
    return np.where(np.isnan(z), np.inf, z)


def score(x: np.ndarray, cfg: AnomalyConfig) -> tuple[np.ndarray, np.ndarray]:
    """(max robust z per row, IsolationForest outlier flag per row) for a feature matrix."""
    from sklearn.ensemble import IsolationForest

    z = robust_z(x)
    zmax = z.max(axis=1)
    filled = np.where(np.isfinite(z), z, 1e6)
    forest = IsolationForest(n_estimators=cfg.n_estimators, contamination=cfg.contamination,
                             random_state=cfg.seed)
    outlier = forest.fit_predict(np.minimum(filled, 50.0)) < 0
    return zmax, outlier


def flag(x: np.ndarray, cfg: AnomalyConfig) -> tuple[np.ndarray, list[str]]:
    """Boolean flags and a reason per row (naming the most deviating feature); nothing is
    flagged in a data set smaller than ``cfg.min_samples`` (the rules still check it)."""
    if len(x) < cfg.min_samples:
        return np.zeros(len(x), dtype=bool), [""] * len(x)
    zmax, outlier = score(x, cfg)
    z = robust_z(x)
    flags = (zmax > cfg.z_threshold) & outlier
    reasons = [
        f"anomalous {FEATURES[int(np.argmax(z[i]))]} (robust z {zmax[i]:.1f})" if flags[i] else ""
        for i in range(len(x))
    ]
    return flags, reasons
