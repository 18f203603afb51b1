"""The json's road block against the scenario's road, rebuilt from the seed: ``road_frame``.

A scenario's road is a pure function of its seed and road config (:func:`sim.road.generate_road`);
datagen builds every scenario with :class:`sim.scenario.ScenarioConfig`'s road settings and only
the seed (``json.seed``) and the kind (``json.road.kind``) drawn per scenario
(:func:`datagen.builder.scenario_config`). So the road is rebuilt here, once per scenario
(cached), and the fields :meth:`sim.road.Road.describe` derived from it are recomputed.

Identities (exact in the simulator: on 2 600 clean frames of seed 4040 the lateral offset agrees
to 5e-8 m and ``curvature_ahead`` to 1e-11 1/m):

- **Lateral offset.** ``road.lateral_offset_m`` is the signed distance (left positive) of the
  ego's centre (``ego.position`` x, y) from the road's centre line: ``Road.project``. An offset
  measured from a lane's centre, from a road edge, in feet, with the other sign or of another
  frame breaks it.
- **Curvature ahead.** ``road.curvature_ahead`` is the mean centre-line curvature over the
  40 m ahead of the ego's station.
- **Lane index.** ``road.lane_index`` is the lane whose centre is nearest the lateral offset,
  lane 0 the rightmost (``Road.lane_offsets``).
- **Road config.** ``road.lanes`` and ``road.speed_limit_mps`` are the scenario's
  ``RoadConfig`` values: a count per carriageway, a limit in km/h or mph breaks them.

The rebuild is trusted only where it can be: an unknown road kind, a seed that is not a
non-negative integer or an ego position that is not a finite (x, y) leaves the sample alone.
Of a clip sample, the json's road block describes the key (last) frame, as of a single frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from datagen.qc.flag import Flag, flag

CHECK = "road_frame"
AHEAD_M = np.linspace(0.0, 40.0, 9)  # sim.road.Road.describe's window
HINT_STEP_M = 20.0  # near_s hints tried where the nearest centre-line point is ambiguous


@dataclass(frozen=True)
class RoadFrameConfig:
    lateral_tol_m: float = 0.01  # float rounding is 5e-8 m
    curvature_tol: float = 1e-6  # 1/m; float rounding is 1e-11
    speed_limit_tol: float = 1e-6  # relative

    def __post_init__(self) -> None:
        for name in ("lateral_tol_m", "curvature_tol", "speed_limit_tol"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"RoadFrameConfig.{name} must be > 0, got {value!r}")


@lru_cache(maxsize=1)
def _scenario_defaults() -> tuple[float, int, float, float, float]:
    """(length, lanes, lane width, curviness, speed limit) datagen's scenarios are built with."""
    from sim.road import RoadConfig
    from sim.scenario import ScenarioConfig

    d = ScenarioConfig()
    cfg: RoadConfig = d.road_config()
    return (cfg.length_m, cfg.lanes, cfg.lane_width_m, cfg.curviness,
            float(cfg.speed_limit_mps))  # fmt: skip


@lru_cache(maxsize=64)
def scenario_road(seed: int, kind: str):
    """The road of a datagen scenario with ``seed`` and road ``kind`` (None for an unknown
    kind)."""
    from sim.road import RoadConfig, generate_road
    from sim.vocabulary import ROAD_KINDS

    if kind not in ROAD_KINDS:
        return None
    length, lanes, width, curviness, _ = _scenario_defaults()
    cfg = RoadConfig(kind=kind, length_m=length, lanes=lanes, lane_width_m=width,
                     curviness=curviness)  # fmt: skip
    return generate_road(cfg, seed)


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _branches(road, xy: np.ndarray) -> list[tuple[float, float]]:
    """(station, lateral) of the nearest centre-line point near each station every
    ``HINT_STEP_M``: the simulator tracks the ego's station, so where the road passes close to
    itself its offset may be from another branch than the globally nearest one."""
    out = []
    for s in np.arange(0.0, road.length, HINT_STEP_M):
        q = road.project(xy, near_s=float(s))
        out.append((float(q.s), float(q.lateral)))
    return out


def check(meta: dict, cfg: RoadFrameConfig) -> list[Flag]:
    road_j, ego = meta.get("road"), meta.get("ego")
    seed = meta.get("seed")
    if not isinstance(road_j, dict) or not isinstance(ego, dict):
        return []
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return []
    pos = ego.get("position")
    if not isinstance(pos, list) or len(pos) < 2 or any(_num(v) is None for v in pos[:2]):
        return []
    kind = road_j.get("kind")
    road = scenario_road(seed, kind) if isinstance(kind, str) else None
    if road is None:
        return []
    _, lanes_cfg, width, _, limit_cfg = _scenario_defaults()
    found: list[Flag] = []
    lanes, limit = road_j.get("lanes"), _num(road_j.get("speed_limit_mps"))
    if isinstance(lanes, int) and not isinstance(lanes, bool) and lanes != lanes_cfg:
        found.append(flag(CHECK, f"json road.lanes where the scenario's road config has "
                          f"{lanes_cfg}:", lanes, f"must be {lanes_cfg}", "d"))  # fmt: skip
    if limit is not None and abs(limit - limit_cfg) > cfg.speed_limit_tol * limit_cfg:
        found.append(flag(CHECK, "json road.speed_limit_mps where the scenario's road config "
                          f"has {limit_cfg:g} m/s:", limit, f"must be {limit_cfg:g}",
                          ".4g"))  # fmt: skip
    xy = np.array([float(pos[0]), float(pos[1])])
    lateral = _num(road_j.get("lateral_offset_m"))
    p = road.project(xy)
    station, lat = float(p.s), float(p.lateral)
    if lateral is not None:
        off = abs(lateral - lat)
        if off > cfg.lateral_tol_m:
            near = min(_branches(road, xy), key=lambda c: abs(lateral - c[1]))
            if abs(lateral - near[1]) <= cfg.lateral_tol_m:
                station, lat = near  # the road passes close to itself: another branch
            else:
                found.append(flag(CHECK, f"json road.lateral_offset_m {lateral:+.3f} m where "
                                  f"ego.position lies {lat:+.3f} m from the scenario's road "
                                  "centre line (rebuilt from the seed): off by [m]", off,
                                  f"allowed {cfg.lateral_tol_m:g} m"))  # fmt: skip
        offsets = -lanes_cfg * width / 2.0 + (np.arange(lanes_cfg) + 0.5) * width
        want = int(np.argmin(np.abs(offsets - lateral)))
        lane = road_j.get("lane_index")
        if isinstance(lane, int) and not isinstance(lane, bool) and lane != want:
            found.append(flag(CHECK, f"json road.lane_index where lateral offset {lateral:+.2f}"
                              f" m is nearest lane {want}'s centre:", lane,
                              f"must be {want}", "d"))  # fmt: skip
    ahead = _num(road_j.get("curvature_ahead"))
    if ahead is not None:
        want_k = float(np.mean(road.curvature_ahead(station, AHEAD_M)))
        if abs(ahead - want_k) > cfg.curvature_tol:
            found.append(flag(CHECK, f"json road.curvature_ahead {ahead:+.5f} 1/m where the "
                              f"scenario's road has {want_k:+.5f} 1/m over the 40 m ahead of "
                              "the ego: off by", abs(ahead - want_k),
                              f"allowed {cfg.curvature_tol:g} 1/m"))  # fmt: skip
    return found
