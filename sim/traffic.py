"""Kinematic traffic: NPC vehicles that keep their lane and follow the car ahead, and
pedestrians walking along the shoulders.

Agent state lives in numpy arrays (one row per agent) and is advanced for all agents at
once at the control rate. Longitudinal control is the Intelligent Driver Model; lateral
control is a first-order approach to the target lane centre, with a lane change when the
leader is slow and the neighbouring lane is free. Agents are static bodies moved with
``resetBasePositionAndOrientation``: every control step for agents within
``SYNC_RADIUS_M`` of the ego (those that can touch it), and all of them before a camera
renders (:meth:`Traffic.sync_bodies`). World velocities are kept in the arrays (PyBullet
keeps none for static bodies) so sound synthesis can compute Doppler shifts.
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
SYNC_RADIUS_M = 60.0


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
    """One agent in road coordinates: a spawn record, or an obstacle such as the ego."""

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


def idm_accel(speed, desired, gap, closing):
    """Intelligent Driver Model acceleration (floats or arrays) for a bumper gap and the
    closing speed to the leader."""
    s_star = IDM_MIN_GAP_M + speed * IDM_HEADWAY_S
    s_star = s_star + speed * closing / (2.0 * np.sqrt(IDM_ACCEL * IDM_DECEL))
    ratio = np.maximum(s_star, 0.0) / np.maximum(gap, 0.1)
    return IDM_ACCEL * (1.0 - (speed / np.maximum(desired, 0.1)) ** 4 - ratio**2)


class AgentArrays:
    """Structure of arrays: one row per agent."""

    FLOATS = ("s", "lateral", "target_lateral", "speed", "desired_speed", "length", "yaw")

    def __init__(self, states: list[AgentState]) -> None:
        for name in self.FLOATS:
            setattr(self, name, np.array([getattr(a, name) for a in states], dtype=np.float64))
        self.body = np.array([a.body for a in states], dtype=np.int64)
        self.lane = np.array([a.lane for a in states], dtype=np.int64)
        self.position = np.array([a.position for a in states], dtype=np.float64).reshape(-1, 3)
        self.velocity = np.array([a.velocity for a in states], dtype=np.float64).reshape(-1, 3)

    def __len__(self) -> int:
        return len(self.body)

    def states(self) -> list[AgentState]:
        return [self.view(i) for i in range(len(self))]  # type: ignore[misc]

    def view(self, i: int) -> AgentView:
        return AgentView(self, i)


class AgentView:
    """Read access to one row of :class:`AgentArrays` with :class:`AgentState`'s fields."""

    __slots__ = ("_a", "_i")

    def __init__(self, arrays: AgentArrays, i: int) -> None:
        self._a, self._i = arrays, i

    def __getattr__(self, name: str):
        value = getattr(self._a, name)[self._i]
        if isinstance(value, np.ndarray):
            return tuple(float(v) for v in value)
        return int(value) if name in ("body", "lane") else float(value)


def _obstacles(arrays: AgentArrays, extra: list[AgentState]) -> tuple[np.ndarray, ...]:
    names = ("s", "lateral", "length", "speed")
    cols = [np.concatenate([getattr(arrays, n), [getattr(a, n) for a in extra]]) for n in names]
    body = np.concatenate([arrays.body, np.array([a.body for a in extra], dtype=np.int64)])
    return (*cols, body)


class Traffic:
    """NPC vehicles and pedestrians of one scenario, stepped together at the control rate.

    ``add_driven`` adds further vehicles (the kinematic ego) that this model drives too.
    """

    def __init__(
        self, world, road: Road, registry: SceneRegistry, config: TrafficConfig, seed: int
    ) -> None:
        self.world, self.road, self.config = world, road, config
        self._reset = world.client.resetBasePositionAndOrientation
        self.cars = AgentArrays(self._spawn_vehicles(registry, seed))
        self.peds = AgentArrays(self._spawn_pedestrians(registry, seed))
        self.n_npc = len(self.cars)
        self.driven: list[int] = []  # rows of cars that are not NPCs (the kinematic ego)
        self._update_poses()
        self.sync_bodies()

    @property
    def vehicles(self) -> list[AgentView]:
        return [self.cars.view(i) for i in range(self.n_npc)]

    @property
    def pedestrians(self) -> list[AgentView]:
        return [self.peds.view(i) for i in range(len(self.peds))]

    def add_driven(self, state: AgentState) -> AgentView:
        """Drive another vehicle body (e.g. the kinematic ego) with this model."""
        rows = [*self.cars.states(), state]
        fresh = AgentArrays([])
        for name in (*AgentArrays.FLOATS, "body", "lane"):
            setattr(fresh, name, np.array([getattr(r, name) for r in rows]))
        fresh.position = np.array([r.position for r in rows], dtype=np.float64)
        fresh.velocity = np.array([r.velocity for r in rows], dtype=np.float64)
        self.cars = fresh
        self.driven.append(len(rows) - 1)
        self._update_poses()
        self.sync_bodies()
        return self.cars.view(len(rows) - 1)

    def _spawn_vehicles(self, registry: SceneRegistry, seed: int) -> list[AgentState]:
        n = self.config.n_npc
        rng = rng_for(seed, "traffic", "vehicles")
        spacing = (self.road.length - 60.0) / max(n, 1)
        lanes = self.road.lane_offsets()
        out = []
        for k in range(n):
            parts, size = vehicle_parts(rng)
            body = create_body(self.world.client, parts, (0.0, 0.0, 0.0), 0.0)
            registry.register(body, "vehicle", size, (0.0, 0.0, size[2] / 2))
            lane = int(rng.integers(len(lanes)))
            s = 30.0 + k * spacing + rng.uniform(0.0, max(spacing - size[0] - 4.0, 0.0))
            speed = float(rng.uniform(*self.config.speed_mps))
            off = float(lanes[lane])
            out.append(AgentState(body, s, off, off, speed, speed, size[0], lane))
        return out

    def _spawn_pedestrians(self, registry: SceneRegistry, seed: int) -> list[AgentState]:
        rng = rng_for(seed, "traffic", "pedestrians")
        edge = self.road.half_width
        out = []
        for _ in range(self.config.n_pedestrians):
            parts, size = pedestrian_parts(rng)
            body = create_body(self.world.client, parts, (0.0, 0.0, 0.0), 0.0)
            registry.register(body, "pedestrian", size, (0.0, 0.0, size[2] / 2))
            side = 1.0 if rng.random() < 0.5 else -1.0
            lateral = side * (edge + rng.uniform(0.6, self.road.config.shoulder_m - 0.4))
            speed = float(rng.uniform(0.8, 1.7)) * (1.0 if rng.random() < 0.5 else -1.0)
            s = float(rng.uniform(20.0, self.road.length - 20.0))
            out.append(AgentState(body, s, lateral, lateral, speed, speed, 0.4))
        return out

    def _gaps(self, extra: list[AgentState]) -> tuple[np.ndarray, np.ndarray]:
        """Per car: bumper gap and speed of the nearest obstacle ahead in its target lane."""
        c = self.cars
        s_o, lat_o, len_o, v_o, body_o = _obstacles(c, extra)
        ds = s_o[None, :] - c.s[:, None]
        if self.road.closed:
            ds = np.mod(ds, self.road.length)
        valid = (
            np.abs(lat_o[None, :] - c.target_lateral[:, None]) <= self.road.config.lane_width_m / 2
        )
        valid &= (ds > 0.0) & (body_o[None, :] != c.body[:, None])
        gap = np.where(valid, ds - (len_o[None, :] + c.length[:, None]) / 2, FREE_GAP_M)
        j = np.argmin(gap, axis=1)
        best = gap[np.arange(len(c)), j]
        return best, np.where(best < FREE_GAP_M, v_o[j], c.speed)

    def gap_ahead(self, agent, others: list) -> tuple[float, float]:
        """(bumper gap, leader speed) from ``agent`` to the nearest of ``others`` ahead in its
        target lane (any objects with AgentState's fields)."""
        best, lead = FREE_GAP_M, float(agent.speed)
        for o in others:
            if (
                o.body == agent.body
                or abs(o.lateral - agent.target_lateral) > self.road.config.lane_width_m / 2
            ):
                continue
            ds = o.s - agent.s
            ds = float(np.mod(ds, self.road.length)) if self.road.closed else ds
            gap = ds - (o.length + agent.length) / 2
            if ds > 0.0 and gap < best:
                best, lead = gap, float(o.speed)
        return best, lead

    def _lane_free(self, row: int, offset: float, extra: list[AgentState]) -> bool:
        s_o, lat_o, _, _, body_o = _obstacles(self.cars, extra)
        ds = s_o - self.cars.s[row]
        if self.road.closed:
            ds = np.mod(ds + self.road.length / 2, self.road.length) - self.road.length / 2
        near = np.abs(lat_o - offset) <= self.road.config.lane_width_m
        near &= (ds > -20.0) & (ds < 40.0) & (body_o != self.cars.body[row])
        return not np.any(near)

    def _change_lanes(self, gap: np.ndarray, lead: np.ndarray, extra: list[AgentState]) -> None:
        c, lanes = self.cars, self.road.lane_offsets()
        settled = np.abs(c.lateral - c.target_lateral) < 0.2
        for row in np.flatnonzero((lead < c.desired_speed - 2.0) & (gap < 30.0) & settled):
            for lane in (c.lane[row] + 1, c.lane[row] - 1):
                if 0 <= lane < len(lanes) and self._lane_free(row, float(lanes[lane]), extra):
                    c.lane[row], c.target_lateral[row] = lane, lanes[lane]
                    break

    def _drive(self, dt: float, extra: list[AgentState]) -> None:
        c = self.cars
        if len(c) == 0:
            return
        gap, lead = self._gaps(extra)
        if self.road.config.lanes > 1:
            self._change_lanes(gap, lead, extra)
        accel = idm_accel(c.speed, c.desired_speed, gap, c.speed - lead)
        c.speed = np.maximum(0.0, c.speed + np.maximum(accel, -9.0) * dt)
        self._lat_rate = (c.target_lateral - c.lateral) / LANE_TIME_CONST_S
        c.lateral = c.lateral + self._lat_rate * dt
        c.s = c.s + c.speed * dt
        if not self.road.closed:  # open roads: re-enter at the start
            c.s = np.where(c.s > self.road.length - 15.0, 15.0, c.s)

    def _walk(self, dt: float) -> None:
        p = self.peds
        p.s = p.s + p.speed * dt
        turn = (p.s < 5.0) | (p.s > self.road.length - 5.0)
        p.speed = np.where(turn, -p.speed, p.speed)
        p.s = np.clip(p.s, 5.0, self.road.length - 5.0)

    def _update_poses(self) -> None:
        """World position, yaw and velocity of every agent from its road coordinates."""
        c, p = self.cars, self.peds
        lat_rate = getattr(self, "_lat_rate", np.zeros(len(c)))
        if len(lat_rate) != len(c):
            lat_rate = np.zeros(len(c))
        s = np.concatenate([c.s, p.s])
        v = np.concatenate([c.speed, p.speed])
        rate = np.concatenate([lat_rate, np.zeros(len(p))])
        pose = self.road.pose_at(s, np.concatenate([c.lateral, p.lateral]))
        h = pose[:, 2] + np.arctan2(rate, np.maximum(np.abs(v), 0.1)) * np.sign(v)
        h = np.where(v < 0, h + np.pi, h)
        h = np.arctan2(np.sin(h), np.cos(h))
        speed = np.hypot(v, rate)
        pos = np.column_stack([pose[:, :2], np.zeros(len(s))])
        vel = np.column_stack([speed * np.cos(h), speed * np.sin(h), np.zeros(len(s))])
        n = len(c)
        c.position, c.yaw, c.velocity = pos[:n], h[:n], vel[:n]
        p.position, p.yaw, p.velocity = pos[n:], h[n:], vel[n:]

    def _push(self, arrays: AgentArrays, rows: np.ndarray) -> None:
        reset = self._reset
        half = arrays.yaw[rows] / 2
        quats = np.column_stack([np.zeros((len(rows), 2)), np.sin(half), np.cos(half)])
        for body, xyz, q in zip(
            arrays.body[rows].tolist(), arrays.position[rows].tolist(), quats.tolist()
        ):
            reset(body, xyz, q)

    def sync_bodies(self, focus_xy: np.ndarray | None = None) -> None:
        """Move the PyBullet bodies to the agents' poses: all of them, or only those near
        ``focus_xy`` and the driven ones."""
        for arrays, driven in ((self.cars, self.driven), (self.peds, [])):
            rows = np.arange(len(arrays))
            if focus_xy is not None:
                near = np.hypot(*(arrays.position[:, :2] - focus_xy).T) < SYNC_RADIUS_M
                near[driven] = True
                rows = rows[near]
            self._push(arrays, rows)

    def control_step(self, dt: float, extra: list[AgentState] | None = None, focus_xy=None) -> None:
        """Advance every agent by ``dt``; ``extra`` agents (an ego not driven here) are
        obstacles. Bodies near ``focus_xy`` (default: the first driven car) are moved."""
        self._drive(dt, list(extra or []))
        self._walk(dt)
        self._update_poses()
        if focus_xy is None and self.driven:
            focus_xy = self.cars.position[self.driven[0], :2]
        self.sync_bodies(focus_xy)
