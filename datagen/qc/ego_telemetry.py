"""The ego's scalar telemetry and the road ahead against the ego's motion and the other frames.

- ``speed_vs_velocity``: ``ego.speed_mps`` is the length of the ground velocity
  ``ego.velocity`` (x, y) of the same frame (measured on 1 280 clean frames: equal to 1e-8
  m/s; the 3D length would differ by up to 9e-4 m/s, which the tolerance allows). Telemetry
  read out at another time than the pose and velocity (a lagging CAN read-out, a stale
  cache) disagrees by the speed change in between; the finding names both values and the
  frame of the scenario whose speed the stated one matches, if any.
- ``road_curvature``: ``road.curvature_ahead`` (the mean curvature of the next 40 m of road)
  changes smoothly along the road; in a scenario (frames 0.2 s apart) each frame's value
  follows the line through the other frames' values. A clip sample's key frame is judged
  against its own clip's earlier frames (``json.clip.ego.curvature_ahead``, 1 / rate apart):
  the scenario's other clips' key frames lie seconds apart, tens of metres of road, over
  which the 40 m mean is no line (clean clips 2 s apart: the last key frame 0.003-0.004 1/m
  off the line through the others, unflipped; their own frames 0.25 s apart lie on it). Clip
  samples without that list (older data sets) are judged against the other key frames.
  A frame whose value is off that line by more than ``curvature_tol`` plus 3 x the other
  frames' own scatter about it while its negation lies on it has the curve's sign flipped (a
  left/right convention mix-up); the finding names both values. Where the other frames
  scatter about their line by more than ``curvature_tol`` (one of them broken, a road too
  winding for a line) there is no line to judge against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class EgoTelemetryConfig:
    speed_tol_mps: float = 0.002  # |speed_mps - |velocity_xy|| allowed, plus ...
    speed_tol_rel: float = 1e-4  # ... this share of the speed
    curvature_tol: float = 0.001  # 1/m off the other frames' line
    flip_ratio: float = 3.0  # the negated value must fit the line this many times better

    def __post_init__(self) -> None:
        for name in ("speed_tol_mps", "speed_tol_rel", "curvature_tol", "flip_ratio"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"EgoTelemetryConfig.{name} must be > 0, got {value}")


@dataclass
class EgoSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    frame: int
    speed: float | None  # ego.speed_mps
    ground_speed: float | None  # |ego.velocity (x, y)|
    curvature: float | None  # road.curvature_ahead
    # a clip sample's earlier frames: (frame index, json.clip.ego.curvature_ahead)
    clip_curvature: list[tuple[int, float]] | None = None


def _number(d: object, name: str) -> float | None:
    v = d.get(name) if isinstance(d, dict) else None
    return float(v) if isinstance(v, int | float) and np.isfinite(v) else None


def summarize(s) -> EgoSummary | None:
    m = s.meta
    if not isinstance(m, dict):
        return None
    ego, road = m.get("ego"), m.get("road")
    ground = None
    if isinstance(ego, dict) and isinstance(ego.get("velocity"), list | tuple):
        try:
            v = np.asarray(ego["velocity"], dtype=np.float64).ravel()
            if v.size >= 2 and np.isfinite(v[:2]).all():
                ground = float(np.hypot(v[0], v[1]))
        except (TypeError, ValueError):
            ground = None
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    scenario = (str(m.get("split", s.shard.rsplit("-", 1)[0])), str(m.get("scenario_id")),
                str(cam.get("name", "")))
    frame = m.get("frame")
    return EgoSummary(s.key, s.shard, scenario, int(frame) if isinstance(frame, int) else -1,
                      _number(ego, "speed_mps"), ground, _number(road, "curvature_ahead"),
                      _clip_curvature(m.get("clip")))


def _clip_curvature(clip: object) -> list[tuple[int, float]] | None:
    """(frame index, curvature ahead) of a clip's frames before its key frame, from
    ``json.clip``; None when the clip does not list them (or is no clip)."""
    if not isinstance(clip, dict) or not isinstance(clip.get("ego"), dict):
        return None
    ks, idx = clip["ego"].get("curvature_ahead"), clip.get("frame_indices")
    if not (isinstance(ks, list) and isinstance(idx, list) and len(ks) == len(idx) >= 2):
        return None
    key = clip.get("key_frame", len(ks) - 1)
    key = key if isinstance(key, int) and 0 <= key < len(ks) else len(ks) - 1
    pts = [(i, float(k)) for n, (i, k) in enumerate(zip(idx, ks)) if n != key
           and isinstance(i, int) and isinstance(k, int | float) and np.isfinite(k)]
    return pts or None


def speed(f: EgoSummary, others: list[EgoSummary], cfg: EgoTelemetryConfig) -> Flag | None:
    if f.speed is None or f.ground_speed is None:
        return None
    diff = abs(f.speed - f.ground_speed)
    allowed = cfg.speed_tol_mps + cfg.speed_tol_rel * abs(f.ground_speed)
    if diff <= allowed:
        return None
    match = [o.frame for o in others if o.ground_speed is not None
             and abs(o.ground_speed - f.speed) <= allowed]  # fmt: skip
    where = (f"; it is frame {match[0]}'s ground speed {f.speed:.3f} m/s" if match else "")
    return flag("speed_vs_velocity", f"ego.speed_mps {f.speed:.3f} vs |ego.velocity| "
                f"{f.ground_speed:.3f} m/s of the same frame{where}; difference [m/s]", diff,
                f"allowed {cfg.speed_tol_mps:g} m/s + {cfg.speed_tol_rel:.1%}", ".3f")


def curvature(f: EgoSummary, others: list[EgoSummary], cfg: EgoTelemetryConfig) -> Flag | None:
    if f.clip_curvature is not None:  # a clip's own frames, 1 / rate apart
        pts, what = f.clip_curvature, "clip's"
    else:
        pts = [(o.frame, o.curvature) for o in others if o.curvature is not None
               and o.frame >= 0]  # fmt: skip
        what = "scenario's"
    if f.curvature is None or f.frame < 0 or len(pts) < 2:
        return None
    x, y = np.array(pts, dtype=np.float64).T
    if np.ptp(x) == 0:
        return None
    slope, icpt = np.polyfit(x, y, 1)
    scatter = float(np.abs(y - (slope * x + icpt)).max())
    pred = float(slope * f.frame + icpt)
    off, flipped = abs(f.curvature - pred), abs(-f.curvature - pred)
    if scatter > cfg.curvature_tol:
        return None
    if off <= cfg.curvature_tol + 3.0 * scatter or flipped * cfg.flip_ratio >= off:
        return None
    return flag("road_curvature", f"road.curvature_ahead {f.curvature:+.4f} 1/m where the "
                f"{what} {len(pts)} other frames lie on a line through {pred:+.4f} 1/m "
                f"(scatter {scatter:.4f}): the curve's sign is flipped; off by", off,
                f"allowed {cfg.curvature_tol:g} 1/m + 3 x the scatter, unless the negation fits "
                f"x{cfg.flip_ratio:g} better", ".4f")  # fmt: skip


def judge(summaries: list[EgoSummary], cfg: EgoTelemetryConfig) -> list[tuple[str, str, Flag]]:
    """(key, shard, flag) of frames whose telemetry or road disagree with the ego's motion or
    the scenario's other frames."""
    groups: dict[tuple[str, str, str], list[EgoSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        for i, f in enumerate(frames):
            others = frames[:i] + frames[i + 1:]
            for fl in (speed(f, others, cfg), curvature(f, others, cfg)):
                if fl is not None:
                    out.append((f.key, f.shard, fl))
    return out
