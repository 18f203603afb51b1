"""Sound events: each named source is in a clip exactly when the physics says so."""

from __future__ import annotations

import numpy as np
import pytest

from datagen.audio import SOURCE_NAMES, AudioConfig, clip, clip_events, synthesize_sources
from datagen.audio.synthetic_trace import drive_cycle, make_trace
from sim.trace import SURFACE_CODES

SR = 16000
FRAME_ENDS = np.round(np.arange(0.2, 5.01, 0.2), 6)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def band_rms(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float(np.sqrt(spec[(freqs >= lo) & (freqs <= hi)].sum() / len(x) ** 2))


def skid_trace():
    slip = lambda t: np.where((t >= 2.05) & (t <= 2.45), 0.45, 0.03)[:, None] * np.ones(4)  # noqa: E731
    return make_trace(
        5.1,
        {"speed_mps": 15.0, "rpm": 3000.0, "throttle": 0.4, "engine_load": 0.4, "slip_ratio": slip},
    )


def test_squeal_is_exactly_in_the_clips_whose_window_has_high_slip() -> None:
    cfg = AudioConfig()
    trace = skid_trace()
    stems = synthesize_sources(trace, cfg, np.random.default_rng(0))
    mix = sum(stems.values())
    loud, quiet = [], []
    for end in FRAME_ENDS:
        high_slip = end - 1.0 < 2.45 and end >= 2.05  # window (end - 1, end] meets the skid
        events = clip_events(trace, end, 1.0, cfg)
        assert ("tire_squeal" in events) == high_slip, end
        assert (rms(clip(stems["tire_squeal"], end, 1.0, SR)) > 0) == high_slip, end
        if end >= 1.0:
            (loud if high_slip else quiet).append(band_rms(clip(mix, end, 1.0, SR), 800, 2500))
    assert min(loud) > 2 * max(quiet)


def test_squeal_threshold_is_the_configured_slip() -> None:
    slip = lambda t: np.full((len(t), 4), 0.2)  # noqa: E731
    trace = make_trace(1.5, {"speed_mps": 10.0, "slip_ratio": slip})
    assert "tire_squeal" in clip_events(trace, 1.2, 1.0, AudioConfig(squeal_slip=0.15))
    assert "tire_squeal" not in clip_events(trace, 1.2, 1.0, AudioConfig(squeal_slip=0.25))


@pytest.mark.parametrize("kind", ["rain", "hail"])
def test_precipitation_energy_grows_with_intensity(kind: str) -> None:
    cfg = AudioConfig()
    levels = []
    for intensity in (0.0, 0.1, 0.4, 0.9):
        trace = make_trace(2.0, {"precip_intensity": intensity}, precip_type=kind)
        wave = sum(synthesize_sources(trace, cfg, np.random.default_rng(1)).values())
        levels.append(band_rms(clip(wave, 1.9, 1.0, SR), 1500, 6000))
        assert (kind in clip_events(trace, 1.9, 1.0, cfg)) == (intensity > cfg.precip_min)
    assert levels[0] == 0.0
    assert all(a < b for a, b in zip(levels, levels[1:]))


def test_wind_grows_with_airspeed_and_brightens() -> None:
    cfg = AudioConfig()
    stats = []
    for air in (10.0, 20.0, 35.0):
        trace = make_trace(2.0, {"airspeed_mps": air})
        wind = synthesize_sources(trace, cfg, np.random.default_rng(2))["wind"]
        x = clip(wind, 1.9, 1.0, SR)
        stats.append((rms(x), band_rms(x, 800, 4000) / band_rms(x, 20, 400)))
    assert stats[0][0] < stats[1][0] < stats[2][0]
    assert stats[0][1] < stats[2][1]


@pytest.mark.parametrize("surface,name", [("wet", "wet_hiss"), ("snow", "snow_crunch")])
def test_surface_sounds_need_that_surface_and_motion(surface: str, name: str) -> None:
    cfg = AudioConfig()
    code = SURFACE_CODES[surface]
    moving = make_trace(2.0, {"speed_mps": 12.0, "surface": code})
    parked = make_trace(2.0, {"speed_mps": 0.0, "surface": code})
    dry = make_trace(2.0, {"speed_mps": 12.0})
    assert name in clip_events(moving, 1.5, 1.0, cfg)
    assert name not in clip_events(parked, 1.5, 1.0, cfg)
    assert name not in clip_events(dry, 1.5, 1.0, cfg)
    wet = synthesize_sources(moving, cfg, np.random.default_rng(3))[name]
    assert rms(clip(wet, 1.5, 1.0, SR)) > 0.01


def test_thunder_arrives_after_the_sound_travel_time() -> None:
    cfg = AudioConfig()
    trace = make_trace(8.0, events=[{"type": "thunder", "time_s": 1.0, "distance_m": 1715.0}])
    arrival = 1.0 + 1715.0 / cfg.speed_of_sound_mps  # 6.0 s
    assert "thunder" not in clip_events(trace, arrival - 0.05, 1.0, cfg)
    assert "thunder" in clip_events(trace, arrival + 0.05, 1.0, cfg)
    stem = synthesize_sources(trace, cfg, np.random.default_rng(4), ("thunder",))["thunder"]
    assert not np.any(stem[: int(arrival * SR) - 1])
    assert rms(stem[int(arrival * SR) : int((arrival + 1) * SR)]) > 0.01


def test_impact_loudness_grows_with_impulse() -> None:
    cfg = AudioConfig(levels={"impact": 0.2})
    peaks = []
    for impulse in (500.0, 2000.0, 8000.0):
        trace = make_trace(2.0, events=[{"type": "crash", "time_s": 0.5, "impulse_ns": impulse}])
        stem = synthesize_sources(trace, cfg, np.random.default_rng(5))["impact"]
        peaks.append(rms(stem))
        assert clip_events(trace, 1.0, 1.0, cfg) == ["impact"]
        assert clip_events(trace, 0.45, 1.0, cfg) == []
    assert peaks[0] < peaks[1] < peaks[2]


def test_every_stem_is_nonzero_exactly_in_clips_listing_its_event() -> None:
    cfg = AudioConfig()
    trace = drive_cycle(20.0)
    stems = synthesize_sources(trace, cfg, np.random.default_rng(6))
    seen = set()
    for end in np.round(np.arange(0.2, 19.95, 0.2), 6):
        events = clip_events(trace, end, cfg.clip_s, cfg)
        seen.update(events)
        for name, stem in stems.items():
            audible = bool(np.any(clip(stem, end, cfg.clip_s, SR)))
            assert audible == (name in events), (name, end)
    assert seen == set(SOURCE_NAMES) - {"snow_crunch", "hail"}


def test_silenced_source_has_no_event() -> None:
    trace = skid_trace()
    assert "tire_squeal" in clip_events(trace, 2.4, 1.0, AudioConfig())
    muted = AudioConfig(levels={"engine": 0.4, "tire_squeal": 0.0})
    assert "tire_squeal" not in clip_events(trace, 2.4, 1.0, muted)
    assert "tire_squeal" not in synthesize_sources(trace, muted, np.random.default_rng(0))


def per_clip_events(trace, end: float, duration: float, cfg: AudioConfig) -> list[str]:
    """The events of one clip computed from scratch for that clip alone (the definition
    :class:`ClipEventIndex` must reproduce): each drive column interpolated onto the clip's
    samples, each transient's span intersected with the clip."""
    from datagen.audio.activity import drives, span_samples, transients
    from datagen.audio.clips import clip_bounds
    from datagen.audio.timeline import Timeline

    timeline = Timeline.from_trace(trace, cfg.sample_rate)
    start, stop = clip_bounds(end, duration, cfg.sample_rate)
    lo = max(start, 0)
    active = set()
    for name, drive in drives(trace, cfg).items():
        for col in drive.reshape(len(drive), -1).T:
            if np.any(timeline.at(col, lo, stop) > 0):
                active.add(name)
    for event in transients(trace, cfg):
        e_start, e_stop = span_samples(event, cfg.sample_rate)
        if max(e_start, lo) < min(e_stop, stop):
            active.add(event.name)
    return [n for n in SOURCE_NAMES if n in active and cfg.level(n) > 0]


def test_clip_event_index_names_what_each_clip_computed_alone_names() -> None:
    from datagen.audio import ClipEventIndex

    cfg = AudioConfig()
    seen = set()
    for trace in (skid_trace(), drive_cycle(6.0)):
        index = ClipEventIndex(trace, cfg)
        for end in np.round(np.arange(0.0, 5.01, 0.05), 6):  # early clips are zero-padded
            for duration in (0.3, 1.0):
                expected = per_clip_events(trace, float(end), duration, cfg)
                assert index.events(float(end), duration) == expected, (end, duration)
                seen.update(expected)
    assert {"engine", "tire_squeal", "tire_roll"} <= seen  # the comparison covered sources
