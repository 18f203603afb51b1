"""Sound sources the json's ego and weather state require in ``audio.events``, fitted.

The audio names the sources audible in the clip (``datagen.audio.clips``); which are audible
follows the ego and the weather (the engine runs with rpm, tyres roll with speed, wind blows).
:func:`fit` learns, for each source, the one json quantity ``x`` above which every clean clip
lists the source (``x >= threshold``, threshold = the largest ``x`` of a clean clip without
the source, or the smallest ``x`` seen when every clip lists it), keeping a rule only when it
covers most clean clips. :func:`judge` names a required source the json leaves out while the
scenario's other frames list it (a lone frame is not judged: data whose clips never name the
source are not the simulator's), e.g. "json audio.events lacks wind, but ego.speed_mps 11.9
>= 8.54: every clean clip from 8.54 (1200 in the fit data) lists wind, and so do the
scenario's 3 other frames".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag

FEATURES: dict[str, Callable[[dict], float]] = {
    "ego.speed_mps": lambda m: float(m["ego"]["speed_mps"]),
    "ego.rpm": lambda m: float(m["ego"]["rpm"]),
    "weather.wind_speed_mps": lambda m: float(m["weather"]["wind_speed_mps"]),
    "weather.precip_intensity": lambda m: float(m["weather"]["precip_intensity"]),
    "weather.road_wetness": lambda m: float(m["weather"]["road_wetness"]),
    "weather.snow_cover": lambda m: float(m["weather"]["snow_cover"]),
}
# source, feature, threshold, clean clips it covers, whether clean clips without the source
# reach the threshold (then it is an edge to be cleared by a margin)
Rule = tuple[str, str, float, int, bool]


def _value(meta: dict, feature: str) -> float | None:
    try:
        v = FEATURES[feature](meta)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return v if np.isfinite(v) else None


def fit(metas: Sequence[dict], min_coverage: float = 0.5, min_clips: int = 200) -> list[Rule]:
    """One rule per source that holds on every clean clip and covers ``min_coverage`` of them
    (the first feature of :data:`FEATURES` among the best covering)."""
    listed = [set(m["audio"]["events"]) for m in metas]
    sources = sorted(set().union(*listed)) if listed else []
    rules: list[Rule] = []
    for src in sources:
        best: Rule | None = None
        for feat in FEATURES:
            xs = [(_value(m, feat), src in heard) for m, heard in zip(metas, listed)]
            xs = [(x, h) for x, h in xs if x is not None]
            if len(xs) < min_clips:
                continue
            without = [x for x, h in xs if not h]
            t = max(without) if without else min(x for x, _ in xs)
            covered = sum(1 for x, _ in xs if (x > t if without else x >= t))
            if covered >= max(min_coverage * len(xs), min_clips) and \
                    (best is None or covered > best[3]):  # fmt: skip
                best = (src, feat, round(float(t), 6), covered, bool(without))
        if best is not None:
            rules.append(best)
    return rules


@dataclass(frozen=True)
class SourcesSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    meta: dict  # ego, weather and audio.events only


def summarize(s) -> SourcesSummary | None:
    m = s.meta
    try:
        heard = m["audio"]["events"]
        cam = m["camera"]["name"]
        slim = {"ego": dict(m["ego"]), "weather": dict(m["weather"]), "audio": {"events": heard}}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not isinstance(heard, list):
        return None
    scenario = (str(m.get("split", s.shard.rsplit("-", 1)[0])), str(m.get("scenario_id")),
                str(cam))  # fmt: skip
    return SourcesSummary(s.key, s.shard, scenario, slim)


def missing(meta: dict, rules: Sequence[Rule], margin: float,
            siblings: Sequence[dict]) -> str | None:  # fmt: skip
    """The first source a rule requires that ``meta``'s ``audio.events`` lacks while every
    one of ``siblings`` (the scenario's other frames, at least one) lists it.

    A threshold learned from clips without the source must be exceeded by ``margin`` x
    (it is the edge of the clean data); one learned from every clip must only be reached."""
    heard = meta.get("audio", {}).get("events")
    if not isinstance(heard, list) or not siblings:
        return None
    for src, feat, t, covered, edge in rules:
        x = _value(meta, feat)
        need = t * margin if edge and t > 0 else t
        if src in heard or x is None or x < need or (edge and x <= t):
            continue
        if not all(src in m["audio"]["events"] for m in siblings):
            continue
        return (
            f"json audio.events lacks {src}, but {feat} {x:.3g} >= {need:.3g}: every "
            f"clean clip with {feat} {'above' if edge else 'from'} {t:.3g} ({covered} in "
            f"the fit data) lists {src}, and so do the scenario's {len(siblings)} other frames"
        )
    return None


def judge(items: Sequence[SourcesSummary], rules: Sequence[Rule], margin: float,
          check: str) -> list[tuple[str, str, Flag]]:  # fmt: skip
    by_scenario: dict[tuple, list[SourcesSummary]] = defaultdict(list)
    for it in items:
        by_scenario[it.scenario].append(it)
    out = []
    for frames in by_scenario.values():
        for i, f in enumerate(frames):
            siblings = [g.meta for j, g in enumerate(frames) if j != i]
            why = missing(f.meta, rules, margin, siblings)
            if why is not None:
                out.append((f.key, f.shard, Flag(check, why, None, "fitted on clean data")))
    return out
