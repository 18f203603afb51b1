"""What every source renderer receives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from datagen.audio.config import AudioConfig
from datagen.audio.timeline import Timeline
from sim.trace import StateTrace


@dataclass(frozen=True)
class SourceInput:
    """A continuous source's inputs; ``env`` is its drive at the audio rate.

    ``env`` is (n_samples,) or, for per-vehicle sources, (n_samples, slots). A renderer
    returns a float32 tensor of ``n_samples`` that is zero wherever ``env`` is zero.
    """

    timeline: Timeline
    trace: StateTrace
    cfg: AudioConfig
    rng: np.random.Generator
    env: np.ndarray

    @property
    def n(self) -> int:
        return self.timeline.n_samples

    @property
    def sr(self) -> int:
        return self.timeline.sample_rate

    def control(self, name: str) -> np.ndarray:
        """Trace field ``name`` interpolated to the audio rate."""
        return self.timeline.at(np.asarray(getattr(self.trace, name), dtype=np.float64))

    def envelope(self) -> torch.Tensor:
        return torch.from_numpy(self.env.astype(np.float32))
