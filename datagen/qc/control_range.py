"""The ego's normalised quantities inside the ranges the simulator keeps them in:
``control_range``.

Identities (each holds for every clean frame by construction):

- **Controls.** :meth:`sim.vehicle.vehicle.Vehicle.set_controls` refuses a steer outside
  [-1, 1] (left positive, a share of the road wheels' lock) and a throttle or brake outside
  [0, 1], and the stored ``ego.steer`` is the fleet's steering state, which moves towards the
  command at a bounded rate and so stays inside the same range; the kinematic ego's steer is
  ``atan(wheelbase x curvature)``, inside it too. A steer stored as the road-wheel angle in
  degrees, as the steering-wheel angle, or a pedal in per cent leaves the range.
- **Damage.** :func:`sim.vehicle.damage.damage_levels` clips each zone's damage to [0, 1].

A clip sample's per-frame series (``json.clip.ego.steer``, ``throttle``, ``brake``) are held
to the same ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from datagen.qc.flag import Flag, flag

CHECK = "control_range"
RANGES: dict[str, tuple[float, float]] = {
    "steer": (-1.0, 1.0),
    "throttle": (0.0, 1.0),
    "brake": (0.0, 1.0),
}
DAMAGE_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class ControlRangeConfig:
    margin: float = 1e-6  # float rounding about the limits (json keeps 10 digits)

    def __post_init__(self) -> None:
        m = self.margin
        if isinstance(m, bool) or not isinstance(m, int | float) or not 0 <= m < 0.5:
            raise ValueError(f"ControlRangeConfig.margin must be in [0, 0.5), got {m!r}")


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _outside(value: float, lo: float, hi: float, margin: float) -> float:
    """How far ``value`` lies outside [lo, hi] beyond ``margin`` (0 inside)."""
    return max(lo - margin - value, value - hi - margin, 0.0)


def _worst(values: list[tuple[str, object]], lo: float, hi: float,
           margin: float) -> tuple[float, str, float] | None:  # fmt: skip
    worst = None
    for where, raw in values:
        v = _num(raw)
        if v is None:
            continue
        out = _outside(v, lo, hi, margin)
        if out > 0 and (worst is None or out > worst[0]):
            worst = (out, where, v)
    return worst


def check(meta: dict, cfg: ControlRangeConfig) -> list[Flag]:
    ego = meta.get("ego")
    if not isinstance(ego, dict):
        return []
    clip = meta.get("clip")
    clip_ego = clip.get("ego") if isinstance(clip, dict) else None
    found: list[Flag] = []
    for name, (lo, hi) in RANGES.items():
        values: list[tuple[str, object]] = [(f"ego.{name}", ego.get(name))]
        series = clip_ego.get(name) if isinstance(clip_ego, dict) else None
        if isinstance(series, list):
            values += [(f"clip.ego.{name}[{i}]", v) for i, v in enumerate(series)]
        worst = _worst(values, lo, hi, cfg.margin)
        if worst is not None:
            _, where, v = worst
            span = f"[{lo:g}, {hi:g}]"
            found.append(flag(CHECK, f"json {where} outside the simulator's normalised range "
                              f"{span}:", v, f"must be in {span}", ".4g"))  # fmt: skip
    damage = ego.get("damage")
    if isinstance(damage, dict):
        worst = _worst([(f"ego.damage.{k}", v) for k, v in damage.items()], *DAMAGE_RANGE,
                       cfg.margin)  # fmt: skip
        if worst is not None:
            _, where, v = worst
            found.append(flag(CHECK, f"json {where} outside the damage model's range [0, 1]:",
                              v, "must be in [0, 1]", ".4g"))  # fmt: skip
    return found
