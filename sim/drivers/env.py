"""``DrivingEnv``: a gymnasium environment for training and evaluating driver styles.

Each ``reset(seed=...)`` builds a procedural road (:mod:`sim.road`, no scenery), weather
sampled from the split's distribution (:mod:`sim.weather`: surface patches for grip,
gusty wind for aero) and a virtual lead car in the ego's lane (:mod:`sim.drivers.lead`).
The ``eval`` split draws road seeds from a disjoint range and weather from presets the
``train`` split never uses. Control runs at ``control_hz`` with physics at 240 Hz
(``physics="bicycle"`` for speed, ``"bullet"`` for the PyBullet vehicle fleet).

Observation: :data:`sim.drivers.observation.OBS_NAMES`. Action: Box([-1, 1]^2) =
:data:`sim.drivers.actions.ACTION_NAMES` (steer; pedal: > 0 throttle, < 0 brake).
Reward: the style's :func:`sim.drivers.rewards.step_reward`. Termination: off the road
(centre of the car beyond the edge by ``offroad_margin_m``) or a collision with the lead;
truncation by time. Episodes start in the lane at a moderate speed with small random
offsets; ``curviness`` bounds the roads' curviness (training uses a curriculum on it).

Pixels: ``observation`` picks what a step returns, one of :data:`OBSERVATIONS` or a comma
list of them (then a ``Dict`` space): ``state`` (the vector above), ``rgb`` (H x W x 3
uint8), ``depth`` (H x W x 1 float32 metric z-depth, 0 = no hit) and ``seg`` (H x W x 1
uint8 class ids of :mod:`sim.classes`) from a camera on the ego (:mod:`sim.drivers.pixels`:
the episode's road and the lead car, TinyRenderer, ``image_size`` px square, camera preset
``camera``). ``render_mode="rgb_array"`` makes ``render()`` return that camera's RGB frame.
``gymnasium.make("drivesynth/Driving-v0", **config_fields)`` after ``import sim.drivers``
(:mod:`sim.drivers.registration`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import gymnasium as gym
import numpy as np

from sim.drivers.actions import ACTION_NAMES, controls_of
from sim.drivers.dynamics import BACKENDS, make_dynamics
from sim.drivers.lead import LeadConfig, LeadVehicle
from sim.drivers.observation import (
    LOOKAHEAD_M,
    OBS_SIZE,
    RoadPosition,
    grip_of,
    observe,
    road_position,
)
from sim.drivers.perturb import ErraticConfig, ErraticPerturbation
from sim.drivers.rewards import StepSignals, step_reward, style_reward
from sim.road import RoadConfig, generate_road
from sim.seeding import rng_for
from sim.weather import PRESETS, SurfaceMap, WeatherDistribution, WindField
from sim.weather.metadata import surface

HELD_OUT_PRESETS: dict[str, str] = {  # surface -> preset used only for evaluation
    "dry": "clear_dusk",
    "wet": "wet_after_rain",
    "snow": "heavy_snow",
    "ice": "freezing_rain",
}
TRAIN_PRESETS: tuple[str, ...] = tuple(p for p in PRESETS if p not in HELD_OUT_PRESETS.values())
SPLITS = ("train", "eval")
OBSERVATIONS = ("state", "rgb", "depth", "seg")
SPEED_LIMITS_MPS = (13.9, 16.7, 19.4, 22.2, 25.0)
ROAD_SEED_RANGES = {"train": (0, 2**30), "eval": (2**30, 2**31 - 1)}


def surface_balanced_weights(names: tuple[str, ...]) -> dict[str, float]:
    """Preset weights giving every dominant road surface the same share of the episodes.

    Of the 22 training presets 10 are dry, 9 wet, 2 snow and 1 ice: drawn uniformly, ice
    roads were 1 episode in 22 while the evaluation drives a quarter of its episodes on ice.
    """
    kinds = {n: surface(PRESETS[n]) for n in names}
    counts = Counter(kinds.values())
    return {n: 1.0 / counts[k] for n, k in kinds.items()}


@dataclass
class DrivingEnvConfig:
    style: str = "normal"
    split: str = "train"
    physics: str = "bicycle"
    control_hz: int = 10
    episode_s: float = 30.0
    vehicle: str = "sedan"
    weather_preset: str | None = None  # force one preset (jittered); None: the split's mix
    erratic_in_env: bool = False  # apply the erratic perturbation inside the env (training)
    offroad_margin_m: float = 1.0
    curviness: tuple[float, float] = (0.3, 1.0)
    lead: LeadConfig = field(default_factory=LeadConfig)
    balance_surfaces: bool = True  # train split: each dominant surface gets 1/4 of episodes
    observation: str = "state"  # one of OBSERVATIONS or a comma list of them (Dict space)
    image_size: int = 64  # camera pictures: image_size x image_size px
    camera: str = "front"  # sim.camera.CAMERA_PRESETS

    def __post_init__(self) -> None:
        style_reward(self.style)
        self._check_pixels()
        if self.split not in SPLITS:
            raise ValueError(f"DrivingEnvConfig.split must be one of {SPLITS}, got {self.split!r}")
        if self.physics not in BACKENDS:
            raise ValueError(
                f"DrivingEnvConfig.physics must be one of {BACKENDS}, got {self.physics!r}"
            )
        if self.control_hz not in (10, 12, 15, 20):
            raise ValueError(
                f"DrivingEnvConfig.control_hz must divide 240 and be in "
                f"10..20, got {self.control_hz}"
            )
        if not 1.0 <= self.episode_s <= 600.0:
            raise ValueError(
                f"DrivingEnvConfig.episode_s must be in [1, 600], got {self.episode_s}"
            )
        if self.weather_preset is not None and self.weather_preset not in PRESETS:
            raise ValueError(
                f"DrivingEnvConfig.weather_preset: unknown preset {self.weather_preset!r}"
            )
        if self.offroad_margin_m < 0:
            raise ValueError(
                f"DrivingEnvConfig.offroad_margin_m must be >= 0, got {self.offroad_margin_m}"
            )

        lo, hi = self.curviness
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(
                f"DrivingEnvConfig.curviness must be 0 <= lo <= hi <= 1, got {self.curviness}"
            )

    def _check_pixels(self) -> None:
        from sim.camera import CAMERA_PRESETS

        keys = self.observation_keys()
        if not keys or any(k not in OBSERVATIONS for k in keys) or len(set(keys)) != len(keys):
            raise ValueError(f"DrivingEnvConfig.observation must be one of {OBSERVATIONS} or a "
                             f"comma list of them, got {self.observation!r}")  # fmt: skip
        if not 16 <= self.image_size <= 512:
            raise ValueError(f"DrivingEnvConfig.image_size must be in [16, 512], "
                             f"got {self.image_size}")  # fmt: skip
        if self.camera not in CAMERA_PRESETS:
            raise ValueError(f"DrivingEnvConfig.camera must be one of {sorted(CAMERA_PRESETS)}, "
                             f"got {self.camera!r}")  # fmt: skip

    def observation_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in str(self.observation).split(",") if k.strip())

    def weather_distribution(self) -> WeatherDistribution:
        if self.weather_preset is not None:
            names: tuple[str, ...] = (self.weather_preset,)
        elif self.split == "train":
            names = TRAIN_PRESETS
            if self.balance_surfaces:
                weights = surface_balanced_weights(names)
                return WeatherDistribution(preset_weights=weights, jitter=0.05)
        else:
            names = tuple(HELD_OUT_PRESETS.values())
        return WeatherDistribution(preset_weights={n: 1.0 for n in names}, jitter=0.05)


def observation_space(config: DrivingEnvConfig) -> gym.spaces.Space:
    """The space of ``config.observation``: one Box, or a Dict of them for a list."""
    from sim.camera import preset_camera
    from sim.classes import CLASSES

    n = config.image_size
    far = preset_camera(config.camera, n).far
    boxes = {
        "state": gym.spaces.Box(-5.0, 5.0, (OBS_SIZE,), np.float32),
        "rgb": gym.spaces.Box(0, 255, (n, n, 3), np.uint8),
        "depth": gym.spaces.Box(0.0, far, (n, n, 1), np.float32),
        "seg": gym.spaces.Box(0, len(CLASSES) - 1, (n, n, 1), np.uint8),
    }
    keys = config.observation_keys()
    if len(keys) == 1:
        return boxes[keys[0]]
    return gym.spaces.Dict({k: boxes[k] for k in keys})


class DrivingEnv(gym.Env):
    """Drive lane 0 of a procedural road behind a lead car, in a given driving style.

    ``DrivingEnv(config, render_mode=None, **fields)``: ``fields`` override ``config``'s
    (what ``gymnasium.make`` passes)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, config: DrivingEnvConfig | None = None, render_mode: str | None = None,
                 **fields) -> None:  # fmt: skip
        self.config = replace(config or DrivingEnvConfig(), **fields)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of "
                             f"{self.metadata['render_modes']}, got {render_mode!r}")  # fmt: skip
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self.config.control_hz}
        self.reward_design = style_reward(self.config.style)
        self.observation_space = observation_space(self.config)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (len(ACTION_NAMES),), np.float32)
        self.curviness = self.config.curviness
        self.dt = 1.0 / self.config.control_hz
        self.dynamics = None
        self.view = None  # EnvCamera of the episode, when pictures are needed
        self._frame = None  # the Render of the current step, made on demand
        self._keys = self.config.observation_keys()
        self._needs_camera = render_mode is not None or self._keys != ("state",)

    # ------------------------------------------------------------------ episode set-up
    def _build_world(self, rng: np.random.Generator) -> None:
        lo, hi = ROAD_SEED_RANGES[self.config.split]
        self.road_seed = int(rng.integers(lo, hi))
        kind = "circuit" if rng.random() < 0.6 else "open"
        self.road = generate_road(
            RoadConfig(
                kind=kind,
                length_m=float(rng.uniform(700, 1400)),
                curviness=float(rng.uniform(*self.curviness)),
                speed_limit_mps=float(rng.choice(SPEED_LIMITS_MPS)),
            ),
            self.road_seed,
        )
        self.weather = self.config.weather_distribution().sample(rng)
        self.surfaces = SurfaceMap(self.weather, self.road.length, rng, closed=self.road.closed)
        self.wind = WindField(self.weather, rng)
        self.speed_limit = self.road.config.speed_limit_mps
        self.lane_centre = float(self.road.lane_offsets()[0])

    def set_curviness(self, lo: float, hi: float) -> None:
        """Curriculum hook: roads of later resets draw their curviness from [lo, hi]."""
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"curviness must be 0 <= lo <= hi <= 1, got {(lo, hi)}")
        self.curviness = (lo, hi)

    def _surface_xy(self, x: float, y: float) -> str:
        if self.config.physics == "bicycle":  # last projected station: within a step
            return self.surfaces.surface_at(self._pos.s)
        return self.surfaces.surface_at(float(self.road.project(np.array([x, y])).s))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(0, 2**31 - 1)) if seed is None else seed
        rng = rng_for(episode_seed, "env", self.config.split)
        self._build_world(rng)
        if self.dynamics is not None:
            self.dynamics.close()
        self.dynamics = make_dynamics(
            self.config.physics,
            vehicle=self.config.vehicle,
            surface_at_xy=self._surface_xy,
            wind=self.wind,
            road=self.road,
            road_seed=self.road_seed,
        )
        s0 = float(rng.uniform(0, 0.3 * self.road.length))
        lat0 = self.lane_centre + float(rng.uniform(-0.4, 0.4))
        x, y, h = self.road.pose_at(s0, lat0)
        self._pos = RoadPosition(s0, lat0, 0.0)
        grip0 = grip_of(self.surfaces.surface_at(s0))
        speed0 = float(rng.uniform(0.3, 0.6)) * self.speed_limit * min(1.0, (grip0 / 0.8) ** 0.5)
        self.dynamics.reset(float(x), float(y), float(h + rng.uniform(-0.04, 0.04)), speed0)
        self.lead = LeadVehicle(self.config.lead, rng, s0, self.speed_limit)
        self._s0 = s0
        self.perturb = (
            ErraticPerturbation(ErraticConfig(), rng_for(episode_seed, "erratic"))
            if self.config.erratic_in_env
            else None
        )
        self.t, self._prev_ax, self._prev_steer, self._travelled = 0.0, 0.0, 0.0, 0.0
        self._kin = self.dynamics.kinematics()
        self._pos = road_position(self.road, self._kin)
        if self._needs_camera:
            self._build_camera(episode_seed)
        info = {"weather": self.weather.preset, "road_seed": self.road_seed}
        return self._observation(), info

    # ------------------------------------------------------------------ pictures
    def _build_camera(self, episode_seed: int) -> None:
        from sim.camera import preset_camera
        from sim.drivers.pixels import EnvCamera

        if self.view is not None:
            self.view.close()
        camera = preset_camera(self.config.camera, self.config.image_size)
        self.view = EnvCamera(self.road, self.road_seed, camera, rng_for(episode_seed, "lead_car"))
        self._frame = None

    def camera_frame(self):
        """The :class:`sim.camera.Render` of the ego camera now (rendered once per step)."""
        if self.view is None:
            raise RuntimeError("DrivingEnv.camera_frame: call reset() first")
        if self._frame is None:
            lead_s = self.lead.s if self.lead.present else None
            self.view.place_lead(lead_s, self.lane_centre)
            k = self._kin
            self._frame = self.view.render(k.x, k.y, k.yaw)
        return self._frame

    def _observation(self):
        out = {}
        for key in self._keys:
            if key == "state":
                out[key] = self._observe()
                continue
            frame = self.camera_frame()
            if key == "rgb":
                out[key] = frame.rgb
            elif key == "depth":
                out[key] = frame.depth[..., None].astype(np.float32)
            else:
                out[key] = frame.semantic[..., None].astype(np.uint8)
        return out[self._keys[0]] if len(self._keys) == 1 else out

    def render(self):
        """The ego camera's RGB frame (H x W x 3 uint8) with ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array":
            return None
        return self.camera_frame().rgb.copy()

    # ------------------------------------------------------------------ stepping
    def _observe(self) -> np.ndarray:
        lead_speed = self.lead.speed if self.lead.present else None
        return observe(
            self._kin,
            self.road,
            self._pos,
            self.surfaces.surface_at,
            self.speed_limit,
            self.lane_centre,
            self.lead.gap(self._s_travel()),
            lead_speed,
        )

    def _s_travel(self) -> float:
        """Ego station, unwrapped on circuits, in the lead car's coordinates."""
        return self._s0 + self._travelled

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        if self.perturb is not None:
            a = self.perturb(a)
        steer, throttle, brake = controls_of(a)
        s_before = self._pos.s
        self.dynamics.advance(steer, throttle, brake, self.dt)
        self.lead.advance(self.dt)
        self._kin = self.dynamics.kinematics()
        self._pos = road_position(self.road, self._kin)
        self._travelled += self._station_step(s_before, self._pos.s)
        self.t += self.dt
        self._frame = None
        info = self._step_info(steer)
        reward = step_reward(self.reward_design, info["signals"])
        terminated = info["offroad"] or info["collision"]
        if terminated:
            reward -= self.reward_design.terminal_penalty
        at_end = not self.road.closed and self._pos.s > self.road.length - 90.0
        truncated = (self.t >= self.config.episode_s - 1e-9 or at_end) and not terminated
        self._prev_steer = steer
        return self._observation(), float(reward), bool(terminated), bool(truncated), info

    def _station_step(self, before: float, after: float) -> float:
        d = after - before
        if self.road.closed and abs(d) > self.road.length / 2:
            d -= math.copysign(self.road.length, d)
        return d

    def _step_info(self, steer: float) -> dict:
        kin, pos = self._kin, self._pos
        gap = self.lead.gap(self._s_travel())
        lane_offset = pos.lateral - self.lane_centre
        headway = gap / kin.vx if self.lead.present and kin.vx > 1.0 else math.inf
        grip = grip_of(self.surfaces.surface_at(pos.s))
        kappa = float(np.max(np.abs(self.road.curvature_ahead(pos.s, (0.0, *LOOKAHEAD_M[:4])))))
        signals = StepSignals(
            speed=kin.vx,
            target_speed=self.reward_design.target_speed(
                self.speed_limit,
                grip,
                kappa,
                (kin.vx, gap, self.lead.speed) if self.lead.present else None,
            ),
            speed_limit=self.speed_limit,
            lane_offset=lane_offset,
            heading_error=pos.heading_error,
            lateral_accel=kin.lateral_accel,
            jerk=(kin.ax - self._prev_ax) / self.dt,
            steer_change=steer - self._prev_steer,
            slip_angle=math.atan2(kin.vy, max(kin.vx, 1.0)),
            headway_s=headway,
            grip=grip,
        )
        self._prev_ax = kin.ax
        return {
            "signals": signals,
            "speed": kin.vx,
            "lateral_accel": kin.lateral_accel,
            "accel": kin.ax,
            "lane_offset": lane_offset,
            "gap": gap,
            "headway_s": headway,
            "grip": grip,
            "slip_angle": signals.slip_angle,
            "speed_limit": self.speed_limit,
            "offroad": abs(pos.lateral) > self.road.half_width + self.config.offroad_margin_m,
            "collision": bool(self.lead.present and gap < 0.0 and abs(lane_offset) < 2.0),
        }

    def close(self) -> None:
        if self.dynamics is not None:
            self.dynamics.close()
            self.dynamics = None
        if self.view is not None:
            self.view.close()
            self.view = None
            self._frame = None
