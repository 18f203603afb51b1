"""DrivingEnv: gym API, determinism, held-out splits, physics laws, termination."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.drivers.bicycle import GRAVITY, BicycleModel, BicycleParams
from sim.drivers.env import HELD_OUT_PRESETS, TRAIN_PRESETS, DrivingEnv, DrivingEnvConfig
from sim.drivers.observation import OBS_NAMES, OBS_SIZE, observe_vehicle
from sim.vehicle import preset


def rollout(env: DrivingEnv, seed: int, actions: np.ndarray) -> list[tuple]:
    obs, _ = env.reset(seed=seed)
    out = [(obs.tobytes(),)]
    for a in actions:
        obs, r, term, trunc, _ = env.step(a)
        out.append((obs.tobytes(), r, term, trunc))
        if term or trunc:
            break
    return out


def test_gymnasium_env_checker_passes():
    env = DrivingEnv(DrivingEnvConfig(episode_s=5.0))
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (OBS_SIZE,) == (len(OBS_NAMES),)


def test_same_seed_same_episode_and_different_seed_differs():
    actions = np.random.default_rng(0).uniform(-0.3, 0.6, (40, 2))
    a = rollout(DrivingEnv(DrivingEnvConfig()), 5, actions)
    b = rollout(DrivingEnv(DrivingEnvConfig()), 5, actions)
    c = rollout(DrivingEnv(DrivingEnvConfig()), 6, actions)
    assert a == b
    assert a[0] != c[0]


def test_eval_split_uses_held_out_roads_and_weathers():
    train, held = DrivingEnv(DrivingEnvConfig()), DrivingEnv(DrivingEnvConfig(split="eval"))
    train_seeds, eval_seeds = set(), set()
    for seed in range(12):
        _, info = train.reset(seed=seed)
        assert info["weather"] in TRAIN_PRESETS
        train_seeds.add(info["road_seed"])
        _, info = held.reset(seed=seed)
        assert info["weather"] in HELD_OUT_PRESETS.values()
        eval_seeds.add(info["road_seed"])
    assert not set(HELD_OUT_PRESETS.values()) & set(TRAIN_PRESETS)
    assert max(train_seeds) < min(eval_seeds)


@pytest.mark.parametrize("surface", ["dry", "wet", "snow", "ice"])
def test_bicycle_braking_distance_follows_friction(surface):
    from sim.vehicle.surfaces import get_surface

    model = BicycleModel(BicycleParams.from_vehicle(preset("sedan")))
    v0 = 20.0
    model.reset(0.0, 0.0, 0.0, v0)
    for _ in range(240 * 60):
        model.advance(0.0, 0.0, 1.0, surface, (0.0, 0.0), 1 / 240, 1)
        if model.vx <= 0.0:
            break
    ideal = v0**2 / (2 * 0.95 * get_surface(surface).d * GRAVITY)
    assert model.vx == 0.0
    assert model.x == pytest.approx(ideal, rel=0.2)


def test_steady_turn_matches_kinematic_yaw_rate_at_low_speed():
    model = BicycleModel(BicycleParams.from_vehicle(preset("sedan")))
    model.reset(0.0, 0.0, 0.0, 6.0)
    model.advance(0.2, 0.05, 0.0, "dry", (0.0, 0.0), 1 / 240, 240 * 4)
    k = model.kinematics()
    wheelbase = model.p.a + model.p.b
    assert k.yaw_rate > 0  # positive steer turns left
    assert k.yaw_rate == pytest.approx(k.vx * math.tan(k.steer) / wheelbase, rel=0.15)


def test_driving_off_the_road_terminates_with_penalty():
    env = DrivingEnv(DrivingEnvConfig())
    env.reset(seed=3)
    for _ in range(200):
        _, reward, term, trunc, info = env.step(np.array([1.0, 1.0]))
        if term or trunc:
            break
    assert term and info["offroad"]
    assert reward < -10


def test_truncates_at_episode_time():
    env = DrivingEnv(DrivingEnvConfig(episode_s=2.0))
    env.reset(seed=1)
    steps, term, trunc = 0, False, False
    while not (term or trunc) and steps < 100:
        _, _, term, trunc, _ = env.step(np.array([0.0, -1.0]))
        steps += 1
    assert trunc and not term and steps == 20


@pytest.mark.parametrize(
    "field,value",
    [
        ("style", "sleepy"),
        ("split", "test"),
        ("physics", "ode"),
        ("control_hz", 7),
        ("episode_s", 0.0),
        ("weather_preset", "sunny"),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field if field != "style" else "style"):
        DrivingEnvConfig(**{field: value})


def test_bullet_backend_drives_the_pybullet_vehicle():
    env = DrivingEnv(DrivingEnvConfig(physics="bullet", weather_preset="clear_noon", episode_s=3.0))
    obs, _ = env.reset(seed=2)
    speed0 = obs[OBS_NAMES.index("speed")]
    for _ in range(10):
        obs, _, term, _, info = env.step(np.array([0.0, 0.8]))
    assert not term
    assert obs[OBS_NAMES.index("speed")] > speed0  # throttle accelerates the fleet car
    car = env.dynamics.car
    direct = observe_vehicle(car, env.road, env.surfaces.surface_at, env.speed_limit)
    lane = OBS_NAMES.index("lane_offset")
    assert direct[lane] == pytest.approx(obs[lane], abs=1e-4)
    env.close()
