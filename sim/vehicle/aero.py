"""Aerodynamic drag and downforce with wind, gusts and the drafting wake.

All functions are vectorised over vehicles. Wind comes from a callable that the weather
model provides: ``wind(time_s) -> (wx, wy, wz)`` in m/s, world frame (``GustyWind`` below
is a seeded stand-in with crosswind and gusts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.seeding import rng_for

WindFn = Callable[[float], "np.ndarray | tuple[float, float, float]"]


def still_air(time_s: float) -> np.ndarray:
    """Default wind: none."""
    return np.zeros(3)


def aero_forces(vel: np.ndarray, wind: np.ndarray, cda: np.ndarray, cla: np.ndarray,
                rho: np.ndarray, drag_scale: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drag force (N, 3), downforce magnitude (N,) and airspeed (N,) per vehicle.

    Drag opposes the velocity relative to the air: ``-0.5 rho CdA |v_air| v_air`` times
    ``drag_scale`` (wake and damage); downforce is ``0.5 rho ClA |v_air|^2``.
    """
    v_air = vel - wind
    airspeed = np.linalg.norm(v_air, axis=1)
    q = 0.5 * rho * airspeed
    drag = -(q * cda * drag_scale)[:, None] * v_air
    downforce = q * airspeed * cla
    return drag, downforce, airspeed


def wake_drag_factors(pos: np.ndarray, fwd: np.ndarray, left: np.ndarray,
                      half_len: np.ndarray, speed: np.ndarray, wake_length: np.ndarray,
                      max_deficit: np.ndarray, decay: np.ndarray, half_width: np.ndarray,
                      ) -> np.ndarray:
    """Drag multiplier in (0, 1] per vehicle from the wakes of vehicles ahead of it.

    For follower i behind leader j, the gap is bumper to bumper along j's heading and the
    airflow speed deficit is ``max_deficit_j exp(-gap / decay_j) exp(-(lat / width_j)^2)``
    within ``wake_length_j``; drag scales with the square of the remaining airflow.
    Deficits of several leaders combine multiplicatively.
    """
    rel = pos[:, None, :] - pos[None, :, :]  # [i, j] = follower i relative to leader j
    behind = -np.einsum("ijk,jk->ij", rel, fwd)
    lateral = np.einsum("ijk,jk->ij", rel, left)
    gap = behind - half_len[:, None] - half_len[None, :]
    aligned = np.einsum("ik,jk->ij", fwd, fwd) > 0.5
    active = (gap >= 0) & (gap <= wake_length[None, :]) & aligned & (speed[None, :] > 2.0)
    np.fill_diagonal(active, False)
    deficit = max_deficit[None, :] * np.exp(-np.maximum(gap, 0) / decay[None, :])
    deficit = deficit * np.exp(-((lateral / half_width[None, :]) ** 2))
    airflow = np.prod(np.where(active, 1.0 - deficit, 1.0), axis=1)
    return airflow**2


@dataclass
class GustyWind:
    """Mean wind plus seeded gusts (Ornstein-Uhlenbeck), sampled at the physics rate.

    Deterministic for a seed as long as it is called with non-decreasing times.
    """

    mean_mps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gust_std_mps: float = 2.0
    time_constant_s: float = 2.0
    seed: int = 0
    dt: float = 1.0 / 240.0

    def __post_init__(self) -> None:
        if self.gust_std_mps < 0:
            raise ValueError(f"GustyWind.gust_std_mps must be >= 0, got {self.gust_std_mps}")
        if self.time_constant_s <= 0:
            raise ValueError(
                f"GustyWind.time_constant_s must be > 0, got {self.time_constant_s}")
        self._rng = rng_for(self.seed, "vehicle", "wind")
        self._gust = np.zeros(3)
        self._t = 0.0

    def __call__(self, time_s: float) -> np.ndarray:
        a = np.exp(-self.dt / self.time_constant_s)
        while self._t < time_s - 1e-12:
            noise = self._rng.standard_normal(3) * np.array([1.0, 1.0, 0.2])
            self._gust = a * self._gust + np.sqrt(1 - a * a) * self.gust_std_mps * noise
            self._t += self.dt
        return np.asarray(self.mean_mps, dtype=float) + self._gust
