"""The ego vehicle of a scenario: kinematic (driven like an NPC) or dynamic (vehicle model
driven by a trained driver style).

Both satisfy :class:`Ego`. :class:`DynamicEgo` is a :class:`sim.vehicle.VehicleFleet` car
(ray-cast suspension, magic-formula tires, powertrain, aero, damage) steered by
:func:`sim.drivers.load_policy` at the rate the policies were trained at
(:data:`POLICY_HZ`, actions held in between), seeing the road, the grip ahead from the
weather's surface map and the gap to the traffic ahead in its lane.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol

import numpy as np

from sim.road import Road
from sim.scene import SceneRegistry
from sim.scenery import create_body
from sim.seeding import rng_for
from sim.traffic import FREE_GAP_M, AgentState, AgentView, Traffic, vehicle_parts

# kinematic ego drivetrain approximation (for the state trace only)
GEAR_UP_MPS = (6.0, 12.0, 18.0, 25.0)  # shift up above these speeds
GEAR_TOP_MPS = (8.0, 14.0, 21.0, 29.0, 40.0)  # speed at the redline in each gear
IDLE_RPM, REDLINE_RPM = 800.0, 6000.0
WHEELBASE_M = 2.7
NO_DAMAGE = {"front": 0.0, "rear": 0.0, "left": 0.0, "right": 0.0}
KINEMATIC_DRIVER = {"style": "normal", "policy_id": "kinematic-idm"}
POLICY_HZ = 10  # control rate of the driving env the shipped policies were trained in
REFERENCE_ROOF_M = 1.45  # the roof height the camera presets are mounted for
EGO_LENGTH_FALLBACK_M = 4.5


class Ego(Protocol):
    """What a scenario needs from the ego vehicle."""

    body_id: int
    length_m: float

    @property
    def position(self) -> np.ndarray: ...

    @property
    def yaw(self) -> float: ...

    @property
    def velocity(self) -> np.ndarray: ...

    def control_step(self, dt: float) -> None: ...

    def trace_fields(self, accel: float, curvature: float) -> dict:
        """speed_mps, rpm, gear, throttle, brake, engine_load, steer, slip_ratio (4),
        slip_angle (4), airspeed_mps for :class:`sim.trace.StateTrace`."""
        ...


class KinematicEgo:
    """An ego car driven like an NPC (lane keeping plus IDM car following).

    The traffic model moves it in the same vectorised batch as the NPCs
    (:meth:`Traffic.control_step`), so :meth:`control_step` itself has nothing left to do.
    """

    mount_height_m = 0.0  # the body frame is on the ground
    driver = KINEMATIC_DRIVER

    def __init__(self, agent: AgentView) -> None:
        self.agent = agent
        self.body_id = agent.body
        self.length_m = float(agent.length)

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self.agent.position)

    @property
    def yaw(self) -> float:
        return self.agent.yaw

    @property
    def velocity(self) -> np.ndarray:
        return np.asarray(self.agent.velocity)

    def control_step(self, dt: float) -> None:
        """Nothing to do: moved by the traffic's batched step."""

    def trace_fields(self, accel: float, curvature: float) -> dict:
        """Approximate drivetrain values for the state trace (a kinematic car has none):
        a 5-speed gearbox, throttle/brake from the acceleration, steer from curvature."""
        speed = float(np.linalg.norm(self.velocity))
        gear = 1 + int(np.searchsorted(GEAR_UP_MPS, speed))
        rpm = IDLE_RPM + speed / max(GEAR_TOP_MPS[gear - 1], 1e-6) * (REDLINE_RPM - IDLE_RPM)
        throttle = float(np.clip(0.15 + accel / 3.0, 0.0, 1.0)) if accel >= 0 else 0.0
        return {
            "speed_mps": speed, "rpm": min(rpm, REDLINE_RPM), "gear": gear,
            "throttle": throttle, "brake": float(np.clip(-accel / 6.0, 0.0, 1.0)),
            "engine_load": throttle, "steer": float(np.arctan(WHEELBASE_M * curvature)),
            "slip_ratio": [0.0] * 4, "slip_angle": [0.0] * 4, "airspeed_mps": speed,
        }  # fmt: skip


def make_kinematic_ego(
    world, road: Road, traffic: Traffic, registry: SceneRegistry, seed: int, lane: int, speed: float
) -> KinematicEgo:
    """A kinematic ego car in ``lane`` at the start of the road."""
    parts, size = vehicle_parts(rng_for(seed, "ego"))
    body = create_body(world.client, parts, (0.0, 0.0, 0.0), 0.0)
    registry.register(body, "ego", size, (0.0, 0.0, size[2] / 2), instance=False)
    lateral = float(road.lane_offsets()[lane])
    s0 = 0.0 if road.closed else 10.0
    agent = AgentState(body, s0, lateral, lateral, speed, speed, size[0], lane)
    return KinematicEgo(traffic.add_driven(agent))


LeadFn = Callable[[AgentState], tuple[float, float | None]]


class DynamicEgo:
    """A vehicle-model ego driven by a driver style's policy.

    ``lead(agent) -> (gap_m, lead_speed or None)`` gives the traffic ahead of the ego (an
    :class:`AgentState` in road coordinates); ``surface_at_s`` the grip look-ahead.
    """

    def __init__(
        self,
        vehicle,
        policy,
        road: Road,
        lane: int,
        surface_at_s: Callable[[float], str],
        lead: LeadFn,
        control_hz: int,
    ) -> None:
        self.vehicle, self.policy, self.road, self.lane = vehicle, policy, road, lane
        self.body_id = vehicle.body_id
        self.length_m = float(vehicle.dimensions_lwh[0])
        # The body origin is the CoM; camera presets are mounted for a sedan's roof line
        # (1.45 m), so a van's rig rides higher and a sports car's lower, by the difference.
        body = vehicle.config.body
        lift = float(body.height_m) - REFERENCE_ROOF_M
        self.mount_height_m = -float(body.cg_height_m) + lift
        self.surface_at_s, self.lead = surface_at_s, lead
        self.every = max(1, int(round(control_hz / POLICY_HZ)))
        self.station: float | None = None
        self._steps = 0
        self._client = vehicle.fleet.world.client
        policy.reset()

    @property
    def driver(self) -> dict:
        return {"style": self.policy.style, "policy_id": self.policy.policy_id}

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self._client.getBasePositionAndOrientation(self.body_id)[0])

    @property
    def yaw(self) -> float:
        quat = self._client.getBasePositionAndOrientation(self.body_id)[1]
        return float(self._client.getEulerFromQuaternion(quat)[2])

    @property
    def velocity(self) -> np.ndarray:
        return np.asarray(self._client.getBaseVelocity(self.body_id)[0])

    @property
    def damage(self) -> dict[str, float]:
        return self.vehicle.state().damage

    @property
    def events(self) -> list[dict]:
        """The vehicle's crash and gear_shift events so far."""
        return self.vehicle.events

    def road_agent(self) -> AgentState:
        """The ego in road coordinates, heading for its lane centre."""
        proj = self.road.project(self.position[:2], near_s=self.station)
        self.station = float(proj.s)
        speed = float(np.linalg.norm(self.velocity[:2]))
        centre = float(self.road.lane_offsets()[self.lane])
        return AgentState(
            self.body_id, proj.s, proj.lateral, centre, speed, speed, self.length_m, self.lane
        )

    def control_step(self, dt: float) -> None:
        """Every ``every`` control steps: observe, ask the policy, set the controls."""
        from sim.drivers import observe_vehicle

        if self._steps % self.every == 0:
            gap, lead_speed = self.lead(self.road_agent())
            obs = observe_vehicle(
                self.vehicle, self.road, self.surface_at_s,
                self.road.config.speed_limit_mps, self.lane, gap, lead_speed,
            )  # fmt: skip
            steer, throttle, brake = self.policy.controls(obs)
            self.vehicle.set_controls(_unit(steer, -1.0), _unit(throttle), _unit(brake))
        self._steps += 1

    def trace_fields(self, accel: float, curvature: float) -> dict:
        """The vehicle model's own drivetrain and tire state (the arguments are unused)."""
        return self.vehicle.drivetrain()


def _unit(value: float, lo: float = 0.0) -> float:
    return float(np.clip(value, lo, 1.0))


def traffic_lead(traffic: Traffic) -> LeadFn:
    """``lead(agent)`` from the traffic's NPC vehicles: bumper gap and speed of the nearest
    one ahead in the agent's lane; (FREE_GAP_M, None) when there is none."""

    def lead(agent: AgentState) -> tuple[float, float | None]:
        gap, speed = traffic.gap_ahead(agent, traffic.vehicles)
        return (gap, speed) if gap < FREE_GAP_M else (FREE_GAP_M, None)

    return lead


@functools.cache
def vehicle_preset(name: str):
    """The shipped :func:`sim.vehicle.preset` ``name``, read once per process (configs are
    frozen; parsing the YAML cost ~40 ms of every scenario's set-up)."""
    from sim.vehicle import preset

    return preset(name)


def make_dynamic_ego(
    fleet, road: Road, registry: SceneRegistry, config, surface_at_s, lead: LeadFn
) -> DynamicEgo:
    """A ``config.vehicle_preset`` car in lane ``config.ego_lane`` at the start of the road,
    registered as class ``ego``, driven by ``config.driver_style``."""
    from sim.drivers import load_policy

    lateral = float(road.lane_offsets()[config.ego_lane])
    s0 = 0.0 if road.closed else 10.0
    x, y, heading = road.pose_at(s0, lateral)
    vehicle = fleet.add(
        vehicle_preset(config.vehicle_preset),
        position=(float(x), float(y), 0.0),
        yaw=float(heading),
        speed_mps=config.ego_speed_mps,
    )
    registry.register(
        vehicle.body_id, "ego", vehicle.dimensions_lwh, vehicle.bbox_center_offset, instance=False
    )
    policy = load_policy(config.driver_style, config.seed)
    return DynamicEgo(vehicle, policy, road, config.ego_lane, surface_at_s, lead, config.control_hz)
