"""Driver styles: numpy policies, perturbations, rewards and the behaviour of the shipped
PPO policies on held-out roads and weathers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sim.drivers.evaluate import EvalConfig, run_eval
from sim.drivers.observation import OBS_SIZE
from sim.drivers.perturb import ErraticConfig, ErraticPerturbation
from sim.drivers.policy import POLICY_DIR, MlpActor, load_policy
from sim.drivers.rewards import STYLE_REWARDS, STYLES, StyleReward
from sim.env import DrivingEnv, DrivingEnvConfig
from sim.seeding import rng_for


def test_numpy_actor_matches_stable_baselines_prediction(tmp_path):
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from sim.drivers.train import export_actor

    venv = VecNormalize(DummyVecEnv([lambda: DrivingEnv(DrivingEnvConfig(episode_s=3.0))]))
    venv.obs_rms.mean = rng_for(1, "t").normal(size=OBS_SIZE)
    venv.obs_rms.var = rng_for(2, "t").uniform(0.5, 2.0, OBS_SIZE)
    model = PPO("MlpPolicy", venv, seed=0, device="cpu",
                policy_kwargs={"net_arch": [16, 16], "activation_fn": torch.nn.Tanh})
    export_actor(model, venv).save(tmp_path / "p.npz", style="normal")
    actor = MlpActor.load(tmp_path / "p.npz")
    obs = rng_for(3, "t").normal(size=(5, OBS_SIZE)).astype(np.float32)
    expected, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    assert np.allclose([actor(o) for o in obs], expected, atol=1e-5)


def test_erratic_perturbation_delays_and_is_reproducible():
    cfg = ErraticConfig(delay_steps=3, burst_probability=0.0, weave_amplitude=(0.0, 0.0))
    p = ErraticPerturbation(cfg, rng_for(0, "x"))
    actions = [np.full(3, 0.1 * i) for i in range(8)]
    out = [p(a) for a in actions]
    assert np.allclose(out[:3], 0.0)
    assert np.allclose(out[3:], actions[:5])
    run = [ErraticPerturbation(ErraticConfig(), rng_for(s, "x")) for s in (4, 4, 5)]
    seqs = [[r(np.zeros(3)) for _ in range(50)] for r in run]
    assert np.array_equal(seqs[0], seqs[1]) and not np.array_equal(seqs[0], seqs[2])


def test_target_speeds_order_styles_and_drop_on_low_grip():
    t = {s: STYLE_REWARDS[s].target_speed(20.0, 1.0, 0.001) for s in STYLES}
    assert t["aggressive"] > t["normal"] > t["cautious"]
    for style in STYLES:
        r = STYLE_REWARDS[style]
        grips = [r.target_speed(20.0, g, 0.001) for g in (1.0, 0.3, 0.1)]
        assert grips[0] > grips[1] > grips[2]
        assert r.target_speed(20.0, 1.0, 1 / 30) < grips[0]  # slower into a tight bend


def test_style_reward_validates():
    with pytest.raises(ValueError, match="headway_s"):
        StyleReward(speed_factor=1.0, lat_accel_g=0.4, headway_s=-1.0, lane_weight=1.0,
                    comfort_weight=0.1, smooth_weight=0.1)
    with pytest.raises(ValueError, match="style"):
        load_policy("sleepy")


def test_shipped_policies_exist_and_act_deterministically():
    env = DrivingEnv(DrivingEnvConfig(split="eval", episode_s=5.0))
    for style in STYLES:
        runs = []
        for _ in range(2):
            policy = load_policy(style, seed=7)
            obs, _ = env.reset(seed=11)
            acts = []
            for _ in range(50):
                a = policy.act(obs)
                obs, _, term, trunc, _ = env.step(a)
                acts.append(a)
                if term or trunc:
                    break
            runs.append(np.array(acts))
        assert np.array_equal(runs[0], runs[1]), style
    assert (POLICY_DIR / "README.md").exists()


@pytest.fixture(scope="module")
def held_out_eval():
    return run_eval(EvalConfig(episodes=3, episode_s=20.0, seed=1))


@pytest.mark.slow
def test_styles_told_apart_by_a_classifier(held_out_eval):
    assert held_out_eval["classifier_accuracy"] >= 0.9


@pytest.mark.slow
def test_speed_order_and_erratic_weaves_most(held_out_eval):
    s = held_out_eval["styles"]
    assert s["aggressive"]["mean_speed"] > s["normal"]["mean_speed"] > s["cautious"]["mean_speed"]
    assert s["erratic"]["lane_dev_rms"] == max(m["lane_dev_rms"] for m in s.values())


@pytest.mark.slow
def test_stay_on_road_in_dry_and_wet_and_slow_down_on_snow_and_ice(held_out_eval):
    for style in ("aggressive", "normal", "cautious"):
        m = held_out_eval["styles"][style]
        assert m["offroad_by_surface"]["dry"] <= 0.05, style
        assert m["offroad_by_surface"]["wet"] <= 0.05, style
        v = m["speed_by_surface"]
        assert v["dry"] > v["snow"] > v["ice"], style


def test_cli_eval_rejects_bad_episode_count():
    res = subprocess.run([sys.executable, "-m", "edge.cli", "drivers", "eval", "--episodes", "0"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "--episodes" in res.stderr
