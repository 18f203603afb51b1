"""A lead car for headway: a virtual NPC moving along the ego's lane, no physics body.

Its speed follows targets redrawn every few seconds (fractions of the speed limit, scaled
down on low grip), approached at comfortable rates, with occasional hard braking. Being
analytic, it costs nothing per physics step, which keeps the training env fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAR_LENGTH_M = 4.7
NO_LEAD_GAP_M = 150.0


@dataclass
class LeadConfig:
    present_probability: float = 0.7
    start_gap_m: tuple[float, float] = (25.0, 70.0)
    speed_fraction: tuple[float, float] = (0.35, 1.0)
    hold_s: tuple[float, float] = (4.0, 12.0)
    accel_mps2: float = 1.5
    hard_brake_probability: float = 0.25
    hard_brake_mps2: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.present_probability <= 1.0:
            raise ValueError(
                f"LeadConfig.present_probability must be in [0, 1], got {self.present_probability}"
            )
        for name in ("start_gap_m", "speed_fraction", "hold_s"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"LeadConfig.{name} must be 0 <= lo <= hi, got {(lo, hi)}")
        if self.accel_mps2 <= 0 or self.hard_brake_mps2 <= 0:
            raise ValueError("LeadConfig.accel_mps2 and hard_brake_mps2 must be > 0")


class LeadVehicle:
    """Station ``s`` [m] and ``speed`` [m/s] of the lead car along the ego's lane."""

    def __init__(
        self, config: LeadConfig, rng: np.random.Generator, ego_s: float, speed_cap: float
    ) -> None:
        self.config, self.rng, self.speed_cap = config, rng, speed_cap
        self.present = bool(rng.random() < config.present_probability)
        self.s = ego_s + CAR_LENGTH_M + rng.uniform(*config.start_gap_m)
        self.speed = speed_cap * rng.uniform(*config.speed_fraction)
        self._new_target()

    def _new_target(self) -> None:
        c = self.config
        self.target = self.speed_cap * self.rng.uniform(*c.speed_fraction)
        self.hold = self.rng.uniform(*c.hold_s)
        hard = self.rng.random() < c.hard_brake_probability and self.target < self.speed
        self.rate = c.hard_brake_mps2 if hard else c.accel_mps2

    def advance(self, dt: float) -> None:
        self.hold -= dt
        if self.hold <= 0:
            self._new_target()
        step = float(np.clip(self.target - self.speed, -self.rate * dt, self.rate * dt))
        self.speed += step
        self.s += self.speed * dt

    def gap(self, ego_s: float) -> float:
        """Bumper-to-bumper distance [m] ahead of the ego (NO_LEAD_GAP_M when absent)."""
        if not self.present:
            return NO_LEAD_GAP_M
        return min(self.s - ego_s - CAR_LENGTH_M, NO_LEAD_GAP_M)
