"""Numpy-only inference of trained driver styles (no torch or stable-baselines3 needed).

A policy file ``policies/<style>.npz`` holds the actor's mean network (``w0, b0, w1, b1,
...``; tanh between layers, the last layer linear) and the observation normalisation
(``obs_mean``, ``obs_var``, ``clip_obs``, ``epsilon``) of the PPO run that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.drivers.actions import controls_of
from sim.drivers.perturb import ErraticConfig, ErraticPerturbation
from sim.drivers.rewards import STYLES
from sim.seeding import rng_for

POLICY_DIR = Path(__file__).parent / "policies"
FALLBACK_WEIGHTS = {"erratic": "normal"}  # erratic = normal driver + ErraticPerturbation


@dataclass
class MlpActor:
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    obs_mean: np.ndarray
    obs_var: np.ndarray
    clip_obs: float = 10.0
    epsilon: float = 1e-8

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError(
                f"MlpActor needs as many weights as biases (> 0), got "
                f"{len(self.weights)} and {len(self.biases)}"
            )
        if self.obs_mean.shape != (self.weights[0].shape[1],):
            raise ValueError(
                f"MlpActor.obs_mean shape {self.obs_mean.shape} does not match "
                f"the input size {self.weights[0].shape[1]}"
            )

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = (np.asarray(obs, np.float64) - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon)
        x = np.clip(x, -self.clip_obs, self.clip_obs)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = w @ x + b
            if i < len(self.weights) - 1:
                x = np.tanh(x)
        return np.clip(x, -1.0, 1.0)

    def save(self, path: Path, **meta: str) -> None:
        arrays = {f"w{i}": w for i, w in enumerate(self.weights)}
        arrays |= {f"b{i}": b for i, b in enumerate(self.biases)}
        np.savez(
            path,
            obs_mean=self.obs_mean,
            obs_var=self.obs_var,
            clip_obs=np.float64(self.clip_obs),
            epsilon=np.float64(self.epsilon),
            **arrays,
            **{k: np.str_(v) for k, v in meta.items()},
        )

    @classmethod
    def load(cls, path: Path) -> MlpActor:
        with np.load(path) as z:
            n = sum(1 for k in z.files if k.startswith("w"))
            return cls(
                [z[f"w{i}"] for i in range(n)],
                [z[f"b{i}"] for i in range(n)],
                z["obs_mean"],
                z["obs_var"],
                float(z["clip_obs"]),
                float(z["epsilon"]),
            )


class DriverPolicy:
    """``act(obs) -> action`` (the env's steer and pedal in [-1, 1]) for one driving style;
    :meth:`controls` gives (steer, throttle, brake) for a car's ``set_controls``."""

    def __init__(
        self, style: str, actor: MlpActor, perturbation: ErraticPerturbation | None = None
    ) -> None:
        self.style, self.actor, self.perturbation = style, actor, perturbation

    @property
    def policy_id(self) -> str:
        return f"ppo-{self.style}"

    def reset(self) -> None:
        """Start a new episode (the erratic perturbation redraws its weaving)."""
        if self.perturbation is not None:
            self.perturbation.reset()

    def act(self, obs: np.ndarray) -> np.ndarray:
        action = self.actor(obs)
        if self.perturbation is not None:
            action = self.perturbation(action)
        return action.astype(np.float32)

    def controls(self, obs: np.ndarray) -> tuple[float, float, float]:
        """(steer, throttle, brake) for ``obs``: :meth:`act` split into the car's inputs."""
        return controls_of(self.act(obs))


def policy_path(style: str, directory: Path | None = None) -> Path:
    """``STYLE.npz`` in ``directory``; erratic falls back to the normal driver's weights."""
    if style not in STYLES:
        raise ValueError(f"unknown driver style {style!r}; known: {', '.join(STYLES)}")
    path = (directory or POLICY_DIR) / f"{style}.npz"
    if not path.exists() and style in FALLBACK_WEIGHTS:
        path = path.with_name(f"{FALLBACK_WEIGHTS[style]}.npz")
    return path


def load_policy(style: str, seed: int = 0, directory: Path | None = None) -> DriverPolicy:
    """The shipped (or ``directory``'s) policy of ``style``; erratic draws from ``seed``."""
    path = policy_path(style, directory)
    if not path.exists():
        raise ValueError(f"no trained policy for style {style!r} at {path}")
    perturbation = None
    if style == "erratic":
        perturbation = ErraticPerturbation(ErraticConfig(), rng_for(seed, "drivers", "erratic"))
    return DriverPolicy(style, _cached_actor(path), perturbation)


_ACTORS: dict[tuple[str, int, int], MlpActor] = {}


def _cached_actor(path: Path) -> MlpActor:
    """``MlpActor.load(path)``, kept per process while the file is unchanged (a scenario
    loads its driver's policy; a worker runs many scenarios). Actors are never mutated."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    actor = _ACTORS.get(key)
    if actor is None:
        actor = _ACTORS[key] = MlpActor.load(path)
    return actor
