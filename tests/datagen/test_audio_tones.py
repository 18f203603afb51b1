"""Engine, gear shift and pass-by pitch follow the physics of the hand-built trace."""

from __future__ import annotations

import numpy as np
import pytest

from datagen.audio import AudioConfig, clip, clip_events, synthesize, synthesize_sources
from datagen.audio.synthetic_trace import make_trace
from sim.trace import MAX_OTHERS

SR = 16000


def peak_hz(x: np.ndarray, lo: float, hi: float) -> float:
    """Frequency of the strongest FFT bin in [lo, hi], Hann window, 4x zero padding."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), 4 * len(x)))
    freqs = np.fft.rfftfreq(4 * len(x), 1 / SR)
    band = (freqs >= lo) & (freqs <= hi)
    return float(freqs[band][np.argmax(spec[band])])


def window(wave: np.ndarray, center_s: float, length_s: float = 0.25) -> np.ndarray:
    return clip(wave, center_s + length_s / 2, length_s, SR)


@pytest.mark.parametrize("cylinders", [4, 6])
def test_engine_pitch_tracks_firing_frequency_over_rpm_ramp(cylinders: int) -> None:
    trace = make_trace(
        8.0,
        {
            "rpm": lambda t: 1000 + 600 * t,
            "throttle": 0.6,
            "engine_load": 0.5,
            "speed_mps": lambda t: 2 + 3 * t,
            "gear": 3,
        },
        cylinders=cylinders,
    )
    wave = synthesize(trace, AudioConfig(), np.random.default_rng(1))
    for center in np.arange(0.5, 7.6, 0.5):
        expected = (1000 + 600 * center) / 60 * cylinders / 2
        measured = peak_hz(window(wave, center), 20.0, 1000.0)
        assert measured == pytest.approx(expected, rel=0.04, abs=4.0), center


def test_gear_shift_drops_pitch_and_is_an_event_only_around_the_shift() -> None:
    shift_t = 3.0

    def rpm(t: np.ndarray) -> np.ndarray:
        up = 2000 + 1200 * t
        return np.where(t < shift_t, up, 5600 * 0.65 + 900 * (t - shift_t))

    trace = make_trace(
        6.0,
        {
            "rpm": rpm,
            "gear": lambda t: np.where(t < shift_t, 2, 3),
            "throttle": 0.8,
            "engine_load": 0.7,
            "speed_mps": 15.0,
        },
    )
    cfg = AudioConfig()
    stems = synthesize_sources(trace, cfg, np.random.default_rng(2))
    engine = stems["engine"]
    before = peak_hz(window(engine, shift_t - 0.15, 0.2), 40, 600)
    after = peak_hz(window(engine, shift_t + 0.15, 0.2), 40, 600)
    assert after / before == pytest.approx(
        rpm(np.array([3.15]))[0] / rpm(np.array([2.85]))[0], rel=0.06
    )
    assert after < 0.8 * before
    for end in np.arange(1.0, 6.0, 0.2):
        has_shift = "gear_shift" in clip_events(trace, end, 1.0, cfg)
        assert has_shift == (end - 1.0 < shift_t <= end + 1e-9), end
        energy = float(np.sum(clip(stems["gear_shift"], end, 1.0, SR) ** 2))
        assert (energy > 0) == has_shift, end


def test_engine_pitch_change_never_clicks() -> None:
    """A step in rpm between two control steps leaves the waveform continuous."""
    trace = make_trace(
        2.0,
        {"rpm": lambda t: np.where(t < 1.0, 1500.0, 5000.0), "throttle": 0.5, "engine_load": 0.5},
    )
    cfg = AudioConfig(levels={"engine": 0.5})
    wave = synthesize_sources(trace, cfg, np.random.default_rng(3))["engine"]
    jump = np.abs(np.diff(wave[SR - 400 : SR + 400])).max()
    typical = np.abs(np.diff(wave[SR + 2000 : SR + 6000])).max()
    assert jump <= 1.5 * typical


def passby_trace(speed: float = 25.0, lateral: float = 4.0):
    def others(t: np.ndarray) -> np.ndarray:
        pos = np.full((len(t), MAX_OTHERS, 3), np.nan)
        pos[:, 2] = np.stack([80.0 - speed * t, np.full_like(t, lateral), np.zeros_like(t)], 1)
        return pos

    return make_trace(6.4, {"others_pos": others})


def test_passby_is_higher_approaching_than_receding_by_the_doppler_ratio() -> None:
    speed, cfg = 25.0, AudioConfig()
    trace = passby_trace(speed)
    wave = synthesize(trace, cfg, np.random.default_rng(4))
    t_close = 80.0 / speed
    approach = peak_hz(window(wave, t_close - 1.0, 0.4), 40, 300)
    recede = peak_hz(window(wave, t_close + 1.0, 0.4), 40, 300)
    x = speed * 1.0
    cos = x / np.hypot(x, 4.0)
    c = cfg.speed_of_sound_mps
    assert approach > recede
    assert approach / recede == pytest.approx((c + speed * cos) / (c - speed * cos), rel=0.02)


def test_passby_is_louder_near_and_silent_out_of_range() -> None:
    cfg = AudioConfig()
    trace = passby_trace()
    wave = synthesize_sources(trace, cfg, np.random.default_rng(5))["passby"]
    rms = [float(np.sqrt(np.mean(window(wave, t, 0.2) ** 2))) for t in (1.9, 2.6, 3.2)]
    assert rms[0] < rms[1] < rms[2]  # 32 m, 15 m, 4 m away
    assert not np.any(clip(wave, 1.0, 1.0, SR))  # 55..80 m: beyond passby_range_m
    assert "passby" not in clip_events(trace, 1.0, 1.0, cfg)
    assert "passby" in clip_events(trace, 3.2, 1.0, cfg)
