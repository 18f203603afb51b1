"""Kinematic traffic: NPC vehicles that keep their lane and follow the car ahead, and
pedestrians walking along the shoulders.

Agents are static bodies moved each control step with ``resetBasePositionAndOrientation``;
their world velocity is kept in :class:`AgentState` (PyBullet keeps none for static bodies)
so sound synthesis can compute Doppler shifts. Longitudinal control is the Intelligent
Driver Model; lateral control is a first-order approach to the target lane centre, with a
lane change when the leader is slow and the neighbouring lane is free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.road import Road
from sim.scene import SceneRegistry
from sim.scenery import Part, create_body
from sim.seeding import rng_for

IDM_ACCEL = 1.5  # m/s^2
IDM_DECEL = 3.0  # comfortable braking, m/s^2
IDM_HEADWAY_S = 1.4
IDM_MIN_GAP_M = 3.0
LANE_TIME_CONST_S = 1.2
FREE_GAP_M = 1e9


@dataclass
class TrafficConfig:
    n_npc: int = 6
    n_pedestrians: int = 4
    speed_mps: tuple[float, float] = (8.0, 16.0)  # range of NPC desired speeds

    def __post_init__(self) -> None:
        if not 0 <= self.n_npc <= 200:
            raise ValueError(f"TrafficConfig.n_npc must be in [0, 200], got {self.n_npc}")
        if not 0 <= self.n_pedestrians <= 200:
            raise ValueError(
                f"TrafficConfig.n_pedestrians must be in [0, 200], got {self.n_pedestrians}"
            )
        lo, hi = self.speed_mps
        if not 0.0 < lo <= hi <= 70.0:
            raise ValueError(f"TrafficConfig.speed_mps must be 0 < lo <= hi <= 70, got {lo, hi}")


@dataclass
class AgentState:
    """A kinematic agent in road coordinates plus its world pose and velocity."""

    body: int
    s: float
    lateral: float
    target_lateral: float
    speed: float
    desired_speed: float
    length: float
    lane: int = 0
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw: float = 0.0
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)


def vehicle_parts(rng: np.random.Generator) -> tuple[tuple[Part, ...], tuple[float, float, float]]:
    """A car, van or truck-like body (base frame on the ground) and its box size."""
    kind = int(rng.choice(3, p=[0.7, 0.2, 0.1]))
    l = [rng.uniform(4.0, 4.8), rng.uniform(4.8, 5.6), rng.uniform(7.0, 9.0)][kind]
    w = [rng.uniform(1.7, 1.9), rng.uniform(1.9, 2.05), rng.uniform(2.3, 2.5)][kind]
    cabin_h = [rng.uniform(0.5, 0.65), rng.uniform(1.0, 1.3), rng.uniform(1.8, 2.3)][kind]
    paint = tuple(float(v) for v in rng.uniform(0.05, 0.95, 3)) + (1.0,)
    dark = (0.08, 0.08, 0.09, 1.0)
    glass = (0.2, 0.27, 0.33, 1.0)
    wheels = Part("box", (l / 2 - 0.5, w / 2 - 0.05, 0.17), (0.0, 0.0, 0.17), dark)
    chassis = Part("box", (l / 2, w / 2, 0.35), (0.0, 0.0, 0.65), paint)
    cab_l = l * (0.5 if kind == 0 else 0.75)
    cabin = Part(
        "box", (cab_l / 2, w / 2 - 0.08, cabin_h / 2), (-0.1 * l, 0.0, 1.0 + cabin_h / 2), glass
    )
    return (wheels, chassis, cabin), (l, w, 1.0 + cabin_h)


def pedestrian_parts(
    rng: np.random.Generator,
) -> tuple[tuple[Part, ...], tuple[float, float, float]]:
    clothes = tuple(float(v) for v in rng.uniform(0.1, 0.9, 3)) + (1.0,)
    skin = tuple(float(v) for v in np.array([0.85, 0.65, 0.5]) * rng.uniform(0.5, 1.1)) + (1.0,)
    torso = Part("capsule", (0.2, 0.9), (0.0, 0.0, 0.75), clothes)
    head = Part("sphere", (0.12,), (0.0, 0.0, 1.52), tuple(min(v, 1.0) for v in skin))
    return (torso, head), (0.4, 0.4, 1.64)


def idm_accel(speed: float, desired: float, gap: float, closing: float) -> float:
    """Intelligent Driver Model acceleration for a bumper gap and closing speed."""
    s_star = IDM_MIN_GAP_M + speed * IDM_HEADWAY_S
    s_star += speed * closing / (2.0 * np.sqrt(IDM_ACCEL * IDM_DECEL))
    gap = max(gap, 0.1)
    return IDM_ACCEL * (1.0 - (speed / max(desired, 0.1)) ** 4 - (max(s_star, 0.0) / gap) ** 2)


class Traffic:
    """NPC vehicles and pedestrians of one scenario, stepped at the control rate."""

    def __init__(
        self, world, road: Road, registry: SceneRegistry, config: TrafficConfig, seed: int
    ) -> None:
        self.world, self.road, self.config = world, road, config
        self.vehicles: list[AgentState] = []
        self.pedestrians: list[AgentState] = []
        self._spawn_vehicles(registry, seed)
        self._spawn_pedestrians(registry, seed)
        for agent in self.vehicles + self.pedestrians:
            self._apply_pose(agent, 0.0)

    def _spawn_vehicles(self, registry: SceneRegistry, seed: int) -> None:
        n = self.config.n_npc
        if n == 0:
            return
        rng = rng_for(seed, "traffic", "vehicles")
        usable = self.road.length - 60.0
        spacing = usable / n
        lanes = self.road.lane_offsets()
        for k in range(n):
            parts, size = vehicle_parts(rng)
            body = create_body(self.world.client, parts, (0.0, 0.0, 0.0), 0.0)
            registry.register(body, "vehicle", size, (0.0, 0.0, size[2] / 2))
            lane = int(rng.integers(len(lanes)))
            s = 30.0 + k * spacing + rng.uniform(0.0, max(spacing - size[0] - 4.0, 0.0))
            speed = float(rng.uniform(*self.config.speed_mps))
            off = float(lanes[lane])
            self.vehicles.append(AgentState(body, s, off, off, speed, speed, size[0], lane))

    def _spawn_pedestrians(self, registry: SceneRegistry, seed: int) -> None:
        rng = rng_for(seed, "traffic", "pedestrians")
        edge = self.road.half_width
        for _ in range(self.config.n_pedestrians):
            parts, size = pedestrian_parts(rng)
            body = create_body(self.world.client, parts, (0.0, 0.0, 0.0), 0.0)
            registry.register(body, "pedestrian", size, (0.0, 0.0, size[2] / 2))
            side = 1.0 if rng.random() < 0.5 else -1.0
            lateral = side * (edge + rng.uniform(0.6, self.road.config.shoulder_m - 0.4))
            speed = float(rng.uniform(0.8, 1.7)) * (1.0 if rng.random() < 0.5 else -1.0)
            s = float(rng.uniform(20.0, self.road.length - 20.0))
            self.pedestrians.append(AgentState(body, s, lateral, lateral, speed, speed, 0.4))

    def gap_ahead(self, agent: AgentState, others: list[AgentState]) -> tuple[float, float]:
        """(bumper gap, leader speed) to the nearest agent ahead in the same lane."""
        best, lead_speed = FREE_GAP_M, agent.speed
        half_lane = self.road.config.lane_width_m / 2
        for o in others:
            if o is agent or abs(o.lateral - agent.target_lateral) > half_lane:
                continue
            ds = o.s - agent.s
            if self.road.closed:
                ds = float(np.mod(ds, self.road.length))
            gap = ds - (o.length + agent.length) / 2
            if 0.0 < ds and gap < best:
                best, lead_speed = gap, o.speed
        return best, lead_speed

    def _maybe_change_lane(self, agent: AgentState, others: list[AgentState], gap: float) -> None:
        lanes = self.road.lane_offsets()
        if len(lanes) < 2 or gap > 30.0 or abs(agent.lateral - agent.target_lateral) > 0.2:
            return
        for lane in (agent.lane + 1, agent.lane - 1):
            if not 0 <= lane < len(lanes):
                continue
            probe = AgentState(
                agent.body, agent.s - 15.0, 0, float(lanes[lane]), 0, 0, 30.0 + agent.length
            )
            if self.gap_ahead(probe, others)[0] > 40.0:
                agent.lane, agent.target_lateral = lane, float(lanes[lane])
                return

    def drive(self, agent: AgentState, others: list[AgentState], dt: float) -> None:
        """One control step of lane keeping and car following for ``agent``."""
        gap, lead_speed = self.gap_ahead(agent, others)
        if lead_speed < agent.desired_speed - 2.0:
            self._maybe_change_lane(agent, others, gap)
        accel = idm_accel(agent.speed, agent.desired_speed, gap, agent.speed - lead_speed)
        agent.speed = max(0.0, agent.speed + max(accel, -9.0) * dt)
        lat_rate = (agent.target_lateral - agent.lateral) / LANE_TIME_CONST_S
        agent.lateral += lat_rate * dt
        agent.s += agent.speed * dt
        if not self.road.closed and agent.s > self.road.length - 15.0:
            agent.s = 15.0  # open roads: re-enter at the start
        self._apply_pose(agent, lat_rate)

    def walk(self, agent: AgentState, dt: float) -> None:
        agent.s += agent.speed * dt
        if not 5.0 < agent.s < self.road.length - 5.0:
            agent.speed = -agent.speed  # turn around at the ends of open roads
            agent.s = float(np.clip(agent.s, 5.0, self.road.length - 5.0))
        self._apply_pose(agent, 0.0)

    def _apply_pose(self, agent: AgentState, lat_rate: float) -> None:
        x, y, h = self.road.pose_at(agent.s, agent.lateral)
        h = float(h) + np.arctan2(lat_rate, max(abs(agent.speed), 0.1)) * np.sign(agent.speed)
        if agent.speed < 0:
            h += np.pi
        c = self.world.client
        c.resetBasePositionAndOrientation(
            agent.body, [x, y, 0.0], c.getQuaternionFromEuler([0, 0, h])
        )
        speed = np.hypot(agent.speed, lat_rate)
        agent.position = (float(x), float(y), 0.0)
        agent.yaw = float(np.arctan2(np.sin(h), np.cos(h)))
        agent.velocity = (float(speed * np.cos(h)), float(speed * np.sin(h)), 0.0)

    def control_step(self, dt: float, extra: list[AgentState] | None = None) -> None:
        """Advance every agent by ``dt``; ``extra`` agents (the ego) are obstacles too."""
        others = self.vehicles + list(extra or [])
        for agent in self.vehicles:
            self.drive(agent, others, dt)
        for agent in self.pedestrians:
            self.walk(agent, dt)
