"""A complete scenario: world, road, scenery, traffic, ego and cameras, run frame by frame.

Physics runs at ``physics_hz``, controls (ego, traffic) at ``control_hz`` and cameras
capture at ``frame_hz``. Frame ``k`` is captured after ``k + 1`` frame intervals, at
``time_s = (k + 1) / frame_hz``. A scenario is a pure function of its config: the same
config gives byte-identical renders, also with several scenarios alive in one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sim.camera import CameraConfig, Lighting, Render, render
from sim.labels import extract_labels
from sim.road import ROAD_KINDS, Road, RoadConfig, build_road, generate_road
from sim.scene import SceneRegistry
from sim.scenery import SceneryConfig, build_scenery, create_body
from sim.seeding import rng_for
from sim.trace import MAX_OTHERS, SURFACE_CODES, StateTrace
from sim.traffic import AgentState, AgentView, Traffic, TrafficConfig, vehicle_parts
from sim.world import World, WorldConfig

# kinematic ego drivetrain approximation (for the state trace only)
GEAR_UP_MPS = (6.0, 12.0, 18.0, 25.0)  # shift up above these speeds
GEAR_TOP_MPS = (8.0, 14.0, 21.0, 29.0, 40.0)  # speed at the redline in each gear
IDLE_RPM, REDLINE_RPM = 800.0, 6000.0
WHEELBASE_M = 2.7
NO_DAMAGE = {"front": 0.0, "rear": 0.0, "left": 0.0, "right": 0.0}
KINEMATIC_DRIVER = {"style": "normal", "policy_id": "kinematic-idm"}


@dataclass(frozen=True)
class ScenarioConfig:
    seed: int = 0
    road_kind: str = "circuit"
    road_length_m: float = 800.0
    lanes: int = 2
    lane_width_m: float = 3.5
    curviness: float = 0.5
    n_npc: int = 6
    n_pedestrians: int = 4
    scenery_density: float = 1.0
    cameras: tuple[CameraConfig, ...] = (CameraConfig(),)
    frame_hz: float = 5.0
    control_hz: int = 60
    physics_hz: int = 240
    ego_speed_mps: float = 12.0
    ego_lane: int = 0
    min_visible_px: int = 1
    record_trace: bool = True  # fill ``Scenario.trace`` at the control rate

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"ScenarioConfig.seed must be >= 0, got {self.seed}")
        if self.road_kind not in ROAD_KINDS:
            raise ValueError(
                f"ScenarioConfig.road_kind must be one of {ROAD_KINDS}, got {self.road_kind!r}"
            )
        if not self.cameras:
            raise ValueError(f"ScenarioConfig.cameras must not be empty, got {self.cameras}")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"ScenarioConfig.cameras names must be unique, got {names}")
        if self.physics_hz % self.control_hz:
            raise ValueError(
                f"ScenarioConfig.control_hz must divide physics_hz {self.physics_hz}, "
                f"got {self.control_hz}"
            )
        ratio = self.control_hz / self.frame_hz if self.frame_hz > 0 else 0.5
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"ScenarioConfig.frame_hz must divide control_hz {self.control_hz}, "
                f"got {self.frame_hz}"
            )
        if not 0 <= self.ego_lane < self.lanes:
            raise ValueError(f"ScenarioConfig.ego_lane must be in [0, lanes), got {self.ego_lane}")
        if not 0.0 < self.ego_speed_mps <= 70.0:
            raise ValueError(
                f"ScenarioConfig.ego_speed_mps must be in (0, 70], got {self.ego_speed_mps}"
            )
        if self.min_visible_px < 1:
            raise ValueError(
                f"ScenarioConfig.min_visible_px must be >= 1, got {self.min_visible_px}"
            )
        self.road_config(), self.traffic_config(), self.scenery_config(), self.world_config()

    def road_config(self) -> RoadConfig:
        return RoadConfig(
            kind=self.road_kind,
            length_m=self.road_length_m,
            lanes=self.lanes,
            lane_width_m=self.lane_width_m,
            curviness=self.curviness,
        )

    def traffic_config(self) -> TrafficConfig:
        return TrafficConfig(n_npc=self.n_npc, n_pedestrians=self.n_pedestrians)

    def scenery_config(self) -> SceneryConfig:
        return SceneryConfig(density=self.scenery_density)

    def world_config(self) -> WorldConfig:
        return WorldConfig(physics_hz=self.physics_hz)


class Ego(Protocol):
    """What a scenario needs from the ego vehicle (kinematic here, dynamic in sim.vehicle)."""

    body_id: int

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

    def __init__(self, agent: AgentView) -> None:
        self.agent = agent
        self.body_id = agent.body

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


@dataclass
class Frame:
    """One captured instant: per-camera renders and labels, time and ego pose."""

    index: int
    time_s: float
    ego: dict
    road: dict = field(default_factory=dict)
    driver: dict = field(default_factory=dict)
    renders: dict[str, Render] = field(default_factory=dict)
    objects: dict[str, list[dict]] = field(default_factory=dict)


def _make_ego(world: World, road: Road, traffic: Traffic, registry, config) -> KinematicEgo:
    """A kinematic ego car in lane ``config.ego_lane`` at the start of the road."""
    rng = rng_for(config.seed, "ego")
    parts, size = vehicle_parts(rng)
    body = create_body(world.client, parts, (0.0, 0.0, 0.0), 0.0)
    registry.register(body, "ego", size, (0.0, 0.0, size[2] / 2), instance=False)
    lateral = float(road.lane_offsets()[config.ego_lane])
    s0 = 0.0 if road.closed else 10.0
    speed = config.ego_speed_mps
    agent = AgentState(body, s0, lateral, lateral, speed, speed, size[0], config.ego_lane)
    return KinematicEgo(traffic.add_driven(agent))


class Scenario:
    """World + road + scenery + traffic + ego + cameras, built from a ScenarioConfig."""

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.world = World(config.world_config())
        self.registry = SceneRegistry()
        self.road = generate_road(config.road_config(), config.seed)
        self.road_bodies = build_road(self.world, self.road, self.registry, config.seed)
        self.scenery = build_scenery(
            self.world, self.road, self.registry, config.scenery_config(), config.seed
        )
        self.traffic = Traffic(
            self.world, self.road, self.registry, config.traffic_config(), config.seed
        )
        self.ego: Ego = _make_ego(self.world, self.road, self.traffic, self.registry, config)
        self.lighting = Lighting()
        self.frame_index = 0
        self.trace = StateTrace(hz=float(config.control_hz))
        self.environment = {"surface": 0, "precip_intensity": 0.0, "wind_speed_mps": 0.0}
        self._last_speed = float(np.linalg.norm(self.ego.velocity))
        self._ego_s: float | None = None  # station hint for tracking the ego on the road
        self._last_capture = (0.0, self._last_speed, float(self.ego.yaw))

    @property
    def control_dt(self) -> float:
        return 1.0 / self.config.control_hz

    def ego_obstacles(self) -> list[AgentState]:
        """The ego in road coordinates for the traffic's car following (none when the
        traffic drives the ego itself)."""
        if isinstance(self.ego, KinematicEgo):
            return []
        proj = self.road.project(self.ego.position[:2], near_s=self._ego_s)
        speed = float(np.linalg.norm(self.ego.velocity))
        return [AgentState(self.ego.body_id, proj.s, proj.lateral, proj.lateral, speed, speed, 4.5)]

    def control_step(self) -> None:
        """One control period: ego and traffic controls, then the physics steps."""
        dt = self.control_dt
        self.ego.control_step(dt)
        kinematic = isinstance(self.ego, KinematicEgo)  # static: no contact with traffic
        focus = None if kinematic else self.ego.position[:2]
        self.traffic.control_step(dt, self.ego_obstacles(), focus)
        self.world.step(self.config.physics_hz // self.config.control_hz)
        if self.config.record_trace:
            self.record_trace()

    def record_trace(self) -> None:
        """Append this control step's ego, environment and neighbour state to the trace.

        An ego with ``trace_fields(accel, curvature)`` (the kinematic one, or a vehicle
        model) supplies the drivetrain values; ``environment`` the weather's."""
        speed = float(np.linalg.norm(self.ego.velocity))
        accel = (speed - self._last_speed) / self.control_dt
        self._last_speed = speed
        pos = self.ego.position
        proj = self.road.project(pos[:2], near_s=self._ego_s)
        self._ego_s = float(proj.s)
        others_pos, others_vel = self.traffic.neighbours(pos, self.ego.yaw, MAX_OTHERS)
        fields = self.ego.trace_fields(accel, float(proj.curvature))
        self.trace.append(
            t=self.world.time_s, **fields, **self.environment,
            others_pos=others_pos, others_vel=others_vel,
        )  # fmt: skip

    def T_world_body(self) -> np.ndarray:
        pos, quat = self.world.client.getBasePositionAndOrientation(self.ego.body_id)
        T = np.eye(4)
        T[:3, :3] = np.asarray(self.world.client.getMatrixFromQuaternion(quat)).reshape(3, 3)
        T[:3, 3] = pos
        return T

    def ego_state(self, curvature: float) -> dict:
        """The sample metadata's ``ego`` entry; rates from the change since the last one."""
        speed = float(np.linalg.norm(self.ego.velocity))
        yaw, t = float(self.ego.yaw), self.world.time_s
        last_t, last_speed, last_yaw = self._last_capture
        dt = max(t - last_t, 1e-9)
        accel = (speed - last_speed) / dt
        self._last_capture = (t, speed, yaw)
        fields = self.ego.trace_fields(accel, curvature)
        surface = {code: name for name, code in SURFACE_CODES.items()}[self.environment["surface"]]
        return {
            "speed_mps": speed, "accel_mps2": accel,
            "yaw_rate": float(np.angle(np.exp(1j * (yaw - last_yaw)))) / dt,
            "steer": fields["steer"], "throttle": fields["throttle"], "brake": fields["brake"],
            "gear": fields["gear"], "rpm": fields["rpm"],
            "wheel_slip": {"ratio": fields["slip_ratio"], "angle": fields["slip_angle"]},
            "damage": dict(getattr(self.ego, "damage", NO_DAMAGE)),
            "position": [float(v) for v in self.ego.position], "yaw": yaw,
            "velocity": [float(v) for v in self.ego.velocity], "surface": surface,
        }  # fmt: skip

    def capture(self) -> Frame:
        """Render every camera now and label what it sees."""
        proj = self.road.project(self.ego.position[:2], near_s=self._ego_s)
        self._ego_s = float(proj.s)
        frame = Frame(
            self.frame_index, self.world.time_s, self.ego_state(float(proj.curvature)),
            road=self.road.describe(float(proj.s), float(proj.lateral)),
            driver=dict(getattr(self.ego, "driver", KINEMATIC_DRIVER)),
        )  # fmt: skip
        self.traffic.sync_bodies()
        T_world_body = self.T_world_body()
        for cam in self.config.cameras:
            r = render(self.world.client, self.registry, cam, T_world_body, self.lighting)
            frame.renders[cam.name] = r
            frame.objects[cam.name] = extract_labels(
                self.world.client, self.registry, r, self.config.min_visible_px
            )
        return frame

    def run_frames(self, n: int) -> Iterator[Frame]:
        """Advance one frame interval, capture, and yield; ``n`` times."""
        if n < 0:
            raise ValueError(f"run_frames n must be >= 0, got {n}")
        steps = int(round(self.config.control_hz / self.config.frame_hz))
        for _ in range(n):
            for _ in range(steps):
                self.control_step()
            frame = self.capture()
            self.frame_index += 1
            yield frame

    def close(self) -> None:
        self.world.close()

    def __enter__(self) -> Scenario:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
