"""Pacejka magic formula, vectorised over any number of wheels.

``F = D sin(C atan(B s - E (B s - atan(B s))))`` with ``s`` the slip ratio (longitudinal)
or slip angle in radians (lateral), ``D`` the friction coefficient times the normal load.
Combined slip uses normalised slips (similarity method): with ``sx = kappa / kappa_peak``
and ``sy = alpha / alpha_peak`` and ``rho = hypot(sx, sy)``, each direction takes its
share ``sx / rho`` of the pure force evaluated at the combined slip ``rho`` — a friction
ellipse whose forces saturate together.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-9


def magic_formula(slip: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray,
                  e: np.ndarray) -> np.ndarray:
    """Normalised magic formula (force / normal load for ``d`` = friction coefficient)."""
    bs = b * slip
    return d * np.sin(c * np.arctan(bs - e * (bs - np.arctan(bs))))


def peak_slip(b: float, c: float, e: float, max_slip: float = 1.5) -> float:
    """Slip at which the magic formula peaks (numeric search on a fine grid)."""
    grid = np.linspace(1e-4, max_slip, 15001)
    return float(grid[np.argmax(magic_formula(grid, b, c, 1.0, e))])


def load_scaled_mu(d: np.ndarray, fz: np.ndarray, fz_nominal: np.ndarray,
                   load_sensitivity: np.ndarray) -> np.ndarray:
    """Peak friction falling with load: ``d (1 + p (Fz - Fz0) / Fz0)``, never negative."""
    dfz = (fz - fz_nominal) / np.maximum(fz_nominal, _EPS)
    return np.maximum(d * (1.0 + load_sensitivity * dfz), 0.0)


def combined_forces(kappa: np.ndarray, alpha: np.ndarray, fz: np.ndarray,
                    px: tuple[np.ndarray, ...], py: tuple[np.ndarray, ...],
                    kappa_peak: np.ndarray, alpha_peak: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Longitudinal and lateral tire forces [N] under combined slip.

    ``px``/``py`` are (B, C, D, E) arrays with D already load-scaled; positive ``kappa``
    (wheel faster than ground) pushes forward, positive ``alpha`` pushes left.
    """
    sx = kappa / kappa_peak
    sy = alpha / alpha_peak
    rho = np.hypot(sx, sy)
    safe = np.maximum(rho, _EPS)
    fx0 = magic_formula(rho * kappa_peak, *px)
    fy0 = magic_formula(rho * alpha_peak, *py)
    fx = np.where(rho > _EPS, fx0 * sx / safe, 0.0) * fz
    fy = np.where(rho > _EPS, fy0 * sy / safe, 0.0) * fz
    return fx, fy
