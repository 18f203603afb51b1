"""Kinematic traffic: NPC vehicles that keep their lane and follow the car ahead, and
pedestrians walking along the shoulders.

Agent state lives in numpy arrays (one row per agent) and is advanced for all agents at
once at the control rate. Longitudinal control is the Intelligent Driver Model; lateral
control is a first-order approach to the target lane centre, with a lane change when the
leader is slow and the neighbouring lane is free. Drivers re-plan (accelerations, lane
targets) at ``decision_hz`` like a human reaction cycle; between re-plans the motion has a
closed form (constant acceleration, exponential approach to the lane centre) that is
evaluated only when someone needs it: a reader, a body sync, the next re-plan.
Agents are static bodies moved with ``resetBasePositionAndOrientation``: every control
step those within ``SYNC_RADIUS_M`` of a dynamic ego (the bodies that can touch it), and
all of them before a camera renders (:meth:`Traffic.sync_bodies`). World velocities are
kept in the arrays (PyBullet keeps none for static bodies) so sound synthesis can compute
Doppler shifts.
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
NEIGHBOUR_RADIUS_M = 150.0  # vehicles farther away are not heard


@dataclass
class TrafficConfig:
    n_npc: int = 6
    n_pedestrians: int = 4
    speed_mps: tuple[float, float] = (8.0, 16.0)  # range of NPC desired speeds
    decision_hz: float = 10.0  # drivers re-plan (IDM, lane changes) at this rate

    def __post_init__(self) -> None:
        if not 0 <= self.n_npc <= 200:
            raise ValueError(f"TrafficConfig.n_npc must be in [0, 200], got {self.n_npc}")
        if not 0 <= self.n_pedestrians <= 200:
            raise ValueError(
                f"TrafficConfig.n_pedestrians must be in [0, 200], got {self.n_pedestrians}"
            )
        if not 0.5 <= self.decision_hz <= 240.0:
            raise ValueError(
                f"TrafficConfig.decision_hz must be in [0.5, 240], got {self.decision_hz}"
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

    def __init__(self, states: list) -> None:
        """From AgentState records or AgentViews (anything with their fields)."""
        self.refresh = lambda: None  # brings stale poses up to date (set by Traffic)
        for name in self.FLOATS:
            setattr(self, name, np.array([getattr(a, name) for a in states], dtype=np.float64))
        self.body = np.array([a.body for a in states], dtype=np.int64)
        self.lane = np.array([a.lane for a in states], dtype=np.int64)
        self.position = np.array([a.position for a in states], dtype=np.float64).reshape(-1, 3)
        self.velocity = np.array([a.velocity for a in states], dtype=np.float64).reshape(-1, 3)

    def __len__(self) -> int:
        return len(self.body)

    def states(self) -> list[AgentView]:
        return [self.view(i) for i in range(len(self))]

    def view(self, i: int) -> AgentView:
        return AgentView(self, i)


class AgentView:
    """Read access to one row of :class:`AgentArrays` with :class:`AgentState`'s fields."""

    __slots__ = ("_a", "_i")

    def __init__(self, arrays: AgentArrays, i: int) -> None:
        self._a, self._i = arrays, i

    def __getattr__(self, name: str):
        if name in ("position", "yaw", "velocity"):
            self._a.refresh()
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
        self._reset_pose = world.client.resetBasePositionAndOrientation
        self.cars = AgentArrays(self._spawn_vehicles(registry, seed))
        self.peds = AgentArrays(self._spawn_pedestrians(registry, seed))
        self.cars.refresh = self.peds.refresh = self.ensure_poses
        self._stale = True
        self.n_npc = len(self.cars)
        self.driven: list[int] = []  # rows of cars that are not NPCs (the kinematic ego)
        self._reset_plan()
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
        self.ensure_poses()
        self.cars = AgentArrays([*self.cars.states(), state])
        self.cars.refresh = self.ensure_poses
        self.driven.append(len(self.cars) - 1)
        self._reset_plan()
        self._update_poses()
        self.sync_bodies()
        return self.cars.view(len(self.cars) - 1)

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

    def _reset_plan(self) -> None:
        n = len(self.cars)
        self._steps = 0
        self._accel, self._lat_rate = np.zeros(n), np.zeros(n)
        self._anchor()
        self._near = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def _anchor(self) -> None:
        """Start a plan interval from the current state; walkers at a road end turn."""
        c, p = self.cars, self.peds
        self._tau = 0.0
        self._s0, self._v0, self._lat0 = c.s.copy(), c.speed.copy(), c.lateral.copy()
        turn = ((p.s <= 5.0) & (p.speed < 0)) | ((p.s >= self.road.length - 5.0) & (p.speed > 0))
        p.speed = np.where(turn, -p.speed, p.speed)
        self._ps0 = p.s.copy()

    def _plan(self, extra: list[AgentState]) -> None:
        """Re-plan: IDM accelerations, lane targets and the set of bodies to keep synced."""
        c = self.cars
        gap, lead = self._gaps(extra)
        if self.road.config.lanes > 1:
            self._change_lanes(gap, lead, extra)
        self._accel = np.maximum(idm_accel(c.speed, c.desired_speed, gap, c.speed - lead), -9.0)

    def _near_rows(self, arrays: AgentArrays, focus_xy) -> np.ndarray:
        if focus_xy is None:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.hypot(*(arrays.position[:, :2] - focus_xy).T) < SYNC_RADIUS_M)

    def _materialise(self) -> None:
        """Road coordinates now, in closed form over the plan interval: constant
        acceleration (stopping at zero speed) and an exponential approach to the lane."""
        c, p, tau, a, v0 = self.cars, self.peds, self._tau, self._accel, self._v0
        t_stop = np.where(a < 0.0, v0 / np.maximum(-a, 1e-9), np.inf)
        te = np.minimum(tau, t_stop)
        c.speed = np.maximum(v0 + a * te, 0.0)
        s = self._s0 + v0 * te + 0.5 * a * te * te
        if not self.road.closed:  # open roads: re-enter at the start
            s = np.where(s > self.road.length - 15.0, s - (self.road.length - 30.0), s)
        c.s = s
        decay = np.exp(-tau / LANE_TIME_CONST_S)
        c.lateral = c.target_lateral + (self._lat0 - c.target_lateral) * decay
        self._lat_rate = (c.target_lateral - c.lateral) / LANE_TIME_CONST_S
        p.s = np.clip(self._ps0 + p.speed * tau, 5.0, self.road.length - 5.0)

    def ensure_poses(self) -> None:
        """Bring road coordinates and world poses up to date if time has passed."""
        if self._stale:
            self._materialise()
            self._update_poses()

    def _update_poses(self) -> None:
        """World position, yaw and velocity of every agent from its road coordinates."""
        self._stale = False
        c, p = self.cars, self.peds
        lat_rate = self._lat_rate
        s = np.concatenate([c.s, p.s])
        v = np.concatenate([c.speed, p.speed])
        rate = np.concatenate([lat_rate, np.zeros(len(p))])
        pose = self.road.pose_at(s, np.concatenate([c.lateral, p.lateral]))
        h = pose[:, 2] + np.arctan2(rate, np.maximum(np.abs(v), 0.1)) * np.sign(v)
        h = np.where(v < 0, h + np.pi, h)
        cos_h, sin_h = np.cos(h), np.sin(h)
        h = np.arctan2(sin_h, cos_h)
        speed = np.hypot(v, rate)
        pos, vel = np.zeros((len(s), 3)), np.zeros((len(s), 3))
        pos[:, :2] = pose[:, :2]
        vel[:, 0], vel[:, 1] = speed * cos_h, speed * sin_h
        n = len(c)
        c.position, c.yaw, c.velocity = pos[:n], h[:n], vel[:n]
        p.position, p.yaw, p.velocity = pos[n:], h[n:], vel[n:]

    def _push(self, arrays: AgentArrays, rows: np.ndarray) -> None:
        reset = self._reset_pose
        if len(rows) == 0:
            return
        half = arrays.yaw[rows] / 2
        quats = np.zeros((len(rows), 4))
        quats[:, 2], quats[:, 3] = np.sin(half), np.cos(half)
        for body, xyz, q in zip(
            arrays.body[rows].tolist(), arrays.position[rows].tolist(), quats.tolist()
        ):
            reset(body, xyz, q)

    def neighbours(self, xy, yaw: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest NPC vehicles within ``NEIGHBOUR_RADIUS_M`` of ``xy``, nearest
        first, in the frame at ``xy`` with heading ``yaw`` (x forward, y left, z up):
        positions (k, 3) and world velocities rotated into that frame (k, 3); NaN rows
        where there are fewer."""
        self.ensure_poses()
        c, n = self.cars, self.n_npc
        rel = c.position[:n, :2] - np.asarray(xy, dtype=np.float64)[:2]
        dist = np.hypot(rel[:, 0], rel[:, 1])
        order = np.argsort(dist, kind="stable")[:k]
        order = order[dist[order] < NEIGHBOUR_RADIUS_M]
        cy, sy = np.cos(yaw), np.sin(yaw)
        pos, vel = np.full((k, 3), np.nan), np.full((k, 3), np.nan)
        for out, src in ((pos, np.column_stack([rel, c.position[:n, 2]])), (vel, c.velocity[:n])):
            out[: len(order), 0] = cy * src[order, 0] + sy * src[order, 1]
            out[: len(order), 1] = -sy * src[order, 0] + cy * src[order, 1]
            out[: len(order), 2] = src[order, 2]
        return pos, vel

    def sync_bodies(self) -> None:
        """Move every PyBullet body to its agent's pose (before rendering)."""
        self.ensure_poses()
        self._push(self.cars, np.arange(len(self.cars)))
        self._push(self.peds, np.arange(len(self.peds)))

    def control_step(self, dt: float, extra: list[AgentState] | None = None, focus_xy=None) -> None:
        """Advance every agent by ``dt``; ``extra`` agents (a dynamic ego not driven here)
        are obstacles. Bodies only matter to the physics near a dynamic body: those within
        ``SYNC_RADIUS_M`` of ``focus_xy`` (the dynamic ego) are moved every step, all others
        when :meth:`sync_bodies` is called before rendering."""
        every = max(1, int(round(1.0 / (dt * self.config.decision_hz))))
        if self._steps % every == 0:
            self._materialise()  # road coordinates now; world poses stay lazy
            self._anchor()
            self._plan(list(extra or []))
            if focus_xy is not None:
                self.ensure_poses()
            self._near = (
                self._near_rows(self.cars, focus_xy),
                self._near_rows(self.peds, focus_xy),
            )
        self._steps += 1
        self._tau += dt
        self._stale = True  # evaluated lazily: when read, pushed or synced
        if len(self._near[0]) or len(self._near[1]):
            self.ensure_poses()
            self._push(self.cars, self._near[0])
            self._push(self.peds, self._near[1])
