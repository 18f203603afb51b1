"""QC's ``audio_sample_hold`` (issue 20, round 3): a clip whose audible samples repeat their
predecessor (a zero-order hold from a lower capture rate) is flagged with the share and the
hold; a rendered clip, silence and missing audio pass without a crash."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from datagen.qc.audio_hold import AudioHoldConfig, check

RATE = 16000


def clip(seed: int = 0) -> np.ndarray:
    t = np.arange(RATE) / RATE
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 110 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


def sample(audio: np.ndarray | None) -> SimpleNamespace:
    return SimpleNamespace(audio=audio, sample_rate=RATE)


def test_a_rendered_clip_passes() -> None:
    assert check(sample(clip()), AudioHoldConfig()) is None


@pytest.mark.parametrize("hold", [2, 3, 4])
def test_a_held_clip_is_found(hold: int) -> None:
    a = clip()
    held = np.repeat(a[::hold], hold)[: a.size]
    f = check(sample(held), AudioHoldConfig())
    assert f is not None and f.check == "audio_sample_hold"
    assert f"held ~{hold} samples" in f.reason and f"~{RATE // hold} Hz" in f.reason


@pytest.mark.parametrize("audio", [None, np.zeros(RATE, np.float32), np.zeros(1, np.float32),
                                   np.full(100, np.nan, np.float32)])
def test_silence_and_missing_audio_do_not_crash(audio: np.ndarray | None) -> None:
    assert check(sample(audio), AudioHoldConfig()) is None


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="max_repeat_share"):
        AudioHoldConfig(max_repeat_share=1.5)
