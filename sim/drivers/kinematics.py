"""The planar motion of a car as the driver observations need it, from any simulator."""

from __future__ import annotations

import math
from typing import NamedTuple


class Kinematics(NamedTuple):
    """Planar state: position [m], yaw [rad], body-frame velocity [m/s], yaw rate [rad/s]."""

    x: float
    y: float
    yaw: float
    vx: float  # forward
    vy: float  # to the left
    yaw_rate: float
    ax: float = 0.0  # forward acceleration [m/s^2]
    steer: float = 0.0  # road-wheel angle [rad]

    @property
    def speed(self) -> float:
        return math.hypot(self.vx, self.vy)

    @property
    def lateral_accel(self) -> float:
        """Centripetal acceleration [m/s^2] (left positive)."""
        return self.vx * self.yaw_rate


def kinematics_of_vehicle(vehicle) -> Kinematics:
    """:class:`Kinematics` of a :class:`sim.vehicle.Vehicle` (PyBullet fleet)."""
    st = vehicle.state()
    c, s = math.cos(st.yaw), math.sin(st.yaw)
    vx = c * st.velocity[0] + s * st.velocity[1]
    vy = -s * st.velocity[0] + c * st.velocity[1]
    return Kinematics(
        st.position[0], st.position[1], st.yaw, vx, vy, st.yaw_rate, st.accel_mps2, st.steer
    )
