"""The tyres' slips against the body's motion: ``tyre_slip``.

Invariants (each holds for every clean frame by construction of :mod:`sim.vehicle.tires`):

- **Rear-axle kinematics.** A rear tyre is not steered, so its slip angle is fixed by how the
  body moves: the wheel at distance ``b`` behind the centre of mass moves sideways at
  ``v_y - b r`` and forward at ``v_x`` (body frame, ``r`` the yaw rate), and its slip angle
  settles to ``-atan((v_y - b r) / |v_x|)`` within a relaxation length (a few centimetres of
  travel). ``v_x, v_y`` come from ``ego.velocity`` turned by ``ego.yaw``; ``b`` from the named
  vehicle's wheelbase and weight split. On 2 600 clean frames (seed 4040, every preset, all
  vehicles) the stored rear slip angle is within 0.024 rad of this above 3 m/s (the gap is the
  relaxation lag of a sliding car, a share of the slip itself). Clean clips show cars turning
  in at 3 m/s, reversing and spinning at 4 rad/s, where the lag (time constant
  ``sigma_y / v_x``) leaves the stated angle up to 0.6 rad behind: only a car driving forwards
  at 5 m/s or more and turning slower than 1 rad/s is judged. A slip angle in degrees, in
  another sign convention, of another frame or another car breaks it.
- **Deflection limits.** The tyre model clamps the deflections: ``|slip ratio| <= 1`` and
  ``|tan(slip angle)| <= MAX_TAN_ALPHA`` for every wheel, at any speed. A percentage, a
  degree or a raw wheel speed is outside them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

from datagen.qc.flag import Flag, flag
from sim.vehicle.tires import MAX_TAN_ALPHA

log = logging.getLogger(__name__)
CHECK = "tyre_slip"


@dataclass(frozen=True)
class TyreKinematicsConfig:
    # the stated slip angle lags the kinematic one by the relaxation time sigma_y / v_x (0.1 s
    # at 5 m/s for 0.5 m): judged only where that is short against how fast the slip can
    # change, i.e. driving forwards at min_speed_mps or more without spinning
    min_speed_mps: float = 5.0
    max_yaw_rate: float = 1.0  # rad/s: a spinning car's slip changes faster than the lag
    angle_tol_rad: float = 0.05  # rear slip angle vs the body's motion ...
    angle_tol_rel: float = 0.35  # ... plus this share of the predicted slip (relaxation lag)
    limit_margin: float = 1e-3  # float rounding about the deflection limits

    def __post_init__(self) -> None:
        for name in ("min_speed_mps", "max_yaw_rate", "angle_tol_rad", "angle_tol_rel",
                     "limit_margin"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"TyreKinematicsConfig.{name} must be >= 0")


@lru_cache(maxsize=32)
def rear_axle_m(vehicle: str) -> tuple[float, float] | None:
    """(distance from the centre of mass back to the rear axle, half track) of a vehicle
    preset [m]; None for a name the simulator does not know."""
    from sim.vehicle.config import preset, preset_names

    if vehicle not in preset_names():
        return None
    body = preset(vehicle).body
    return body.wheelbase_m * body.front_weight_fraction, body.track_m / 2.0


def _floats(x: object, n: int) -> list[float] | None:
    if not isinstance(x, list | tuple) or len(x) < n:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in x[:n]):
        return None
    return [float(v) for v in x[:n]]


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def deflection_limits(slip: dict, cfg: TyreKinematicsConfig) -> Flag | None:
    """Every wheel's slip within the tyre model's clamps (|ratio| <= 1, |tan angle| <= 3)."""
    angles, ratios = _floats(slip.get("angle"), 4), _floats(slip.get("ratio"), 4)
    if angles is not None:
        worst = max(abs(a) for a in angles)
        limit = math.atan(MAX_TAN_ALPHA)
        if worst > limit + cfg.limit_margin:
            return flag(CHECK, "wheel slip angle beyond the tyre's deflection limit "
                        f"atan({MAX_TAN_ALPHA:g}): |angle| [rad]", worst,
                        f"allowed {limit:.3f} rad")  # fmt: skip
    if ratios is not None:
        worst = max(abs(k) for k in ratios)
        if worst > 1.0 + cfg.limit_margin:
            return flag(CHECK, "wheel slip ratio beyond the tyre's deflection limit: |ratio|",
                        worst, "allowed 1")  # fmt: skip
    return None


def rear_slip(meta: dict, ego: dict, angles: list[float],
              cfg: TyreKinematicsConfig) -> Flag | None:  # fmt: skip
    """Each rear tyre's slip angle against ``-atan((v_y - b r) / |v_x|)``."""
    velocity, yaw, rate = _floats(ego.get("velocity"), 2), _num(ego.get("yaw")), \
        _num(ego.get("yaw_rate"))  # fmt: skip
    vehicle = (meta.get("vehicle") or {}).get("preset") if isinstance(meta.get("vehicle"),
                                                                      dict) else None
    if velocity is None or yaw is None or rate is None or not isinstance(vehicle, str):
        return None
    axle = rear_axle_m(vehicle)
    if axle is None:
        return None
    b, half_track = axle
    vx = velocity[0] * math.cos(yaw) + velocity[1] * math.sin(yaw)
    vy = -velocity[0] * math.sin(yaw) + velocity[1] * math.cos(yaw)
    if vx < cfg.min_speed_mps or abs(rate) > cfg.max_yaw_rate:
        return None  # reversing, slow or spinning: the relaxation lag is not small
    worst: tuple[float, int, float, float] | None = None
    for wheel, side in ((2, 1.0), (3, -1.0)):  # RL, RR (FL FR RL RR)
        forward = abs(vx - rate * side * half_track)
        predicted = -math.atan((vy - b * rate) / max(forward, 1e-6))
        off = abs(angles[wheel] - predicted)
        excess = off - cfg.angle_tol_rad - cfg.angle_tol_rel * abs(predicted)
        if excess > 0 and (worst is None or excess > worst[0]):
            worst = (excess, wheel, predicted, off)
    if worst is None:
        return None
    _, wheel, predicted, off = worst
    log.debug("rear slip off: wheel %d stated %.4f predicted %.4f", wheel, angles[wheel],
              predicted)  # fmt: skip
    name = ("rear left", "rear right")[wheel - 2]
    return flag(CHECK, f"{name} tyre slip angle {angles[wheel]:+.4f} rad where the body's "
                f"motion (v_x {vx:.1f} m/s, v_y {vy:+.2f} m/s, yaw rate {rate:+.3f} rad/s, "
                f"{vehicle}) puts an unsteered wheel at {predicted:+.4f} rad: off by", off,
                f"allowed {cfg.angle_tol_rad:g} rad + {cfg.angle_tol_rel:.0%} of the "
                "predicted slip")  # fmt: skip


def check(meta: dict, cfg: TyreKinematicsConfig) -> list[Flag]:
    """The deflection limits, then the rear-axle kinematics, of one frame's json."""
    ego = meta.get("ego") if isinstance(meta, dict) else None
    slip = ego.get("wheel_slip") if isinstance(ego, dict) else None
    if not isinstance(slip, dict):
        return []
    limits = deflection_limits(slip, cfg)
    if limits is not None:
        return [limits]
    angles = _floats(slip.get("angle"), 4)
    found = rear_slip(meta, ego, angles, cfg) if angles is not None else None
    return [found] if found is not None else []
