"""Per-wheel tire state and the transient (relaxation-length) slip update.

The tire deflections ``u`` (longitudinal) and ``v`` (lateral) follow
``du/dt = omega r - vx - |vx| u / sigma_x`` and ``dv/dt = -vy - |vx| v / sigma_y``; the
slips that make force are ``kappa = u / sigma_x`` and ``alpha = atan(v / sigma_y)``. At
speed they settle to the steady slips ``(omega r - vx) / |vx|`` and ``-atan(vy / |vx|)``;
at rest they act as springs, so a braked car on a slope it can grip stays put. The update
is implicit, hence stable at any speed.
"""

from __future__ import annotations

import numpy as np

from sim.vehicle.config import TireConfig
from sim.vehicle.pacejka import combined_forces, load_scaled_mu, peak_slip
from sim.vehicle.surfaces import SURFACE_NAMES, scale_for

N_PARAMS = 10  # bx cx dx ex by cy dy ey kappa_peak alpha_peak
LOW_SPEED_MPS = 2.0
MAX_TAN_ALPHA = 3.0  # deflection limits: |kappa| <= 1, |alpha| <= atan(3)
LOW_SPEED_DAMPING_RATIO = 0.7


def surface_table(tire: TireConfig) -> np.ndarray:
    """(n_surfaces, 10) magic-formula parameters of ``tire`` on every surface."""
    rows = []
    for name in SURFACE_NAMES:
        sb, sc, sd, se = scale_for(name)
        bx, cx, dx, ex = tire.bx * sb, tire.cx * sc, tire.dx * sd, min(tire.ex * se, 1.0)
        by, cy, dy, ey = tire.by * sb, tire.cy * sc, tire.dy * sd, min(tire.ey * se, 1.0)
        rows.append([bx, cx, dx, ex, by, cy, dy, ey, peak_slip(bx, cx, ex),
                     peak_slip(by, cy, ey)])
    return np.array(rows)


def relax(u: np.ndarray, v: np.ndarray, slip_speed_x: np.ndarray, vy: np.ndarray,
          vx_abs: np.ndarray, sigma_x: np.ndarray, sigma_y: np.ndarray, h: float,
          ) -> tuple[np.ndarray, np.ndarray]:
    """One implicit step of the tire deflections."""
    u = (u + h * slip_speed_x) / (1 + h * vx_abs / sigma_x)
    v = (v - h * vy) / (1 + h * vx_abs / sigma_y)
    return np.clip(u, -sigma_x, sigma_x), np.clip(v, -MAX_TAN_ALPHA * sigma_y,
                                                  MAX_TAN_ALPHA * sigma_y)


def tire_forces(u: np.ndarray, v: np.ndarray, slip_speed_x: np.ndarray, vy: np.ndarray,
                vx_abs: np.ndarray, fz: np.ndarray, fz0: np.ndarray, p: np.ndarray,
                sigma_x: np.ndarray, sigma_y: np.ndarray, load_sens: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fx, Fy [N] and the slips (kappa, alpha) from deflections; ``p`` is (..., 10)."""
    kappa = u / sigma_x
    alpha = np.arctan(v / sigma_y)
    dx = load_scaled_mu(p[..., 2], fz, fz0, load_sens)
    dy = load_scaled_mu(p[..., 6], fz, fz0, load_sens)
    px = (p[..., 0], p[..., 1], dx, p[..., 3])
    py = (p[..., 4], p[..., 5], dy, p[..., 7])
    fx, fy = combined_forces(kappa, alpha, fz, px, py, p[..., 8], p[..., 9])
    fx, fy = _low_speed_damping(fx, fy, slip_speed_x, vy, vx_abs, fz, p, sigma_x, sigma_y)
    limit = np.maximum(dx, dy) * fz
    scale = np.minimum(1.0, limit / np.maximum(np.hypot(fx, fy), 1e-9))
    return fx * scale, fy * scale, kappa, alpha


def _low_speed_damping(fx, fy, slip_x, vy, vx_abs, fz, p, sigma_x, sigma_y):
    """Damps the deflection springs near standstill (they have no speed damping there)."""
    weight = np.clip(1.0 - vx_abs / LOW_SPEED_MPS, 0.0, 1.0) * fz
    kx = p[..., 0] * p[..., 1] * p[..., 2] / sigma_x
    ky = p[..., 4] * p[..., 5] * p[..., 6] / sigma_y
    cx = 2 * LOW_SPEED_DAMPING_RATIO * np.sqrt(kx / 9.81)
    cy = 2 * LOW_SPEED_DAMPING_RATIO * np.sqrt(ky / 9.81)
    return fx + weight * cx * slip_x, fy - weight * cy * vy
