"""The fleet's per-step maths compiled with numba: the same model as the numpy code.

:class:`sim.vehicle.fleet.VehicleFleet` calls PyBullet (body states, the suspension rays,
the wrenches) and the surface and wind callbacks from Python; everything in between runs
here as plain loops over vehicles and wheels, fused: a physics step of one car costs a few
microseconds instead of ~300 numpy calls on (1, 4) arrays. The formulas, their order and the
fleet-wide switches (sub-steps while any wheel is slow, low-speed damping while any wheel is
below ``LOW_SPEED_MPS``, the brake branch while any pedal is pressed) are those of
``fleet.py``, ``wheels.py`` and ``powertrain.py``, which stay the reference: tests compare
both (``VehicleFleet(backend="numpy")``). Results agree to rounding (libm vs numpy's own
transcendental functions), not bit for bit; each is deterministic.

Compiled with :func:`sim.jit.njit` (cached; no fast-math; numpy's error model): a machine
pays the compilation (~10-30 s) once, a process loads it in well under a second.
"""

from __future__ import annotations

import math

import numpy as np

from sim.jit import AVAILABLE, njit
from sim.vehicle.params import DAMP, PEAK, B, C, D, E
from sim.vehicle.powertrain import LAUNCH_RPM_SPAN, RAD_S_TO_RPM
from sim.vehicle.tires import LOW_SPEED_MPS
from sim.vehicle.wheels import _ABS_OFFSET, ABS_GAIN

__all__ = ["AVAILABLE", "ray_segments", "suspension", "powertrain_step", "engine_rpm",
           "steer_and_frames", "tires", "wrenches"]  # fmt: skip
_EPS = 1e-9
_jit = njit


@_jit
def ray_segments(ray_points, rot, pos, starts, ends):
    """Suspension ray starts (hardpoints) and ends of every wheel, world frame, into
    ``starts`` / ``ends`` (N*4, 3)."""
    for i in range(pos.shape[0]):
        for k in range(8):
            for a in range(3):
                v = (rot[i, a, 0] * ray_points[i, k, 0] + rot[i, a, 1] * ray_points[i, k, 1]
                     + rot[i, a, 2] * ray_points[i, k, 2]) + pos[i, a]  # fmt: skip
                if k < 4:
                    starts[i * 4 + k, a] = v
                else:
                    ends[i * 4 + k - 4, a] = v


@_jit
def suspension(res, pos, rot, lin, ang, ray_points, ray, spring, damper, bump,
               arms, v_points, normal, fz, contact):  # fmt: skip
    """``VehicleFleet._suspension`` after the ray test ``res`` (N*4, 8): lever arms and
    point velocities (N, 8, 3: hardpoints, then contact points), contact normals (N, 4, 3),
    wheel loads ``fz`` and ``contact`` (N, 4)."""
    for i in range(pos.shape[0]):
        for k in range(8):
            if k < 4:
                for a in range(3):
                    arms[i, k, a] = (rot[i, a, 0] * ray_points[i, k, 0]
                                     + rot[i, a, 1] * ray_points[i, k, 1]
                                     + rot[i, a, 2] * ray_points[i, k, 2])  # fmt: skip
            else:
                r = res[i * 4 + k - 4]
                for a in range(3):
                    arms[i, k, a] = r[2 + a] - pos[i, a]
            x, y, z = arms[i, k, 0], arms[i, k, 1], arms[i, k, 2]
            wx, wy, wz = ang[i, 0], ang[i, 1], ang[i, 2]
            v_points[i, k, 0] = (wy * z - wz * y) + lin[i, 0]
            v_points[i, k, 1] = (wz * x - wx * z) + lin[i, 1]
            v_points[i, k, 2] = (wx * y - wy * x) + lin[i, 2]
        for w in range(4):
            r = res[i * 4 + w]
            c = r[0]
            rate = (v_points[i, w, 0] * rot[i, 0, 2] + v_points[i, w, 1] * rot[i, 1, 2]
                    + v_points[i, w, 2] * rot[i, 2, 2])  # fmt: skip
            compression = ray[i, w] * (1 - r[1]) * c
            over = max(compression - bump[i, w], 0.0)
            force = spring[i, w] * (compression + 10 * over) - damper[i, w] * rate
            fz[i, w] = max(force, 0.0) * c
            contact[i, w] = c > 0
            for a in range(3):
                normal[i, w, a] = r[5 + a]


@_jit
def powertrain_step(omega, drive, throttle, power, dt, gear, rpm, load, timer, ratios,
                    n_gears, final, eff, idle, redline, engine_brake, up, down, shift_s,
                    knots, width, slope, f0, drive_nm, shifted):  # fmt: skip
    """``Powertrain.update`` per vehicle, driven by the wheel speeds ``omega`` weighted by
    ``drive``: drive torque at the wheels into ``drive_nm``; into ``shifted`` the new gear
    of a vehicle that shifted up, minus the new gear of one that shifted down, else 0."""
    for i in range(omega.shape[0]):
        driven = 0.0
        for w in range(4):
            driven += omega[i, w] * drive[i, w]
        timer[i] = max(timer[i] - dt, 0.0)
        shifted[i] = 0
        ratio = ratios[i, gear[i] - 1] * final[i]
        wheel_rpm = driven * (ratio * RAD_S_TO_RPM)
        up_rpm = up[i] if gear[i] < n_gears[i] else np.inf
        down_rpm = down[i] if gear[i] > 1 else -np.inf
        if wheel_rpm > up_rpm or wheel_rpm < down_rpm:
            ready = timer[i] <= 0
            going_up = wheel_rpm > up_rpm and ready
            going_down = wheel_rpm < down_rpm and ready
            lower = ratios[i, max(gear[i] - 2, 0)] * final[i]
            going_down = going_down and wheel_rpm * lower / ratio < 0.9 * up[i]
            if going_up or going_down:
                gear[i] += 1 if going_up else -1
                shifted[i] = gear[i] if going_up else -gear[i]
                timer[i] = shift_s[i]
                ratio = ratios[i, gear[i] - 1] * final[i]
                wheel_rpm = driven * (ratio * RAD_S_TO_RPM)
        rpm[i] = max(wheel_rpm, idle[i] + throttle[i] * LAUNCH_RPM_SPAN)
        limiter = 1.0 if rpm[i] < redline[i] else 0.0
        torque = 0.0
        for j in range(knots.shape[1]):
            torque += min(max(rpm[i] - knots[i, j], 0.0), width[i, j]) * slope[i, j]
        torque = f0[i] + torque
        driving = throttle[i] * torque * power[i] * limiter
        braking = (1 - throttle[i]) * engine_brake[i] * (1.0 if wheel_rpm > idle[i] else 0.0)
        load[i] = throttle[i] * power[i] * limiter
        engine = driving - braking
        if timer[i] > 0:  # clutch open while the shift is under way
            engine = engine * 0.0
            load[i] = load[i] * 0.0
        drive_nm[i] = engine * (ratio * eff[i])


@_jit
def engine_rpm(omega, drive, throttle, gear, ratios, final, idle, rpm):
    """``Powertrain.read_out``: ``rpm`` of the wheel speeds ``omega`` at the end of the
    step in the current gear (the clutch slipping below the launch speed), so that a step's
    state names the engine speed of the same instant as its road speed and slip."""
    for i in range(omega.shape[0]):
        driven = 0.0
        for w in range(4):
            driven += omega[i, w] * drive[i, w]
        wheel_rpm = driven * (ratios[i, gear[i] - 1] * final[i] * RAD_S_TO_RPM)
        rpm[i] = max(wheel_rpm, idle[i] + throttle[i] * LAUNCH_RPM_SPAN)


@_jit
def steer_and_frames(rot, normal, v_points, controls, steer, bias, steer_max, steer_rate,
                     dt, frames, vxy):  # fmt: skip
    """``VehicleFleet._tire_frames`` (steering rate limit, wheel frames on the contact
    plane) and the contact-point speeds ``vxy`` (2, N, 4) in those frames."""
    for i in range(rot.shape[0]):
        target = min(max(controls[i, 0], -1.0), 1.0) * steer_max[i]
        limit = steer_rate[i] * dt
        steer[i] = steer[i] + min(max(target - steer[i], -limit), limit)
        angle = steer[i] + bias[i]
        ca, sa = math.cos(angle), math.sin(angle)
        for w in range(4):
            dx, dy = (ca, sa) if w < 2 else (1.0, 0.0)
            h0 = rot[i, 0, 0] * dx + rot[i, 0, 1] * dy + rot[i, 0, 2] * 0.0
            h1 = rot[i, 1, 0] * dx + rot[i, 1, 1] * dy + rot[i, 1, 2] * 0.0
            h2 = rot[i, 2, 0] * dx + rot[i, 2, 1] * dy + rot[i, 2, 2] * 0.0
            n0, n1, n2 = normal[i, w, 0], normal[i, w, 1], normal[i, w, 2]
            along = h0 * n0 + h1 * n1 + h2 * n2
            x0, x1, x2 = h0 - along * n0, h1 - along * n1, h2 - along * n2
            length = max(math.sqrt(x0 * x0 + x1 * x1 + x2 * x2), 1e-9)
            x0, x1, x2 = x0 / length, x1 / length, x2 / length
            frames[i, w, 0, 0], frames[i, w, 0, 1], frames[i, w, 0, 2] = x0, x1, x2
            frames[i, w, 1, 0] = n1 * x2 - n2 * x1
            frames[i, w, 1, 1] = n2 * x0 - n0 * x2
            frames[i, w, 1, 2] = n0 * x1 - n1 * x0
            frames[i, w, 2, 0], frames[i, w, 2, 1], frames[i, w, 2, 2] = n0, n1, n2
            for d in range(2):
                vxy[d, i, w] = (frames[i, w, d, 0] * v_points[i, 4 + w, 0]
                                + frames[i, w, d, 1] * v_points[i, 4 + w, 1]
                                + frames[i, w, d, 2] * v_points[i, 4 + w, 2])  # fmt: skip


@_jit
def tires(vxy, fz, contact, surf, table, load_sens, fz0, sigma, deflection_limit, radius,
          inertia, drive, brake_nm, abs_off, tcs_off, crr, rolling_mps, controls, drive_nm,
          n_sub, dt, omega, deflection, slip, force_mean, force):  # fmt: skip
    """``VehicleFleet._tires`` after the powertrain: ``n_sub`` sub-steps of tire
    deflection, magic-formula forces and wheel spin; the mean forces into ``force_mean``
    (the fleet state's ``force``) and, with rolling resistance, into ``force`` (2, N, 4)."""
    n = vxy.shape[1]
    h = dt / n_sub
    slow = False
    braking = False
    for i in range(n):
        braking = braking or controls[i, 2] > 0
        for w in range(4):
            slow = slow or abs(vxy[0, i, w]) < LOW_SPEED_MPS
    bcde = np.empty((4, 2))
    peak = np.empty(2)
    damp = np.empty(2)
    relax = np.empty(2)
    ss = np.empty(2)
    f = np.empty(2)
    for i in range(n):
        spin_rate = h / inertia[i, 0]
        for w in range(4):
            s = surf[i, w]
            load = fz[i, w]
            vx, vx_abs = vxy[0, i, w], abs(vxy[0, i, w])
            c = 1.0 if contact[i, w] else 0.0
            for d in range(2):
                bcde[0, d] = table[B, d, i, s]
                bcde[1, d] = table[C, d, i, s]
                dl = table[D, d, i, s] * (1.0 + load_sens[i, 0] * ((load - fz0[i, w]) / fz0[i, w]))
                bcde[2, d] = max(dl, 0.0)
                bcde[3, d] = table[E, d, i, s]
                peak[d] = table[PEAK, d, i, s]
                damp[d] = table[DAMP, d, i, s] * (max(1.0 - vx_abs / LOW_SPEED_MPS, 0.0) * load)
                relax[d] = 1.0 + h * vx_abs / sigma[d, i, 0]
            limit = max(bcde[2, 0], bcde[2, 1]) * load
            ss[1] = -vxy[1, i, w]
            wheel_drive = drive_nm[i] * drive[i, w]
            wheel_brake = controls[i, 2] * brake_nm[i, w]
            total0 = 0.0
            total1 = 0.0
            for k in range(n_sub):
                ss[0] = omega[i, w] * radius[i, 0] - vx
                for d in range(2):
                    uv = (deflection[d, i, w] + h * ss[d]) / relax[d]
                    uv = min(uv, deflection_limit[d, i, 0])
                    uv = max(uv, -deflection_limit[d, i, 0])
                    deflection[d, i, w] = uv * c
                slip[0, i, w] = deflection[0, i, w] / sigma[0, i, 0]
                slip[1, i, w] = math.atan(deflection[1, i, w] / sigma[1, i, 0])
                norm0 = slip[0, i, w] / peak[0]
                norm1 = slip[1, i, w] / peak[1]
                rho = math.hypot(norm0, norm1)
                for d in range(2):
                    bs = bcde[0, d] * (rho * peak[d])
                    shaped = bcde[1, d] * math.atan(bs - bcde[3, d] * (bs - math.atan(bs)))
                    f[d] = bcde[2, d] * math.sin(shaped)
                    f[d] *= norm0 if d == 0 else norm1
                    f[d] *= load / max(rho, _EPS)
                    if slow:
                        f[d] += damp[d] * ss[d]
                scale = min(1.0, limit / max(math.hypot(f[0], f[1]), _EPS))
                f[0] *= scale
                f[1] *= scale
                gain = ABS_GAIN * norm0
                tcs = min(max(_ABS_OFFSET - gain, tcs_off[i, 0]), 1.0)
                free = omega[i, w] + spin_rate * (wheel_drive * tcs - f[0] * radius[i, 0])
                if braking:
                    absf = min(max(_ABS_OFFSET + gain, abs_off[i, 0]), 1.0)
                    stop = spin_rate * (wheel_brake * absf)
                    free = 0.0 if abs(free) <= stop else free - math.copysign(stop, free)
                omega[i, w] = free
                if k == 0:
                    total0, total1 = f[0], f[1]
                else:
                    total0, total1 = total0 + f[0], total1 + f[1]
            if n_sub > 1:
                total0 /= n_sub
                total1 /= n_sub
            force_mean[0, i, w], force_mean[1, i, w] = total0, total1
            rolling = crr[i, 0] * load * math.tanh(vx / rolling_mps)
            force[0, i, w], force[1, i, w] = total0 - rolling, total1


@_jit
def wrenches(force, fz, frames, arms, lin, rot, wind, drag_scale, half_rho_cda,
             half_rho_cla, total_force, torque, drag_n, airspeed):  # fmt: skip
    """Wheel forces on the contact frames summed into one force and one torque per body,
    plus drag (with ``wind`` and ``drag_scale``) and downforce."""
    for i in range(lin.shape[0]):
        fx = 0.0
        fy = 0.0
        fzs = 0.0
        tx = 0.0
        ty = 0.0
        tz = 0.0
        for w in range(4):
            a, b, c = force[0, i, w], force[1, i, w], fz[i, w]
            f0 = a * frames[i, w, 0, 0] + b * frames[i, w, 1, 0] + c * frames[i, w, 2, 0]
            f1 = a * frames[i, w, 0, 1] + b * frames[i, w, 1, 1] + c * frames[i, w, 2, 1]
            f2 = a * frames[i, w, 0, 2] + b * frames[i, w, 1, 2] + c * frames[i, w, 2, 2]
            fx += f0
            fy += f1
            fzs += f2
            r0, r1, r2 = arms[i, 4 + w, 0], arms[i, 4 + w, 1], arms[i, 4 + w, 2]
            tx += r1 * f2 - r2 * f1
            ty += r2 * f0 - r0 * f2
            tz += r0 * f1 - r1 * f0
        v0, v1, v2 = lin[i, 0] - wind[0], lin[i, 1] - wind[1], lin[i, 2] - wind[2]
        speed = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
        q = half_rho_cda[i] * speed * drag_scale[i]
        drag_n[i] = q * speed
        airspeed[i] = speed
        down = half_rho_cla[i] * speed * speed
        total_force[i, 0] = fx + (-q * v0 - down * rot[i, 0, 2])
        total_force[i, 1] = fy + (-q * v1 - down * rot[i, 1, 2])
        total_force[i, 2] = fzs + (-q * v2 - down * rot[i, 2, 2])
        torque[i, 0], torque[i, 1], torque[i, 2] = tx, ty, tz


@_jit
def forces(rot, lin, normal, v_points, arms, controls, steer, bias, steer_max, steer_rate, dt,
           omega, drive, power, gear, rpm, load, timer, ratios, n_gears, final, eff, idle,
           redline, engine_brake, up, down, shift_s, knots, width, slope, f0, fz, contact,
           surf, table, load_sens, fz0, sigma, deflection_limit, radius, inertia, brake_nm,
           abs_off, tcs_off, crr, rolling_mps, substeps, fine_below, deflection, slip,
           force_mean, wind, drag_scale, half_rho_cda, half_rho_cla, frames, vxy, drive_nm,
           shifted, force, total, torque, drag_n, airspeed):  # fmt: skip
    """Everything after the surface lookup in one call (one dispatch instead of four):
    :func:`steer_and_frames`, :func:`powertrain_step`, the fleet-wide sub-step choice
    (``substeps`` while any wheel rolls slower than ``fine_below``), :func:`tires`,
    :func:`engine_rpm` (the rpm read out after the tyres moved the wheels) and
    :func:`wrenches`."""
    steer_and_frames(rot, normal, v_points, controls, steer, bias, steer_max, steer_rate, dt,
                     frames, vxy)  # fmt: skip
    powertrain_step(omega, drive, controls[:, 1], power, dt, gear, rpm, load, timer, ratios,
                    n_gears, final, eff, idle, redline, engine_brake, up, down, shift_s,
                    knots, width, slope, f0, drive_nm, shifted)  # fmt: skip
    n_sub = 1
    for i in range(vxy.shape[1]):
        for w in range(4):
            if abs(vxy[0, i, w]) < fine_below:
                n_sub = substeps
    tires(vxy, fz, contact, surf, table, load_sens, fz0, sigma, deflection_limit, radius,
          inertia, drive, brake_nm, abs_off, tcs_off, crr, rolling_mps, controls, drive_nm,
          n_sub, dt, omega, deflection, slip, force_mean, force)  # fmt: skip
    engine_rpm(omega, drive, controls[:, 1], gear, ratios, final, idle, rpm)
    wrenches(force, fz, frames, arms, lin, rot, wind, drag_scale, half_rho_cda, half_rho_cla,
             total, torque, drag_n, airspeed)  # fmt: skip
