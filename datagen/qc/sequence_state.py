"""A scenario's clock, events and gearbox as its frames record them, against each other.

The simulator captures frame ``k`` at ``time_s = (k + 1) / frame_hz`` (``sim.scenario``) and
lists in each frame's json the events of its window, ``(time_s - audio.duration_s, time_s]``
(``(t0, t1]`` of ``json.clip`` for clip samples). So the frames of one scenario (same split and
``scenario_id``) must agree:

- ``timeline``: ``time_s`` is one affine function of the frame index for every frame. The
  function is the one most frames agree with (a consensus over pairs of frames; of clocks
  with as many frames, the one they lie on most exactly: leave one out, so a broken frame's
  loose clock does not blame its neighbour); a frame off it by more than ``time_tol`` of a
  frame interval is flagged (a stale or swapped timestamp);
- ``events_vs_scenario``: an event (gear shift, crash, thunder: the trace's own) at a time that
  lies inside several frames' windows is listed by each of them, with the same fields; a frame
  that lists it differently from the majority, or misses one the others list, is flagged;
- ``gear_vs_events``: the gear changes only through a gear shift: between two frames the gear
  moves by the shifts listed in between (``to - from`` of each), so ``gear - shifts since the
  scenario's first window`` is one number for every frame whose windows cover the time in
  between (a shift at the frame's own time may or may not be in its ego state yet); a frame
  with another number is flagged. Each shift counts as most frames list it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass

from datagen.qc.flag import Flag, flag

TRACE_EVENTS = ("gear_shift", "crash", "thunder")  # the simulator's own, window-independent


@dataclass(frozen=True)
class SequenceStateConfig:
    time_tol: float = 0.25  # of a frame interval
    event_time_tol_s: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("time_tol", "event_time_tol_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"SequenceStateConfig.{name} must be > 0, got {value}")


@dataclass
class StateSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    frame: int
    time_s: float
    window: tuple[float, float]  # (t0, t1]: the events listed are those of this window
    gear: int | None
    events: list[dict]


def summarize(s) -> StateSummary | None:
    m = s.meta
    try:
        t, frame = float(m["time_s"]), int(m["frame"])
        clip = m.get("clip") if isinstance(m.get("clip"), dict) else None
        if clip is not None:
            window = (float(clip["t0"]), float(clip["t1"]))
        else:
            window = (t - float(m["audio"]["duration_s"]), t)
        gear = m.get("ego", {}).get("gear")
        events = [e for e in m.get("events", []) if isinstance(e, dict)
                  and e.get("type") in TRACE_EVENTS and isinstance(e.get("time_s"), int | float)]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not (math.isfinite(t) and all(math.isfinite(v) for v in window)):
        return None
    cam = m.get("camera", {}).get("name", "") if isinstance(m.get("camera"), dict) else ""
    return StateSummary(s.key, s.shard, (str(m.get("split", s.shard.rsplit("-", 1)[0])),
                                         str(m.get("scenario_id")), str(cam)), frame, t, window,
                        gear if isinstance(gear, int) and not isinstance(gear, bool) else None,
                        events)  # fmt: skip


def _clock_fit(frames: list[StateSummary], a: StateSummary, b: StateSummary,
               cfg: SequenceStateConfig) -> tuple[int, float, float, float] | None:  # fmt: skip
    """(frames on the clock through ``a`` and ``b``, their summed offset in frame intervals,
    dt, t0) of ``time_s = t0 + dt x frame``; None if ``a`` and ``b`` fix no forward clock."""
    if b.frame == a.frame or b.time_s == a.time_s:
        return None
    dt = (b.time_s - a.time_s) / (b.frame - a.frame)
    if dt <= 0:
        return None
    t0 = a.time_s - a.frame * dt
    off = [abs(f.time_s - t0 - f.frame * dt) / dt for f in frames]
    on = [o for o in off if o <= cfg.time_tol]
    return len(on), sum(on), dt, t0


def _timeline(frames: list[StateSummary], cfg: SequenceStateConfig) -> dict[int, Flag]:
    """Frames off the affine time_s(frame) that most frames agree with: of clocks through two
    frames, the one most frames lie on, and of those the one they lie on most exactly (leave
    one out: a frame off by a fraction of an interval can make a second clock through itself
    and a neighbour that as many frames lie on, loosely; the clock of the frames that agree
    exactly blames it, not the neighbour)."""
    best: tuple[int, float, float, float] | None = None
    for i, a in enumerate(frames):
        for b in frames[i + 1:]:
            fit = _clock_fit(frames, a, b, cfg)
            if fit is not None and (best is None or (fit[0], -fit[1]) > (best[0], -best[1])):
                best = fit
    found: dict[int, Flag] = {}
    if best is None or best[0] < 3 or best[0] * 2 <= len(frames):
        return found
    n, _, dt, t0 = best
    for i, f in enumerate(frames):
        expected = t0 + f.frame * dt
        if abs(f.time_s - expected) > cfg.time_tol * dt:
            found[i] = flag("timeline", f"time_s {f.time_s:g} s of frame {f.frame} vs "
                            f"{expected:g} s on the clock of {n} of the scenario's "
                            f"{len(frames)} frames (time_s = {t0:g} + {dt:g} x frame): "
                            "difference in frame intervals", (f.time_s - expected) / dt,
                            f"allowed +-{cfg.time_tol}", ".2f")  # fmt: skip
    return found


def _event_id(e: dict, cfg: SequenceStateConfig) -> tuple[str, int]:
    return str(e["type"]), round(float(e["time_s"]) / cfg.event_time_tol_s)


def _events(frames: list[StateSummary], cfg: SequenceStateConfig) -> dict[int, Flag]:
    """Each event, as the frames whose window holds its time list it (or miss it)."""
    seen: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for i, f in enumerate(frames):
        for e in f.events:
            seen.setdefault(_event_id(e, cfg), []).append((i, json.dumps(e, sort_keys=True)))
    found: dict[int, Flag] = {}
    for (kind, _), listed in seen.items():
        t = float(json.loads(listed[0][1])["time_s"])
        holders = [i for i, f in enumerate(frames) if f.window[0] < t <= f.window[1]]
        versions = Counter(v for _, v in listed)
        top, votes = versions.most_common(1)[0]
        if len(holders) < 3 or votes * 2 <= len(holders):
            continue
        by_frame = dict(listed)
        for i in holders:
            if i in found or by_frame.get(i) == top:
                continue
            said = "does not list it" if i not in by_frame else f"lists {by_frame[i][:80]}"
            found[i] = flag("events_vs_scenario", f"{votes} of the {len(holders)} frames whose "
                            f"window holds {kind} at {t:g} s list {top[:80]}; frame "
                            f"{frames[i].frame} {said}; frames disagreeing:",
                            len(holders) - votes, "every frame lists its window's events",
                            "d")  # fmt: skip
    return found


def _gear(frames: list[StateSummary], cfg: SequenceStateConfig) -> dict[int, Flag]:
    """gear - (to - from of the shifts up to the frame) is one number where windows cover."""
    listed: dict[tuple[str, int], Counter[tuple[float, int]]] = {}
    for f in frames:
        for e in f.events:
            if e["type"] == "gear_shift" and isinstance(e.get("to"), int) and \
                    isinstance(e.get("from"), int):  # fmt: skip
                listed.setdefault(_event_id(e, cfg), Counter())[
                    (float(e["time_s"]), int(e["to"]) - int(e["from"]))] += 1
    # each shift as most frames list it (not as the first frame does: that one may be broken)
    shifts = {k: c.most_common(1)[0][0] for k, c in listed.items()}
    found: dict[int, Flag] = {}
    usable = [i for i, f in enumerate(frames) if f.gear is not None]
    if len(usable) < 3 or not _covered(frames):
        return found
    start, tol = min(f.window[0] for f in frames), cfg.event_time_tol_s
    base = {}  # a shift at the frame's own time may be in its ego state or not yet
    for i in usable:
        t, g = frames[i].time_s, frames[i].gear
        base[i] = {g - sum(d for ts, d in shifts.values() if start < ts <= t + sign * tol)
                   for sign in (-1, 1)}  # fmt: skip
    top, votes = Counter(v for b in base.values() for v in b).most_common(1)[0]
    if votes * 2 <= len(usable):
        return found
    for i, b in base.items():
        if top not in b:
            f, off = frames[i], min(b, key=lambda v: abs(v - top))
            found[i] = flag("gear_vs_events", f"gear {f.gear} of frame {f.frame} vs gear "
                            f"{f.gear - off + top} that {votes} of the scenario's {len(usable)} "
                            "frames and the gear shifts they list imply: difference",
                            off - top, "the gear changes only by a listed shift", "+d")
    return found


def _covered(frames: list[StateSummary]) -> bool:
    """The frames' windows leave no gap between the first window and the last frame."""
    spans = sorted(f.window for f in frames)
    reach = spans[0][1]
    for lo, hi in spans[1:]:
        if lo > reach:
            return False
        reach = max(reach, hi)
    return True


def check(summaries: list[StateSummary], cfg: SequenceStateConfig
          ) -> list[tuple[str, str, Flag]]:  # fmt: skip
    """(key, shard, flag) of each frame whose clock, events or gear disagrees with the
    scenario's other frames."""
    groups: dict[tuple[str, str, str], list[StateSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        frames.sort(key=lambda f: (f.frame, f.time_s, f.key))
        for found in (_timeline(frames, cfg), _events(frames, cfg), _gear(frames, cfg)):
            out += [(frames[i].key, frames[i].shard, fl) for i, fl in found.items()]
    return out
