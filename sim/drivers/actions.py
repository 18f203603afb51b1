"""The driving env's action: ``(steer, pedal)`` in [-1, 1], and the car inputs it maps to.

``steer`` scales ``STEER_AUTHORITY`` of the car's full steering lock (the procedural roads'
tightest bends need under a fifth of it; full lock at speed only spins the car), ``pedal``
> 0 is throttle and < 0 is brake, so a policy can never press both.
"""

from __future__ import annotations

import numpy as np

ACTION_NAMES: tuple[str, ...] = ("steer", "pedal")
ACTION_SIZE = len(ACTION_NAMES)
STEER_AUTHORITY = 0.5


def controls_of(action: np.ndarray) -> tuple[float, float, float]:
    """(steer in [-1, 1] of full lock, throttle in [0, 1], brake in [0, 1]) of an action."""
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    steer, pedal = float(a[0]) * STEER_AUTHORITY, float(a[1])
    return steer, max(pedal, 0.0), max(-pedal, 0.0)
