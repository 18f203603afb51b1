"""Clips cut from one waveform, FLAC round trips, determinism, limiter and config checks."""

from __future__ import annotations

import numpy as np
import pytest

from datagen.audio import (
    AudioConfig,
    clip,
    clip_events,
    decode_flac,
    encode_flac,
    synthesize,
    synthesize_sources,
)
from datagen.audio.synthetic_trace import drive_cycle, make_trace

SR = 16000


@pytest.fixture(scope="module")
def cycle() -> tuple:
    trace = drive_cycle(6.0)
    return trace, synthesize(trace, AudioConfig(), np.random.default_rng(11))


def test_consecutive_frame_clips_agree_on_their_overlap(cycle: tuple) -> None:
    _, wave = cycle
    hop = int(0.2 * SR)
    for end in np.round(np.arange(1.2, 5.9, 0.2), 6):
        a, b = clip(wave, end - 0.2, 1.0, SR), clip(wave, end, 1.0, SR)
        assert len(a) == len(b) == SR
        np.testing.assert_array_equal(a[hop:], b[:-hop])


def test_early_clips_are_zero_padded_before_time_zero(cycle: tuple) -> None:
    _, wave = cycle
    c = clip(wave, 0.3, 1.0, SR)
    pad = SR - (int(0.3 * SR) + 1)
    assert not np.any(c[:pad])
    np.testing.assert_array_equal(c[pad:], wave[: int(0.3 * SR) + 1])


def test_clip_past_the_end_or_negative_is_refused(cycle: tuple) -> None:
    trace, wave = cycle
    with pytest.raises(ValueError, match="past"):
        clip(wave, 7.0, 1.0, SR)
    with pytest.raises(ValueError, match="end_time_s"):
        clip(wave, -0.1, 1.0, SR)
    with pytest.raises(ValueError, match="past"):
        clip_events(trace, 7.0, 1.0, AudioConfig())


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    trace = drive_cycle(3.0)
    cfg = AudioConfig()
    a = synthesize(trace, cfg, np.random.default_rng(5))
    b = synthesize(trace, cfg, np.random.default_rng(5))
    c = synthesize(trace, cfg, np.random.default_rng(6))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert encode_flac(clip(a, 2.0, 1.0, SR)) == encode_flac(clip(b, 2.0, 1.0, SR))


def test_a_source_does_not_change_when_another_is_switched_off() -> None:
    trace = drive_cycle(3.0)
    full = synthesize_sources(trace, AudioConfig(), np.random.default_rng(7))
    alone = synthesize_sources(trace, AudioConfig(), np.random.default_rng(7), ("rain",))
    np.testing.assert_array_equal(full["rain"], alone["rain"])


def test_flac_round_trip_is_within_16_bit_quantisation(cycle: tuple) -> None:
    _, wave = cycle
    c = clip(wave, 4.0, 1.0, SR)
    data = encode_flac(c)
    assert data[:4] == b"fLaC"
    back = decode_flac(data)
    assert back.dtype == np.float32 and back.shape == c.shape
    assert np.max(np.abs(back - c)) <= 0.5 / 32767 + 1e-7
    assert len(data) < 2 * len(c)  # compressed below raw 16-bit


def test_flac_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="FLAC"):
        decode_flac(b"not audio")
    with pytest.raises(ValueError, match="NaN"):
        encode_flac(np.array([0.0, np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="mono"):
        encode_flac(np.zeros((4, 2), dtype=np.float32))


def test_master_limiter_keeps_loud_scenes_below_full_scale_and_quiet_ones_linear() -> None:
    cfg = AudioConfig()
    crashes = [{"type": "crash", "time_s": 0.2 * i, "impulse_ns": 1e6} for i in range(1, 9)]
    loud = synthesize(
        make_trace(2.0, {"rpm": 6000.0, "throttle": 1.0}, events=crashes),
        cfg,
        np.random.default_rng(0),
    )
    assert np.max(np.abs(loud)) <= cfg.limit
    quiet_trace = make_trace(2.0, {"rpm": 900.0})
    quiet = synthesize(quiet_trace, cfg, np.random.default_rng(0))
    stem = synthesize_sources(quiet_trace, cfg, np.random.default_rng(0))["engine"]
    np.testing.assert_allclose(quiet, stem, rtol=0.02, atol=1e-4)


def test_silent_trace_gives_silence() -> None:
    wave = synthesize(make_trace(1.0), AudioConfig(), np.random.default_rng(0))
    assert len(wave) == int(round((1.0 - 1 / 60) * SR)) + 1
    assert not np.any(wave)
    assert clip_events(make_trace(1.0), 0.9, 1.0, AudioConfig()) == []


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"sample_rate": 100}, "sample_rate"),
        ({"clip_s": 0.0}, "clip_s"),
        ({"limit": 1.5}, "limit"),
        ({"levels": {"banjo": 1.0}}, "levels"),
        ({"levels": {"rain": -1.0}}, "levels['rain']"),
        ({"squeal_slip": float("nan")}, "squeal_slip"),
        ({"passby_min_distance_m": 50.0}, "passby_min_distance_m"),
    ],
)
def test_config_names_the_bad_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"AudioConfig.{field}".replace("[", r"\[")):
        AudioConfig(**kwargs)


def test_trace_too_short_or_unordered_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        synthesize(make_trace(1 / 60), AudioConfig(), np.random.default_rng(0))
    trace = make_trace(1.0)
    trace.arrays["t"] = trace.arrays["t"][::-1].copy()
    with pytest.raises(ValueError, match="increasing"):
        synthesize(trace, AudioConfig(), np.random.default_rng(0))
