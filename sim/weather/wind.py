"""Wind for the vehicle aerodynamics: a mean wind with smooth, deterministic gusts."""

from __future__ import annotations

import math

import numpy as np

from sim.weather.params import WeatherParams

GUST_COMPONENTS = 6
GUST_PERIODS_S = (3.0, 40.0)  # gust time scales
DIRECTION_WANDER_RAD = 0.25  # direction swing at full gustiness


class WindField:
    """``at(t) -> (vx, vy)`` [m/s]: mean wind plus a sum of sinusoids with random phases
    and periods (drawn from ``rng`` once), so the speed varies smoothly with standard
    deviation ~ ``gustiness * 0.5 * wind_speed`` and never goes negative."""

    def __init__(self, params: WeatherParams, rng: np.random.Generator) -> None:
        self.mean_speed = params.wind_speed_mps
        self.direction = np.radians(params.wind_direction_deg)
        self.gustiness = params.gustiness
        lo, hi = GUST_PERIODS_S
        self._omega = 2 * np.pi / rng.uniform(lo, hi, (2, GUST_COMPONENTS))
        self._phase = rng.uniform(0, 2 * np.pi, (2, GUST_COMPONENTS))
        self._amp = np.sqrt(2.0 / GUST_COMPONENTS)  # unit variance for the sum
        self._rows = [list(zip(self._omega[r].tolist(), self._phase[r].tolist())) for r in (0, 1)]

    def _wave(self, row: int, t: float) -> float:
        """``amp * sum(sin(omega t + phase))`` over the row's components, in Python floats
        (called every physics step: numpy's per-call cost was most of it)."""
        total = 0.0
        for omega, phase in self._rows[row]:
            total += math.sin(omega * t + phase)
        return float(self._amp * total)

    def speed(self, t: float) -> float:
        gust = 0.5 * self.gustiness * self.mean_speed * self._wave(0, t)
        return max(self.mean_speed + gust, 0.0)

    def at(self, t: float) -> tuple[float, float]:
        heading = self.direction + DIRECTION_WANDER_RAD * self.gustiness * self._wave(1, t)
        v = self.speed(t)
        return (v * float(np.cos(heading)), v * float(np.sin(heading)))

    def __call__(self, t: float) -> tuple[float, float, float]:
        """(vx, vy, vz) at time ``t``: the wind callable the vehicle fleet's aero takes."""
        vx, vy = self.at(t)
        return (vx, vy, 0.0)
