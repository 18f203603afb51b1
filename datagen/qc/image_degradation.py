"""Learned check: does a frame's rgb look degraded after rendering (issue 20)?

Trained (``scripts/fit_image_degradation.py``) on clean frames against copies degraded by
:mod:`datagen.qc.degrade`, generic random families at random strengths, not any known fault.
Features are numpy image statistics that use the sample's exact labels (sharpness at
segmentation edges vs inside regions, noise residual in flat sky/road, per-class colour,
radial brightness/colour, high-frequency energy, histogram gaps, blockiness, row/column
structure) and the same statistics relative to the median of the scenario's other frames.
The model is gradient-boosted trees stored as JSON (``image_degradation_fit.json``, no
pickle) with a clean-calibrated threshold.

Any square frame of at least ``IMAGE_SIZE`` is judged: its statistics are computed on an
area-average resample to ``IMAGE_SIZE`` (fit and calibrated on 64 px frames; measured at 96
and 128 px too, docs/internals.md). A clip sample (``json.clip``) is compared with its own
earlier frames (``frames.npy.gz``, the same scene 0.25-0.75 s before the key frame, decoded
only here) instead of its scenario's other key frames, which are seconds apart (other
scenes); only without usable frames does it fall back to those. A clip's score has its own
threshold, ``clip_threshold`` (``--clip-calib`` of the fit). A fault of the whole camera
degrades the earlier frames too: the absolute statistics still see it. A model of the frame's
own statistics alone was measured to miss most injected faults.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from datagen.qc.flag import Flag

MODEL_PATH = Path(__file__).with_name("image_degradation_fit.json")
CHECK = "image_degraded"
SKY, ROAD = 0, 1
# statistics such as the high-frequency energy change with resolution: every frame is judged on
# an area-average resample to this size (smaller or non-square frames are not judged)
IMAGE_SIZE = (64, 64)
EPS = 1e-4
# a clip's reference: the median statistics of this many frames before its key frame
REF_FRAMES = 3

NAMES = (
    "lap_all", "lap_edge", "lap_inside", "edge_over_inside", "noise_flat", "noise_sky",
    "noise_road", "grad_edge", "mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b",
    "saturation", "rg", "bg", "p01", "p50", "p99", "radial_lum", "radial_rb", "radial_gb",
    "hist_gaps", "blockiness", "row_struct", "col_struct", "hf_energy", "sky_r", "sky_g",
    "sky_b", "road_r", "road_g", "road_b", "chan_corr_rb", "unique_colours", "clip_hi",
    "clip_lo", "inside_std", "halo",
)
# features compared as log (positive scales); the others as differences
LOG = {"lap_all", "lap_edge", "lap_inside", "edge_over_inside", "noise_flat", "noise_sky",
       "noise_road", "grad_edge", "std_r", "std_g", "std_b", "saturation", "blockiness",
       "row_struct", "col_struct", "hf_energy", "inside_std", "unique_colours"}


def _lap(g: np.ndarray) -> np.ndarray:
    p = np.pad(g, 1, mode="edge")
    return 4 * g - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]


def _box3(g: np.ndarray) -> np.ndarray:
    p = np.pad(g, 1, mode="edge")
    return sum(p[y:y + g.shape[0], x:x + g.shape[1]] for y in range(3) for x in range(3)) / 9


def _med(v: np.ndarray, default: float = 0.0) -> float:
    return float(np.median(v)) if v.size else default


def frame_features(rgb: np.ndarray, seg: np.ndarray | None) -> np.ndarray:
    """Raw statistics of one frame (see ``NAMES``)."""
    x = rgb.astype(np.float64) / 255.0
    h, w = x.shape[:2]
    g = x.mean(axis=2)
    if seg is None or seg.shape != (h, w):
        seg = np.full((h, w), 255, np.int64)
    p = np.pad(seg, 1, mode="edge")
    edge = ((p[:-2, 1:-1] != seg) | (p[2:, 1:-1] != seg) | (p[1:-1, :-2] != seg)
            | (p[1:-1, 2:] != seg))  # fmt: skip
    pe = np.pad(edge, 2, mode="constant")
    near = np.zeros_like(edge)
    for dy in range(5):
        for dx in range(5):
            near |= pe[dy:dy + h, dx:dx + w]
    inside = ~near
    lap = np.abs(_lap(g))
    res = np.abs(x - np.stack([_box3(x[..., c]) for c in range(3)], axis=2)).mean(axis=2)
    gy, gx = np.gradient(g)
    grad = np.hypot(gy, gx)
    f: dict[str, float] = {}
    f["lap_all"] = float(lap.mean())
    f["lap_edge"] = float(lap[edge].mean()) if edge.any() else f["lap_all"]
    f["lap_inside"] = _med(lap[inside], f["lap_all"])
    f["edge_over_inside"] = (f["lap_edge"] + EPS) / (f["lap_inside"] + EPS)
    flat = inside & ((seg == SKY) | (seg == ROAD))
    f["noise_flat"] = _med(res[flat], _med(res))
    f["noise_sky"] = _med(res[inside & (seg == SKY)], f["noise_flat"])
    f["noise_road"] = _med(res[inside & (seg == ROAD)], f["noise_flat"])
    f["grad_edge"] = float(grad[edge].mean()) if edge.any() else float(grad.mean())
    for i, c in enumerate("rgb"):
        f[f"mean_{c}"] = float(x[..., i].mean())
        f[f"std_{c}"] = float(x[..., i].std())
    f["saturation"] = float((x.max(axis=2) - x.min(axis=2)).mean())
    f["rg"] = float((x[..., 0] - x[..., 1]).mean())
    f["bg"] = float((x[..., 2] - x[..., 1]).mean())
    f["p01"], f["p50"], f["p99"] = (float(v) for v in np.percentile(g, [1, 50, 99]))
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - (h - 1) / 2) / h, (xx - (w - 1) / 2) / w)
    centre, rim = r < 0.25, r > 0.5
    f["radial_lum"] = float(g[rim].mean() - g[centre].mean())
    rb, gb = x[..., 0] - x[..., 2], x[..., 1] - x[..., 2]
    f["radial_rb"] = float(rb[rim].mean() - rb[centre].mean())
    f["radial_gb"] = float(gb[rim].mean() - gb[centre].mean())
    gaps = []
    for c in range(3):
        v = rgb[..., c].ravel()
        lo, hi = np.percentile(v, [2, 98]).astype(int)
        if hi - lo >= 8:
            hist = np.bincount(v, minlength=256)[lo:hi + 1]
            gaps.append(float((hist == 0).mean()))
    f["hist_gaps"] = float(np.mean(gaps)) if gaps else 0.0
    dxs = np.abs(np.diff(g, axis=1)).mean(axis=0)
    dys = np.abs(np.diff(g, axis=0)).mean(axis=1)
    cols = np.arange(dxs.size)
    rows = np.arange(dys.size)
    on = np.r_[dxs[cols % 8 == 7], dys[rows % 8 == 7]].mean()
    off = np.r_[dxs[cols % 8 != 7], dys[rows % 8 != 7]].mean()
    f["blockiness"] = float((on + EPS) / (off + EPS))
    hp = g - _box3(g)
    f["row_struct"] = float(np.abs(hp.mean(axis=1)).mean() / (np.abs(hp).mean() + EPS))
    f["col_struct"] = float(np.abs(hp.mean(axis=0)).mean() / (np.abs(hp).mean() + EPS))
    spec = np.abs(np.fft.rfft2(g - g.mean())) ** 2
    fy = np.abs(np.fft.fftfreq(h))[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    band = np.hypot(fy, fx)
    f["hf_energy"] = float((spec[band > 0.3].sum() + EPS) / (spec.sum() + EPS))
    for name, cls in (("sky", SKY), ("road", ROAD)):
        m = seg == cls
        for i, c in enumerate("rgb"):
            f[f"{name}_{c}"] = float(x[..., i][m].mean()) if m.sum() >= 8 else f[f"mean_{c}"]
    lr, lb = _lap(x[..., 0]), _lap(x[..., 2])
    den = np.sqrt((lr ** 2).sum() * (lb ** 2).sum())
    f["chan_corr_rb"] = float((lr * lb).sum() / den) if den > 0 else 1.0
    q = rgb.reshape(-1, 3).astype(np.int64)
    f["unique_colours"] = float(np.unique(q[:, 0] * 65536 + q[:, 1] * 256 + q[:, 2]).size)
    f["clip_hi"] = float((rgb >= 254).mean())
    f["clip_lo"] = float((rgb <= 1).mean())
    f["inside_std"] = float(np.sqrt(_med(((x - _box3_rgb(x)) ** 2).sum(axis=2)[inside]))) \
        if inside.any() else 0.0  # fmt: skip
    # halo: overshoot just beyond edges (sharpening) -> laplacian sign flips near edges
    ring = near & ~edge
    f["halo"] = float(lap[ring].mean() / (f["lap_edge"] + EPS)) if ring.any() else 0.0
    return np.array([f[n] for n in NAMES], dtype=np.float64)


def model_input(rgb: np.ndarray | None, seg: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray | None] | None:  # fmt: skip
    """``rgb`` (and ``seg``) resampled to ``IMAGE_SIZE``: area average for rgb, nearest
    label for seg; None for a frame the model cannot judge (not uint8 RGB, not square,
    smaller than ``IMAGE_SIZE``)."""
    if rgb is None or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        return None
    h, w = rgb.shape[:2]
    if h != w or h < IMAGE_SIZE[0]:
        return None
    if seg is not None and seg.shape != (h, w):
        seg = None
    if (h, w) == IMAGE_SIZE:
        return rgb, seg
    from PIL import Image

    size = (IMAGE_SIZE[1], IMAGE_SIZE[0])
    small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
    if seg is not None:  # label of each output pixel's centre
        idx = ((np.arange(IMAGE_SIZE[0]) + 0.5) * h / IMAGE_SIZE[0]).astype(np.int64)
        seg = seg[np.ix_(idx, idx)]
    return small, seg


def is_clip(s) -> bool:
    """A clip sample (``json.clip``): its scenario's other key frames are seconds apart."""
    return isinstance(s.meta, dict) and isinstance(s.meta.get("clip"), dict)


def features(s) -> np.ndarray:
    """:func:`frame_features` of a decoded sample's :func:`model_input`, then 1.0 for a clip
    sample (0.0 otherwise), then :func:`clip_reference` (NaN unless a clip with frames);
    statistics NaN (never judged) without a usable rgb."""
    small = model_input(s.rgb, s.seg)
    f = np.full(len(NAMES), np.nan) if small is None else frame_features(*small)
    ref = clip_reference(s) if small is not None and is_clip(s) else None
    return np.r_[f, float(is_clip(s)), np.full(len(NAMES), np.nan) if ref is None else ref]


def reference_frames(s, n: int | None = REF_FRAMES) -> np.ndarray | None:
    """A clip sample's reference for its key frame: the ``n`` frames before it (all of them
    when None; ``json.clip.key_frame``, default the last), the same scene just before, where
    its scenario's other key frames are seconds apart (other scenes). None for a single frame
    or a clip without such frames. The one home of this choice: QC's checks that compare a
    frame with its scenario's other frames use it for clips (:mod:`datagen.qc.conditional`)."""
    if not is_clip(s):
        return None
    frames = s.clip_frames()
    if frames is None:
        return None
    key = s.meta["clip"].get("key_frame", len(frames) - 1)
    key = key if isinstance(key, int) and 0 <= key < len(frames) else len(frames) - 1
    ref = frames[max(0, key - (key if n is None else n)):key]
    return ref if len(ref) else None


def clip_reference(s) -> np.ndarray | None:
    """Median scaled statistics (:func:`_scaled`) of a clip's :func:`reference_frames`, with
    the key frame's labels: the same scene as the key frame; None without such frames."""
    frames = reference_frames(s)
    if frames is None:
        return None
    rows = [model_input(f, s.seg) for f in frames]
    stats = [frame_features(*r) for r in rows if r is not None]
    return np.median(_scaled(np.array(stats)), axis=0) if stats else None


def _box3_rgb(x: np.ndarray) -> np.ndarray:
    return np.stack([_box3(x[..., c]) for c in range(3)], axis=2)


_LOGMASK = np.array([n in LOG for n in NAMES])


def _scaled(raw: np.ndarray) -> np.ndarray:
    out = raw.copy()
    out[..., _LOGMASK] = np.log(np.maximum(raw[..., _LOGMASK], 0) + EPS)
    return out


def design(raw: np.ndarray, groups: list, ref: np.ndarray | None = None) -> np.ndarray:
    """Model inputs for frames ``raw`` (N, F): the scaled statistics and their difference to
    the median of the same group's (scenario's) other frames (0 where a frame is alone), or
    to ``ref`` (N, F, scaled; :func:`clip_reference`) in its finite rows."""
    s = _scaled(raw)
    rel = np.zeros_like(s)
    index: dict = {}
    for i, gkey in enumerate(groups):
        index.setdefault(gkey, []).append(i)
    for members in index.values():
        if len(members) < 2:
            continue
        for i in members:
            others = [j for j in members if j != i]
            rel[i] = s[i] - np.median(s[others], axis=0)
    if ref is not None:
        own = np.isfinite(ref).all(axis=1)
        rel[own] = s[own] - ref[own]
    return np.hstack([s, np.abs(rel), rel])


def input_names() -> list[str]:
    return list(NAMES) + [f"|{n} vs scenario|" for n in NAMES] + [
        f"{n} vs scenario" for n in NAMES]


class Model:
    """Gradient-boosted trees over :func:`design` inputs, read from JSON arrays (no pickle):
    ``score = sigmoid(init + rate * sum(tree leaf values))``."""

    def __init__(self, params: dict):
        self.init = float(params["init"])
        self.rate = float(params["rate"])
        self.trees = [{k: np.asarray(v) for k, v in t.items()} for t in params["trees"]]
        self.threshold = float(params["threshold"])
        self.clean_mean = np.asarray(params["clean_mean"], np.float64)
        self.clean_std = np.asarray(params["clean_std"], np.float64)
        self.importance = np.asarray(params["importance"], np.float64)
        self.clean_max = {k: float(v) for k, v in params.get("clean_max", {}).items()}
        # clip samples: the scenario's other key frames are seconds apart (other scenes)
        self.clip_threshold = float(params.get("clip_threshold", self.threshold))
        # clip samples against their own earlier frames (clip_reference): a model of its own
        clip = params.get("clip_model")
        self.clip_model = Model({"threshold": 0.5, **clip}) if clip else None

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Model:
        return cls(json.loads(Path(path).read_text()))

    def raw(self, X: np.ndarray) -> np.ndarray:
        # scikit-learn's trees compare float32 inputs: the same rounding gives the same splits
        X = np.asarray(X, np.float64).astype(np.float32).astype(np.float64)
        out = np.full(len(X), self.init)
        rows = np.arange(len(X))
        for t in self.trees:
            node = np.zeros(len(X), np.int64)
            while True:
                inner = t["left"][node] >= 0
                if not inner.any():
                    break
                f, th = t["feature"][node], t["threshold"][node]
                go_left = X[rows, np.maximum(f, 0)] <= th
                node = np.where(inner, np.where(go_left, t["left"][node], t["right"][node]),
                                node)
            out += self.rate * t["value"][node]
        return out

    def score(self, X: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-np.clip(self.raw(X), -50, 50)))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """How unusual each input is for a clean frame, weighted by the model's use of it."""
        return np.abs((X - self.clean_mean) / self.clean_std) * self.importance


def own_reference(raw: np.ndarray) -> np.ndarray:
    """Which rows of :func:`features` carry a clip's own reference (:func:`clip_reference`)."""
    n = len(NAMES)
    if raw.shape[1] < 2 * n + 1:
        return np.zeros(len(raw), bool)
    return (raw[:, n] > 0.5) & np.isfinite(raw[:, n + 1:2 * n + 1]).all(axis=1)


def inputs(raw: np.ndarray, groups: list) -> tuple[np.ndarray, np.ndarray]:
    """Design inputs of :func:`features` rows and whether each row can be judged: a usable
    rgb and either a clip's own reference or another usable frame of its scenario."""
    n = len(NAMES)
    stats = raw[:, :n]
    own = own_reference(raw)
    ok = np.isfinite(stats).all(axis=1)
    size: dict = {}
    for g, o in zip(groups, ok):
        size[g] = size.get(g, 0) + int(o)
    ok &= own | np.array([size[g] >= 2 for g in groups])
    ref = np.where(own[:, None], raw[:, n + 1:2 * n + 1], np.nan) if own.any() else None
    X = design(np.where(ok[:, None], stats, 0.0),
               [g if o else ("alone", i) for i, (g, o) in enumerate(zip(groups, ok))], ref)
    return X, ok


def _scores(raw: np.ndarray, groups: list, model: Model
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Design inputs, scores (0 for a frame that cannot be judged, :func:`inputs`) and
    thresholds (``clip_threshold`` for clip samples) of every frame."""
    clip = raw[:, len(NAMES)] > 0.5 if raw.shape[1] > len(NAMES) else np.zeros(len(raw), bool)
    X, ok = inputs(raw, groups)
    score = np.where(ok, model.score(X), 0.0)
    threshold = np.where(clip, model.clip_threshold, model.threshold)
    own = own_reference(raw) & ok
    if model.clip_model is not None and own.any():
        score[own] = model.clip_model.score(X[own])
        threshold[own] = model.clip_model.threshold
    return X, score, threshold


def judge(raw: np.ndarray, groups: list, presets: list[str], model: Model | None = None
          ) -> list[Flag | None]:  # fmt: skip
    """One flag (or None) per frame of ``raw`` (:func:`features`), ``groups`` naming each
    frame's scenario; frames without another usable frame of their scenario are not judged
    (the model uses statistics relative to the scenario's other frames)."""
    model = model or Model.load()
    if raw.size == 0:
        return []
    X, score, threshold = _scores(raw, groups, model)
    own = own_reference(raw)
    contrib = model.contributions(X)
    if model.clip_model is not None and own.any():
        contrib[own] = model.clip_model.contributions(X[own])
    out: list[Flag | None] = []
    for i, sc in enumerate(score):
        if sc <= threshold[i]:
            out.append(None)
            continue
        out.append(_flag(model, X[i], raw[i], contrib[i], float(sc), float(threshold[i]),
                         presets[i], own[i]))
    return out


def _flag(model: Model, x: np.ndarray, raw: np.ndarray, contrib: np.ndarray, sc: float,
          threshold: float, preset: str, own: bool = False) -> Flag:  # fmt: skip
    versus = "the clip's earlier frames" if own else "the scenario's other frames"
    parts = []
    for j in np.argsort(-contrib)[:3]:
        base = j % len(NAMES)
        n = NAMES[base]
        d = x[2 * len(NAMES) + base]
        if j >= len(NAMES):
            ratio = f"x{np.exp(d):.2f}" if n in LOG else f"{d:+.3f}"
            parts.append(f"{n} {ratio} of {versus}")
        else:
            parts.append(f"{n} {raw[base]:.3g}")
    clean = model.clean_max.get(preset) if threshold == model.threshold else None
    ref = f"clean frames of this preset <= {clean:.2f}, " if clean is not None else \
        "clip samples' " if threshold == model.clip_threshold else ""  # fmt: skip
    return Flag(CHECK, f"image looks degraded after rendering: score {sc:.3f} "
                       f"({ref}threshold {threshold:.4f}); strongest features: "
                       + "; ".join(parts), sc, f"> {threshold:.4f}")
