"""Train a driver style with stable-baselines3 PPO on :class:`sim.env.DrivingEnv`.

Fixed seed, one torch thread, CPU; a tqdm progress bar, a TensorBoard log in
``OUT/tb``, the training curve ``OUT/<style>_curve.png`` and the policy exported for numpy
inference as ``OUT/<style>.npz`` (see :mod:`sim.drivers.policy`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim.drivers.policy import MlpActor
from sim.drivers.rewards import style_reward


@dataclass
class TrainConfig:
    style: str = "normal"
    timesteps: int = 200_000
    seed: int = 0
    out: Path = Path("runs/drivers")
    n_envs: int = 4
    n_steps: int = 512
    batch_size: int = 256
    n_epochs: int = 5
    learning_rate: float = 3e-4
    hidden: int = 64

    def __post_init__(self) -> None:
        style_reward(self.style)
        for name in ("timesteps", "n_envs", "n_steps", "batch_size", "n_epochs", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be >= 0, got {self.seed}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"TrainConfig.learning_rate must be in (0, 1), "
                             f"got {self.learning_rate}")
        self.out = Path(self.out)


def _make_env(style: str):
    from stable_baselines3.common.monitor import Monitor

    from sim.env import DrivingEnv, DrivingEnvConfig

    def make():
        return Monitor(DrivingEnv(DrivingEnvConfig(style=style, split="train",
                                                   erratic_in_env=style == "erratic")))
    return make


def _progress_callback(total: int):
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm import tqdm

    class Progress(BaseCallback):
        """tqdm bar over timesteps; records the mean episode return after each rollout."""

        def __init__(self) -> None:
            super().__init__()
            self.curve: list[tuple[int, float]] = []

        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, unit="step", desc="PPO")

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            return True

        def _on_rollout_end(self) -> None:
            buf = self.model.ep_info_buffer
            if buf:
                self.curve.append((self.num_timesteps, float(np.mean([e["r"] for e in buf]))))

        def _on_training_end(self) -> None:
            self.bar.close()

    return Progress()


def export_actor(model, vec_norm) -> MlpActor:
    """The PPO actor's mean network and obs normalisation as a numpy :class:`MlpActor`."""
    import torch

    layers = [m for m in model.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    layers.append(model.policy.action_net)
    rms = vec_norm.obs_rms
    return MlpActor([lay.weight.detach().numpy().astype(np.float64) for lay in layers],
                    [lay.bias.detach().numpy().astype(np.float64) for lay in layers],
                    rms.mean.astype(np.float64), rms.var.astype(np.float64),
                    float(vec_norm.clip_obs), float(vec_norm.epsilon))


def plot_curve(curve: list[tuple[int, float]], style: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if curve:
        steps, ret = zip(*curve)
        ax.plot(steps, ret)
    ax.set(xlabel="timesteps", ylabel="mean episode return", title=f"PPO {style}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(config: TrainConfig) -> Path:
    """Train ``config.style``; returns the path of the exported ``.npz`` policy."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    torch.set_num_threads(1)
    config.out.mkdir(parents=True, exist_ok=True)
    venv = DummyVecEnv([_make_env(config.style) for _ in range(config.n_envs)])
    venv.seed(config.seed)
    venv = VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=0.99)
    model = PPO("MlpPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size,
                n_epochs=config.n_epochs, learning_rate=config.learning_rate, gamma=0.99,
                gae_lambda=0.95, clip_range=0.2, seed=config.seed, device="cpu", verbose=0,
                tensorboard_log=str(config.out / "tb"),
                policy_kwargs={"net_arch": [config.hidden, config.hidden],
                               "activation_fn": torch.nn.Tanh, "log_std_init": -0.7})
    progress = _progress_callback(config.timesteps)
    model.learn(config.timesteps, callback=progress, tb_log_name=config.style)
    path = config.out / f"{config.style}.npz"
    export_actor(model, venv).save(path, style=config.style)
    plot_curve(progress.curve, config.style, config.out / f"{config.style}_curve.png")
    meta = {**asdict(config), "out": str(config.out), "curve": progress.curve}
    (config.out / f"{config.style}_train.json").write_text(json.dumps(meta, indent=1))
    return path
