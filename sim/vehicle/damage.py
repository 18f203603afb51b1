"""Collision damage: impulses per zone (front, rear, left, right) and what they break.

The push on the chassis (contact normal force, body frame) picks the zone: a push
backwards means a hit at the front, a push to the right a hit on the left side, and so
on. Pushes that are mostly vertical (ground, landing on the roof) are not crashes.
Only contact forces above ``impact_force_g`` times the car's weight count, so leaning
on a wall is not damage; the impulse is the normal force times the time step.
"""

from __future__ import annotations

import numpy as np

ZONES: tuple[str, ...] = ("front", "rear", "left", "right")
IMPACT_FORCE_G = 3.0
EPISODE_GAP_S = 0.1


def zone_of_push(push_body: np.ndarray) -> int | None:
    """Zone index hit by a contact pushing the chassis along ``push_body`` (body frame)."""
    ax, ay, az = np.abs(push_body)
    if az >= max(ax, ay):
        return None
    if ax >= ay:
        return 0 if push_body[0] < 0 else 1
    return 2 if push_body[1] < 0 else 3


def damage_levels(impulse_ns: np.ndarray, full_damage_ns: np.ndarray) -> np.ndarray:
    """Damage in [0, 1] per zone from accumulated impulse (N, 4)."""
    return np.clip(impulse_ns / full_damage_ns[:, None], 0.0, 1.0)


def handling_effects(damage: np.ndarray, steer_bias_rad: np.ndarray, power_loss: np.ndarray,
                     drag_increase: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steering bias [rad, left positive], power factor and drag factor per vehicle.

    A bent side pulls the car towards it; front damage costs engine power and adds drag
    (lower top speed).
    """
    front, left, right = damage[:, 0], damage[:, 2], damage[:, 3]
    bias = steer_bias_rad * (left - right + 0.5 * front * np.sign(left - right))
    power = 1.0 - power_loss * front
    drag = 1.0 + drag_increase * np.maximum(front, 0.5 * (left + right))
    return bias, power, drag


class CrashTracker:
    """Groups contact impulses into crash episodes and emits one event per episode."""

    def __init__(self, threshold_ns: float) -> None:
        self.threshold_ns = threshold_ns
        self._start: float | None = None
        self._last = 0.0
        self._zones = np.zeros(len(ZONES))

    def add(self, time_s: float, zone_impulses: np.ndarray) -> None:
        if zone_impulses.sum() <= 0:
            return
        if self._start is None:
            self._start = time_s
        self._last = time_s
        self._zones += zone_impulses

    def poll(self, time_s: float, force: bool = False) -> dict | None:
        """The finished episode's crash event, if the contact ended and it was strong."""
        if self._start is None or (time_s - self._last < EPISODE_GAP_S and not force):
            return None
        total = float(self._zones.sum())
        event = None
        if total >= self.threshold_ns:
            zone = ZONES[int(np.argmax(self._zones))]
            event = {"type": "crash", "time_s": round(self._start, 6),
                     "impulse_ns": round(total, 3), "zone": zone}
        self._start, self._zones = None, np.zeros(len(ZONES))
        return event
