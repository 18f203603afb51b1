"""The driving env as gymnasium users take it: gymnasium.make after registration, pixel
observations and render(), env_checker in every observation mode, vector envs and SB3 PPO."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim.drivers  # noqa: F401  (registers drivesynth/Driving-v0)
from sim.classes import CLASS_IDS
from sim.drivers.env import DrivingEnv, DrivingEnvConfig
from sim.drivers.lead import CAR_LENGTH_M
from sim.drivers.registration import DRIVING_ENV_ID

MODES = ["state", "rgb", "depth", "seg", "state,rgb,depth,seg"]


def test_make_works_after_importing_the_package() -> None:
    env = gym.make(DRIVING_ENV_ID, style="cautious", episode_s=5.0)
    assert env.spec.id == DRIVING_ENV_ID
    assert env.unwrapped.config.style == "cautious"
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.close()


def test_make_with_module_prefix_in_a_fresh_interpreter() -> None:
    code = ("import gymnasium as gym\n"
            "env = gym.make('sim.drivers:drivesynth/Driving-v0', observation='rgb')\n"
            "obs, _ = env.reset(seed=1)\n"
            "print(obs.shape, obs.dtype)\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert out.stdout.strip().endswith("(64, 64, 3) uint8")


def test_entry_point_names_the_registration() -> None:
    from importlib.metadata import entry_points

    found = {e.name: e.value for e in entry_points(group="gymnasium.envs")}
    assert found.get("drivesynth") == "sim.drivers.registration:register_envs"


@pytest.mark.parametrize("observation", MODES)
def test_env_checker_is_clean_in_every_observation_mode(observation: str) -> None:
    env = gym.make(DRIVING_ENV_ID, observation=observation, render_mode="rgb_array",
                   episode_s=3.0, image_size=48)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env.unwrapped)
    env.close()


def test_render_returns_the_camera_frame_and_pixels_agree_with_each_other() -> None:
    env = DrivingEnv(DrivingEnvConfig(observation="rgb,depth,seg"), render_mode="rgb_array")
    obs, _ = env.reset(seed=4)
    for _ in range(3):
        obs, *_ = env.step(np.array([0.0, 0.3], np.float32))
    frame = env.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame, obs["rgb"])
    seg, depth = obs["seg"][..., 0], obs["depth"][..., 0]
    assert np.array_equal(depth == 0, seg == CLASS_IDS["sky"])  # no hit <=> sky
    assert {CLASS_IDS["road"], CLASS_IDS["sky"]} <= set(np.unique(seg).tolist())
    road = seg == CLASS_IDS["road"]
    assert road[-8:].mean() > 0.3 and not road[:8].any()  # road below the horizon
    assert frame[:8].mean(axis=(0, 1))[2] > frame[:8].mean(axis=(0, 1))[0]  # blue sky on top
    env.close()


def test_the_lead_car_is_seen_at_its_gap() -> None:
    env = DrivingEnv(DrivingEnvConfig(observation="state,depth,seg", weather_preset="clear_noon"))
    for seed in range(40):
        obs, _ = env.reset(seed=seed)
        gap = env.lead.gap(env._s_travel())
        if env.lead.present and 10.0 < gap < 35.0 and env.road.curvature_at(env._pos.s) ** 2 < 1e-6:
            break
    else:
        pytest.skip("no straight start with a close lead in 40 seeds")
    car = obs["seg"][..., 0] == CLASS_IDS["vehicle"]
    assert car.sum() > 4
    nearest = float(obs["depth"][..., 0][car].min())
    # camera 0.8 m ahead of the ego's ground point; the gap is bumper to bumper
    assert gap - 1.0 < nearest < gap + CAR_LENGTH_M
    env.close()


def test_same_seed_same_pictures() -> None:
    def frames(seed: int) -> list[bytes]:
        env = DrivingEnv(DrivingEnvConfig(observation="rgb"))
        out = [env.reset(seed=seed)[0].tobytes()]
        for _ in range(5):
            out.append(env.step(np.array([0.05, 0.5], np.float32))[0].tobytes())
        env.close()
        return out

    assert frames(7) == frames(7) and frames(7) != frames(8)


@pytest.mark.parametrize("mode,observation", [("sync", "rgb"), ("async", "state,rgb")])
def test_vector_envs(mode: str, observation: str) -> None:
    envs = gym.make_vec(DRIVING_ENV_ID, num_envs=2, vectorization_mode=mode,
                        observation=observation, episode_s=2.0, image_size=32)  # fmt: skip
    obs, _ = envs.reset(seed=3)
    rgb = obs["rgb"] if isinstance(obs, dict) else obs
    assert rgb.shape == (2, 32, 32, 3)
    for _ in range(25):  # past the 2 s episodes: autoreset
        obs, reward, term, trunc, _ = envs.step(envs.action_space.sample())
    assert reward.shape == (2,) and envs.observation_space.contains(obs)
    envs.close()


@pytest.mark.parametrize(
    "field,value",
    [("observation", "lidar"), ("observation", "rgb,rgb"), ("image_size", 8), ("camera", "roof")],
)
def test_bad_pixel_options_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"DrivingEnvConfig.{field}"):
        DrivingEnvConfig(**{field: value})
    with pytest.raises(ValueError, match="render_mode"):
        DrivingEnv(render_mode="human")


@pytest.mark.slow
def test_sb3_ppo_trains_on_the_registered_env() -> None:
    """A few thousand PPO steps on state observations (2 envs) and a hundred on pixels
    (CnnPolicy): the example a gymnasium user would write. ~20 s on an idle 2-core machine."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    start = time.perf_counter()
    venv = make_vec_env(DRIVING_ENV_ID, n_envs=2, seed=0, env_kwargs={"episode_s": 10.0})
    model = PPO("MlpPolicy", venv, n_steps=512, batch_size=256, n_epochs=1, seed=0,
                device="cpu", verbose=0)  # fmt: skip
    model.learn(total_timesteps=2048)
    assert model.num_timesteps >= 2048
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (2, 2) and np.abs(action).max() <= 1.0 + 1e-6
    venv.close()
    pixels = make_vec_env(DRIVING_ENV_ID, n_envs=1, seed=0,
                          env_kwargs={"observation": "rgb", "image_size": 48, "episode_s": 5.0})
    cnn = PPO("CnnPolicy", pixels, n_steps=64, batch_size=32, n_epochs=1, seed=0,
              device="cpu", verbose=0)  # fmt: skip
    cnn.learn(total_timesteps=128)
    assert cnn.num_timesteps >= 128
    pixels.close()
    print(f"PPO: {time.perf_counter() - start:.1f} s")
