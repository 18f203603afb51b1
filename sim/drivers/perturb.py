"""Erratic driving: a distracted or impaired driver on top of a trained policy.

:class:`ErraticPerturbation` transforms the actions a policy chooses:

* reaction delay: actions take effect ``delay_steps`` control steps late;
* weaving: a slow sinusoid (random amplitude, period and phase per episode) on the steering;
* sudden inputs: with ``burst_probability`` per step a burst of ``burst_steps`` steps of a
  random steering jerk or a throttle/brake stab on the pedal axis.

Actions are the env's ``(steer, pedal)`` pairs (:data:`sim.drivers.actions.ACTION_NAMES`).

All draws come from the generator it is given (derived from the seed), so erratic driving
is reproducible. The same object wraps the environment in training (the policy learns to
live with it) and wraps the policy when driving.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from sim.drivers.actions import ACTION_SIZE


@dataclass(frozen=True)
class ErraticConfig:
    delay_steps: int = 4
    weave_amplitude: tuple[float, float] = (0.04, 0.09)
    weave_period_steps: tuple[float, float] = (25.0, 60.0)
    burst_probability: float = 0.03
    burst_steps: int = 5
    burst_steer: float = 0.12

    def __post_init__(self) -> None:
        if not 0 <= self.delay_steps <= 20:
            raise ValueError(
                f"ErraticConfig.delay_steps must be in [0, 20], got {self.delay_steps}"
            )
        if not 0.0 <= self.burst_probability <= 1.0:
            raise ValueError(
                f"ErraticConfig.burst_probability must be in [0, 1], got {self.burst_probability}"
            )
        if self.burst_steps < 1:
            raise ValueError(f"ErraticConfig.burst_steps must be >= 1, got {self.burst_steps}")
        lo, hi = self.weave_period_steps
        if not 0 < lo <= hi:
            raise ValueError(
                f"ErraticConfig.weave_period_steps must be 0 < lo <= hi, got {(lo, hi)}"
            )


class ErraticPerturbation:
    """Stateful action transform; call :meth:`reset` at the start of every episode."""

    def __init__(self, config: ErraticConfig, rng: np.random.Generator) -> None:
        self.config, self.rng = config, rng
        self.reset()

    def reset(self) -> None:
        c, rng = self.config, self.rng
        self.queue: deque[np.ndarray] = deque([np.zeros(ACTION_SIZE)] * c.delay_steps)
        self.amplitude = rng.uniform(*c.weave_amplitude)
        self.omega = 2 * np.pi / rng.uniform(*c.weave_period_steps)
        self.phase = rng.uniform(0, 2 * np.pi)
        self.t = 0
        self.burst_left = 0
        self.burst = np.zeros(ACTION_SIZE)

    def _draw_burst(self) -> None:
        c = self.config
        self.burst_left = c.burst_steps
        kind = self.rng.integers(3)
        self.burst = np.zeros(ACTION_SIZE)
        if kind == 0:
            self.burst[0] = self.rng.choice([-1.0, 1.0]) * c.burst_steer
        else:
            self.burst[1] = 0.6 if kind == 1 else -0.6  # throttle stab or brake stab

    def __call__(self, action: np.ndarray) -> np.ndarray:
        self.queue.append(np.asarray(action, dtype=np.float64).copy())
        out = self.queue.popleft().copy()
        out[0] += self.amplitude * np.sin(self.omega * self.t + self.phase)
        if self.burst_left == 0 and self.rng.random() < self.config.burst_probability:
            self._draw_burst()
        if self.burst_left > 0:
            out += self.burst
            self.burst_left -= 1
        self.t += 1
        return np.clip(out, -1.0, 1.0)
