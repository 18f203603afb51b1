"""A complete scenario: world, road, scenery, traffic, ego, weather and cameras, run frame
by frame.

Physics runs at ``physics_hz``, controls (ego, traffic) at ``control_hz`` and cameras
capture at ``frame_hz``. Frame ``k`` is captured after ``k + 1`` frame intervals, at
``time_s = (k + 1) / frame_hz``. A scenario is a pure function of its config: the same
config gives byte-identical renders, also with several scenarios alive in one process.

The ego is ``dynamic`` by default: a :mod:`sim.vehicle` car driven by the
``driver_style``'s policy (:mod:`sim.ego`), in the physics of ``weather``
(:mod:`sim.scenario_weather`: surface patches under the tires, gusty wind); the renders use the
weather's light (:func:`sim.weather.lighting_for`). The ``kinematic`` ego is driven by the
traffic model like an NPC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sim.camera import CameraConfig, Render, camera_pose, render, renderer_spec, rig_metadata
from sim.ego import NO_DAMAGE, Ego, KinematicEgo, make_dynamic_ego, make_kinematic_ego, traffic_lead
from sim.labels import extract_labels
from sim.road import RoadConfig, build_road, generate_road
from sim.scenario_weather import ScenarioWeather
from sim.scene import SceneRegistry
from sim.scenery import Scenery, SceneryConfig
from sim.timing import stage
from sim.trace import MAX_OTHERS, SURFACE_CODES, StateTrace
from sim.traffic import AgentState, Traffic, TrafficConfig
from sim.vocabulary import DRIVER_STYLES, ROAD_KINDS
from sim.weather import WeatherParams, get_preset, lighting_for
from sim.world import World, WorldConfig

EGO_KINDS = ("dynamic", "kinematic")
DEFAULT_WEATHER = "clear_noon"
OFFROAD_MARGIN_M = 1.0  # centre of the car this far beyond the road edge: off the road
# Scenery within this distance of the dynamic ego exists at every physics step (it moves
# at most ~1.2 m a control step); farther scenery is created when a camera may see it.
SCENERY_CONTACT_M = 20.0


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
    weather: WeatherParams | None = None  # None: the clear_noon preset
    driver_style: str = "normal"  # the dynamic ego's policy
    ego: str = "dynamic"  # dynamic (vehicle model + policy) or kinematic (lane keeping + IDM)
    vehicle_preset: str = "sedan"  # the dynamic ego's sim.vehicle preset
    # create scenery bodies when a camera may see them or the ego may touch them (the
    # renders are the same as with every body created at set-up, which False does)
    scenery_on_demand: bool = True

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
        self._check_ego()
        self.road_config(), self.traffic_config(), self.scenery_config(), self.world_config()

    def _check_ego(self) -> None:
        from sim.vehicle import preset_names

        if self.weather is not None and not isinstance(self.weather, WeatherParams):
            raise ValueError(
                f"ScenarioConfig.weather must be WeatherParams or None, got {self.weather!r}"
            )
        choices = (("driver_style", DRIVER_STYLES), ("ego", EGO_KINDS),
                   ("vehicle_preset", tuple(preset_names())))  # fmt: skip
        for name, valid in choices:
            value = getattr(self, name)
            if value not in valid:
                raise ValueError(
                    f"ScenarioConfig.{name} must be one of {', '.join(valid)}, got {value!r}"
                )

    def weather_params(self) -> WeatherParams:
        return self.weather if self.weather is not None else get_preset(DEFAULT_WEATHER)

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
    rig: dict = field(default_factory=dict)  # sim.camera.rig_metadata: ego pose, extrinsics


class Scenario:
    """World + road + scenery + traffic + ego + weather + cameras, from a ScenarioConfig."""

    def __init__(self, config: ScenarioConfig) -> None:
        with stage("set-up"):
            self._build(config)

    def _build(self, config: ScenarioConfig) -> None:
        self.config = config
        self.world = World(config.world_config())
        for renderer in sorted({cam.renderer for cam in config.cameras}):
            renderer_spec(renderer).setup(self.world)
        self.registry = SceneRegistry()
        self.road = generate_road(config.road_config(), config.seed)
        far = max(cam.far for cam in config.cameras)
        self.road_bodies = build_road(self.world, self.road, self.registry, config.seed, far)
        self.scenery = Scenery(
            self.world, self.road, self.registry, config.scenery_config(), config.seed
        )
        if not config.scenery_on_demand:
            self.scenery.build()
        self.traffic = Traffic(
            self.world, self.road, self.registry, config.traffic_config(), config.seed
        )
        params = config.weather_params()
        self.weather = ScenarioWeather(params, self.road, config.seed)
        self.fleet = None
        self.ego: Ego = self._make_ego()
        self.lighting = lighting_for(params)
        self.frame_index = 0
        self.trace = StateTrace(hz=float(config.control_hz), precip_type=params.precip_type)
        self._ego_s: float | None = None  # station hint for tracking the ego on the road
        self._ego_lateral = 0.0
        self._update_station()
        self.environment = self.weather.state(self._ego_s, 0.0)
        self.off_road_steps = 0
        self.control_steps = 0
        self._events_seen = 0
        self._last_speed = float(np.linalg.norm(self.ego.velocity[:2]))
        self._last_capture = (0.0, self._last_speed, float(self.ego.yaw))
        self._scenery_near_ego()

    def _scenery_near_ego(self) -> None:
        """Scenery the dynamic ego could touch before the next control step exists."""
        if self.fleet is not None:
            self.scenery.ensure_near(self.ego.position[:2], SCENERY_CONTACT_M)

    def _make_ego(self) -> Ego:
        c = self.config
        if c.ego == "kinematic":
            return make_kinematic_ego(self.world, self.road, self.traffic, self.registry,
                                      c.seed, c.ego_lane, c.ego_speed_mps)  # fmt: skip
        from sim.vehicle import VehicleFleet

        self.fleet = VehicleFleet(
            self.world, surface_at=self.weather.surface_at, wind=self.weather.wind,
            surface_codes_at=self.weather.surface_codes_at,
        )
        return make_dynamic_ego(
            self.fleet,
            self.road,
            self.registry,
            c,
            self.weather.surface_at_s,
            traffic_lead(self.traffic),
        )

    @property
    def control_dt(self) -> float:
        return 1.0 / self.config.control_hz

    @property
    def off_road_fraction(self) -> float:
        """Share of the control steps so far with the ego's centre off the road."""
        return self.off_road_steps / max(self.control_steps, 1)

    def ego_obstacles(self) -> list[AgentState]:
        """The ego in road coordinates for the traffic's car following (none when the
        traffic drives the ego itself)."""
        if isinstance(self.ego, KinematicEgo):
            return []
        proj = self.road.project(self.ego.position[:2], near_s=self._ego_s)
        speed = float(np.linalg.norm(self.ego.velocity[:2]))
        length = self.ego.length_m
        return [AgentState(self.ego.body_id, proj.s, proj.lateral, proj.lateral, speed, speed,
                           length)]  # fmt: skip

    def control_step(self) -> None:
        """One control period: ego and traffic controls, the physics steps, then the
        weather, events and trace of the new state."""
        dt = self.control_dt
        with stage("control"):
            self.ego.control_step(dt)
            kinematic = isinstance(self.ego, KinematicEgo)  # static: no contact with traffic
            focus = None if kinematic else self.ego.position[:2]
            self.traffic.control_step(dt, self.ego_obstacles(), focus)
        with stage("set-up"):
            self._scenery_near_ego()
        self.world.step(self.config.physics_hz // self.config.control_hz)
        with stage("control"):
            self._update_station()
            self.environment = self.weather.state(self._ego_s, self.world.time_s)
            self._collect_events()
            self.control_steps += 1
            self.off_road_steps += int(self.off_road())
        if self.config.record_trace:
            with stage("trace"):
                self.record_trace()

    def _update_station(self) -> None:
        proj = self.road.project(self.ego.position[:2], near_s=self._ego_s)
        self._ego_s, self._ego_lateral = float(proj.s), float(proj.lateral)
        self.weather.stations.hint = self._ego_s

    def off_road(self) -> bool:
        """Whether the ego's centre is beyond the road edge by ``OFFROAD_MARGIN_M``."""
        return abs(self._ego_lateral) > self.road.half_width + OFFROAD_MARGIN_M

    def _collect_events(self) -> None:
        """The ego's new crash and gear_shift events and the thunder heard by now."""
        own = getattr(self.ego, "events", [])
        new = [dict(e) for e in own[self._events_seen :]]
        self._events_seen = len(own)
        new += self.weather.thunder_due(self.world.time_s)
        self.trace.events.extend(sorted(new, key=lambda e: e["time_s"]))

    def record_trace(self) -> None:
        """Append this control step's ego, environment and neighbour state to the trace.

        The ego's ``trace_fields(accel, curvature)`` supplies the drivetrain values;
        ``environment`` the weather's."""
        speed = float(np.linalg.norm(self.ego.velocity[:2]))
        accel = (speed - self._last_speed) / self.control_dt
        self._last_speed = speed
        pos = self.ego.position
        curvature = float(self.road.curvature_at(self._ego_s))
        others_pos, others_vel = self.traffic.neighbours(pos, self.ego.yaw, MAX_OTHERS)
        fields = self.ego.trace_fields(accel, curvature)
        self.trace.append(
            t=self.world.time_s, **fields, **self.environment,
            others_pos=others_pos, others_vel=others_vel,
        )  # fmt: skip

    def T_world_body(self) -> np.ndarray:
        """The ego's pose with its origin on the ground (where the cameras are mounted)."""
        pos, quat = self.world.client.getBasePositionAndOrientation(self.ego.body_id)
        T = np.eye(4)
        T[:3, :3] = np.asarray(self.world.client.getMatrixFromQuaternion(quat)).reshape(3, 3)
        T[:3, 3] = np.asarray(pos) + T[:3, 2] * self.ego.mount_height_m
        return T

    def ego_state(self, curvature: float) -> dict:
        """The sample metadata's ``ego`` entry; rates from the change since the last one."""
        speed = float(np.linalg.norm(self.ego.velocity[:2]))
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
            "gear": int(fields["gear"]), "rpm": fields["rpm"],
            "wheel_slip": {"ratio": fields["slip_ratio"], "angle": fields["slip_angle"]},
            "damage": dict(getattr(self.ego, "damage", NO_DAMAGE)),
            "position": [float(v) for v in self.ego.position], "yaw": yaw,
            "velocity": [float(v) for v in self.ego.velocity], "surface": surface,
            "off_road": self.off_road(),
        }  # fmt: skip

    def capture(self) -> Frame:
        """Render every camera now and label what it sees."""
        with stage("labels"):
            return self._capture()

    def _capture(self) -> Frame:
        self._update_station()
        s = self._ego_s
        frame = Frame(
            self.frame_index, self.world.time_s, self.ego_state(float(self.road.curvature_at(s))),
            road=self.road.describe(s, self._ego_lateral), driver=dict(self.ego.driver),
        )  # fmt: skip
        self.traffic.sync_bodies()
        T_world_body = self.T_world_body()
        frame.rig = rig_metadata(self.config.cameras, T_world_body)
        with stage("set-up"):
            self.scenery.ensure_visible(
                [(camera_pose(cam, T_world_body), cam) for cam in self.config.cameras]
            )
        for cam in self.config.cameras:
            with stage("render"):
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

    def end_events(self) -> None:
        """Call when the simulation ends (before the trace is finalised): a crash whose
        contact has not ended yet is emitted and traced, else its damage would be in the
        trace without its event."""
        if self.fleet is not None:
            self.fleet.end_crashes(self.world.time_s)
            self._collect_events()

    def close(self) -> None:
        self.world.close()

    def __enter__(self) -> Scenario:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
