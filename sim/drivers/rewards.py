"""Reward designs of the driver styles: one documented :class:`StyleReward` per style.

Every style is rewarded each control step for tracking its *target speed* and penalised for
leaving its lane centre, for discomfort and for unsafe headways; the weights and targets
differ per style:

* target speed = ``speed_factor`` x speed limit x grip factor, capped by the cornering
  speed ``sqrt(lat_accel_g * grip * g / |curvature ahead|)``; the grip factor
  ``min(1, sqrt(grip / 0.8))`` makes every style drive slower on snow (grip 0.3) and ice (0.1);
* ``aggressive``: 1.2x the limit, hard cornering (0.8 of the grip), short headway (0.8 s),
  a progress bonus, small comfort and lane weights (cuts corners, brakes late);
* ``normal``: the limit, 0.45 of the grip in corners, 1.8 s headway, moderate comfort;
* ``cautious``: 0.7x the limit, 0.3 of the grip, 3 s headway, large comfort and
  smoothness weights (early, gentle braking);
* ``erratic``: the normal reward; its character comes from :mod:`sim.drivers.perturb`
  (reaction delay, weaving, sudden inputs) applied in training and when driving.

Off-road and collisions end the episode with ``terminal_penalty``; tire slip (body slip
angle) is penalised for all styles, which teaches caution on low grip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

GRAVITY = 9.81
STYLES: tuple[str, ...] = ("aggressive", "normal", "cautious", "erratic")


@dataclass(frozen=True)
class StyleReward:
    speed_factor: float
    lat_accel_g: float  # share of the grip used in corners
    headway_s: float
    lane_weight: float
    comfort_weight: float  # longitudinal jerk and lateral acceleration over comfort
    smooth_weight: float  # steering changes
    progress_weight: float = 0.0
    slip_weight: float = 2.0
    terminal_penalty: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"StyleReward.{f.name} must be >= 0, got {value!r}")
        if not 0 < self.speed_factor <= 2:
            raise ValueError(f"StyleReward.speed_factor must be in (0, 2], "
                             f"got {self.speed_factor}")

    def target_speed(self, speed_limit: float, grip: float, curvature_max: float) -> float:
        """Speed [m/s] this style wants given the limit, grip and the sharpest curve ahead."""
        grip_factor = min(1.0, math.sqrt(max(grip, 0.01) / 0.8))
        straight = self.speed_factor * speed_limit * grip_factor
        corner = math.sqrt(self.lat_accel_g * grip * GRAVITY / max(abs(curvature_max), 1e-4))
        return max(min(straight, corner), 2.0)


@dataclass(frozen=True)
class StepSignals:
    """What one control step did, as the reward needs it."""

    speed: float
    target_speed: float
    speed_limit: float
    lane_offset: float  # m from the lane centre
    heading_error: float
    lateral_accel: float
    jerk: float  # m/s^3
    steer_change: float  # change of the steer command
    slip_angle: float  # rad, body slip
    headway_s: float  # inf when no lead
    grip: float


def step_reward(style: StyleReward, sig: StepSignals) -> float:
    """Reward of one control step (about 1 for perfect driving)."""
    track = 1.0 - min(abs(sig.speed - sig.target_speed) / max(sig.target_speed, 1.0), 2.0)
    progress = style.progress_weight * sig.speed * math.cos(sig.heading_error) / sig.speed_limit
    lane = style.lane_weight * (sig.lane_offset / 1.75) ** 2 + 0.5 * sig.heading_error**2
    comfort_lat = max(abs(sig.lateral_accel) - style.lat_accel_g * sig.grip * GRAVITY, 0.0)
    comfort = style.comfort_weight * ((sig.jerk / 10.0) ** 2 + (comfort_lat / 3.0) ** 2)
    smooth = style.smooth_weight * sig.steer_change**2
    slip = style.slip_weight * (sig.slip_angle / 0.1) ** 2
    headway = 0.0
    if sig.headway_s < style.headway_s:
        headway = 1.5 * (style.headway_s - sig.headway_s) / style.headway_s
    return track + progress - lane - comfort - smooth - slip - headway


STYLE_REWARDS: dict[str, StyleReward] = {
    "aggressive": StyleReward(speed_factor=1.2, lat_accel_g=0.8, headway_s=0.8,
                              lane_weight=0.2, comfort_weight=0.02, smooth_weight=0.05,
                              progress_weight=0.3, slip_weight=1.0),
    "normal": StyleReward(speed_factor=1.0, lat_accel_g=0.45, headway_s=1.8, lane_weight=1.0,
                          comfort_weight=0.3, smooth_weight=0.5),
    "cautious": StyleReward(speed_factor=0.7, lat_accel_g=0.3, headway_s=3.0, lane_weight=1.0,
                            comfort_weight=1.0, smooth_weight=2.0, slip_weight=3.0),
    "erratic": StyleReward(speed_factor=1.0, lat_accel_g=0.45, headway_s=1.8, lane_weight=1.0,
                           comfort_weight=0.3, smooth_weight=0.5),
}


def style_reward(style: str) -> StyleReward:
    if style not in STYLE_REWARDS:
        raise ValueError(f"unknown driver style {style!r}; known: {', '.join(STYLES)}")
    return STYLE_REWARDS[style]
