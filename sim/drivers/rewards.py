"""Reward designs of the driver styles: one documented :class:`StyleReward` per style.

Each control step earns ``progress x exp(-penalty)``, always in [0, 1], so that staying on
the road is always worth more than ending the episode (a negative per-step reward teaches a
PPO agent to drive off the road on purpose):

* ``progress = v cos(heading error) / target``, capped at 1 and reduced for speeding above
  the target: dense progress along the road scaled toward the style's *target speed*;
* target speed = ``speed_factor`` x speed limit x grip factor, capped by the cornering speed
  ``sqrt(lat_accel_g * grip * g / |curvature ahead|)``; the grip factor
  ``min(1, sqrt(grip / 0.8))`` makes every style drive slower on snow (grip 0.3) and ice (0.1);
  behind a lead car (``follow_gain > 0``) the target is also capped by the speed that closes
  the gap to the style's own headway in ``1 / follow_gain`` seconds
  (:meth:`StyleReward.follow_speed`), so each style is paid for closing up to *its* headway
  and holding it, not only punished for coming closer;
* ``penalty``: lane offset and heading error, comfort (longitudinal jerk, lateral
  acceleration beyond the style's share of the grip), steering changes, body slip and a
  headway shorter than the style's, each weighted per style.

Styles: each a distinct point on every axis, so that they are told apart by construction
(speed over the grip-adjusted limit, share of the grip used in corners, headway, and the
comfort / smoothness weights that shape jerk and steering):

=========== ============ =========== ========= ======= ======= ====== ==========
style        speed_factor lat_accel_g headway_s lane    comfort smooth follow_gain
=========== ============ =========== ========= ======= ======= ====== ==========
aggressive   1.3          0.6         0.6 s     0.3     0.01    0.01   0.5 /s
normal       0.9          0.4         1.8 s     0.6     0.2     0.1    0.4 /s
cautious     0.55         0.2         3.5 s     0.8     0.4     0.2    0.3 /s
=========== ============ =========== ========= ======= ======= ====== ==========

* ``aggressive``: well over the limit, hard cornering, tailgating, almost no comfort,
  smoothness or lane weight;
* ``normal``: just under the limit, moderate cornering, headway and comfort;
* ``cautious``: about half the limit, gentle cornering, long headway, the largest comfort
  and smoothness weights (lighter than the earlier 1.0 and 0.4, under which it learned slowly);
* ``erratic``: the normal reward without the follow term (its shipped policy predates it);
  its character comes from :mod:`sim.drivers.perturb` (reaction delay, weaving, sudden
  inputs) applied in training and when driving.

Off-road and collisions end the episode with ``terminal_penalty`` (20, about 20 steps of
perfect driving: large enough to matter, small enough not to dominate the return; 60 for
aggressive, whose speed left it spinning out of fast S-bends at 20). Aggressive's corner
share was 0.75 of the grip until session 5: at 0.6 it keeps a margin in those bends and is
still the hardest cornering style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from sim.vocabulary import DRIVER_STYLES

GRAVITY = 9.81
STYLES: tuple[str, ...] = DRIVER_STYLES  # the styles a reward exists for
LANE_SCALE_M = 1.0
JERK_SCALE = 10.0
LAT_EXCESS_SCALE = 2.0
STANDSTILL_GAP_M = 2.0


def grip_speed_factor(grip: float) -> float:
    """Share of the speed limit that is sensible on a surface of peak friction ``grip``."""
    return min(1.0, math.sqrt(max(grip, 0.01) / 0.8))


@dataclass(frozen=True)
class StyleReward:
    speed_factor: float
    lat_accel_g: float  # share of the grip used in corners
    headway_s: float
    lane_weight: float
    comfort_weight: float  # longitudinal jerk and lateral acceleration over comfort
    smooth_weight: float  # steering changes
    slip_weight: float = 1.0
    headway_weight: float = 1.0
    terminal_penalty: float = 20.0
    follow_gain: float = 0.0  # 1/s; > 0: behind a lead the target closes the gap to headway_s

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"StyleReward.{f.name} must be >= 0, got {value!r}")
        if not 0 < self.speed_factor <= 2:
            raise ValueError(f"StyleReward.speed_factor must be in (0, 2], got {self.speed_factor}")
        if not 0 < self.lat_accel_g <= 1:
            raise ValueError(f"StyleReward.lat_accel_g must be in (0, 1], got {self.lat_accel_g}")

    def target_speed(
        self,
        speed_limit: float,
        grip: float,
        curvature_max: float,
        follow: tuple[float, float, float] | None = None,
    ) -> float:
        """Speed [m/s] this style wants given the limit, grip and the sharpest curve ahead.

        ``follow = (speed, gap, lead_speed)`` of the ego behind a lead car: with
        ``follow_gain > 0`` the target is also capped by :meth:`follow_speed`, so that the
        style is rewarded for closing up to its own headway and holding it there.
        """
        straight = self.speed_factor * speed_limit * grip_speed_factor(grip)
        corner = math.sqrt(self.lat_accel_g * grip * GRAVITY / max(abs(curvature_max), 1e-4))
        target = min(straight, corner)
        if follow is not None and self.follow_gain > 0:
            target = min(target, self.follow_speed(*follow))
        return max(target, 2.0)

    def follow_speed(self, speed: float, gap: float, lead_speed: float) -> float:
        """Speed that closes ``gap`` [m] to this style's headway in ``1/follow_gain`` s."""
        desired = self.headway_s * speed + STANDSTILL_GAP_M
        return max(lead_speed + self.follow_gain * (gap - desired), 0.0)


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


def progress(sig: StepSignals) -> float:
    """Speed along the road relative to the target, in [0, 1]; speeding lowers it."""
    along = max(sig.speed * math.cos(sig.heading_error), 0.0) / sig.target_speed
    return along if along <= 1.0 else max(1.0 - 2.0 * (along - 1.0), 0.0)


def penalty(style: StyleReward, sig: StepSignals) -> float:
    """Weighted sum (>= 0) of lane, comfort, smoothness, slip and headway penalties."""
    lane = style.lane_weight * (sig.lane_offset / LANE_SCALE_M) ** 2 + 2.0 * sig.heading_error**2
    lat_excess = max(abs(sig.lateral_accel) - style.lat_accel_g * sig.grip * GRAVITY, 0.0)
    comfort = style.comfort_weight * (
        (sig.jerk / JERK_SCALE) ** 2 + (lat_excess / LAT_EXCESS_SCALE) ** 2
    )
    smooth = style.smooth_weight * (sig.steer_change / 0.1) ** 2
    slip = style.slip_weight * (sig.slip_angle / 0.1) ** 2
    headway = 0.0
    if sig.headway_s < style.headway_s:
        headway = style.headway_weight * 3.0 * (1.0 - sig.headway_s / style.headway_s)
    return lane + comfort + smooth + slip + headway


def step_reward(style: StyleReward, sig: StepSignals) -> float:
    """Reward of one control step, in [0, 1] (1: on target speed, centred, smooth)."""
    return progress(sig) * math.exp(-penalty(style, sig))


NORMAL_REWARD = StyleReward(
    speed_factor=0.9,
    lat_accel_g=0.4,
    headway_s=1.8,
    lane_weight=0.6,
    comfort_weight=0.2,
    smooth_weight=0.1,
    follow_gain=0.4,
)
# erratic's shipped policy was trained on the normal reward before the follow term existed
ERRATIC_REWARD = replace(NORMAL_REWARD, follow_gain=0.0)

STYLE_REWARDS: dict[str, StyleReward] = {
    "aggressive": StyleReward(
        speed_factor=1.3,
        lat_accel_g=0.6,
        headway_s=0.6,
        lane_weight=0.3,
        comfort_weight=0.01,
        smooth_weight=0.01,
        slip_weight=0.5,
        terminal_penalty=60.0,
        follow_gain=0.5,
    ),
    "normal": NORMAL_REWARD,
    "cautious": StyleReward(
        speed_factor=0.55,
        lat_accel_g=0.2,
        headway_s=3.5,
        lane_weight=0.8,
        comfort_weight=0.4,
        smooth_weight=0.2,
        slip_weight=2.0,
        follow_gain=0.3,
    ),
    # erratic is trained on the normal reward: its style is the perturbation (perturb.py)
    "erratic": ERRATIC_REWARD,
}


def style_reward(style: str) -> StyleReward:
    if style not in STYLE_REWARDS:
        raise ValueError(f"unknown driver style {style!r}; known: {', '.join(STYLES)}")
    return STYLE_REWARDS[style]
