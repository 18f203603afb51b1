"""Driver styles: numpy policies, perturbations, rewards and the behaviour of the shipped
PPO policies on held-out roads and weathers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sim.drivers.actions import ACTION_SIZE, STEER_AUTHORITY, controls_of
from sim.drivers.env import DrivingEnv, DrivingEnvConfig
from sim.drivers.evaluate import (
    HEADWAY_CAP_S,
    EvalConfig,
    classifier_inputs,
    episode_metrics,
    run_eval,
)
from sim.drivers.observation import OBS_SIZE
from sim.drivers.perturb import ErraticConfig, ErraticPerturbation
from sim.drivers.policy import POLICY_DIR, MlpActor, load_policy
from sim.drivers.rewards import STYLE_REWARDS, STYLES, StepSignals, StyleReward, step_reward
from sim.drivers.train import CURVINESS_FULL, curviness_at
from sim.seeding import rng_for


def test_numpy_actor_matches_stable_baselines_prediction(tmp_path):
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from sim.drivers.train import export_actor

    venv = VecNormalize(DummyVecEnv([lambda: DrivingEnv(DrivingEnvConfig(episode_s=3.0))]))
    venv.obs_rms.mean = rng_for(1, "t").normal(size=OBS_SIZE)
    venv.obs_rms.var = rng_for(2, "t").uniform(0.5, 2.0, OBS_SIZE)
    model = PPO(
        "MlpPolicy",
        venv,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [16, 16], "activation_fn": torch.nn.Tanh},
    )
    export_actor(model, venv).save(tmp_path / "p.npz", style="normal")
    actor = MlpActor.load(tmp_path / "p.npz")
    obs = rng_for(3, "t").normal(size=(5, OBS_SIZE)).astype(np.float32)
    expected, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    assert np.allclose([actor(o) for o in obs], expected, atol=1e-5)


def test_erratic_perturbation_delays_and_is_reproducible():
    cfg = ErraticConfig(delay_steps=3, burst_probability=0.0, weave_amplitude=(0.0, 0.0))
    p = ErraticPerturbation(cfg, rng_for(0, "x"))
    actions = [np.full(ACTION_SIZE, 0.1 * i) for i in range(8)]
    out = [p(a) for a in actions]
    assert np.allclose(out[:3], 0.0)
    assert np.allclose(out[3:], actions[:5])
    run = [ErraticPerturbation(ErraticConfig(), rng_for(s, "x")) for s in (4, 4, 5)]
    seqs = [[r(np.zeros(ACTION_SIZE)) for _ in range(50)] for r in run]
    assert np.array_equal(seqs[0], seqs[1]) and not np.array_equal(seqs[0], seqs[2])


def test_target_speeds_order_styles_and_drop_on_low_grip():
    t = {s: STYLE_REWARDS[s].target_speed(20.0, 1.0, 0.001) for s in STYLES}
    assert t["aggressive"] > t["normal"] > t["cautious"]
    for style in STYLES:
        r = STYLE_REWARDS[style]
        grips = [r.target_speed(20.0, g, 0.001) for g in (1.0, 0.3, 0.1)]
        assert grips[0] > grips[1] > grips[2]
        assert r.target_speed(20.0, 1.0, 1 / 30) < grips[0]  # slower into a tight bend


def test_aggressive_target_closes_the_gap_to_its_own_headway_behind_a_lead():
    aggressive, normal = STYLE_REWARDS["aggressive"], STYLE_REWARDS["normal"]
    free = aggressive.target_speed(20.0, 1.0, 0.001)
    lead = 12.0
    far, held = (15.0, 60.0, lead), (lead, 0.6 * lead + 2.0, lead)  # (speed, gap, lead speed)
    assert aggressive.target_speed(20.0, 1.0, 0.001, far) == pytest.approx(free)  # still far
    assert aggressive.target_speed(20.0, 1.0, 0.001, held) == pytest.approx(lead)  # at headway
    mid = aggressive.target_speed(20.0, 1.0, 0.001, (lead, 20.0, lead))
    assert lead < mid < free  # closing in: faster than the lead, less than on a free road
    too_close = aggressive.target_speed(20.0, 1.0, 0.001, (lead, 3.0, lead))
    assert too_close < lead  # inside its headway: drop back
    # each style holds its own headway: where aggressive is content, normal drops back
    assert normal.target_speed(20.0, 1.0, 0.001, held) < lead
    erratic = STYLE_REWARDS["erratic"]  # no follow term: its policy was trained without one
    assert erratic.target_speed(20.0, 1.0, 0.001, held) == erratic.target_speed(20.0, 1.0, 0.001)


def signals(**kw) -> StepSignals:
    base = dict(
        speed=15.0,
        target_speed=15.0,
        speed_limit=20.0,
        lane_offset=0.0,
        heading_error=0.0,
        lateral_accel=0.0,
        jerk=0.0,
        steer_change=0.0,
        slip_angle=0.0,
        headway_s=float("inf"),
        grip=1.0,
    )
    return StepSignals(**(base | kw))


def test_step_reward_is_bounded_and_prefers_centred_driving_at_target_speed():
    rng = rng_for(0, "reward")
    for _ in range(500):  # never negative: ending an episode early can never pay
        sig = signals(
            speed=rng.uniform(0, 40),
            lane_offset=rng.normal(0, 3),
            heading_error=rng.normal(0, 1),
            lateral_accel=rng.normal(0, 8),
            jerk=rng.normal(0, 30),
            steer_change=rng.normal(0, 0.5),
            slip_angle=rng.normal(0, 0.2),
            headway_s=rng.uniform(0, 5),
        )
        assert 0.0 <= step_reward(STYLE_REWARDS[STYLES[_ % 4]], sig) <= 1.0
    for style in STYLE_REWARDS.values():
        ideal = step_reward(style, signals())
        assert ideal == pytest.approx(1.0)
        assert step_reward(style, signals(lane_offset=1.0)) < ideal
        assert step_reward(style, signals(speed=20.0)) < ideal  # speeding over the target
        assert step_reward(style, signals(speed=7.5)) < ideal
        assert step_reward(style, signals(speed=0.0)) == 0.0
        assert step_reward(style, signals(headway_s=0.3)) < ideal
    tailgate = signals(headway_s=1.5)  # fine for aggressive drivers, not for cautious ones
    assert step_reward(STYLE_REWARDS["aggressive"], tailgate) > step_reward(
        STYLE_REWARDS["cautious"], tailgate
    )


def test_pedal_axis_never_presses_throttle_and_brake_together():
    for pedal in np.linspace(-1.5, 1.5, 13):
        steer, throttle, brake = controls_of(np.array([2.0, pedal]))
        assert throttle * brake == 0.0 and 0 <= throttle <= 1 and 0 <= brake <= 1
        assert steer == pytest.approx(STEER_AUTHORITY)
        assert throttle - brake == pytest.approx(np.clip(pedal, -1, 1))


def test_curriculum_starts_on_straighter_roads():
    assert curviness_at(1.0, 0.3) == pytest.approx(CURVINESS_FULL)
    his = [curviness_at(f, 0.3)[1] for f in np.linspace(0, 1, 11)]
    assert his == sorted(his) and his[0] < CURVINESS_FULL[1]
    env = DrivingEnv(DrivingEnvConfig())

    def mean_curvature(lo: float, hi: float) -> float:
        env.set_curviness(lo, hi)
        out = []
        for seed in range(6):
            env.reset(seed=seed)
            out.append(np.mean(np.abs(env.road.curvature_ahead(0.0, np.arange(0, 600, 5.0)))))
        return float(np.mean(out))

    assert mean_curvature(0.0, 0.05) < mean_curvature(0.9, 1.0)
    with pytest.raises(ValueError, match="curviness"):
        env.set_curviness(0.8, 0.2)


def test_warm_start_loads_an_exported_actor_back():
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from sim.drivers.train import export_actor, load_actor_into

    def make():
        venv = VecNormalize(DummyVecEnv([lambda: DrivingEnv(DrivingEnvConfig(episode_s=3.0))]))
        return PPO(
            "MlpPolicy",
            venv,
            device="cpu",
            seed=len(models),
            policy_kwargs={"net_arch": [8, 8], "activation_fn": torch.nn.Tanh},
        ), venv

    models: list = []
    models.append(make())
    models.append(make())
    (src, src_env), (dst, dst_env) = models
    src_env.obs_rms.mean = rng_for(5, "t").normal(size=OBS_SIZE)
    actor = export_actor(src, src_env)
    assert not np.allclose(export_actor(dst, dst_env).weights[0], actor.weights[0])
    load_actor_into(dst, dst_env, actor)
    back = export_actor(dst, dst_env)
    for a, b in zip(actor.weights + actor.biases, back.weights + back.biases):
        assert np.allclose(a, b)
    assert np.allclose(back.obs_mean, actor.obs_mean)


def test_style_reward_validates():
    with pytest.raises(ValueError, match="headway_s"):
        StyleReward(
            speed_factor=1.0,
            lat_accel_g=0.4,
            headway_s=-1.0,
            lane_weight=1.0,
            comfort_weight=0.1,
            smooth_weight=0.1,
        )
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
                assert a.shape == env.action_space.shape
                obs, _, term, trunc, _ = env.step(a)
                acts.append(a)
                if term or trunc:
                    break
            runs.append(np.array(acts))
        assert np.array_equal(runs[0], runs[1]), style
    assert (POLICY_DIR / "README.md").exists()


def _infos(n: int, gap: float = 150.0, headway: float = float("inf")) -> list[dict]:
    step = dict(speed=10.0, lateral_accel=0.5, accel=0.0, lane_offset=0.1, gap=gap)
    step |= dict(headway_s=headway, grip=1.0, speed_limit=20.0, slip_angle=0.01)
    return [step | dict(offroad=False, collision=False) for _ in range(n)]


def test_episode_metrics_of_control_inputs_and_headway():
    steady = [np.array([0.0, 0.2])] * 10
    sawing = [np.array([0.0, 0.5 if i % 2 else -0.5]) for i in range(10)]
    m = episode_metrics("normal", "dry", 0, _infos(10), steady, 0.1)
    assert m.pedal_rate_rms == 0.0 and m.brake_share == 0.0
    assert m.headway_s == HEADWAY_CAP_S and m.slip_rms == pytest.approx(0.01)
    m = episode_metrics("erratic", "dry", 0, _infos(10), sawing, 0.1)
    assert m.pedal_rate_rms == pytest.approx(10.0) and m.brake_share == 0.5
    m = episode_metrics("aggressive", "dry", 0, _infos(10, gap=12.0, headway=0.8), steady, 0.1)
    assert m.headway_s == pytest.approx(0.8)
    assert np.isfinite(classifier_inputs([m])).all()


@pytest.fixture(scope="module")
def held_out_eval():
    """The documented ``drivesynth drivers eval`` (16 episodes of 30 s per style and surface,
    seed 0): the numbers of policies/README.md, ~30 s here."""
    return run_eval(EvalConfig())


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


@pytest.mark.slow
def test_cli_eval_prints_table_and_writes_json_and_plot(tmp_path):
    import json

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "drivers",
            "eval",
            "--episodes",
            "1",
            "--json",
            str(tmp_path / "m.json"),
            "--plot",
            str(tmp_path / "m.png"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert all(style in res.stdout for style in STYLES) and "classifier" in res.stdout
    result = json.loads((tmp_path / "m.json").read_text())
    assert set(result["styles"]) == set(STYLES) and len(result["episodes"]) == 16
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_eval_rejects_bad_episode_count():
    res = subprocess.run(
        [sys.executable, "-m", "edge.cli", "drivers", "eval", "--episodes", "0"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "--episodes" in res.stderr
