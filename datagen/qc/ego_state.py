"""The json's ego state against the vehicle model: engine speed, road speed and gear agree.

The engine turns with the driven wheels through the gear (``sim.vehicle.powertrain``): with
the wheels gripping, ``rpm / speed`` equals ``gear ratio x final drive x 60 / (2 pi r)`` of
one of the shipped vehicles (r the tyre radius), unless the clutch slips at low engine speed
(the engine then holds ``idle + throttle x 1500`` rpm, above the wheels'). A wheel rolls with
its own longitudinal speed, not the car's: ``omega r = |v| cos(alpha) (1 + kappa)`` with
``alpha`` its slip angle and ``kappa`` its slip ratio (``sim.vehicle.tires``), so a car sliding
sideways (snow, ice, a spin) turns its driven wheels, and the engine, slower than ``|v|``
says; the lower bound follows the driven wheels' slip angles (none where one is at the tyre
model's limit, atan 3: the wheel may slide at any larger angle). A car rolling backwards (after
a spin) turns its wheels backwards: the engine holds ``idle + throttle x 1500``. The json's
slip ratio is the tyre's transient slip ``kappa'`` (deflection over the relaxation length
``sigma``), which follows the wheel's own ``kappa = (omega r - v_x) / |v_x|`` as a first-order
lag of time constant ``sigma / |v_x|``: ``d kappa' / dt = (|v_x| / sigma) (kappa - kappa')``.
So while a driven wheel slows (engine braking or the brake locking it, e.g. on ice) it turns
slower than ``kappa'`` says, by at most the lag's ramp error ``sigma R / |v_x|``, ``R`` the
fastest rate ``kappa`` can fall: ``(r alpha + |a_x| (1 + |kappa'|)) / |v_x|`` with ``alpha``
the wheel's deceleration from the brake (``brake`` x its full torque) and the engine's
braking torque through the gear (``1 - throttle``), over the wheel's inertia (the tyre force
then spins the wheel back up and is left out: the bound stays safe). The lower bound takes
that lag off the stated slip only for a locking driven wheel (stated braking slip beyond the
tyre's force peak, :data:`LOCK_SLIP`): below the peak the tyre holds the wheel to the road.
The other way, the clutch engaging after a gear shift steps the engine's torque from none to
``throttle`` x its peak: the driven wheels spin up ahead of the stated slip for a few time
constants, so the upper bound takes on the lag's error since the engagement (:func:`engage_lag`).
``powertrain``
flags an rpm or speed that fits no vehicle in the stated gear, e.g. a speed in km/h stored
as m/s, or an rpm from a wrong ratio, and a gear that no shipped gearbox has (gear 0 of a
0-based count) while the car moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from datagen.qc.flag import Flag, flag
from sim.vehicle.tires import MAX_TAN_ALPHA

# the tyre model's slip angle stops at atan(MAX_TAN_ALPHA) (a deflection limit); a wheel
# there slides at that angle or more, up to sideways or backwards
SATURATED_COS = math.cos(math.atan(MAX_TAN_ALPHA)) * 1.01


@dataclass(frozen=True)
class EgoConfig:
    ratio_tol: float = 0.08  # widened by the largest wheel slip ratio
    min_speed_mps: float = 3.0
    max_slip: float = 0.5  # beyond this the wheels say little about the engine
    launch_rpm_span: float = 1500.0  # sim.vehicle.powertrain.LAUNCH_RPM_SPAN


def rpm_per_mps(vehicle: object = None) -> tuple[dict[int, tuple[float, ...]], float]:
    """(gear -> rpm per m/s of each shipped vehicle, the highest idle rpm); of the one named
    ``vehicle`` (json.vehicle.preset) when it is a shipped preset."""
    from sim.vehicle.config import preset_names

    return _rpm_table(vehicle if isinstance(vehicle, str) and vehicle in preset_names() else None)


@lru_cache(maxsize=8)
def _rpm_table(vehicle: str | None) -> tuple[dict[int, tuple[float, ...]], float]:
    from sim.vehicle.config import preset, preset_names

    table: dict[int, list[float]] = {}
    idle = 0.0
    for name in [vehicle] if vehicle else preset_names():
        cfg = preset(name)
        r, g = cfg.tire.radius_m, cfg.gearbox
        idle = max(idle, float(cfg.engine.idle_rpm))
        for i, ratio in enumerate(g.ratios, start=1):
            table.setdefault(i, []).append(ratio * g.final_drive * 60.0 / (2 * math.pi * r))
    return {k: tuple(sorted(v)) for k, v in table.items()}, idle


@lru_cache(maxsize=8)
def _wheel_decel(vehicle: str | None, gear: int) -> tuple[tuple[float, float, float, float], ...]:
    """Per shipped vehicle (the named one, or each): (r, sigma_x, decel of a driven wheel
    [rad/s^2] at full brake, at released throttle from the engine's braking in ``gear``)."""
    from sim.vehicle.config import preset, preset_names

    out = []
    for name in [vehicle] if vehicle else preset_names():
        c = preset(name)
        t, g, b = c.tire, c.gearbox, c.brakes
        n_driven = 4 if g.drive not in ("fwd", "rwd") else 2
        bias = b.front_bias if g.drive == "fwd" else (1 - b.front_bias if g.drive == "rwd"
                                                      else max(b.front_bias, 1 - b.front_bias))
        ratio = g.ratios[min(max(gear, 1), len(g.ratios)) - 1] * g.final_drive
        out.append((t.radius_m, t.relaxation_length_x_m,
                    b.max_torque_nm * bias / 2 / t.inertia_kgm2,
                    c.engine.engine_brake_nm * ratio * g.efficiency / n_driven / t.inertia_kgm2))
    return tuple(out)


def lock_lag(ego: dict, vehicle: object, speed: float, gear: int) -> float:
    """How much lower than the stated (transient) slip ratio a driven wheel's own slip may
    be while it slows faster than the tyre's deflection follows: the first-order lag's ramp
    error ``sigma R / |v_x|`` (module docstring); the largest over the shipped vehicles when
    ``vehicle`` names none of them."""
    from sim.vehicle.config import preset_names

    name = vehicle if isinstance(vehicle, str) and vehicle in preset_names() else None
    try:
        brake = min(max(float(ego.get("brake", 0.0)), 0.0), 1.0)
        throttle = min(max(float(ego.get("throttle", 0.0)), 0.0), 1.0)
        accel = abs(float(ego.get("accel_mps2", 0.0)))
        slip = max((abs(float(v)) for v in ego.get("wheel_slip", {}).get("ratio", [])),
                   default=0.0)
    except (AttributeError, TypeError, ValueError):
        return 0.0
    if not all(map(math.isfinite, (brake, throttle, accel, slip))):
        return 0.0
    v = max(abs(speed), 1e-3)
    return max(sigma * (r * (brake * b + (1 - throttle) * e) + accel * (1 + slip)) / (v * v)
               for r, sigma, b, e in _wheel_decel(name, gear))


LOCK_SLIP = 0.1  # braking slip beyond the tyre's force peak (~0.1): the wheel runs away

ENGAGE_TAUS = 3.0  # relaxation time constants after the clutch engages that the lead may last


@lru_cache(maxsize=8)
def _wheel_drive(vehicle: str | None, gear: int) -> tuple[tuple[float, float, float, float], ...]:
    """Per shipped vehicle (the named one, or each): (r, sigma_x, the gearbox's shift time,
    the acceleration [rad/s^2] of a free driven wheel at full throttle in ``gear``: the
    engine's peak torque through the gear over the wheel's inertia)."""
    from sim.vehicle.config import preset, preset_names

    out = []
    for name in [vehicle] if vehicle else preset_names():
        c = preset(name)
        t, g = c.tire, c.gearbox
        n_driven = 4 if g.drive not in ("fwd", "rwd") else 2
        ratio = g.ratios[min(max(gear, 1), len(g.ratios)) - 1] * g.final_drive
        out.append((t.radius_m, t.relaxation_length_x_m, g.shift_time_s,
                    max(c.engine.curve_nm) * ratio * g.efficiency / n_driven / t.inertia_kgm2))
    return tuple(out)


def engage_lag(meta: dict, vehicle: object, speed: float, gear: int) -> float:
    """How much higher than the stated (transient) slip ratio a driven wheel's own slip may be
    just after the clutch engages (a gear shift of the frame's events into ``gear`` ended
    ``shift_time_s`` after its time, fewer than :data:`ENGAGE_TAUS` relaxation time constants
    ``sigma / |v_x|`` before the frame): the engine's torque steps from none to ``throttle``
    x its peak and spins the wheel up faster than the tyre's deflection follows, by at most
    what a first-order lag of time constant ``tau = sigma / |v_x|`` falls behind a ramp in
    the time since (:func:`_ramp_lag`): the ramp no faster than ``r alpha / |v_x|`` (a free
    wheel: the tyre's force, which holds it back, left out), nor than the one that brings the
    stated slip of the driven wheels up from rolling in that time. 0 for any other frame."""
    from sim.vehicle.config import preset_names

    name = vehicle if isinstance(vehicle, str) and vehicle in preset_names() else None
    ego = meta.get("ego", {})
    try:
        throttle = min(max(float(ego.get("throttle", 0.0)), 0.0), 1.0)
        ratios = [float(x) for x in ego.get("wheel_slip", {}).get("ratio", [])]
        spin = max((ratios[i] for i in driven_wheels(name) if i < len(ratios)), default=1.0)
        now = float(meta["time_s"])
        shifts = [float(e["time_s"]) for e in meta.get("events", [])
                  if isinstance(e, dict) and e.get("type") == "gear_shift" and e.get("to") == gear]
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0.0
    v = max(abs(speed), 1e-3)
    lag = 0.0
    for r, sigma, shift_s, alpha in _wheel_drive(name, gear):
        tau = sigma / v
        for t in (now - (t0 + shift_s) for t0 in shifts):
            if 0.0 <= t <= ENGAGE_TAUS * tau:
                lag = max(lag, _ramp_lag(r * throttle * alpha / v, tau, t, spin))
    return lag if math.isfinite(lag) else 0.0


def _ramp_lag(rate: float, tau: float, t: float, slip: float) -> float:
    """How far a first-order lag (time constant ``tau``) may fall behind the wheel's own slip
    ``t`` after a torque step, the lag then at ``slip`` having started from rolling (0: no
    torque during the shift) and the own slip rising no faster than ``rate``: at most a ramp
    of that rate over the last ``u <= t``, ``u`` the time such a ramp takes to bring the lag
    to ``slip`` (``rate (u - tau (1 - exp(-u / tau))) = slip``), leaves it ``rate tau
    (1 - exp(-u / tau))`` behind."""
    def risen(u: float) -> float:
        return rate * (u + tau * math.expm1(-u / tau))

    if rate <= 0 or t <= 0:
        return 0.0
    lo, hi = 0.0, t
    if risen(t) > slip:  # the lag reached the stated slip sooner: the ramp began later
        for _ in range(40):
            lo, hi = (lo, (lo + hi) / 2) if risen((lo + hi) / 2) >= slip else ((lo + hi) / 2, hi)
    return rate * tau * -math.expm1(-hi / tau)


def _locking(ego: dict, vehicle: object) -> bool:
    """Whether a driven wheel is locking: rolling forwards with a stated braking slip beyond
    the force peak (:data:`LOCK_SLIP`). Below it the tyre's force grows with the slip and holds
    the wheel to the road, so its own slip cannot run away from the stated one and the
    first-order lag (:func:`lock_lag`) does not open; beyond it the wheel decelerates freely."""
    if _rolls_backwards(ego):  # wheels turning backwards: the engine idles, judged apart
        return False
    try:
        ratios = [float(v) for v in ego.get("wheel_slip", {}).get("ratio", [])]
    except (AttributeError, TypeError, ValueError):
        return False
    wheels = driven_wheels(vehicle if isinstance(vehicle, str) else None)
    return any(ratios[i] < -LOCK_SLIP for i in wheels if i < len(ratios))


@lru_cache(maxsize=8)
def driven_wheels(vehicle: object = None) -> tuple[int, ...]:
    """Indices (FL, FR, RL, RR order) of the wheels the engine turns in the shipped vehicle
    named ``vehicle`` (its gearbox's ``drive``); all four when it is not a shipped preset."""
    from sim.vehicle.config import preset, preset_names

    if not (isinstance(vehicle, str) and vehicle in preset_names()):
        return (0, 1, 2, 3)
    return {"fwd": (0, 1), "rwd": (2, 3)}.get(preset(vehicle).gearbox.drive, (0, 1, 2, 3))


def rolling_share(ego: dict, wheels: tuple[int, ...]) -> float:
    """The lowest ``cos(slip angle)`` of the driven ``wheels``: the share of the car's speed
    along their rolling direction (1 when the json has no slip angles)."""
    slip = ego.get("wheel_slip")
    angles = slip.get("angle") if isinstance(slip, dict) else None
    if not isinstance(angles, list):
        return 1.0
    try:
        cos = [math.cos(float(angles[i])) for i in wheels if i < len(angles)]
    except (TypeError, ValueError):
        return 1.0
    finite = [c for c in cos if math.isfinite(c)]
    if finite and min(finite) <= SATURATED_COS:
        return 0.0  # at the tyre's deflection limit: the real angle may be anything beyond
    return max(min(finite), 0.0) if finite else 1.0


def _rolls_backwards(ego: dict) -> bool:
    """The velocity points against the heading (a car that spun round and slides on): its
    wheels turn backwards, below the engine's launch speed in any forward gear."""
    try:
        vx, vy = (float(v) for v in ego["velocity"][:2])
        yaw = float(ego["yaw"])
    except (KeyError, TypeError, ValueError):
        return False
    return math.cos(yaw) * vx + math.sin(yaw) * vy < 0


def powertrain(meta: dict, cfg: EgoConfig) -> Flag | None:
    ego = meta.get("ego", {})
    try:
        speed, rpm, gear = float(ego["speed_mps"]), float(ego["rpm"]), int(ego["gear"])
        throttle = float(ego.get("throttle", 0.0))
        slip = [abs(float(v)) for v in ego.get("wheel_slip", {}).get("ratio", [])]
    except (KeyError, TypeError, ValueError):
        return None
    vehicle = meta.get("vehicle")
    name = vehicle.get("preset") if isinstance(vehicle, dict) else None
    table, idle = rpm_per_mps(name)
    if abs(speed) < cfg.min_speed_mps or (slip and max(slip) > cfg.max_slip):
        return None
    if gear not in table:
        return flag("powertrain", f"gear {gear} while the car moves at {speed:.1f} m/s "
                    f"(rpm {rpm:.0f}): it is none of the shipped gearboxes' gears; gear",
                    gear, f"gears 1..{max(table)}", "d")  # fmt: skip
    ratio = rpm / abs(speed)
    best = min(table[gear], key=lambda c: abs(math.log(ratio / c)))
    spin = max(slip) if slip else 0.0  # slipping wheels turn faster (or, braking, slower)
    roll = rolling_share(ego, driven_wheels(name if isinstance(name, str) else None))
    # a locking driven wheel turns slower than the stated slip (a car rolling backwards turns
    # its wheels backwards: the engine idles, judged below, not by the forward-rolling lag)
    lag = lock_lag(ego, name, speed, gear) if _locking(ego, name) else 0.0
    lo = best * (1 - cfg.ratio_tol) * max(1 - spin - lag, 0.0) * roll  # sliding: slower
    # the clutch just engaged: the driven wheels spin up ahead of the stated slip
    lead = engage_lag(meta, name, speed, gear)
    hi = best * (1 + cfg.ratio_tol) * (1 + spin + lead)
    if lo <= ratio <= hi:
        return None
    if (ratio > hi or _rolls_backwards(ego)) and rpm <= idle + throttle * cfg.launch_rpm_span \
            + 100:  # fmt: skip
        # the clutch slips (or, the car rolling backwards in a forward gear, is open): the
        # engine holds idle + throttle x 1500 rpm
        return None
    options = ", ".join(f"{c:.0f}" for c in table[gear])
    return flag("powertrain", f"rpm / speed = {rpm:.0f} / {speed:.1f} m/s in gear {gear}:", ratio,
                f"vehicle models give {options} rpm per m/s; allowed {lo:.0f}..{hi:.0f} with "
                f"the wheels' slip (ratio {spin:.2f}, cos angle {roll:.2f}, lag {lag:.2f}, "
                f"lead {lead:.2f})",
                ".0f")  # fmt: skip


def check(meta: dict, cfg: EgoConfig) -> list[Flag]:
    f = powertrain(meta, cfg)
    return [f] if f else []
