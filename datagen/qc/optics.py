"""Degraded optics: the image measured at the places where the labels say what it must show.

The sample's segmentation, instances and depth come from the same camera as its rgb, so a
label boundary (a class, instance or depth discontinuity) is where the image must step from
one surface's colour to the other's, and inside a segment it must stay as smooth as the
weather's noise allows. Only boundary pairs whose two segments differ clearly in colour (their
median colours over the frame, ``min_label_contrast`` apart) are used, so fog, night and snow
that hide a boundary do not count as a missing edge.

- ``edge_sharpness``: across such a boundary a sharp camera steps within one pixel: the
  difference of the two pixels either side (1-px step) is about the difference 3 px apart
  (3-px step). A defocused, shaken or smeared lens spreads the step, so the median ratio
  1-px / 3-px step falls (a Gaussian blur of 0.6 px: 0.5-0.75; 2 600 clean tuning frames of
  every weather preset: >= 0.76; allowed >= 0.74, lower in snowfall, whose flakes soften
  edges). Horizontal and vertical pairs are judged apart, so blur along one direction
  (motion) is caught too.

Against the scenario's other frames (same camera, weather and light, 0.2 s apart), from each
frame's mean linear luminance per class in each tile of a 4 x 4 grid (:func:`summarize`,
judged by :func:`judge` in the sequence stage of :func:`datagen.qc.report.run_qc`):

- ``odd_pixels``: isolated pixels unlike their 3 x 3 neighbourhood where the labels show one
  surface (hot, dead or stuck pixels, impulse noise), beyond what the other frames show
  (rain, hail and snow particles are such pixels too, in every frame);
- ``exposure_vs_scenario``: the frame's light (median over class-in-tile cells of the log
  ratio to the other frames' same cell) too dark or too bright, while the other frames agree
  among themselves (so a clean frame beside broken ones is not blamed); lightning may
  brighten a frame;
- ``region_vs_scenario``: one tile darker or brighter, relative to the rest of the frame,
  than the same tile of the other frames (dirt, a film or glare on part of the lens), by
  more than a fixed ratio and 3 x what the other frames show among themselves; brighter
  tiles are allowed more where the sun is low (lamps, headlights); not judged where snow
  lies or falls (its patches move through the tiles).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class OpticsConfig:
    min_label_contrast: float = 24.0  # DN, summed over r, g, b: the segments' median colours
    min_pairs: int = 12  # boundary pairs per direction needed to judge sharpness
    # log(1-px / 3-px step) allowed down to this: 2 600 clean tuning frames reach -0.27 (a
    # snow-patched night), a 0.6 px Gaussian blur -0.28..-0.7
    sharpness_floor: float = -0.30
    snow_floor_per_intensity: float = 0.2  # ... minus this x snowfall intensity
    depth_edge_log: float = 0.15


@dataclass
class BoundaryPairs:
    """Neighbour pairs across a label boundary whose two sides are label-flat for two pixels:
    1-px and 3-px step [DN, summed over channels], the label-predicted step (difference of the
    two segments' median colours), the pair's position and direction (0: the step runs
    along x, i.e. a vertical edge; 1: along y)."""

    step1: np.ndarray
    step3: np.ndarray
    expected: np.ndarray
    y: np.ndarray
    x: np.ndarray
    axis: np.ndarray


def label_ids(seg: np.ndarray, inst: np.ndarray) -> np.ndarray:
    return seg.astype(np.int64) * 70000 + inst.astype(np.int64)


def segment_medians(rgb: np.ndarray, lab: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(index of each pixel's segment, median colour of each segment, median absolute
    deviation of each segment's pixels from it [DN, summed over channels])."""
    u, inv = np.unique(lab, return_inverse=True)
    inv = inv.reshape(lab.shape)
    ids = inv.ravel()
    x = rgb[..., :3].reshape(-1, 3).astype(np.float32)
    counts = np.bincount(ids, minlength=len(u))
    med = np.stack([_grouped_median(x[:, c], ids, counts) for c in range(3)], axis=1)
    mad = _grouped_median(np.abs(x - med[ids]).sum(-1), ids, counts)
    return inv, med.astype(np.float32), mad.astype(np.float32)


def _grouped_median(v: np.ndarray, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """np.median of ``v`` within each group ``ids`` (0..len(counts)-1), all groups at once."""
    v = v.astype(np.float32)
    half = np.rint(v * 2).astype(np.int64)  # 8-bit colours and their medians: halves of a DN
    if np.array_equal(half, v * 2) and half.min(initial=0) >= 0:
        s = (np.sort(ids.astype(np.int64) * (int(half.max(initial=0)) + 1) + half) %
             (int(half.max(initial=0)) + 1)).astype(np.float32) / np.float32(2)
    else:
        s = v[np.lexsort((v, ids))]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    lo, hi = starts + (counts - 1) // 2, starts + counts // 2
    return (s[lo] + s[hi]) / np.float32(2)


def boundary_pairs(s, cfg: OpticsConfig) -> BoundaryPairs | None:
    from datagen.qc.photometric import boundaries

    if s.rgb is None or s.seg is None or s.inst is None or s.rgb.ndim != 3:
        return None
    if s.seg.shape != s.rgb.shape[:2] or s.inst.shape != s.seg.shape or min(s.seg.shape) < 8:
        return None
    depth = s.depth_m if s.depth_m is not None and s.depth_m.shape == s.seg.shape else None
    x = s.rgb[..., :3].astype(np.float32)
    inv, med, _ = segment_medians(x, label_ids(s.seg, s.inst))
    bx, by = boundaries(s.seg, s.inst, depth, cfg.depth_edge_log)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("s1", "s3", "e", "y", "x", "a")}
    for axis, X, b, ids in ((0, x, bx, inv), (1, x.transpose(1, 0, 2), by.T, inv.T)):
        valid = b[:, 1:-1] & ~b[:, :-2] & ~b[:, 2:]  # pair (c, c+1), c = 1..W-3
        r, c = np.nonzero(valid)
        c = c + 1
        cols["s1"].append(np.abs(X[r, c + 1] - X[r, c]).sum(-1))
        cols["s3"].append(np.abs(X[r, c + 2] - X[r, c - 1]).sum(-1))
        cols["e"].append(np.abs(med[ids[r, c + 1]] - med[ids[r, c]]).sum(-1))
        yy, xx = (c + 0.5, r.astype(np.float64)) if axis else (r.astype(np.float64), c + 0.5)
        cols["y"].append(np.asarray(yy, np.float64))
        cols["x"].append(np.asarray(xx, np.float64))
        cols["a"].append(np.full(r.size, axis))
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    keep = cat["e"] >= cfg.min_label_contrast
    return BoundaryPairs(cat["s1"][keep], cat["s3"][keep], cat["e"][keep], cat["y"][keep],
                         cat["x"][keep], cat["a"][keep])  # fmt: skip


def sharpness(p: BoundaryPairs, cfg: OpticsConfig) -> tuple[float, int, int] | None:
    """(log of the median 1-px / 3-px step ratio of the softer direction, its pairs, its
    axis) or None when neither direction has ``min_pairs`` pairs."""
    worst = None
    for axis in (0, 1):
        m = p.axis == axis
        if int(m.sum()) < cfg.min_pairs:
            continue
        ratio = np.minimum(p.step1[m] / np.maximum(p.step3[m], 1.0), 2.0)
        v = math.log(max(float(np.median(ratio)), 1e-3))
        if worst is None or v < worst[0]:
            worst = (v, int(m.sum()), axis)
    return worst


def sharpness_floor(meta: dict | None, cfg: OpticsConfig) -> float:
    w = meta.get("weather", {}) if isinstance(meta, dict) else {}
    snow = float(w.get("precip_intensity", 0.0)) if w.get("precip_type") == "snow" else 0.0
    return cfg.sharpness_floor - cfg.snow_floor_per_intensity * min(max(snow, 0.0), 1.0)


def edge_sharpness(s, cfg: OpticsConfig, pairs: BoundaryPairs | None = None) -> Flag | None:
    pairs = boundary_pairs(s, cfg) if pairs is None else pairs
    found = sharpness(pairs, cfg) if pairs is not None else None
    if found is None:
        return None
    v, n, axis = found
    floor = sharpness_floor(s.meta, cfg)
    if v >= floor:
        return None
    edges = "vertical" if axis == 0 else "horizontal"
    return flag("edge_sharpness", f"image edges soft at {n} label boundaries ({edges} edges): "
                "median 1-px / 3-px step", math.exp(v), f"allowed >= {math.exp(floor):.2f} in "
                "this weather", ".2f")  # fmt: skip


def check(s, cfg: OpticsConfig) -> list[Flag]:
    pairs = boundary_pairs(s, cfg)
    return [f for f in (edge_sharpness(s, cfg, pairs),) if f is not None]


# --- the frame against its scenario's other frames: same camera, weather and light ----------

TILE_CLASSES = (0, 1, 2, 3, 4, 8, 9)  # sky, road, lane marking, sidewalk, terrain, building,
# vegetation: surfaces present in most frames whose brightness the weather and sun set


@dataclass
class OpticsSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    tiles: np.ndarray  # (tiles, classes) mean linear luminance, NaN where too few pixels
    pixels: np.ndarray  # (tiles, classes) pixel counts
    lightning: bool
    impulses: float  # share of label-flat pixels unlike their 3 x 3 neighbourhood
    snow: bool  # snow falls or covers the ground (world-anchored patches move in the frame)
    particles: bool  # rain, snow or hail falls, or snow lies: odd pixels vary by frame
    lamps: bool  # the sun is low or down: headlights, street lamps and glare


def summarize(s, cfg: ScenarioOpticsConfig) -> OpticsSummary | None:
    """Mean linear luminance of each class in each tile of a ``grid`` x ``grid`` split."""
    from sim.weather.color import luminance, srgb_to_linear

    m = s.meta
    if not isinstance(m, dict) or s.rgb is None or s.seg is None or s.rgb.ndim != 3:
        return None
    if s.seg.shape != s.rgb.shape[:2] or s.rgb.dtype != np.uint8:
        return None
    h, w = s.seg.shape
    g = cfg.grid
    if h < 2 * g or w < 2 * g:
        return None
    lum = luminance(srgb_to_linear(np.ascontiguousarray(s.rgb[..., :3])))
    ty = np.minimum(np.arange(h) * g // h, g - 1)
    tx = np.minimum(np.arange(w) * g // w, g - 1)
    tile = (ty[:, None] * g + tx[None, :]).ravel()
    cls = np.full(256, -1)
    cls[list(TILE_CLASSES)] = np.arange(len(TILE_CLASSES))
    c = cls[s.seg.ravel().astype(np.int64) % 256]
    ok = c >= 0
    cell = tile[ok] * len(TILE_CLASSES) + c[ok]
    n = np.bincount(cell, minlength=g * g * len(TILE_CLASSES)).astype(np.float64)
    total = np.bincount(cell, lum.ravel()[ok], minlength=n.size)
    mean = np.where(n >= cfg.min_cell_px, total / np.maximum(n, 1), np.nan)
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    w_ = m.get("weather", {}) if isinstance(m.get("weather"), dict) else {}
    try:
        lightning = float(w_.get("lightning_rate_per_min", 0.0)) > 0
        snow = float(w_.get("snow_cover", 0.0)) > 0 or w_.get("precip_type") == "snow"
        # falling rain is drawn as streaks, random in every frame like hail and snow: a streak
        # against a dark facade is an odd pixel, against the pale sky it is not
        particles = snow or (w_.get("precip_type") in ("rain", "hail")
                             and float(w_.get("precip_intensity", 0.0)) > 0)  # fmt: skip
        lamps = float(w_.get("sun_altitude_deg", 90.0)) < 6.0
    except (TypeError, ValueError):
        lightning, snow, particles, lamps = False, True, True, True
    imp = impulse_share(s, cfg.impulse_contrast)
    return OpticsSummary(s.key, s.shard, (str(m.get("split", s.shard.rsplit("-", 1)[0])),
                                          str(m.get("scenario_id")), str(cam.get("name", ""))),
                         mean.reshape(g * g, -1), n.reshape(g * g, -1), lightning,
                         np.nan if imp is None else imp, snow, particles, lamps)  # fmt: skip


def impulse_share(s, contrast: float) -> float | None:
    """Share of the label-flat pixels (one segment in their 3 x 3 neighbourhood) that differ
    from their neighbourhood's median by more than ``contrast`` DN and 5 noise sigmas in some
    channel: where the labels show one surface, an isolated odd pixel is a sensor defect or
    impulse noise (or a rain/snow particle, which its scenario's other frames show too)."""
    from scipy.ndimage import maximum_filter, median_filter, minimum_filter

    if s.rgb is None or s.seg is None or s.rgb.ndim != 3 or s.seg.shape != s.rgb.shape[:2] \
            or min(s.seg.shape) < 3:  # fmt: skip
        return None
    x = s.rgb[..., :3].astype(np.int16)
    lab = label_ids(s.seg, s.inst if s.inst is not None and s.inst.shape == s.seg.shape
                    else np.zeros_like(s.seg))  # fmt: skip
    flat = minimum_filter(lab, 3, mode="nearest") == maximum_filter(lab, 3, mode="nearest")
    if int(flat.sum()) < 64:
        return None
    med = median_filter(x, size=(3, 3, 1), mode="nearest")
    sigma = float(np.median(np.abs(np.diff(x, axis=1)))) / (0.6745 * math.sqrt(2))
    odd = np.abs(x - med).max(-1) > max(contrast, 5.0 * sigma)
    return float((odd & flat).sum() / flat.sum())


@dataclass(frozen=True)
class ScenarioOpticsConfig:
    grid: int = 4
    min_cell_px: int = 12
    min_cells: int = 6  # cells shared with the other frames needed to judge
    floor_lum: float = 0.002  # linear luminance added before the log (sensor black level)
    # exposure: the frame's light vs its scenario's other frames (weighted median over the
    # class-in-tile cells of log(cell / the others' median cell)); 2 600 clean tuning frames
    # stay within -0.44..+0.39 (headlights, lamps and sun glare move between frames)
    exposure_log: float = 0.47
    lightning_log: float = 0.5  # more allowed upwards where lightning may light a frame
    impulse_contrast: float = 60.0
    # odd pixels allowed: the larger of this share of the label-flat pixels and ...
    impulse_abs: float = 0.003
    impulse_vs_scenario: float = 3.0  # ... this many times the scenario's other frames' share
    impulse_margin: float = 0.008  # ... plus this
    impulse_margin_particles: float = 0.02  # ... or this where rain, snow or hail falls, snow lies
    # a tile whose light, relative to the whole frame's, departs from the other frames' same
    # tile by more than log 1.0 (x0.37..x2.7) and 3 x the largest such departure among the
    # other frames themselves (streetlamps, lightning and passing objects move)
    region_log: float = 1.0
    region_log_lamps: float = 1.5  # brighter tiles where the sun is low (< 6 deg): lamps, glare
    region_vs_scenario: float = 3.0
    region_min_px: int = 40


def _cell_deviation(f: OpticsSummary, others: list[OpticsSummary],
                    cfg: ScenarioOpticsConfig) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """log(cell / median of the other frames' same cell) and the cell weights."""
    ref = np.array([o.tiles for o in others])
    cnt = np.isfinite(ref).sum(0)
    need = min(2, len(others))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cells no other frame has
        med = np.nanmedian(np.where(cnt[None] >= need, ref, np.nan), axis=0)
    d = np.log((f.tiles + cfg.floor_lum) / (med + cfg.floor_lum))
    ok = np.isfinite(d) & (cnt >= need)
    if int(ok.sum()) < cfg.min_cells:
        return None
    return np.where(ok, d, np.nan), np.where(ok, f.pixels, 0.0)


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(v)
    cw = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cw, cw[-1] / 2)])


def judge(summaries: list[OpticsSummary], cfg: ScenarioOpticsConfig
          ) -> list[tuple[str, str, Flag]]:  # fmt: skip
    """(key, shard, flag) of frames whose exposure or isolated odd pixels leave what their
    scenario's other frames (same camera, weather and light, 0.2 s apart) allow."""
    groups: dict[tuple[str, str, str], list[OpticsSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out: list[tuple[str, str, Flag]] = []
    for frames in groups.values():
        for i, f in enumerate(frames):
            others = frames[:i] + frames[i + 1:]
            fl = _judge_frame(f, others, cfg) if len(others) >= 2 else None
            if fl is not None:
                out.append((f.key, f.shard, fl))
    return out


def _tile_departure(f: OpticsSummary, others: list[OpticsSummary],
                    cfg: ScenarioOpticsConfig) -> tuple[float, np.ndarray] | None:  # fmt: skip
    """(the frame's light vs the others' as a log ratio, each tile's departure from that)."""
    dev = _cell_deviation(f, others, cfg)
    if dev is None:
        return None
    d, w = dev
    ok = w > 0
    g = _weighted_median(d[ok], w[ok])
    e = np.where(ok, d - g, 0.0)
    weight = w.sum(1)
    tiles = (e * w).sum(1) / np.maximum(weight, 1.0)
    return g, np.where(weight >= cfg.region_min_px, tiles, np.nan)


def _judge_frame(f: OpticsSummary, others: list[OpticsSummary],
                 cfg: ScenarioOpticsConfig) -> Flag | None:  # fmt: skip
    """The first of: odd pixels (they also move a frame's mean light), exposure, a region."""
    own = np.array([o.impulses for o in others])
    own = own[np.isfinite(own)]
    if np.isfinite(f.impulses) and own.size >= 2:
        margin = cfg.impulse_margin_particles if f.particles else cfg.impulse_margin
        allowed = max(cfg.impulse_abs, cfg.impulse_vs_scenario * float(np.median(own)) + margin)
        if f.impulses > allowed:
            return flag("odd_pixels", "isolated pixels unlike their neighbours where the labels "
                        f"show one surface (its scenario's {own.size} other frames: "
                        f"{float(np.median(own)):.2%}):", f.impulses, f"allowed {allowed:.2%}",
                        ".2%")  # fmt: skip
    found = _tile_departure(f, others, cfg)
    if found is None:
        return None
    g, tiles = found
    up = cfg.exposure_log + (cfg.lightning_log if f.lightning else 0.0)
    if (g < -cfg.exposure_log or g > up) and _others_agree(others, cfg):
        return flag("exposure_vs_scenario", f"light of the frame vs its scenario's "
                    f"{len(others)} other frames (median over class-in-tile cells): ratio",
                    math.exp(g), f"allowed {math.exp(-cfg.exposure_log):.2f}.."
                    f"{math.exp(up):.2f}", ".2f")  # fmt: skip
    return _region(f, others, tiles, cfg)


def _others_agree(others: list[OpticsSummary], cfg: ScenarioOpticsConfig) -> bool:
    """The other frames' light agrees among themselves (within half the allowed exposure
    ratio), so a clean frame beside broken ones is not blamed."""
    for j, o in enumerate(others):
        t = _tile_departure(o, others[:j] + others[j + 1:], cfg)
        if t is None or abs(t[0]) > cfg.exposure_log / 2:
            return False
    return True


def _region(f: OpticsSummary, others: list[OpticsSummary], tiles: np.ndarray,
            cfg: ScenarioOpticsConfig) -> Flag | None:  # fmt: skip
    """``region_vs_scenario``: part of the frame darker or brighter than the same part of the
    scenario's other frames, relative to the rest of the frame (dirt, a film or glare on
    the lens). Not judged where snow lies or falls: its world-anchored patches and flakes
    move through the tiles from frame to frame."""
    if f.snow or not np.isfinite(tiles).any() or len(others) < 3:
        return None
    spread = []
    for j, o in enumerate(others):
        rest = others[:j] + others[j + 1:]
        t = _tile_departure(o, rest, cfg)
        if t is not None and np.isfinite(t[1]).any():
            spread.append(float(np.nanmax(np.abs(t[1]))))
    if len(spread) < 2:
        return None
    allowed = max(cfg.region_log, cfg.region_vs_scenario * max(spread))
    upper = max(allowed, cfg.region_log_lamps) if f.lamps else allowed
    over = np.where(tiles > 0, tiles / upper, -tiles / allowed)
    if not np.nanmax(over) > 1.0:
        return None
    worst = int(np.nanargmax(over))
    v = float(tiles[worst])
    row, col = divmod(worst, cfg.grid)
    return flag("region_vs_scenario", f"tile (row {row}, column {col}) of a {cfg.grid} x "
                f"{cfg.grid} grid, light relative to the rest of the frame vs the same tile of "
                f"its scenario's {len(others)} other frames: ratio", math.exp(v),
                f"allowed {math.exp(-allowed):.2f}..{math.exp(upper):.2f}", ".2f")  # fmt: skip
