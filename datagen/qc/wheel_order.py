"""Which wheel each per-wheel slip belongs to: ``wheel_order``.

``json.ego.wheel_slip.{angle,ratio}`` list the wheels FL, FR, RL, RR (``sim.vehicle``'s
order). :mod:`datagen.qc.tyre_kinematics` checks the rear slip angles within a tolerance wide
enough for the relaxation lag; a list written in another wheel order (axles swapped, or
reversed) keeps every value plausible and often stays inside it. Two properties of the tyre
model tell the axles apart:

- **Steered vs unsteered axle.** Each wheel's slip angle settles to ``-atan(v_lat / v_fwd)``
  of its contact point's velocity in the wheel's own frame: the body's ``(v_x, v_y + x r)``
  (``x`` the wheel's distance ahead of the centre of mass, ``r`` the yaw rate; ``v_x`` less
  ``r`` times the half track on the left) turned by the road-wheel angle ``ego.steer`` for
  the front wheels, by nothing for the rear ones. Where the stated list is far from this
  prediction (``angle_floor``) and a list with the axles exchanged fits ``angle_factor``
  times better, the lists name the wheels in another order. On 2 600 clean frames (seed
  4040) the stated order is never worse than 1.7 x an exchanged one where it misses by more
  than 0.01 rad (2.6 x at 0.003 rad).
- **Driven vs undriven axle.** With the brake released, an undriven wheel carries no torque
  but its rolling resistance: its slip ratio stays near 0 while the driven axle takes the
  engine's torque (``gearbox.drive`` of the vehicle preset, fwd or rwd). Judged from
  ``min_speed_mps`` on, and where a clip says so only with the brake released at the tick
  before too (a released brake leaves the slip relaxing for ``sigma_x / v_x``: a clean clip
  at 2 m/s, 0.25 s after the brake, still slips 0.014 on its undriven axle). An undriven
  axle slipping ``ratio_factor`` times more than the driven one (and more than
  ``ratio_floor``) has the axles exchanged. On the same clean frames (brake 0, 2 073 frames)
  the undriven axle never slips more than 1.7 x the driven one where it slips more than
  0.005.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from datagen.qc.flag import Flag, flag

CHECK = "wheel_order"
# permutations that move the lists between the axles (FL FR RL RR)
EXCHANGED = {"axles exchanged": (2, 3, 0, 1), "reversed": (3, 2, 1, 0)}


@dataclass(frozen=True)
class WheelOrderConfig:
    min_speed_mps: float = 5.0  # slower: the relaxation lag is long against the motion
    max_yaw_rate: float = 1.0  # rad/s: a spinning car's slips change faster than they settle
    angle_floor: float = 0.01  # rad: the stated order's worst miss before another is tried
    angle_factor: float = 3.0  # how much better an exchanged order must fit (clean: 1.7)
    ratio_floor: float = 0.003  # undriven axle's |slip ratio| before it is compared
    ratio_factor: float = 5.0  # undriven / driven axle's |slip ratio| allowed (clean: 1.7)

    def __post_init__(self) -> None:
        for name in ("min_speed_mps", "max_yaw_rate", "angle_floor", "ratio_floor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"WheelOrderConfig.{name} must be > 0, got {value!r}")
        for name in ("angle_factor", "ratio_factor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 1):
                raise ValueError(f"WheelOrderConfig.{name} must be > 1, got {value!r}")


@lru_cache(maxsize=32)
def vehicle_layout(name: str) -> tuple[float, float, float, str] | None:
    """(front axle ahead of the centre of mass, rear axle behind it, half track [m], drive)
    of a vehicle preset; None for a name the simulator does not know."""
    from sim.vehicle.config import preset, preset_names

    if name not in preset_names():
        return None
    p = preset(name)
    b = p.body.wheelbase_m * p.body.front_weight_fraction
    return p.body.wheelbase_m - b, b, p.body.track_m / 2.0, p.gearbox.drive


def _floats(x: object, n: int) -> list[float] | None:
    if not isinstance(x, list | tuple) or len(x) != n:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in x):
        return None
    return [float(v) for v in x]


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def predicted_angles(ego: dict, layout: tuple[float, float, float, str]
                     ) -> tuple[float, float, list[float]] | None:  # fmt: skip
    """(v_x, yaw rate, settled slip angle of FL FR RL RR) from the body's motion and steer."""
    v, yaw, rate = _floats(ego.get("velocity"), 3), _num(ego.get("yaw")), \
        _num(ego.get("yaw_rate"))  # fmt: skip
    steer = _num(ego.get("steer"))
    if v is None or yaw is None or rate is None or steer is None:
        return None
    a, b, half, _ = layout
    vx = v[0] * math.cos(yaw) + v[1] * math.sin(yaw)
    vy = -v[0] * math.sin(yaw) + v[1] * math.cos(yaw)
    out = []
    for x, side, delta in ((a, 1.0, steer), (a, -1.0, steer), (-b, 1.0, 0.0), (-b, -1.0, 0.0)):
        fwd, lat = vx - rate * side * half, vy + x * rate
        wf = fwd * math.cos(delta) + lat * math.sin(delta)
        wl = -fwd * math.sin(delta) + lat * math.cos(delta)
        out.append(-math.atan(wl / max(abs(wf), 1e-6)))
    return vx, rate, out


def angle_order(ego: dict, angles: list[float], layout, cfg: WheelOrderConfig) -> Flag | None:
    found = predicted_angles(ego, layout)
    if found is None:
        return None
    vx, rate, pred = found
    if vx < cfg.min_speed_mps or abs(rate) > cfg.max_yaw_rate:
        return None

    def miss(perm: tuple[int, ...]) -> float:
        return max(abs(angles[j] - pred[i]) for i, j in enumerate(perm))

    stated = miss((0, 1, 2, 3))
    if stated <= cfg.angle_floor:
        return None
    name, best = min(((k, miss(p)) for k, p in EXCHANGED.items()), key=lambda kv: kv[1])
    if best * cfg.angle_factor >= stated:
        return None
    return flag(CHECK, f"wheel slip angles (FL FR RL RR) {[round(x, 4) for x in angles]} miss "
                f"the steered/unsteered axle kinematics (steer {ego.get('steer'):+.4f} rad, "
                f"v_x {vx:.1f} m/s) by {stated:.4f} rad, with the lists' {name} by "
                f"{best:.4f} rad: ratio", stated / max(best, 1e-9),
                f"allowed {cfg.angle_factor:g} past {cfg.angle_floor:g} rad", ".1f")  # fmt: skip


def _brake_released_before(meta: dict) -> bool:
    """A clip's brake series (if any) released at the tick before the key frame too: a brake
    let go just now leaves the slip relaxing back for ``sigma_x / v_x``."""
    clip = meta.get("clip")
    series = clip.get("ego", {}).get("brake") if isinstance(clip, dict) else None
    if not isinstance(series, list) or len(series) < 2:
        return True
    return all(_num(b) == 0 for b in series[-2:])


def ratio_order(ego: dict, ratios: list[float], layout, cfg: WheelOrderConfig,
                meta: dict | None = None) -> Flag | None:  # fmt: skip
    drive = layout[3]
    brake, speed = _num(ego.get("brake")), _num(ego.get("speed_mps"))
    if drive not in ("fwd", "rwd") or brake is None or brake != 0 or speed is None:
        return None
    if speed < cfg.min_speed_mps or (meta is not None and not _brake_released_before(meta)):
        return None  # slow or just released: the slip still relaxes from the braking
    driven, undriven = ((0, 1), (2, 3)) if drive == "fwd" else ((2, 3), (0, 1))
    free = max(abs(ratios[i]) for i in undriven)
    pulled = max(abs(ratios[i]) for i in driven)
    if free <= cfg.ratio_floor or free <= cfg.ratio_factor * pulled:
        return None
    axle = "front" if undriven == (0, 1) else "rear"
    return flag(CHECK, f"the undriven {axle} axle ({drive}, brake released) slips "
                f"{free:.4f} against the driven axle's {pulled:.4f} (slip ratios FL FR RL RR "
                f"{[round(x, 4) for x in ratios]}): ratio", free / max(pulled, 1e-9),
                f"allowed {cfg.ratio_factor:g} past {cfg.ratio_floor:g}", ".1f")  # fmt: skip


def check(meta: dict, cfg: WheelOrderConfig) -> list[Flag]:
    """The slip lists of one frame's json against the axle each entry names."""
    ego = meta.get("ego") if isinstance(meta, dict) else None
    slip = ego.get("wheel_slip") if isinstance(ego, dict) else None
    vehicle = meta.get("vehicle") if isinstance(meta, dict) else None
    name = vehicle.get("preset") if isinstance(vehicle, dict) else None
    if not isinstance(slip, dict) or not isinstance(name, str):
        return []
    layout = vehicle_layout(name)
    if layout is None:
        return []
    angles, ratios = _floats(slip.get("angle"), 4), _floats(slip.get("ratio"), 4)
    for found in (angle_order(ego, angles, layout, cfg) if angles else None,
                  ratio_order(ego, ratios, layout, cfg, meta) if ratios else None):
        if found is not None:
            return [found]
    return []
