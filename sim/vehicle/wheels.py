"""Tire forces and wheel spin of all wheels of a fleet, fused for speed.

The same maths as :mod:`sim.vehicle.tires` and :mod:`sim.vehicle.pacejka` (transient
slip, combined-slip magic formula, low-speed damping, friction limit), plus ABS, traction
control and the wheel-spin integration, written for arrays whose leading axis of 2 holds
the longitudinal and lateral directions. Everything that stays constant during one
physics step (loads, surfaces, speeds) is computed once in :func:`prepare`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.vehicle.fleet_state import FleetState
from sim.vehicle.params import DAMP, PEAK, B, C, D, E, FleetParams
from sim.vehicle.tires import LOW_SPEED_MPS

ABS_TARGET = 0.9  # fraction of the peak slip the anti-lock system aims for
ABS_GAIN = 3.0
_EPS = 1e-9
_ABS_OFFSET = 1.0 + ABS_GAIN * ABS_TARGET


@dataclass
class StepInputs:
    """What stays fixed over the sub-steps of one physics step, per wheel."""

    shape: tuple[np.ndarray, ...]  # (2, N, 4) each: B, C, D (load scaled), E
    peak: np.ndarray  # (2, N, 4)
    damp: np.ndarray | None  # (2, N, 4) low-speed damping [N s/m]; None when all fast
    limit: np.ndarray  # (N, 4) friction limit [N]
    relax_den: np.ndarray  # (2, N, 4) implicit relaxation denominators
    slip_speed: np.ndarray  # (2, N, 4) omega r - vx (updated per sub-step), -vy
    vx: np.ndarray  # (N, 4)
    fz: np.ndarray  # (N, 4)
    contact: np.ndarray  # (N, 4) 1.0 / 0.0
    drive_nm: np.ndarray  # (N, 4)
    brake_nm: np.ndarray  # (N, 4)
    h: float
    spin_rate: np.ndarray  # (N, 1) h / wheel inertia
    braking: bool  # any brake pedal pressed (else the brake maths is skipped)


def prepare(p: FleetParams, surf: np.ndarray, vxy: np.ndarray, fz: np.ndarray,
            contact: np.ndarray, drive_nm: np.ndarray, brake: np.ndarray, h: float,
            ) -> StepInputs:
    """Per-step constants for wheels on surfaces ``surf`` with contact speeds ``vxy``."""
    t = p.lookup(surf)  # (6, 2, N, 4)
    d_loaded = t[D] * (1.0 + p.load_sens * ((fz - p.fz0) / p.fz0))
    np.maximum(d_loaded, 0.0, out=d_loaded)
    shape = (t[B], t[C], d_loaded, t[E])
    vx_abs = np.abs(vxy[0])
    damp = None
    if vx_abs.min() < LOW_SPEED_MPS:
        damp = t[DAMP] * (np.maximum(1.0 - vx_abs / LOW_SPEED_MPS, 0.0) * fz)
    slip_speed = np.empty_like(vxy)
    np.negative(vxy[1], out=slip_speed[1])
    return StepInputs(
        shape=shape, peak=t[PEAK], damp=damp,
        limit=np.maximum(d_loaded[0], d_loaded[1]) * fz,
        relax_den=1.0 + h * vx_abs / p.sigma, slip_speed=slip_speed, vx=vxy[0], fz=fz,
        contact=contact, drive_nm=drive_nm, brake_nm=brake[:, None] * p.brake_nm, h=h,
        spin_rate=h / p.inertia, braking=bool(brake.max() > 0))


def substep(p: FleetParams, s: FleetState, k: StepInputs) -> np.ndarray:
    """Advance tire deflections and wheel spin by ``k.h``; the (2, N, 4) forces Fx, Fy."""
    ss = k.slip_speed
    np.multiply(s.omega, p.radius, out=ss[0])
    ss[0] -= k.vx
    uv = s.deflection
    uv += k.h * ss
    uv /= k.relax_den
    np.minimum(uv, p.deflection_limit, out=uv)
    np.maximum(uv, -p.deflection_limit, out=uv)
    uv *= k.contact
    slip = s.slip
    np.divide(uv, p.sigma, out=slip)
    np.arctan(slip[1], out=slip[1])
    force, norm = _combined_forces(slip, k)
    if k.damp is not None:
        force += k.damp * ss
    total = np.hypot(force[0], force[1])
    force *= np.minimum(1.0, k.limit / np.maximum(total, _EPS))
    _spin_wheels(p, s, k, force[0], norm[0])
    return force


def _combined_forces(slip: np.ndarray, k: StepInputs) -> tuple[np.ndarray, np.ndarray]:
    """Magic-formula forces (2, N, 4) under combined slip, and the normalised slips."""
    b, c, d, e = k.shape
    norm = slip / k.peak
    rho = np.hypot(norm[0], norm[1])
    bs = b * (rho * k.peak)
    shaped = c * np.arctan(bs - e * (bs - np.arctan(bs)))
    force = d * np.sin(shaped)
    force *= norm
    force *= k.fz / np.maximum(rho, _EPS)
    return force, norm


def _spin_wheels(p: FleetParams, s: FleetState, k: StepInputs, fx: np.ndarray,
                 kappa_norm: np.ndarray) -> None:
    """Wheel speeds under drive (traction control), brake (ABS) and tire torque."""
    gain = ABS_GAIN * kappa_norm
    tcs_factor = np.minimum(np.maximum(_ABS_OFFSET - gain, p.tcs_off), 1.0)
    free = s.omega + k.spin_rate * (k.drive_nm * tcs_factor - fx * p.radius)
    if not k.braking:
        s.omega = free
        return
    abs_factor = np.minimum(np.maximum(_ABS_OFFSET + gain, p.abs_off), 1.0)
    stop = k.spin_rate * (k.brake_nm * abs_factor)
    s.omega = np.where(np.abs(free) <= stop, 0.0, free - np.sign(free) * stop)
