"""Consecutive frames of a scenario against each other and against the ego's motion.

Frames of one scenario and camera (same split, ``scenario_id`` and camera name) are checked
as a sequence, and a finding is pinned on the frame that disagrees:

- ``motion_speed``: the ego's position moves by about ``speed x dt`` between frames; a frame's
  json speed must fit the displacement of at least one adjacent interval (allowing for its
  acceleration over half the interval);
- ``motion_yaw``: likewise the heading change against the yaw rate (for clip samples, whose
  key frames lie seconds apart, the change is known up to whole turns: of ``wrap(dyaw) +
  2 pi k`` the one nearest the json's yaw rates, e.g. a spinning car's);
- ``camera_rig``: the camera is bolted to the car: its heading relative to the ego's yaw and
  its offset from the ego's position (in the car's frame) stay put across the scenario and
  match the camera preset's mount;
- ``stale_frame``: an image (nearly) identical to another frame's while the car moved;
- ``damage``: damage never decreases;
- ``scenario_constants``: what a scenario fixes (its seeds, weather, driver, road kind, the
  camera's intrinsics) is the same in every frame; a frame that disagrees with the others'
  majority is flagged.

A frame is blamed by leave one out (:mod:`datagen.qc.blame`), not as the later or earlier
frame of a pair: a first or last frame whose only interval runs to a flagged neighbour is
cleared when it fits the interval beyond that neighbour; repeated images and falling damage
blame the frame at odds with the most others, and of two frames sharing one image the one
whose place the image fits worse (nearer frames look more alike); two frames that disagree
only with each other are reported as a pair, neither singled out (flagged only where another
check flags the frame).

The frame's brightness, noise and sharpness against the scenario's other frames are judged
in :mod:`datagen.qc.conditional` (``frame_vs_scenario``), which also needs samples of other
scenarios to confirm them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from datagen.qc.access import window_range, window_speeds
from datagen.qc.blame import leave_one_out
from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class TemporalConfig:
    speed_tol_mps: float = 0.4
    speed_tol_rel: float = 0.05
    yaw_tol_rad_s: float = 0.4
    yaw_tol_rel: float = 0.5
    heading_tol_deg: float = 1.0
    offset_tol_m: float = 0.35
    mount_tol_m: float = 0.4
    stale_mad: float = 0.02  # mean |difference| [DN] below which two frames are the same image
    stale_min_move_m: float = 0.5
    thumb_px: int = 64


@dataclass
class FrameSummary:
    key: str
    shard: str
    scenario: tuple[str, int, str]
    frame: int
    time_s: float
    position: np.ndarray
    speed: float
    accel: float
    yaw: float
    yaw_rate: float
    T: np.ndarray | None
    damage: dict
    thumb: np.ndarray | None
    constants: dict[str, str]
    # a clip sample's window: (lowest, highest) |speed| of its frames (json.clip.ego.speed_mps)
    window_speeds: tuple[float, float] | None = None
    window_yaw_rates: tuple[float, float] | None = None  # likewise json.clip.ego.yaw_rate


CONSTANT_FIELDS = (("seed",), ("dataset_seed",), ("weather",), ("driver", "style"),
                   ("road", "kind"), ("camera", "fx"), ("camera", "fy"), ("camera", "cx"),
                   ("camera", "cy"), ("camera", "width"), ("camera", "height"))  # fmt: skip


def _constants(meta: dict) -> dict[str, str]:
    import json

    out = {}
    for path in CONSTANT_FIELDS:
        v: object = meta
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        out[".".join(path)] = json.dumps(v, sort_keys=True)
    return out


def _thumb(rgb: np.ndarray | None, size: int) -> np.ndarray | None:
    if rgb is None or rgb.ndim != 3:
        return None
    h, w = rgb.shape[:2]
    fy, fx = max(1, h // size), max(1, w // size)
    x = rgb[: h - h % fy, : w - w % fx, :3].astype(np.float32)
    return x.reshape(x.shape[0] // fy, fy, x.shape[1] // fx, fx, 3).mean(axis=(1, 3))


def summarize(s, cfg: TemporalConfig) -> FrameSummary | None:
    """What the sequence checks need of one sample (None when its json lacks it)."""
    m = s.meta
    try:
        ego, cam = m["ego"], m["camera"]
        split = str(m.get("split", s.shard.rsplit("-", 1)[0]))
        T = np.array(cam["T_world_cam"], dtype=np.float64).reshape(4, 4)
        return FrameSummary(
            s.key, s.shard, (split, int(m["scenario_id"]), str(cam.get("name", ""))),
            int(m["frame"]), float(m["time_s"]), np.array(ego["position"], dtype=np.float64),
            float(ego["speed_mps"]), float(ego.get("accel_mps2", 0.0)), float(ego["yaw"]),
            float(ego.get("yaw_rate", 0.0)), T if np.isfinite(T).all() else None,
            dict(ego.get("damage", {})), _thumb(s.rgb, cfg.thumb_px), _constants(m),
            window_speeds(m), window_range(m, "yaw_rate"))  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError):
        return None



def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _rig(f: FrameSummary) -> tuple[float, np.ndarray] | None:
    """(camera heading - ego yaw [rad], camera position - ego position in the ego's yaw frame)."""
    if f.T is None:
        return None
    fwd = f.T[:3, 2]
    heading = math.atan2(fwd[1], fwd[0])
    d = f.T[:3, 3] - f.position
    c, s = math.cos(f.yaw), math.sin(f.yaw)
    return _wrap(heading - f.yaw), np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])


def _speed_gap(f: FrameSummary, g: FrameSummary, cfg: TemporalConfig
               ) -> tuple[float, float] | None:  # fmt: skip
    """(speed [m/s] the ego moved at between ``f`` and ``g``, the tolerance for ``f``'s json
    speed against it); None when the two share a time."""
    dt = abs(g.time_s - f.time_s)
    if dt <= 1e-6:
        return None
    v = float(np.linalg.norm(g.position[:2] - f.position[:2])) / dt
    return v, abs(f.accel) * dt / 2 + cfg.speed_tol_mps + cfg.speed_tol_rel * abs(f.speed)


def _miss(value: float, own: float, *windows: tuple[float, float] | None) -> float:
    """How far ``value`` lies outside the range of ``own`` and the clip ``windows`` (None for
    a single frame): 0 inside it."""
    lo = hi = own
    for w in windows:
        if w is not None:
            lo, hi = min(lo, w[0]), max(hi, w[1])
    return max(lo - value, value - hi, 0.0)


def _speed_miss(f: FrameSummary, g: FrameSummary, v: float) -> float:
    """How far the speed ``v`` moved between ``f`` and ``g`` lies from ``f``'s json speed or,
    for clip samples, from the speeds of the two windows (which cover the time between
    their key frames when clips tile: a car that braked to a stop in the window moved at
    more than its key frame's speed)."""
    return _miss(v, abs(f.speed), f.window_speeds, g.window_speeds)


def _speed_fits(f: FrameSummary, g: FrameSummary, cfg: TemporalConfig) -> bool:
    gap = _speed_gap(f, g, cfg)
    return gap is not None and _speed_miss(f, g, gap[0]) <= gap[1]


def _yaw_rate(f: FrameSummary, g: FrameSummary) -> float | None:
    """The heading change rate between ``f`` and ``g`` of the turn, of those the two
    headings allow (the change is known up to whole turns: ``wrap(dyaw) + 2 pi k``), that
    lies nearest the json yaw rates (``f``'s and the clip windows'), for clip samples,
    whose key frames lie seconds apart: a car spinning at 1.6 rad/s turns by more than pi
    between key frames 2 s apart, which the wrapped change alone calls the opposite
    direction. Single frames (0.2 s apart: the next turn would be 31 rad/s) take the
    wrapped change."""
    dt = g.time_s - f.time_s
    if abs(dt) <= 1e-6:
        return None
    base = _wrap(g.yaw - f.yaw)
    if f.window_yaw_rates is None and g.window_yaw_rates is None:
        return base / dt
    turns = (base + 2 * math.pi * k for k in (-1, 0, 1))
    return min((x / dt for x in turns), key=lambda r: (_yaw_miss(f, g, r), abs(r)))


def _yaw_miss(f: FrameSummary, g: FrameSummary, rate: float) -> float:
    """How far the heading change rate between ``f`` and ``g`` lies from ``f``'s json yaw
    rate or, for clip samples, from the yaw rates of the two windows."""
    return _miss(rate, f.yaw_rate, f.window_yaw_rates, g.window_yaw_rates)


def _yaw_fits(f: FrameSummary, g: FrameSummary, cfg: TemporalConfig) -> bool:
    rate = _yaw_rate(f, g)
    tol = cfg.yaw_tol_rad_s + cfg.yaw_tol_rel * abs(f.yaw_rate)
    return rate is not None and _yaw_miss(f, g, rate) <= tol


def _leave_out_neighbours(frames: list[FrameSummary], found: dict[int, Flag],
                          fits: Callable[[FrameSummary, FrameSummary], bool]
                          ) -> dict[int, Flag]:  # fmt: skip
    """``found`` without the frames a flagged neighbour explains (leave one out): a frame
    whose only interval runs to a flagged neighbour ``j`` (the first or last frame) is
    consistent when it fits the interval to the frame beyond ``j``; then ``j`` alone is to
    blame. Two frames with no third that flag each other are marked unresolved."""
    if len(frames) == 2 and len(found) == 2:
        a, b = frames
        return {i: replace(fl, unresolved=True, reason=f"{fl.reason}; frames {a.frame} and "
                           f"{b.frame} disagree, the scenario has no third frame to single "
                           "either out") for i, fl in found.items()}  # fmt: skip
    out = {}
    for i, fl in found.items():
        beyond = [2 * j - i for j in (i - 1, i + 1) if j in found]
        if any(0 <= k < len(frames) and fits(frames[i], frames[k]) for k in beyond):
            continue
        out[i] = fl
    return out


def _motion(frames: list[FrameSummary], cfg: TemporalConfig) -> dict[int, Flag]:
    found: dict[int, Flag] = {}
    for i, f in enumerate(frames):
        fits, seen, worst = False, False, None
        for j in (i - 1, i + 1):
            if not 0 <= j < len(frames):
                continue
            gap = _speed_gap(f, frames[j], cfg)
            if gap is None:
                continue
            seen, (v, tol) = True, gap
            miss = _speed_miss(f, frames[j], v)
            if miss <= tol:
                fits = True
            elif worst is None or miss < worst[3]:
                worst = (v, tol, j, miss)
        if seen and not fits and worst is not None:
            v, tol, j, miss = worst
            found[i] = flag("motion_speed", f"json speed {f.speed:.2f} m/s vs {v:.2f} m/s moved "
                            f"between frames {f.frame} and {frames[j].frame}: difference",
                            miss, f"allowed {tol:.2f} m/s")  # fmt: skip
    return _leave_out_neighbours(frames, found, lambda f, g: _speed_fits(f, g, cfg))


def _yaw(frames: list[FrameSummary], cfg: TemporalConfig) -> dict[int, Flag]:
    found: dict[int, Flag] = {}
    for i, f in enumerate(frames):
        fits, seen, rate, miss = False, False, 0.0, 0.0
        for j in (i - 1, i + 1):
            if not 0 <= j < len(frames):
                continue
            r = _yaw_rate(f, frames[j])
            if r is None:
                continue
            seen, rate, miss = True, r, _yaw_miss(f, frames[j], r)
            if _yaw_fits(f, frames[j], cfg):
                fits = True
        if seen and not fits:
            found[i] = flag("motion_yaw", f"json yaw rate {f.yaw_rate:.3f} rad/s vs heading change "
                            f"{rate:.3f} rad/s: difference", miss,
                            f"allowed {cfg.yaw_tol_rad_s} rad/s + {cfg.yaw_tol_rel:.0%}")
    return _leave_out_neighbours(frames, found, lambda f, g: _yaw_fits(f, g, cfg))


def _camera_rig(frames: list[FrameSummary], cfg: TemporalConfig) -> dict[int, Flag]:
    from sim.camera import CAMERA_PRESETS

    rigs = [_rig(f) for f in frames]
    found: dict[int, Flag] = {}
    mount = CAMERA_PRESETS.get(frames[0].scenario[2])
    for i, r in enumerate(rigs):
        if r is None:
            continue
        head, off = r
        others = [x for k, x in enumerate(rigs) if k != i and x is not None]
        if mount is not None:
            _, (mx, my, _), (_, _, myaw) = mount
            dh = math.degrees(_wrap(head - myaw))
            if abs(dh) > cfg.heading_tol_deg:
                found[i] = flag("camera_rig", "camera heading - ego yaw - mount yaw [deg]", dh,
                                f"allowed +-{cfg.heading_tol_deg}")  # fmt: skip
                continue
            dxy = float(np.hypot(off[0] - mx, off[1] - my))
            if dxy > cfg.mount_tol_m:
                found[i] = flag("camera_rig", f"camera offset from the ego ({off[0]:.2f}, "
                                f"{off[1]:.2f}) m vs mount ({mx}, {my}) m: distance", dxy,
                                f"allowed {cfg.mount_tol_m} m")  # fmt: skip
                continue
        if len(others) >= 2:
            med_h = float(np.median([x[0] for x in others]))
            med_o = np.median(np.array([x[1] for x in others]), axis=0)
            dh = math.degrees(_wrap(head - med_h))
            do = float(np.linalg.norm(off - med_o))
            if abs(dh) > cfg.heading_tol_deg:
                found[i] = flag("camera_rig", "camera heading relative to the car vs the "
                                "scenario's other frames [deg]", dh,
                                f"allowed +-{cfg.heading_tol_deg}")  # fmt: skip
            elif do > cfg.offset_tol_m:
                found[i] = flag("camera_rig", "camera offset from the car vs the scenario's other "
                                "frames [m]", do, f"allowed {cfg.offset_tol_m}")  # fmt: skip
    return found


def _pair_flags(frames: list[FrameSummary], conflicts: dict[tuple[int, int], Flag]
                ) -> dict[int, Flag]:  # fmt: skip
    """Per frame, a flag from pairwise ``conflicts`` (``(i, j) -> flag for i``, ``i > j``):
    the frames :func:`leave_one_out` singles out, with their worst conflict and how many
    frames they are at odds with; a frame of a lone pair gets the pair's flag marked
    unresolved, naming both frames."""
    blame = leave_one_out(conflicts)
    found: dict[int, Flag] = {}
    for i in blame.culprits:
        mine = [(j, fl) for (a, b), fl in conflicts.items() for j in (a, b) if i in (a, b)
                and j != i]  # fmt: skip
        j, fl = max(mine, key=lambda x: x[1].value or 0.0)
        found[i] = replace(fl, reason=f"frame {frames[i].frame}: {fl.reason}; at odds with "
                           f"frames {sorted({frames[k].frame for k, _ in mine})}, the "
                           "scenario's others agree without it")  # fmt: skip
    for a, b in blame.pairs:
        fl = conflicts.get((a, b)) or conflicts[(b, a)]
        note = (f"; frames {frames[a].frame} and {frames[b].frame} disagree with each other "
                "only: neither can be singled out")
        for i in (a, b):
            found[i] = replace(fl, reason=fl.reason + note, unresolved=True)
    return found


def _fits_place(frames: list[FrameSummary], g: int, pair: tuple[int, int]) -> int:
    """How well frame ``g``'s image fits ``g``'s place among the frames outside ``pair``: over
    pairs of those frames, +1 where the one nearer ``g``'s position looks more like the image
    (smaller mean difference), -1 where it looks less like it."""
    rest = [k for k in range(len(frames)) if k not in pair and frames[k].thumb is not None
            and frames[k].thumb.shape == frames[g].thumb.shape]  # fmt: skip
    p, x = frames[g].position, frames[g].thumb
    near = {k: float(np.linalg.norm(frames[k].position - p)) for k in rest}
    look = {k: float(np.abs(frames[k].thumb - x).mean()) for k in rest}
    score = 0
    for a in rest:
        for b in rest:
            if near[a] < near[b]:
                score += int(np.sign(look[b] - look[a]))
    return score


def _stale(frames: list[FrameSummary], cfg: TemporalConfig) -> dict[int, Flag]:
    """Frames whose image repeats another frame's although the car moved. Of a lone pair the
    copy is the frame whose place the image fits worse (the scenario's other frames look more
    alike the nearer they are to where it was taken); where the places do not tell, the pair
    is unresolved."""
    conflicts: dict[tuple[int, int], Flag] = {}
    for i, f in enumerate(frames):
        if f.thumb is None:
            continue
        for j in range(i):
            g = frames[j]
            if g.thumb is None or g.thumb.shape != f.thumb.shape:
                continue
            moved = float(np.linalg.norm(f.position - g.position))
            if moved < cfg.stale_min_move_m:
                continue
            mad = float(np.abs(f.thumb - g.thumb).mean())
            if mad < cfg.stale_mad:
                conflicts[(i, j)] = flag(
                    "stale_frame", f"images of frames {g.frame} and {f.frame} repeat each other "
                    f"although the car moved {moved:.1f} m: mean |difference| [DN]", mad,
                    f"must be >= {cfg.stale_mad}")  # fmt: skip
    found = _pair_flags(frames, conflicts)
    for a, b in leave_one_out(conflicts).pairs:
        fit = {g: _fits_place(frames, g, (a, b)) for g in (a, b)}
        if fit[a] == fit[b]:
            continue
        copy, real = (a, b) if fit[a] < fit[b] else (b, a)
        fl = conflicts.get((a, b)) or conflicts[(b, a)]
        del found[real]
        found[copy] = replace(fl, reason=f"{fl.reason}; the image fits frame "
                              f"{frames[real].frame}'s place among the other frames "
                              f"(agreement {fit[real]:+d} vs {fit[copy]:+d} at frame "
                              f"{frames[copy].frame}'s): frame {frames[copy].frame} repeats it",
                              unresolved=False)  # fmt: skip
    return found


def _damage(frames: list[FrameSummary]) -> dict[int, Flag]:
    """Frames whose damage falls against another frame's: the frame at odds with the most
    others is blamed (not the later of a pair); a lone pair is unresolved."""
    conflicts: dict[tuple[int, int], Flag] = {}
    for i in range(len(frames)):
        for j in range(i):
            a, b = frames[j].damage, frames[i].damage
            drop = max((float(a[z]) - float(b.get(z, 0.0)) for z in a), default=0.0)
            if drop > 1e-6:
                conflicts[(i, j)] = flag("damage", f"damage fell from frame {frames[j].frame} "
                                         f"to frame {frames[i].frame} by", drop,
                                         "damage never decreases")  # fmt: skip
    return _pair_flags(frames, conflicts)


def _scenario_constants(frames: list[FrameSummary]) -> dict[int, Flag]:
    found: dict[int, Flag] = {}
    if len(frames) < 3:
        return found
    for name in frames[0].constants:
        values = [f.constants[name] for f in frames]
        top = max(set(values), key=values.count)
        if values.count(top) * 2 <= len(values):
            continue
        for i, v in enumerate(values):
            if v != top and i not in found:
                found[i] = flag("scenario_constants", f"json {name} differs from the scenario's "
                                f"other frames ({v[:60]} vs {top[:60]}); frames disagreeing:",
                                len(values) - values.count(top),
                                "a scenario fixes it for every frame", "d")  # fmt: skip
    return found


def check(summaries: list[FrameSummary], cfg: TemporalConfig) -> list[tuple[str, str, Flag]]:
    """(key, shard, flag) for every frame that disagrees with its scenario's other frames."""
    groups: dict[tuple[str, int, str], list[FrameSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        frames.sort(key=lambda f: (f.time_s, f.frame))
        if len(frames) < 2:
            if frames:
                found = _camera_rig(frames, cfg)
                out += [(frames[i].key, frames[i].shard, fl) for i, fl in found.items()]
            continue
        for found in (_motion(frames, cfg), _yaw(frames, cfg), _camera_rig(frames, cfg),
                      _stale(frames, cfg), _damage(frames), _scenario_constants(frames)):
            out += [(frames[i].key, frames[i].shard, fl) for i, fl in found.items()]
    return out
