"""Sensor statistics against what the json says they should be, learned from similar samples.

Some agreements have no closed form: how bright a frame is under a given sun, cloud cover and
fog, how much haze separates the far road from the sky, how loud rain and wind are at a given
speed. For those, each sample is compared with its nearest neighbours *in the space of what
its json states* (weather for the image; audible sources, speed, rpm and weather for the
audio), found in the same data set. A statistic far outside its neighbours' spread is a
finding that names the statistic, the measured value, the neighbours' median and spread and
the z threshold, e.g. "log sky luminance 2.6 vs 5.0 +- 0.08 of 12 samples of other scenarios
with similar weather, and unlike its scenario's 3 other frames (|z| 30.0 > 10)". A frame
must differ from its own scenario's other frames too, so a scene that is merely unusual is
not a finding. ``frame_vs_scenario`` turns that around for brightness, noise and sharpness:
a frame beyond what its scenario's frames allow, confirmed (weakly) by other scenarios. An
image from another scene or weather, a wrong exposure, a blurred or noisy frame, or audio
from another clip end up here.

Needs enough samples per region of the json space: below ``min_samples`` nothing is judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag

GROUND = (1, 2, 3, 4)
SKY = 0
IMAGE_FEATURES = ("log sky luminance", "log near ground luminance", "log far ground luminance",
                  "sky - far ground luminance", "sky log(B/R)", "ground log(B/R)",
                  "log noise sigma", "edge contrast")  # fmt: skip
IMAGE_FLOORS = (0.08, 0.08, 0.08, 4.0, 0.04, 0.04, 0.12, 0.15)
AUDIO_BANDS = ((20, 200), (200, 800), (800, 2000), (2000, 4000), (4000, 8000))
AUDIO_FEATURES = tuple(f"level {a}-{b} Hz [dB]" for a, b in AUDIO_BANDS)
AUDIO_FLOORS = (1.5,) * len(AUDIO_BANDS)
FRAME_FEATURES = ("log mean luminance", "log noise sigma", "log mean gradient")
FRAME_FLOORS = (0.08, 0.12, 0.1)
# Allowed deviation of a frame from the median of its scenario's other frames: just beyond
# the extremes of 2 000 clean tuning samples (log luminance -0.36..+0.48, log noise
# -0.33..+0.27, log gradient -0.30..+0.32; lightning and headlights make the widest ones).
FRAME_LIMITS = ((-0.40, 0.55), (-0.38, 0.30), (-0.35, 0.40))
# a clip sample's reference frames (image_degradation.reference_frames): all before its key
# frame (None) or this many
CLIP_REF_FRAMES: int | None = None
SOUND_SOURCES = ("engine", "tire_roll", "tire_squeal", "wet_hiss", "snow_crunch", "wind", "rain",
                 "hail", "thunder", "impact", "passby", "gear_shift")  # fmt: skip


@dataclass(frozen=True)
class ConditionalConfig:
    neighbours: int = 12
    max_siblings: int = 16  # frames of one scenario looked past when finding neighbours
    z_threshold: float = 10.0  # image statistics
    audio_z_threshold: float = 9.0
    min_samples: int = 100
    min_valid_neighbours: int = 6
    max_neighbour_distance: float = 1.0  # in the scaled json space; beyond: not comparable
    frame_population_z: float = 3.0  # frame_vs_scenario's confirmation by other scenarios


def _lum(rgb: np.ndarray) -> np.ndarray:
    x = rgb[..., :3].astype(np.float32)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def _mean(a: np.ndarray, m: np.ndarray, min_px: int = 8) -> float:
    return float(a[m].mean()) if int(m.sum()) >= min_px else np.nan


def image_features(s) -> np.ndarray:
    f = np.full(len(IMAGE_FEATURES), np.nan)
    if s.rgb is None or s.rgb.ndim != 3 or s.seg is None or s.seg.shape != s.rgb.shape[:2]:
        return f
    lum = _lum(s.rgb)
    d = s.depth_m if s.depth_m is not None and s.depth_m.shape == s.seg.shape else None
    sky = s.seg == SKY
    ground = np.isin(s.seg, GROUND)
    near = ground & (d > 0) & (d < 12) if d is not None else np.zeros_like(ground)
    far = ground & (d > 25) if d is not None else np.zeros_like(ground)
    rgb = s.rgb[..., :3].astype(np.float64)
    sky_l, far_l = _mean(lum, sky), _mean(lum, far)
    f[0], f[1], f[2] = np.log1p(sky_l), np.log1p(_mean(lum, near)), np.log1p(far_l)
    f[3] = sky_l - far_l
    for i, m in ((4, sky), (5, ground)):
        if int(m.sum()) >= 8:
            f[i] = float(np.log((rgb[..., 2][m].mean() + 1.0) / (rgb[..., 0][m].mean() + 1.0)))
    # noise: horizontal neighbour differences inside one class, robust scale
    same = s.seg[:, 1:] == s.seg[:, :-1]
    diff = np.abs(np.diff(lum, axis=1))[same]
    if diff.size >= 32:
        f[6] = float(np.log(0.5 + float(np.median(diff)) / (0.6745 * np.sqrt(2))))
        from datagen.qc.photometric import alignment_scores, boundaries

        bx, by = boundaries(s.seg, s.inst if s.inst is not None else s.seg * 0, d, 0.15)
        if bx.sum() + by.sum() >= 10:
            edge = alignment_scores(s.rgb, bx, by, 0)[(0, 0)] / 3.0
            f[7] = float(np.log((edge + 1.0) / (float(np.mean(diff)) + 1.0)))
    return f


def frame_features(s) -> np.ndarray:
    """Log mean luminance, log robust noise sigma and log mean gradient of the frame."""
    f = np.full(len(FRAME_FEATURES), np.nan)
    if s.rgb is None or s.rgb.ndim != 3 or min(s.rgb.shape[:2]) < 2:
        return f
    lum = _lum(s.rgb)
    dx = np.abs(np.diff(lum, axis=1))
    sigma = float(np.median(dx)) / (0.6745 * np.sqrt(2))
    grad = float(dx.mean() + np.abs(np.diff(lum, axis=0)).mean())
    return np.array([np.log1p(float(lum.mean())), np.log(0.5 + sigma), np.log1p(grad)])


def clip_features(s, fn) -> np.ndarray | None:
    """``fn`` (:func:`image_features` or :func:`frame_features`) of each of a clip sample's
    reference frames (:func:`datagen.qc.image_degradation.reference_frames`: the same scene
    just before the key frame), with the key frame's labels, one row each; None for a single
    frame, a clip without such frames, or frames of another size than the key frame."""
    from types import SimpleNamespace

    from datagen.qc.image_degradation import reference_frames

    frames = reference_frames(s, CLIP_REF_FRAMES)
    if frames is None or s.rgb is None or s.rgb.ndim != 3 or frames.shape[1:3] != s.rgb.shape[:2]:
        return None
    return np.vstack([fn(SimpleNamespace(rgb=f, seg=s.seg, depth_m=s.depth_m, inst=s.inst))
                      for f in frames])


def _own(values: np.ndarray, i: int, j: int, sib: list[int],
         refs: list[np.ndarray | None] | None) -> tuple[np.ndarray, str]:  # fmt: skip
    """Sample ``i``'s own reference for statistic ``j``: its clip's earlier frames (``refs``)
    where they have a finite value, else its scenario's other frames ``sib``."""
    ref = refs[i] if refs is not None else None
    if ref is not None:
        own = ref[:, j][np.isfinite(ref[:, j])]
        if own.size:
            return own, "its clip's {} earlier frames"
    own = values[sib, j] if sib else np.zeros(0)
    return own[np.isfinite(own)], "its scenario's {} other frames"


def _unsteady(ref: np.ndarray) -> bool:
    """Whether a clip's earlier frames (:func:`clip_features` of :func:`frame_features`)
    disagree among themselves in any statistic by more than half its :data:`FRAME_LIMITS`
    range: a lightning flash in some of them, say."""
    for j, (lo, hi) in enumerate(FRAME_LIMITS):
        v = ref[:, j][np.isfinite(ref[:, j])]
        if v.size >= 2 and float(v.max() - v.min()) > (hi - lo) / 2:
            return True
    return False


def audio_features(s) -> np.ndarray:
    f = np.full(len(AUDIO_FEATURES), np.nan)
    if s.audio is None or s.sample_rate <= 0:
        return f
    x = s.audio.astype(np.float64)
    t = s.meta.get("time_s") if isinstance(s.meta, dict) else None
    if isinstance(t, int | float) and 0 <= t * s.sample_rate < x.size:
        x = x[x.size - int(t * s.sample_rate):]  # the clip before the scenario began is silent
    if x.size < 256:
        return f
    power = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(x.size))) ** 2
    freq = np.fft.rfftfreq(x.size, 1.0 / s.sample_rate)
    for i, (a, b) in enumerate(AUDIO_BANDS):
        f[i] = 10 * np.log10(power[(freq >= a) & (freq < b)].sum() / x.size**2 + 1e-15)
    return f


def _finite(v: np.ndarray | None) -> np.ndarray | None:
    return v if v is not None and bool(np.isfinite(v).all()) else None


def image_condition(meta: dict) -> np.ndarray | None:
    return _finite(_image_condition(meta))


def audio_condition(meta: dict) -> np.ndarray | None:
    return _finite(_audio_condition(meta))


def _image_condition(meta: dict) -> np.ndarray | None:
    """The json's weather (and where the sun is relative to the camera), scaled so that 1 unit
    is a clearly visible difference."""
    try:
        w = meta["weather"]
        ptype, pint = w.get("precip_type", "none"), float(w.get("precip_intensity", 0.0))
        alt = float(w["sun_altitude_deg"])
        fwd = np.array(meta["camera"]["T_world_cam"], dtype=np.float64).reshape(4, 4)[:2, 2]
        az = np.radians(float(w.get("sun_azimuth_deg", 180.0)))  # clockwise from world +y
        norm = float(np.hypot(*fwd)) or 1.0
        towards = (fwd[0] * np.sin(az) + fwd[1] * np.cos(az)) / norm  # cos(sun - heading)
        side = (fwd[0] * np.cos(az) - fwd[1] * np.sin(az)) / norm
        low = 1.5 if -6.0 < alt < 25.0 else 0.3
        return np.array([
            np.clip(alt, -15.0, 70.0) / 12.0, towards * low, side * low,
            float(w.get("cloudiness", 0.0)) * 2.0,
            np.log10(max(float(w["visibility_m"]), 10.0)) * 2.0,
            float(w.get("fog_density", 0.0)) * 3.0,
            float(w.get("dust", 0.0)) * 3.0,
            pint * 2.0 * (ptype == "rain"), pint * 3.0 * (ptype == "snow"),
            pint * 3.0 * (ptype == "hail"),
            float(w.get("snow_cover", 0.0)) * 2.0, float(w.get("road_wetness", 0.0)),
        ])  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def _audio_condition(meta: dict) -> np.ndarray | None:
    """The json's audible sources, ego state and weather, scaled like :func:`image_condition`."""
    try:
        ego, w = meta["ego"], meta["weather"]
        heard = set(meta["audio"]["events"])
        ptype, pint = w.get("precip_type", "none"), float(w.get("precip_intensity", 0.0))
        return np.array([
            *(1.5 * (src in heard) for src in SOUND_SOURCES),
            np.log1p(abs(float(ego["speed_mps"]))) * 1.5,
            float(ego["rpm"]) / 1500.0,
            float(ego.get("throttle", 0.0)),
            pint * 2.0 * (ptype == "rain"), pint * 2.0 * (ptype == "hail"),
            float(w.get("wind_speed_mps", 0.0)) / 5.0,
        ])  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def _z(x: float, ref: np.ndarray, floor: float) -> tuple[float, float, float]:
    med = float(np.median(ref))
    spread = max(1.4826 * float(np.median(np.abs(ref - med))), floor)
    return (x - med) / spread, med, spread


def _neighbourhoods(conds: list, groups: list, cfg: ConditionalConfig) -> list | None:
    """For each sample with a condition vector: ``(i, nb, siblings)``, its nearest
    neighbours by condition among other scenarios' samples (within
    ``max_neighbour_distance``, at most ``neighbours``, nearest first) and the other
    samples of its own scenario; None when too few samples have a condition."""
    from sklearn.neighbors import NearestNeighbors

    ok = np.array([c is not None for c in conds])
    if ok.sum() < cfg.min_samples:
        return None
    idx = np.flatnonzero(ok)
    X = np.vstack([conds[i] for i in idx])
    k = min(cfg.neighbours + cfg.max_siblings + 1, len(idx))
    dist, nbr = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    by_group: dict[object, list[int]] = {}
    for i in idx:
        by_group.setdefault(groups[i], []).append(int(i))
    out = []
    for row, i in enumerate(idx):
        cand, nd = idx[nbr[row]], dist[row]
        keep = (cand != i) & (nd <= cfg.max_neighbour_distance)
        keep &= np.array([groups[c] != groups[i] for c in cand])
        siblings = [j for j in by_group[groups[i]] if j != i]
        out.append((int(i), cand[keep][: cfg.neighbours], siblings))
    return out


def judge(values: np.ndarray, conds: list[np.ndarray | None], groups: list[object],
          names: tuple[str, ...], floors: tuple[float, ...], what: str, check: str,
          cfg: ConditionalConfig, same_condition: bool = True,
          z_threshold: float | None = None,
          refs: list[np.ndarray | None] | None = None) -> list[list[Flag]]:  # fmt: skip
    """Per sample, the statistics that lie far outside the spread of its neighbours in the
    json space (other scenarios) *and*, when it has some, of the other frames of its own
    scenario (those with the same json condition if ``same_condition``). So a scene that is
    merely unusual as a whole, in every frame, is not a finding; a frame that differs from
    its own scenario is. A clip sample with ``refs[i]`` (:func:`clip_features`) is compared
    with its own earlier frames instead of its scenario's other key frames (seconds apart:
    other scenes)."""
    zt = cfg.z_threshold if z_threshold is None else z_threshold
    n = len(values)
    out: list[list[Flag]] = [[] for _ in range(n)]
    found = _neighbourhoods(conds, groups, cfg)
    if found is None:
        return out
    for i, nb, siblings in found:
        sib = [j for j in siblings if not same_condition or np.allclose(conds[j], conds[i])]
        if nb.size < cfg.min_valid_neighbours:
            continue
        worst = None
        for j, name in enumerate(names):
            x, ref = values[i, j], values[nb, j]
            ref = ref[np.isfinite(ref)]
            if not np.isfinite(x) or ref.size < cfg.min_valid_neighbours:
                continue
            z, med, spread = _z(x, ref, floors[j])
            if abs(z) <= zt:
                continue
            own, whose = _own(values, i, j, sib, refs)
            if own.size >= 1 and abs(_z(x, own, floors[j])[0]) <= zt:
                continue  # the whole scenario looks like this: not this frame's fault
            if worst is None or abs(z) > abs(worst[0]):
                worst = (z, name, x, med, spread, ref.size, whose.format(own.size) * bool(own.size))
        if worst is not None:
            z, name, x, med, spread, m, whose = worst
            own = f", and unlike {whose}" if whose else ""
            out[i].append(Flag(check, f"{name} {x:.3g} vs {med:.3g} +- {spread:.2g} of {m} "
                               f"samples of other scenarios with similar {what}{own} "
                               f"(|z| {abs(z):.1f} > {zt:g})", float(x),
                               f"|z| <= {zt:g}"))  # fmt: skip
    return out


def judge_frames(values: np.ndarray, conds: list[np.ndarray | None], groups: list[object],
                 cfg: ConditionalConfig,
                 refs: list[np.ndarray | None] | None = None) -> list[list[Flag]]:  # fmt: skip
    """``frame_vs_scenario``: a frame whose brightness, noise or sharpness leaves the range
    its scenario's other frames allow (:data:`FRAME_LIMITS` around their median; those
    frames must agree among themselves, within half that range) *and* lies
    ``frame_population_z`` spreads off samples of other scenarios with similar weather, in
    the same direction (so a clean frame beside faulty ones is not blamed). A clip sample
    with ``refs[i]`` (:func:`clip_features`) is judged against its own earlier frames
    instead of its scenario's other key frames, and not at all when those disagree among
    themselves in any statistic (:func:`_unsteady`: the scene flickers, e.g. lightning)."""
    n = len(values)
    out: list[list[Flag]] = [[] for _ in range(n)]
    found = _neighbourhoods(conds, groups, cfg)
    if found is None:
        return out
    for i, nb, sib in found:
        mine = refs is not None and refs[i] is not None
        if (len(sib) < 2 and not mine) or nb.size < cfg.min_valid_neighbours:
            continue
        if mine and _unsteady(refs[i]):
            continue  # the scene itself flickers within the clip (lightning): no reference
        for j, name in enumerate(FRAME_FEATURES):
            x, (own, whose) = values[i, j], _own(values, i, j, sib, refs)
            ref = values[nb, j][np.isfinite(values[nb, j])]
            if not np.isfinite(x) or own.size < 2 or ref.size < cfg.min_valid_neighbours:
                continue
            d = x - float(np.median(own))
            lo, hi = FRAME_LIMITS[j]
            if lo <= d <= hi or float(own.max() - own.min()) > (hi - lo) / 2:
                continue  # within limits, or the other frames disagree among themselves
            z, med, spread = _z(x, ref, FRAME_FLOORS[j])
            if z * d <= 0 or abs(z) < cfg.frame_population_z:
                continue
            out[i].append(Flag("frame_vs_scenario", f"{name} {x:.2f} is {d:+.2f} from the median "
                               f"of {whose.format(own.size)} (allowed {lo:+.2f}.."
                               f"{hi:+.2f}) and {abs(z):.1f} spreads from {ref.size} samples of "
                               f"other scenarios with similar weather (>= "
                               f"{cfg.frame_population_z:g})", float(d),
                               f"{lo:+.2f}..{hi:+.2f} of the scenario"))  # fmt: skip
            break
    return out
