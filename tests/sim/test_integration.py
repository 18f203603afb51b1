"""The integrated simulation: a dynamic ego in the weather's physics, inside a Scenario."""

from __future__ import annotations

import numpy as np
import pytest

from sim.camera import CameraConfig
from sim.road import RoadConfig, generate_road
from sim.scenario import Scenario, ScenarioConfig
from sim.scenario_weather import ScenarioWeather
from sim.trace import SURFACE_CODES
from sim.weather import WeatherParams, get_preset

CAM = (CameraConfig("f", 16, 16),)
STRAIGHT = dict(road_kind="open", curviness=0.0, road_length_m=400.0, n_npc=0, n_pedestrians=0,
                scenery_density=0.0, cameras=CAM)  # fmt: skip


class FixedDriver:
    """A driver holding constant pedals (the shape of sim.drivers.DriverPolicy)."""

    style, policy_id = "normal", "fixed"

    def __init__(self, throttle: float, brake: float) -> None:
        self.pedals = (0.0, throttle, brake)

    def reset(self) -> None:
        pass

    def controls(self, obs: np.ndarray) -> tuple[float, float, float]:
        return self.pedals


def surface_weather(name: str) -> WeatherParams:
    cover = {"dry": {}, "wet": {"road_wetness": 1.0}, "snow": {"snow_cover": 1.0},
             "ice": {"ice": 1.0}}[name]  # fmt: skip
    return WeatherParams(**cover, preset=f"all_{name}")


def speed_after_braking(surface: str, seconds: float = 1.0) -> tuple[float, Scenario]:
    cfg = ScenarioConfig(seed=4, ego_speed_mps=15.0, weather=surface_weather(surface), **STRAIGHT)
    sc = Scenario(cfg)
    sc.ego.policy = FixedDriver(0.0, 1.0)
    for _ in range(int(seconds * cfg.control_hz)):
        sc.control_step()
    return float(np.linalg.norm(sc.ego.velocity[:2])), sc


def test_braking_grip_orders_dry_wet_snow_ice() -> None:
    speeds = []
    for surface in ("dry", "wet", "snow", "ice"):
        speed, sc = speed_after_braking(surface)
        with sc:
            assert sc.ego.vehicle.state().surface == [surface] * 4
            assert sc.trace.finalize().surface[-1] == SURFACE_CODES[surface]
        speeds.append(speed)
    assert speeds == sorted(speeds) and len(set(speeds)) == 4  # less grip, less speed lost
    assert 15.0 - speeds[0] > 5.0 and 15.0 - speeds[-1] < 2.5  # ~8 vs ~1 m/s^2


def test_dynamic_ego_state_fills_frames_trace_and_events() -> None:
    cfg = ScenarioConfig(seed=2, ego_speed_mps=2.0, weather=get_preset("gale"), **STRAIGHT)
    with Scenario(cfg) as sc:
        sc.ego.policy = FixedDriver(1.0, 0.0)
        frames = list(sc.run_frames(20))  # 4 s at full throttle: through second gear
        state, trace = sc.ego.vehicle.state(), sc.trace.finalize()
        info = sc.registry.info(sc.ego.body_id)
    assert info.class_name == "ego" and info.instance_id == 0
    assert info.size_lwh == pytest.approx(sc.ego.vehicle.dimensions_lwh)
    assert info.center_offset == pytest.approx(sc.ego.vehicle.bbox_center_offset)
    last = frames[-1].ego
    assert (last["gear"], last["rpm"], last["throttle"]) == (state.gear, state.rpm, 1.0)
    assert last["wheel_slip"]["ratio"] == state.slip_ratio and last["speed_mps"] > 8.0
    assert trace.speed_mps[-1] == pytest.approx(state.speed_mps) and trace.gear[-1] == state.gear
    shifts = [e for e in trace.events if e["type"] == "gear_shift"]
    assert shifts and [e["to"] for e in shifts] == list(range(2, 2 + len(shifts)))
    assert trace.precip_type == "none" and trace.wind_speed_mps.min() > 5.0  # gale gusts
    assert frames[-1].driver == {"style": "normal", "policy_id": "fixed"}


def test_policy_drives_in_lane_and_traffic_sees_the_ego() -> None:
    cfg = ScenarioConfig(seed=5, road_length_m=500.0, n_npc=4, cameras=CAM,
                         driver_style="cautious")  # fmt: skip
    with Scenario(cfg) as sc:
        frames = list(sc.run_frames(5))
        (obstacle,) = sc.ego_obstacles()
        proj = sc.road.project(sc.ego.position[:2])
    assert obstacle.body == sc.ego.body_id and obstacle.length == sc.ego.length_m
    assert obstacle.s == pytest.approx(proj.s) and obstacle.lateral == pytest.approx(proj.lateral)
    assert frames[-1].driver == {"style": "cautious", "policy_id": "ppo-cautious"}
    assert all(abs(f.road["lateral_offset_m"]) < sc.road.half_width for f in frames)
    assert sc.off_road_fraction == 0.0 and frames[-1].ego["off_road"] is False


def test_night_renders_darker_and_sun_lights_the_scene() -> None:
    means = {}
    for name in ("clear_noon", "clear_night"):
        cfg = ScenarioConfig(seed=1, ego="kinematic", weather=get_preset(name),
                             cameras=(CameraConfig("f", 32, 32),))  # fmt: skip
        with Scenario(cfg) as sc:
            frame = next(sc.run_frames(1))
            means[name] = frame.renders["f"].rgb[frame.renders["f"].depth > 0].mean()
    assert means["clear_night"] < means["clear_noon"]


def test_thunder_is_deterministic_sorted_and_never_early() -> None:
    params = get_preset("thunderstorm").replace(lightning_rate_per_min=30.0)
    road = generate_road(RoadConfig(kind="open", length_m=300.0), 0)
    a, b = ScenarioWeather(params, road, 3), ScenarioWeather(params, road, 3)
    heard = [a.thunder_due(t) for t in np.arange(0.5, 30.0, 0.5)]
    flat = [e for batch in heard for e in batch]
    assert flat == b.thunder_due(29.5) and len(flat) > 5
    assert all(e["time_s"] <= t for batch, t in zip(heard, np.arange(0.5, 30.0, 0.5))
               for e in batch)  # fmt: skip
    assert [e["time_s"] for e in flat] == sorted(e["time_s"] for e in flat)
    assert ScenarioWeather(get_preset("clear_noon"), road, 3).thunder_due(60.0) == []
