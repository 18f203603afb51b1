"""The ego's damage against the crashes of its scenario: ``damage_vs_crash``.

Damage comes only from crashes (``sim.vehicle`` damage by zone), and a frame's json lists the
trace events of its window ``(time_s - audio.duration_s, time_s]``. When that window reaches
back to the scenario's previous frame (or to the scenario's start), every crash since then is
listed in it; damage that grew over that span without a crash listed there contradicts the
events. The finding names both frames' damage and the window.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from datagen.qc.flag import Flag

CHECK = "damage_vs_crash"


@dataclass(frozen=True)
class DamageEventsConfig:
    min_rise: float = 1e-6  # total damage (sum over zones) counted as grown


@dataclass(frozen=True)
class DamageSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    time_s: float
    window_start: float
    damage: float  # sum over zones
    crash: bool  # a crash listed in the frame's window


def summarize(s) -> DamageSummary | None:
    m = s.meta
    try:
        t = float(m["time_s"])
        clip = m.get("clip") if isinstance(m.get("clip"), dict) else None
        start = float(clip["t0"]) if clip is not None else t - float(m["audio"]["duration_s"])
        damage = sum(float(v) for v in m["ego"]["damage"].values())
        crash = any(isinstance(e, dict) and e.get("type") == "crash" for e in m["events"])
        cam = m["camera"]["name"]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not all(math.isfinite(v) for v in (t, start, damage)):
        return None
    scenario = (str(m.get("split", s.shard.rsplit("-", 1)[0])), str(m.get("scenario_id")),
                str(cam))  # fmt: skip
    return DamageSummary(s.key, s.shard, scenario, t, start, damage, crash)


def judge(items: list[DamageSummary], cfg: DamageEventsConfig) -> list[tuple[str, str, Flag]]:
    by_scenario: dict[tuple, list[DamageSummary]] = defaultdict(list)
    for it in items:
        by_scenario[it.scenario].append(it)
    out = []
    for frames in by_scenario.values():
        frames.sort(key=lambda f: f.time_s)
        for i, f in enumerate(frames):
            prev_t, prev_d = (frames[i - 1].time_s, frames[i - 1].damage) if i else (0.0, 0.0)
            if f.crash or f.window_start > prev_t or f.damage <= prev_d + cfg.min_rise:
                continue
            since = f"frame at {prev_t:g} s" if i else "the scenario's start"
            out.append((f.key, f.shard, Flag(
                CHECK, f"json ego.damage grew {prev_d:.3g} -> {f.damage:.3g} (sum over zones) "
                f"since the {since}, but the events of the window {f.window_start:g}..{f.time_s:g}"
                " s, which covers that span, list no crash", f.damage - prev_d,
                "damage comes only from a crash")))  # fmt: skip
    return out
