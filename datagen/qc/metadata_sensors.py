"""json road and ego fields against what seg.png and depth show: ``metadata_vs_sensors``.

:mod:`datagen.qc.road_view` measures the road in the image (its bend, its width and whether
the ego is on it). A small model fitted on clean data of another seed than QC is judged on
(``scripts/fit_metadata_sensors.py``, parameters in ``metadata_sensors_fit.json`` beside
this module, versioned) turns those into what the json should say, with the largest
disagreement seen on the clean data as the allowance:

- ``road.curvature_ahead`` and ``road.shape``: the curvature the road's bend gives
  (least squares, ``k = beta x bend``) against the json's curvature, and against the
  interval of curvatures the json's shape admits;
- ``road.lanes``: the road's width per lane;
- ``ego.off_road``: the road pixels just ahead of the ego (an ego on the road, driving along
  it, has at least the clean share; one off the road, over 1 m beyond its edge, cannot have
  all road ahead);
- ``audio.events``: the sound sources the ego and weather state require and the scenario's
  other frames list (:mod:`datagen.qc.sound_sources`, judged by :func:`judge_sources`).

Every finding names the json's value, the measurement and the clean frames' range, e.g.
"json road.shape straight (|k| < 0.002 1/m) but the road in seg/depth bends like k = +0.031
1/m (clean frames within 0.011 of their label)".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.qc import road_view, sound_sources
from datagen.qc.flag import Flag
from sim.road import STRAIGHT_CURVATURE

log = logging.getLogger(__name__)
CHECK = "metadata_vs_sensors"
FIT_FILE = Path(__file__).with_name("metadata_sensors_fit.json")
FIT_VERSION = 1
SHAPE_INTERVALS = {"straight": (-STRAIGHT_CURVATURE, STRAIGHT_CURVATURE),
                   "left_curve": (STRAIGHT_CURVATURE, np.inf),
                   "right_curve": (-np.inf, -STRAIGHT_CURVATURE)}  # fmt: skip


@dataclass(frozen=True)
class SensorFit:
    """Parameters fitted on clean data (see :func:`fit`)."""

    beta: float  # curvature per unit of road_view bend
    curvature_allowance: float  # 1/m
    min_rows: int  # road rows a bend needs to be judged
    width_per_lane: tuple[float, float]  # m, allowed
    min_under_car: float  # share of road pixels ahead of an ego on the road
    required_sources: tuple[sound_sources.Rule, ...] = ()
    source: dict = field(default_factory=dict)  # seed, samples, version


def load_fit(path: Path = FIT_FILE) -> SensorFit:
    d = json.loads(path.read_text())
    if d.get("version") != FIT_VERSION:
        raise ValueError(f"{path}: version {d.get('version')} != {FIT_VERSION}")
    p = d["params"]
    return SensorFit(float(p["beta"]), float(p["curvature_allowance"]), int(p["min_rows"]),
                     (float(p["width_per_lane"][0]), float(p["width_per_lane"][1])),
                     float(p["min_under_car"]),
                     tuple(tuple(r) for r in p.get("required_sources", [])),  # type: ignore
                     dict(d["source"]))  # fmt: skip


@dataclass(frozen=True)
class MetadataSensorsConfig:
    fit: SensorFit = field(default_factory=load_fit)
    margin: float = 1.5  # allowances are the clean extremes x this
    # the road-just-ahead test of ego.off_road needs the ego driving along the road: a car
    # stopped after a spin, on the road but facing its edge, sees no road ahead (clips, whose
    # scenarios run for seconds, have such frames)
    on_road_min_speed_mps: float = 3.0
    # a tyre slip angle at least this large: the car slides and may face across the road
    # (datagen.qc.ego_motion's sliding_slip_rad)
    sliding_slip_rad: float = 0.3

    def __post_init__(self) -> None:
        if not self.margin >= 1:
            raise ValueError(f"MetadataSensorsConfig.margin must be >= 1, got {self.margin}")
        if not self.sliding_slip_rad > 0:
            raise ValueError("MetadataSensorsConfig.sliding_slip_rad must be > 0, got "
                             f"{self.sliding_slip_rad}")  # fmt: skip
        if not self.on_road_min_speed_mps >= 0:
            raise ValueError("MetadataSensorsConfig.on_road_min_speed_mps must be >= 0, got "
                             f"{self.on_road_min_speed_mps}")  # fmt: skip


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def fit(samples: Iterable, min_rows: int = 8, quantile: float = 0.999) -> dict:
    """Fit :class:`SensorFit` on clean decoded samples; a JSON-ready dict with its source.

    The allowances are the clean ``quantile`` of each disagreement (the extremes, not
    scaled: :class:`MetadataSensorsConfig` ``margin`` widens them)."""
    bends, ks, widths, unders, seeds, n, metas = [], [], [], [], set(), 0, []
    for s in samples:
        view, meta = road_view.measure(s), s.meta
        if view is None or not isinstance(meta, dict):
            continue
        n += 1
        metas.append(meta)
        seeds.add(meta.get("dataset_seed"))
        road = meta["road"]
        if view.rows >= min_rows and np.isfinite(view.bend):
            bends.append(view.bend)
            ks.append(float(road["curvature_ahead"]))
        if np.isfinite(view.width_m):
            widths.append(view.width_m / float(road["lanes"]))
        if not meta["ego"].get("off_road", False):
            unders.append(view.under_car)
    b, k = np.array(bends), np.array(ks)
    beta = float(np.sum(b * k) / np.sum(b * b))
    allowance = float(np.quantile(np.abs(k - beta * b), quantile))
    w = np.array(widths)
    params = {"beta": round(beta, 6), "curvature_allowance": round(allowance, 6),
              "min_rows": min_rows,
              "width_per_lane": [round(float(np.quantile(w, 1 - quantile)), 4),
                                 round(float(np.quantile(w, quantile)), 4)],
              "min_under_car": round(float(np.quantile(unders, 1 - quantile)), 4),
              "required_sources": [list(r) for r in sound_sources.fit(metas)]}  # fmt: skip
    log.info("fitted %s on %d samples", params, n)
    return {"version": FIT_VERSION, "params": params,
            "source": {"samples": n, "dataset_seeds": sorted(x for x in seeds if x is not None),
                       "quantile": quantile}}  # fmt: skip


def _interval_gap(k: float, lo: float, hi: float) -> float:
    return max(lo - k, k - hi, 0.0)


def road_geometry(meta: dict, view: road_view.RoadView, f: SensorFit,
                  cfg: MetadataSensorsConfig) -> str | None:  # fmt: skip
    road = meta.get("road", {})
    if view.rows < f.min_rows or not np.isfinite(view.bend):
        return None
    seen, allow = f.beta * view.bend, f.curvature_allowance * cfg.margin
    k, shape = _num(road.get("curvature_ahead")), road.get("shape")
    if k is not None and abs(k - seen) > allow:
        return (
            f"json road.curvature_ahead {k:+.4f} 1/m but the road in seg/depth bends like "
            f"{seen:+.4f} 1/m over {view.rows} rows (clean frames within {allow:.4f})"
        )
    if shape in SHAPE_INTERVALS and _interval_gap(seen, *SHAPE_INTERVALS[shape]) > allow:
        lo, hi = SHAPE_INTERVALS[shape]
        return (f"json road.shape {shape} (curvature {lo:+g}..{hi:+g} 1/m) but the road in "
                f"seg/depth bends like {seen:+.4f} 1/m (clean frames within {allow:.4f} of "
                f"their label)")  # fmt: skip
    return None


def road_width(meta: dict, view: road_view.RoadView, f: SensorFit,
               cfg: MetadataSensorsConfig) -> str | None:  # fmt: skip
    lanes = _num(meta.get("road", {}).get("lanes"))
    if lanes is None or lanes <= 0 or not np.isfinite(view.width_m):
        return None
    lo, hi = f.width_per_lane[0] / cfg.margin**0.25, f.width_per_lane[1] * cfg.margin**0.25
    per = view.width_m / lanes
    if lo <= per <= hi:
        return None
    return (
        f"json road.lanes {lanes:g} but the road in seg/depth is {view.width_m:.1f} m wide: "
        f"{per:.2f} m per lane (clean frames {lo:.2f}..{hi:.2f})"
    )


def _drives_with_grip(ego: dict, cfg: MetadataSensorsConfig) -> bool:
    """Whether the ego drives (``on_road_min_speed_mps`` or faster) with gripping tyres (every
    slip angle under ``sliding_slip_rad``): only then does its heading follow its course, so
    that what lies just ahead of it says where it is. A stopped or sliding car beside the road
    may face the road, one on it may face its edge."""
    speed = _num(ego.get("speed_mps"))
    if speed is None or abs(speed) < cfg.on_road_min_speed_mps:
        return False
    slip = ego.get("wheel_slip")
    angles = slip.get("angle") if isinstance(slip, dict) else None
    return not (isinstance(angles, list) and any(
        (a := _num(x)) is not None and abs(a) >= cfg.sliding_slip_rad for x in angles))


def _along_the_road(meta: dict, view: road_view.RoadView, f: SensorFit,
                    cfg: MetadataSensorsConfig) -> bool:  # fmt: skip
    """Whether the road must lie just ahead of an ego the json puts on the road: it drives
    (a stopped car may face the edge), its tyres grip (a sliding car's heading is not its
    course, let alone the road's: it may face across the road), and its centre lies inside
    the narrowest road of its lane count the clean frames show by more than half the width
    of the ground the patch sees (``ego.off_road`` turns true only ``OFFROAD_MARGIN_M``
    beyond the edge: a centre nearer the edge, or between it and that margin, heading a
    little outwards, sees the patch off the road). A centre beyond the widest road plus that
    margin contradicts ``off_road`` false whatever the heading and is judged."""
    ego, road = meta.get("ego", {}), meta.get("road", {})
    if not _drives_with_grip(ego, cfg):
        return False
    lateral, lanes = _num(road.get("lateral_offset_m")), _num(road.get("lanes"))
    if lateral is None or lanes is None or lanes <= 0:
        return True
    from sim.scenario import OFFROAD_MARGIN_M  # (imports pybullet: only when needed)

    narrowest, widest = (lanes * w / 2 for w in f.width_per_lane)
    half = view.patch_half_m if np.isfinite(view.patch_half_m) else 0.0
    if abs(lateral) > widest + OFFROAD_MARGIN_M:
        return True
    patch = lateral + _drift_ahead(meta, view.patch_ahead_m)
    return max(abs(lateral), abs(patch)) <= narrowest - half


def _drift_ahead(meta: dict, ahead_m: float) -> float:
    """How far sideways of the ego's centre the patch ``ahead_m`` in front of it lies, from a
    clip's course: a car heading off the road (its lateral offset changing by ``d`` metres
    over the last frame interval while it travels ``v / rate`` metres) crosses the road at
    the angle ``asin(d rate / v)``, and the patch ahead lies ``ahead_m`` along that heading.
    0 for single frames (no course in the json)."""
    clip = meta.get("clip")
    ego = clip.get("ego") if isinstance(clip, dict) else None
    if not isinstance(ego, dict) or not np.isfinite(ahead_m):
        return 0.0
    lat, speed = ego.get("lateral_offset_m"), ego.get("speed_mps")
    rate = _num(clip.get("rate_hz"))
    if not (isinstance(lat, list) and isinstance(speed, list) and len(lat) >= 2 and speed
            and rate):  # fmt: skip
        return 0.0
    a, b, v = _num(lat[-2]), _num(lat[-1]), _num(speed[-1])
    if a is None or b is None or v is None or abs(v) < 1e-3:
        return 0.0
    sine = float(np.clip((b - a) * rate / abs(v), -1.0, 1.0))
    return ahead_m * sine if np.isfinite(sine) else 0.0


def on_road(meta: dict, view: road_view.RoadView, f: SensorFit,
            cfg: MetadataSensorsConfig) -> str | None:  # fmt: skip
    off = meta.get("ego", {}).get("off_road")
    least = f.min_under_car / cfg.margin
    if off is False and view.under_car < least and _along_the_road(meta, view, f, cfg):
        return (
            f"json ego.off_road false but only {view.under_car:.0%} of the image just ahead "
            f"of the ego is road (clean frames on the road >= {least:.0%})"
        )
    if off is True and view.under_car >= 1.0 and _drives_with_grip(meta.get("ego", {}), cfg):
        return (
            "json ego.off_road true but the image just ahead of the ego is all road "
            "(the ego's centre is over 1 m beyond the road's edge when off the road)"
        )
    return None


RULES = (road_geometry, road_width, on_road)


def judge_sources(items: list[sound_sources.SourcesSummary],
                  cfg: MetadataSensorsConfig) -> list[tuple[str, str, Flag]]:  # fmt: skip
    """Frames whose audio.events lack a source their state requires (the fitted rules)."""
    return sound_sources.judge(items, cfg.fit.required_sources, cfg.margin, CHECK)


def check(s, cfg: MetadataSensorsConfig) -> Flag | None:
    """The first json road or ego field that the sample's seg.png and depth contradict."""
    if not isinstance(s.meta, dict):
        return None
    view, f = road_view.measure(s), cfg.fit
    for rule in RULES if view is not None else ():
        try:
            why = rule(s.meta, view, f, cfg)
        except (AttributeError, KeyError, TypeError, ValueError):
            why = None
        if why is not None:
            return Flag(CHECK, why, None, f"fitted on clean data, seeds "
                        f"{f.source.get('dataset_seeds')}")  # fmt: skip
    return None
