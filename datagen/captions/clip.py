"""Facts of a clip sample's window (``json.clip``), each computed from the json alone.

A clip sample (``generate --clip-frames T``) carries per-frame ego states in ``json.clip``
(docs/internals.md "Clip samples"). The driving behaviour that shows over the window and the
gear changes in it are facts like the others (:mod:`datagen.captions.facts`), so a caption
checker that asks :func:`datagen.captions.extract_facts` for the facts of a json gets these
too: every clip statement is checkable against the json, with the thresholds below.

Statement kinds (lexicon and templates: :mod:`datagen.captions.lexicon`, ``templates``):

- ``behaviour`` (always stated in a clip caption, one statement per value that holds):
  ``hard_braking``: some frame's ``accel_mps2`` < :data:`HARD_BRAKING_MPS2`;
  ``hard_acceleration``: some frame's ``accel_mps2`` > :data:`HARD_ACCELERATION_MPS2`;
  ``closing_up``: a lead car in the ego's lane (``lead_distance_m``, centre to centre) in at
  least two frames, the last such distance smaller than the first, and the time headway
  ``lead_distance_m / speed_mps`` of some frame (moving at >= :data:`MIN_HEADWAY_SPEED_MPS`)
  under :data:`CLOSE_HEADWAY_S`;
  ``weaving``: the lateral offset changes direction at least :data:`WEAVE_REVERSALS` times
  (frame-to-frame moves of at least :data:`WEAVE_STEP_M`) over a range of at least
  :data:`WEAVE_RANGE_M`;
  ``speeding``: some frame's speed above ``json.road.speed_limit_mps`` x
  :data:`SPEEDING_FACTOR`;
  ``steady``: none of these.
- ``gear_change``: ``up`` / ``down`` when ``json.events`` holds a ``gear_shift`` to a higher /
  lower gear (the events of a clip are those of its window).
- Events of the window (overtake, skid, thunder, crash) are the ``event`` facts of
  ``json.events`` as for single frames; for clips the builder adds skid and overtake events
  found in the 60 Hz trace (:mod:`datagen.clips`).
"""

from __future__ import annotations

from collections.abc import Mapping

HARD_BRAKING_MPS2 = -3.5  # ~0.36 g: the usual harsh-braking threshold of fleet telematics
HARD_ACCELERATION_MPS2 = 3.0  # ~0.3 g: the usual harsh-acceleration threshold of telematics
CLOSE_HEADWAY_S = 1.0  # half the two-second rule
MIN_HEADWAY_SPEED_MPS = 2.0
WEAVE_STEP_M = 0.05
WEAVE_REVERSALS = 2
WEAVE_RANGE_M = 0.3
SPEEDING_FACTOR = 1.1
BEHAVIOURS = ("hard_braking", "hard_acceleration", "closing_up", "weaving", "speeding",
              "steady")  # fmt: skip
GEAR_CHANGES = ("up", "down")


def hard_braking(ego: Mapping) -> bool:
    return min(float(a) for a in ego["accel_mps2"]) < HARD_BRAKING_MPS2


def hard_acceleration(ego: Mapping) -> bool:
    return max(float(a) for a in ego["accel_mps2"]) > HARD_ACCELERATION_MPS2


def closing_up(ego: Mapping, lead: list) -> bool:
    seen = [(float(d), float(v)) for d, v in zip(lead, ego["speed_mps"]) if d is not None]
    if len(seen) < 2 or not seen[-1][0] < seen[0][0]:
        return False
    return any(v >= MIN_HEADWAY_SPEED_MPS and d / v < CLOSE_HEADWAY_S for d, v in seen)


def weaving(ego: Mapping) -> bool:
    lat = [float(x) for x in ego["lateral_offset_m"]]
    if not lat or max(lat) - min(lat) < WEAVE_RANGE_M:
        return False
    signs = [1 if b > a else -1 for a, b in zip(lat, lat[1:]) if abs(b - a) >= WEAVE_STEP_M]
    return sum(a != b for a, b in zip(signs, signs[1:])) >= WEAVE_REVERSALS


def speeding(ego: Mapping, limit_mps: float) -> bool:
    return max(abs(float(v)) for v in ego["speed_mps"]) > limit_mps * SPEEDING_FACTOR


def behaviours(meta: Mapping) -> list[str]:
    """The behaviours that show in the clip window of ``meta`` (in :data:`BEHAVIOURS` order)."""
    clip = meta["clip"]
    ego = clip["ego"]
    found = {
        "hard_braking": hard_braking(ego),
        "hard_acceleration": hard_acceleration(ego),
        "closing_up": closing_up(ego, clip["lead_distance_m"]),
        "weaving": weaving(ego),
        "speeding": speeding(ego, float(meta["road"]["speed_limit_mps"])),
    }
    shown = [name for name in BEHAVIOURS if found.get(name)]
    return shown or ["steady"]


def gear_changes(meta: Mapping) -> list[str]:
    """``up`` / ``down``: the directions of the window's gear shifts (``json.events``)."""
    found = set()
    for e in meta.get("events", []):
        if e.get("type") == "gear_shift" and e.get("to") != e.get("from"):
            found.add("up" if int(e["to"]) > int(e["from"]) else "down")
    return [d for d in GEAR_CHANGES if d in found]


def clip_facts(meta: Mapping) -> list[tuple[str, str]]:
    """The (kind, value) of the behaviour and gear-change facts of a clip sample (made
    :class:`datagen.captions.facts.Fact` by ``extract_facts``); none for a single frame."""
    if not isinstance(meta.get("clip"), Mapping):
        return []
    return [*(("behaviour", b) for b in behaviours(meta)),
            *(("gear_change", g) for g in gear_changes(meta))]  # fmt: skip
