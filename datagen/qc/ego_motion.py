"""The ego's controls and state against its own motion, within a frame and between frames.

- ``accel_vs_speed``: ``ego.accel_mps2`` is the longitudinal acceleration over the interval
  that ends at the frame: the speed change since the previous frame of the scenario divided
  by the time between them (measured on 1 950 clean intervals: equal to 5e-8 m/s^2). A
  value off by more than ``accel_tol`` (+ ``accel_tol_rel`` of the speed change) is flagged;
  the finding names the stated value, the speed change, and the unit it fits (g, km/h/s) if
  any. The interval is judged only where both speeds are |ego.velocity| of their frames and
  the neighbouring intervals, where their frames exist, fit their own frames' accelerations
  (a wrong speed or clock breaks two intervals: that is another check's finding, not this
  frame's). Frame 0 has no interval before it and is not judged.
- ``velocity_vs_heading``: ``ego.velocity`` is a world-frame vector; a car moves along its
  heading ``ego.yaw`` up to its body sideslip (at most 0.18 rad on 2 600 clean frames). A
  velocity more than ``heading_tol`` off the heading at speed is flagged; where the
  velocity's direction is the heading minus yaw (the vector is in the body frame) the
  finding says so.
- ``steer_vs_motion``: the road-wheel angle is read back from the front tyres' slip angle,
  the body's lateral velocity and the yaw rate (bicycle model: ``delta = alpha_f +
  atan((v_y + a r) / v_x)``, ``a`` the CG-to-front-axle distance: the direction the front
  axle moves in, exact at any sideslip; its small-angle form ``(v_y + a r) / v_x`` read a
  sliding car, slip angles near 1 rad, 0.2 rad off); it follows the stated ``ego.steer``
  (clean: within 0.055 rad). A steer off by more than ``steer_tol`` (+ ``steer_tol_rel`` of
  it) whose negation fits ``flip_ratio`` times better has the opposite sign convention.
- ``pedals_vs_accel``: the brake pressed (``ego.brake`` >= ``pedal_min``) while no wheel
  turns slower than the ground (every slip ratio above ``-braked_ratio``; clean braking
  frames: every wheel below -0.0035, though one wheel may spin back up after a lock on
  snow, so one wheel alone is not judged; not below the tyre model's low speed, 2 m/s,
  where the ratio is a spring's deflection; a car rolling backwards after a spin, its velocity
  against its heading, brakes with positive slip ratios, ``(omega r - v_x) / |v_x|`` with
  ``v_x < 0``, and is judged by its largest ratio, negated), or while the car speeds up
  (``accel_mps2`` > 0 and the speed rising since the previous frame, where there is one;
  clean braking frames decelerate by 0.13 m/s^2 or more; below the tyre model's low speed,
  2 m/s, the tyre is a damped spring holding the car, and a car braked to a stop springs
  back on it, rolling backwards with its |speed| rising: not judged); where the throttle
  reads released the pedals look swapped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from datagen.qc.flag import Flag, flag

G = 9.80665


@dataclass(frozen=True)
class EgoMotionConfig:
    accel_tol: float = 0.05  # m/s^2 off the speed change over the interval, plus ...
    accel_tol_rel: float = 0.02  # ... this share of it
    speed_tol_mps: float = 0.01  # speed_mps vs |velocity| for an interval to be judged
    min_speed_mps: float = 3.0  # below this heading and steer say little
    heading_tol: float = 0.5  # rad between velocity and yaw
    cg_to_front_m: float = 1.38  # bicycle model's a (fit on clean frames)
    steer_tol: float = 0.08  # rad between the stated steer and the read-back wheel angle ...
    steer_tol_rel: float = 0.15  # ... plus this share of the steer
    flip_ratio: float = 3.0
    pedal_min: float = 0.05
    braked_ratio: float = 0.001  # braked wheels slip below -this (clean: every wheel -0.0035)
    # a tyre slip angle at least this large: the car slides, and its course says nothing of
    # its heading (spins and slides of long scenarios and clips)
    sliding_slip_rad: float = 0.3

    def __post_init__(self) -> None:
        for name in ("accel_tol", "accel_tol_rel", "speed_tol_mps", "min_speed_mps",
                     "heading_tol", "cg_to_front_m", "steer_tol", "steer_tol_rel",
                     "flip_ratio", "pedal_min", "braked_ratio", "sliding_slip_rad"):  # fmt: skip
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"EgoMotionConfig.{name} must be > 0, got {value!r}")


@dataclass
class MotionSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    frame: int
    time: float | None
    speed: float | None
    velocity: tuple[float, float] | None
    yaw: float | None
    yaw_rate: float | None
    accel: float | None
    steer: float | None
    throttle: float | None
    brake: float | None
    front_slip: float | None  # mean slip angle of the front tyres [rad]
    min_ratio: float | None = None  # the smallest slip ratio of the wheels
    max_slip: float | None = None  # the largest |slip angle| of the wheels [rad]
    crash: bool = False  # json.events holds a crash (outside forces on the car)
    max_ratio: float | None = None  # the largest slip ratio of the wheels


def _number(d: object, name: str) -> float | None:
    v = d.get(name) if isinstance(d, dict) else None
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def _vector(v: object, n: int) -> tuple[float, ...] | None:
    if not isinstance(v, list | tuple) or len(v) < n:
        return None
    try:
        out = tuple(float(x) for x in v[:n])
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(x) for x in out) else None


def summarize(s) -> MotionSummary | None:
    m = s.meta
    if not isinstance(m, dict) or not isinstance(m.get("ego"), dict):
        return None
    ego = m["ego"]
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    scenario = (str(m.get("split", s.shard.rsplit("-", 1)[0])), str(m.get("scenario_id")),
                str(cam.get("name", "")))
    frame = m.get("frame")
    slip = ego.get("wheel_slip")
    angles = _vector(slip.get("angle"), 2) if isinstance(slip, dict) else None
    every = slip.get("angle") if isinstance(slip, dict) else None
    every = _vector(every, len(every)) if isinstance(every, list | tuple) and every else None
    vel = _vector(ego.get("velocity"), 2)
    ratios = None
    if isinstance(slip, dict) and isinstance(slip.get("ratio"), list | tuple):
        ratios = _vector(slip["ratio"], len(slip["ratio"])) or None
    return MotionSummary(
        s.key, s.shard, scenario, int(frame) if isinstance(frame, int) else -1,
        _number(m, "time_s"), _number(ego, "speed_mps"),
        (vel[0], vel[1]) if vel else None, _number(ego, "yaw"), _number(ego, "yaw_rate"),
        _number(ego, "accel_mps2"), _number(ego, "steer"), _number(ego, "throttle"),
        _number(ego, "brake"), (angles[0] + angles[1]) / 2 if angles else None,
        min(ratios) if ratios else None, max(map(abs, every)) if every else None,
        any(isinstance(e, dict) and e.get("type") == "crash" for e in _list(m.get("events"))),
        max(ratios) if ratios else None)


def _list(v: object) -> list:
    return v if isinstance(v, list) else []


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _speed_ok(f: MotionSummary, cfg: EgoMotionConfig) -> bool:
    return (f.speed is not None and f.velocity is not None
            and abs(math.hypot(*f.velocity) - f.speed) <= cfg.speed_tol_mps)  # fmt: skip


def interval_accel(prev: MotionSummary, f: MotionSummary) -> float | None:
    """Speed change from ``prev`` to ``f`` over the time between them [m/s^2]."""
    if None in (prev.time, f.time, prev.speed, f.speed) or f.frame != prev.frame + 1:
        return None
    dt = f.time - prev.time
    return (f.speed - prev.speed) / dt if dt > 0 else None


def _fits(prev: MotionSummary, f: MotionSummary, cfg: EgoMotionConfig) -> bool | None:
    dv = interval_accel(prev, f)
    if dv is None or f.accel is None:
        return None
    return abs(f.accel - dv) <= cfg.accel_tol + cfg.accel_tol_rel * abs(dv)


def accel(by_frame: dict[int, MotionSummary], f: MotionSummary,
          cfg: EgoMotionConfig) -> Flag | None:  # fmt: skip
    prev = by_frame.get(f.frame - 1)
    if prev is None or f.accel is None or not (_speed_ok(f, cfg) and _speed_ok(prev, cfg)):
        return None
    dv = interval_accel(prev, f)
    if dv is None or _fits(prev, f, cfg) is not False:
        return None
    nxt, before = by_frame.get(f.frame + 1), by_frame.get(f.frame - 2)
    if (nxt is not None and _fits(f, nxt, cfg) is not True) or (
            before is not None and _fits(before, prev, cfg) is not True):
        return None  # a wrong speed or clock breaks two intervals: not this frame's accel
    unit = ""
    for name, scale in (("g", G), ("km/h/s", 1 / 3.6)):
        if abs(f.accel * scale - dv) <= cfg.accel_tol + cfg.accel_tol_rel * abs(dv):
            unit = f"; it is the speed change in {name}"
    return flag("accel_vs_speed", f"ego.accel_mps2 {f.accel:+.3f} where the speed went "
                f"{prev.speed:.3f} -> {f.speed:.3f} m/s in {f.time - prev.time:.3f} s since "
                f"frame {prev.frame} ({dv:+.3f} m/s^2){unit}; off by", abs(f.accel - dv),
                f"allowed {cfg.accel_tol:g} m/s^2 + {cfg.accel_tol_rel:.0%}", ".3f")


def heading(f: MotionSummary, cfg: EgoMotionConfig) -> Flag | None:
    if f.velocity is None or f.yaw is None:
        return None
    speed = math.hypot(*f.velocity)
    if speed < cfg.min_speed_mps:
        return None
    if f.max_slip is not None and f.max_slip >= cfg.sliding_slip_rad:
        return None  # sliding: the json's own tyres say the body moves sideways
    course = math.atan2(f.velocity[1], f.velocity[0])
    off = abs(_wrap(course - f.yaw))
    if off <= cfg.heading_tol:
        return None
    body = ("; it points along the car's own x axis: the vector is in the body frame"
            if abs(_wrap(course)) <= cfg.heading_tol else "")
    return flag("velocity_vs_heading", f"ego.velocity ({f.velocity[0]:.2f}, "
                f"{f.velocity[1]:.2f}) m/s points {math.degrees(course):.1f} deg in the world "
                f"while the car heads ego.yaw {math.degrees(f.yaw):.1f} deg{body}; angle "
                "between them [rad]", off, f"allowed {cfg.heading_tol:g} rad of sideslip",
                ".3f")


def wheel_angle(f: MotionSummary, cfg: EgoMotionConfig) -> float | None:
    """Road-wheel angle read back from the front slip angle and the body's motion [rad]."""
    if None in (f.velocity, f.yaw, f.yaw_rate, f.front_slip):
        return None
    c, s = math.cos(f.yaw), math.sin(f.yaw)
    vx = c * f.velocity[0] + s * f.velocity[1]
    vy = -s * f.velocity[0] + c * f.velocity[1]
    if vx < cfg.min_speed_mps:
        return None
    # the front axle moves at atan((v_y + a r) / v_x) from the heading: the exact angle, not
    # its small-angle form, which a sliding car (slip angles ~1 rad) is far outside of
    return f.front_slip + math.atan((vy + cfg.cg_to_front_m * f.yaw_rate) / vx)


def steer(f: MotionSummary, cfg: EgoMotionConfig) -> Flag | None:
    delta = wheel_angle(f, cfg)
    if delta is None or f.steer is None:
        return None
    off, flipped = abs(f.steer - delta), abs(-f.steer - delta)
    if off <= cfg.steer_tol + cfg.steer_tol_rel * abs(f.steer) or flipped * cfg.flip_ratio > off:
        return None
    return flag("steer_vs_motion", f"ego.steer {f.steer:+.3f} rad where the front tyres' slip "
                f"angle, the body's sideslip and yaw rate {f.yaw_rate:+.3f} rad/s put the road "
                f"wheels at {delta:+.3f} rad: the steer has the opposite sign; off by", off,
                f"allowed {cfg.steer_tol:g} rad + {cfg.steer_tol_rel:.0%}, unless the "
                f"negation fits x{cfg.flip_ratio:g} better", ".3f")


def rolls_backwards(f: MotionSummary) -> bool:
    """The velocity points against the heading (a car that spun round and slides on)."""
    if f.velocity is None or f.yaw is None:
        return False
    return math.cos(f.yaw) * f.velocity[0] + math.sin(f.yaw) * f.velocity[1] < 0


def _rolling(f: MotionSummary) -> bool:
    """Fast enough for the slip ratio to be ``(omega r - v_x) / |v_x|``: below the tyre
    model's ``LOW_SPEED_MPS`` the tyre is a damped spring holding the car and its ratio keeps
    what it built up before (a car braked to a crawl may show a wheel's earlier spin)."""
    from sim.vehicle.tires import LOW_SPEED_MPS

    speed = math.hypot(*f.velocity) if f.velocity is not None else f.speed
    return speed is not None and abs(speed) >= LOW_SPEED_MPS


def braked_ratio(f: MotionSummary) -> float | None:
    """The slip ratio of the wheel turning slowest against the ground, negative when braked:
    the smallest ratio, or, for a car rolling backwards (velocity against its heading, after
    a spin), the largest one negated (a braked wheel then turns backwards slower than the
    ground: ``omega r > v_x`` with ``v_x < 0``, a positive ratio)."""
    if f.max_ratio is not None and rolls_backwards(f):
        return -f.max_ratio
    return f.min_ratio


def pedals(by_frame: dict[int, MotionSummary], f: MotionSummary,
           cfg: EgoMotionConfig) -> Flag | None:  # fmt: skip
    if f.brake is None or f.brake < cfg.pedal_min:
        return None
    swapped = (f"; ego.throttle {f.throttle:.3f}: the pedals look swapped"
               if f.throttle is not None and f.throttle < cfg.pedal_min else "")  # fmt: skip
    slowest = braked_ratio(f) if _rolling(f) else None
    if slowest is not None and slowest > -cfg.braked_ratio:
        backwards = " (rolling backwards: largest, negated)" if rolls_backwards(f) else ""
        return flag("pedals_vs_accel", f"ego.brake {f.brake:.3f} pressed while no wheel turns "
                    f"slower than the ground{swapped}; smallest wheel slip ratio{backwards}",
                    slowest, f"braked wheels slip below -{cfg.braked_ratio:g}", "+.4f")
    if f.accel is None or f.accel <= 0 or (rolls_backwards(f) and not _rolling(f)):
        # below the tyre model's low speed the tyre is a damped spring holding the car: a car
        # braked to a stop springs back on it, rolling backwards with |speed| rising (clean
        # clips: 0.0008 m/s at +0.0001 m/s^2; 0.15 m/s at +0.054 m/s^2)
        return None
    if f.crash or (f.max_slip is not None and f.max_slip >= cfg.sliding_slip_rad):
        return None  # a collision pushes the car, a sliding car's brakes do not hold it
    prev = by_frame.get(f.frame - 1)
    dv = interval_accel(prev, f) if prev is not None else None
    if dv is not None and dv <= 0:
        return None
    rising = f"; the speed rose {dv:+.3f} m/s^2 since frame {prev.frame}" if dv else ""
    return flag("pedals_vs_accel", f"ego.brake {f.brake:.3f} pressed while the car speeds up"
                f"{rising}{swapped}; ego.accel_mps2", f.accel,
                f"braking needs accel <= 0 at brake >= {cfg.pedal_min:g}", "+.3f")


def judge(summaries: list[MotionSummary],
          cfg: EgoMotionConfig) -> list[tuple[str, str, Flag]]:  # fmt: skip
    """(key, shard, flag) of frames whose controls or state disagree with the ego's motion."""
    groups: dict[tuple[str, str, str], list[MotionSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        counts: dict[int, int] = {}
        for f in frames:
            counts[f.frame] = counts.get(f.frame, 0) + 1
        by_frame = {f.frame: f for f in frames if f.frame >= 0 and counts[f.frame] == 1}
        for f in frames:
            found = (accel(by_frame, f, cfg) if f.frame in by_frame else None,
                     heading(f, cfg), steer(f, cfg),
                     pedals(by_frame, f, cfg) if f.frame in by_frame else None)
            out.extend((f.key, f.shard, fl) for fl in found if fl is not None)
    return out
