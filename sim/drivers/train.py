"""Train a driver style with stable-baselines3 PPO on :class:`sim.drivers.env.DrivingEnv`.

PPO (gamma 0.99, n_steps 2048 per env, batch 256, 10 epochs, lr 3e-4, tanh MLP 64-64) over
``n_envs`` parallel envs (``SubprocVecEnv`` when ``subprocess``), observations normalised
by ``VecNormalize`` (its statistics go into the exported policy), rewards normalised.
Curriculum: road curviness grows linearly from ``CURRICULUM_START`` to the full range over
the first ``curriculum_fraction`` of the steps. Fixed seed, one torch thread per process,
CPU; a tqdm progress bar, a TensorBoard log in ``OUT/tb``, the training curve
``OUT/<style>_curve.png`` + ``OUT/<style>_train.json`` and the policy exported for numpy
inference as ``OUT/<style>.npz`` (see :mod:`sim.drivers.policy`), plus the SB3 model and
VecNormalize files. ``init_policy`` warm-starts the actor (and the observation statistics)
from an earlier run's ``.npz``, so training can go on across short sessions. ``max_minutes`` is a
safety valve for lent machines: training stops early (and says so in the JSON) when
exceeded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim.atomic import atomic_write_json
from sim.drivers.policy import MlpActor
from sim.drivers.rewards import style_reward

CURRICULUM_START = (0.0, 0.3)  # curviness range of the first roads
CURVINESS_FULL = (0.3, 1.0)


@dataclass
class TrainConfig:
    style: str = "normal"
    timesteps: int = 600_000
    seed: int = 0
    out: Path = Path("runs/drivers")
    n_envs: int = 4
    subprocess: bool = False
    n_steps: int = 2048
    batch_size: int = 256
    n_epochs: int = 10
    learning_rate: float = 3e-4
    hidden: int = 64
    curriculum_fraction: float = 0.3
    max_minutes: float = 0.0  # 0: no limit
    init_policy: Path | None = None  # warm start: a .npz policy of an earlier run
    log_std_init: float = -1.0

    def __post_init__(self) -> None:
        style_reward(self.style)
        for name in ("timesteps", "n_envs", "n_steps", "batch_size", "n_epochs", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be >= 0, got {self.seed}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(
                f"TrainConfig.learning_rate must be in (0, 1), got {self.learning_rate}"
            )
        if not 0 <= self.curriculum_fraction <= 1:
            raise ValueError(
                f"TrainConfig.curriculum_fraction must be in [0, 1], got {self.curriculum_fraction}"
            )
        if self.max_minutes < 0:
            raise ValueError(f"TrainConfig.max_minutes must be >= 0, got {self.max_minutes}")
        self.out = Path(self.out)
        if self.init_policy is not None:
            self.init_policy = Path(self.init_policy)
            if not self.init_policy.exists():
                raise ValueError(f"TrainConfig.init_policy: no file {self.init_policy}")


def curviness_at(fraction_done: float, curriculum_fraction: float) -> tuple[float, float]:
    """Curviness range of the roads after ``fraction_done`` of training (the curriculum)."""
    w = 1.0 if curriculum_fraction == 0 else min(fraction_done / curriculum_fraction, 1.0)
    lo = CURRICULUM_START[0] + w * (CURVINESS_FULL[0] - CURRICULUM_START[0])
    hi = CURRICULUM_START[1] + w * (CURVINESS_FULL[1] - CURRICULUM_START[1])
    return lo, hi


def _make_env(style: str, curviness: tuple[float, float]):
    def make():
        from stable_baselines3.common.monitor import Monitor

        from sim.drivers.env import DrivingEnv, DrivingEnvConfig

        config = DrivingEnvConfig(
            style=style, split="train", erratic_in_env=style == "erratic", curviness=curviness
        )
        return Monitor(DrivingEnv(config))

    return make


def _callback(config: TrainConfig):
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm import tqdm

    class Progress(BaseCallback):
        """Progress bar, curriculum, learning curve and the wall-clock safety valve."""

        def __init__(self) -> None:
            super().__init__()
            self.curve: list[tuple[int, float, float]] = []  # steps, return, length
            self.stopped_early = False

        def _on_training_start(self) -> None:
            self.bar = tqdm(total=config.timesteps, unit="step", desc=f"PPO {config.style}")
            self.start = time.monotonic()

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            limit = config.max_minutes * 60.0
            if limit and time.monotonic() - self.start > limit:
                self.stopped_early = True
                return False
            return True

        def _on_rollout_end(self) -> None:
            buf = self.model.ep_info_buffer
            if buf:
                ret = float(np.mean([e["r"] for e in buf]))
                length = float(np.mean([e["l"] for e in buf]))
                self.curve.append((self.num_timesteps, ret, length))
            frac = self.num_timesteps / config.timesteps
            self.training_env.env_method(
                "set_curviness", *curviness_at(frac, config.curriculum_fraction)
            )

        def _on_training_end(self) -> None:
            self.bar.close()

    return Progress()


def export_actor(model, vec_norm) -> MlpActor:
    """The PPO actor's mean network and obs normalisation as a numpy :class:`MlpActor`."""
    import torch

    layers = [m for m in model.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    layers.append(model.policy.action_net)
    rms = vec_norm.obs_rms
    return MlpActor(
        [lay.weight.detach().numpy().astype(np.float64) for lay in layers],
        [lay.bias.detach().numpy().astype(np.float64) for lay in layers],
        rms.mean.astype(np.float64),
        rms.var.astype(np.float64),
        float(vec_norm.clip_obs),
        float(vec_norm.epsilon),
    )


def plot_curve(curve: list[tuple[int, float, float]], style: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if curve:
        steps, ret, length = zip(*curve)
        ax.plot(steps, ret, label="mean episode return")
        ax.plot(steps, length, label="mean episode length [steps]", alpha=0.7)
        ax.legend()
    ax.set(xlabel="timesteps", title=f"PPO {style}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_actor_into(model, vec_norm, actor: MlpActor) -> None:
    """Warm start: copy a numpy actor's weights and obs statistics into a PPO model."""
    import torch

    layers = [m for m in model.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    layers.append(model.policy.action_net)
    if [lay.weight.shape for lay in layers] != [w.shape for w in actor.weights]:
        raise ValueError("init_policy: its network shape does not match the PPO policy")
    with torch.no_grad():
        for lay, w, b in zip(layers, actor.weights, actor.biases):
            lay.weight.copy_(torch.as_tensor(w))
            lay.bias.copy_(torch.as_tensor(b))
    vec_norm.obs_rms.mean = actor.obs_mean.copy()
    vec_norm.obs_rms.var = actor.obs_var.copy()
    vec_norm.obs_rms.count = 1e6  # trust the earlier run's statistics


def _vec_env(config: TrainConfig):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    make = _make_env(config.style, curviness_at(0.0, config.curriculum_fraction))
    fns = [make for _ in range(config.n_envs)]
    venv = SubprocVecEnv(fns, start_method="fork") if config.subprocess else DummyVecEnv(fns)
    venv.seed(config.seed)
    return VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=0.99)


def train(config: TrainConfig) -> Path:
    """Train ``config.style``; returns the path of the exported ``.npz`` policy."""
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    config.out.mkdir(parents=True, exist_ok=True)
    venv = _vec_env(config)
    model = PPO(
        "MlpPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size,
        n_epochs=config.n_epochs, learning_rate=config.learning_rate, gamma=0.99,
        gae_lambda=0.95, clip_range=0.2, ent_coef=0.0, seed=config.seed, device="cpu",
        verbose=0, tensorboard_log=str(config.out / "tb"),
        policy_kwargs={"net_arch": [config.hidden, config.hidden],
                       "activation_fn": torch.nn.Tanh, "log_std_init": config.log_std_init},
    )  # fmt: skip
    if config.init_policy is not None:
        load_actor_into(model, venv, MlpActor.load(config.init_policy))
    progress = _callback(config)
    model.learn(config.timesteps, callback=progress, tb_log_name=config.style)
    path = config.out / f"{config.style}.npz"
    export_actor(model, venv).save(path, style=config.style)
    model.save(config.out / f"{config.style}_ppo.zip")
    venv.save(str(config.out / f"{config.style}_vecnormalize.pkl"))
    venv.close()
    plot_curve(progress.curve, config.style, config.out / f"{config.style}_curve.png")
    meta = {
        **asdict(config),
        "out": str(config.out),
        "init_policy": str(config.init_policy),
        "trained_steps": model.num_timesteps,
        "stopped_early": progress.stopped_early,
        "curve": progress.curve,
    }
    atomic_write_json(config.out / f"{config.style}_train.json", meta, indent=1)
    return path
