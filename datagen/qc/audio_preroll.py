"""Silence before the scenario starts: ``audio_before_start``.

Invariant: a frame's audio is the window of ``audio.duration_s`` ending at ``time_s``; in the
frames of a scenario's first ``duration_s`` seconds part of that window lies before t = 0,
when nothing in the scenario sounds yet, and the simulator writes digital silence there
(exactly 0 in every one of 2 600 clean frames, seed 4040, every preset: each has 0.2-0.8 s of
it). Any sound in it is not the scenario's: added noise or hum (a preamp, a mains loop),
another clip mixed in (a shared bus, a buffer not flushed, a ring buffer of the previous
scenario), an echo or a resampled or shifted window. The last ``margin_s`` before t = 0 is
not judged (rounding of the window's edge).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag

log = logging.getLogger(__name__)
CHECK = "audio_before_start"


@dataclass(frozen=True)
class AudioPrerollConfig:
    max_level: float = 1e-4  # full scale = 1; a 16-bit LSB is 3e-5
    margin_s: float = 0.005
    min_preroll_s: float = 0.02

    def __post_init__(self) -> None:
        for name in ("max_level", "margin_s", "min_preroll_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"AudioPrerollConfig.{name} must be > 0")


def preroll_samples(meta: dict, rate: int, n: int) -> int:
    """How many leading samples of a clip of ``n`` lie before t = 0 (0 if none or unknown)."""
    audio = meta.get("audio") if isinstance(meta, dict) else None
    t = meta.get("time_s") if isinstance(meta, dict) else None
    d = audio.get("duration_s") if isinstance(audio, dict) else None
    if not isinstance(t, int | float) or not isinstance(d, int | float) or rate <= 0:
        return 0
    if isinstance(meta.get("clip"), dict):
        return 0  # a clip's audio window is the clip's: its own layout, not judged here
    return max(0, min(n, int(round((float(d) - float(t)) * rate))))


def check(s, cfg: AudioPrerollConfig) -> Flag | None:
    if s.audio is None or s.audio.size == 0 or not isinstance(s.meta, dict):
        return None
    n = preroll_samples(s.meta, s.sample_rate, len(s.audio))
    judged = n - int(round(cfg.margin_s * s.sample_rate))
    if judged < cfg.min_preroll_s * s.sample_rate:
        return None
    peak = float(np.abs(s.audio[:judged]).max())  # every channel
    if not peak > cfg.max_level:
        return None
    log.debug("%s: sound before t = 0, peak %.2e", s.key, peak)
    return flag(CHECK, f"sound in the {n / s.sample_rate:.2f} s of the audio window before the "
                "scenario starts (t < 0, digital silence in a clean frame): peak", peak,
                f"allowed {cfg.max_level:g} of full scale", ".1e")  # fmt: skip
