"""The driver's observation vector: the road ahead and the car's own state.

Layout (float32, every entry roughly in [-1, 1] or [0, 2]): see :data:`OBS_NAMES`.
:func:`observe` works for any car with :class:`~sim.drivers.kinematics.Kinematics` on a
:class:`sim.road.Road`, so traffic can drive PyBullet vehicles with a style:
``policy.act(observe_vehicle(vehicle, road, surface_at, speed_limit))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.drivers.kinematics import Kinematics, kinematics_of_vehicle
from sim.drivers.lead import NO_LEAD_GAP_M
from sim.vehicle.surfaces import get_surface

LOOKAHEAD_M = (5.0, 15.0, 30.0, 50.0, 80.0)
GRIP_AHEAD_M = (0.0, 15.0, 30.0)
CURVATURE_SCALE = 30.0  # 1/30 m radius -> 1
SPEED_SCALE = 30.0
OBS_NAMES: tuple[str, ...] = (
    "lane_offset",
    "heading_error",
    *(f"curvature_{int(d)}m" for d in LOOKAHEAD_M),
    "speed_limit",
    "speed",
    "lateral_velocity",
    "yaw_rate",
    *(f"grip_{int(d)}m" for d in GRIP_AHEAD_M),
    "gap",
    "closing_speed",
    "steer",
)
OBS_SIZE = len(OBS_NAMES)


@dataclass(frozen=True)
class RoadPosition:
    s: float
    lateral: float  # from the centre line, left positive
    heading_error: float  # car yaw minus road heading, wrapped to [-pi, pi]


def road_position(road, kin: Kinematics) -> RoadPosition:
    proj = road.project(np.array([kin.x, kin.y]))
    err = (kin.yaw - proj.heading + math.pi) % (2 * math.pi) - math.pi
    return RoadPosition(float(proj.s), float(proj.lateral), err)


def grip_of(surface: str) -> float:
    """Peak friction coefficient of a surface (1.0 dry ... 0.1 ice)."""
    return get_surface(surface).d


def observe(
    kin: Kinematics,
    road,
    pos: RoadPosition,
    surface_at_s: Callable[[float], str],
    speed_limit: float,
    lane_centre: float,
    gap: float = NO_LEAD_GAP_M,
    lead_speed: float | None = None,
) -> np.ndarray:
    """The observation of a car at ``pos`` driving in the lane centred at ``lane_centre``."""
    kappa = road.curvature_ahead(pos.s, LOOKAHEAD_M) * CURVATURE_SCALE
    grips = [grip_of(surface_at_s(pos.s + d)) for d in GRIP_AHEAD_M]
    closing = 0.0 if lead_speed is None else (kin.vx - lead_speed) / 10.0
    values = [
        (pos.lateral - lane_centre) / 2.0,
        pos.heading_error,
        *kappa,
        speed_limit / SPEED_SCALE,
        kin.vx / SPEED_SCALE,
        kin.vy / 5.0,
        kin.yaw_rate,
        *grips,
        min(gap, NO_LEAD_GAP_M) / 50.0,
        closing,
        kin.steer,
    ]
    return np.clip(np.asarray(values, dtype=np.float32), -5.0, 5.0)


def observe_vehicle(
    vehicle,
    road,
    surface_at_s: Callable[[float], str],
    speed_limit: float,
    lane: int = 0,
    gap: float = NO_LEAD_GAP_M,
    lead_speed: float | None = None,
) -> np.ndarray:
    """The observation of a :class:`sim.vehicle.Vehicle` driving lane ``lane`` of ``road``."""
    kin = kinematics_of_vehicle(vehicle)
    pos = road_position(road, kin)
    centre = float(road.lane_offsets()[lane])
    return observe(kin, road, pos, surface_at_s, speed_limit, centre, gap, lead_speed)
