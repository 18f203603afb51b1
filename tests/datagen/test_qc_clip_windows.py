"""QC on clip samples: the movement between two clips' key frames (seconds apart) is judged
against the speeds and yaw rates over the clips' windows, not the key frame's alone; a car
the json says is off the road is not flagged for being off it."""

from __future__ import annotations

import numpy as np

from datagen.qc import rules
from datagen.qc.access import window_range, window_speeds
from datagen.qc.audio_check import AudioConfig, sound_events
from datagen.qc.temporal import FrameSummary, TemporalConfig, _motion, _yaw


def _frame(i: int, t: float, x: float, speed: float, yaw: float, yaw_rate: float,
           window: dict | None = None) -> FrameSummary:  # fmt: skip
    meta = {"clip": {"ego": window}} if window else {}
    return FrameSummary(f"k{i}", "s", ("train", 0, "front"), i, t, np.array([x, 0.0, 0.0]),
                        speed, 0.0, yaw, yaw_rate, None, {}, None, {}, window_speeds(meta),
                        window_range(meta, "yaw_rate"))  # fmt: skip


def test_window_range_reads_the_clip_and_refuses_junk() -> None:
    meta = {"clip": {"ego": {"speed_mps": [3.0, -5.0, 1.0], "yaw_rate": [0.1, -0.2]}}}
    assert window_speeds(meta) == (1.0, 5.0)
    assert window_range(meta, "yaw_rate") == (-0.2, 0.1)
    for bad in ({}, {"clip": 3}, {"clip": {"ego": "x"}}, {"clip": {"ego": {"speed_mps": 2}}},
                {"clip": {"ego": {"speed_mps": ["a"]}}},
                {"clip": {"ego": {"speed_mps": [1.0, float("nan")]}}}):  # fmt: skip
        assert window_speeds(bad) is None


def test_a_car_braking_to_a_stop_between_clip_key_frames_is_not_flagged() -> None:
    cfg = TemporalConfig()
    # key frames 2 s apart: 11 m at a mean 5.5 m/s while the car braked from 10 to 0.1 m/s
    window = {"speed_mps": [10.0, 8.0, 5.0, 2.0, 0.1], "yaw_rate": [0.0] * 5}
    frames = [_frame(0, 2.0, 0.0, 10.0, 0.0, 0.0, {"speed_mps": [10.0] * 5, "yaw_rate": [0.0] * 5}),
              _frame(1, 4.0, 11.0, 0.1, 0.0, 0.0, window),
              _frame(2, 6.0, 11.2, 0.1, 0.0, 0.0, {"speed_mps": [0.1] * 5, "yaw_rate": [0.0] * 5})]
    assert _motion(frames, cfg) == {}
    # the same key frames as single frames (no windows): the stop is a contradiction
    bare = [_frame(f.frame, f.time_s, f.position[0], f.speed, 0.0, 0.0) for f in frames]
    assert _motion(bare, cfg)
    # a key frame whose movement lies outside its window's speeds is still flagged
    frames[1] = _frame(1, 4.0, 40.0, 0.1, 0.0, 0.0, window)
    assert 1 in _motion(frames, cfg) or 0 in _motion(frames, cfg)


def test_yaw_between_key_frames_follows_the_window() -> None:
    cfg = TemporalConfig()
    spin = {"speed_mps": [5.0] * 4, "yaw_rate": [0.0, 0.8, 1.0, 0.0]}
    calm = {"speed_mps": [5.0] * 4, "yaw_rate": [0.0] * 4}
    frames = [_frame(0, 2.0, 0.0, 5.0, 0.0, 0.0, calm), _frame(1, 4.0, 10.0, 5.0, 1.0, 0.0, spin),
              _frame(2, 6.0, 20.0, 5.0, 1.0, 0.0, calm)]
    assert _yaw(frames, cfg) == {}
    bare = [_frame(f.frame, f.time_s, f.position[0], 5.0, f.yaw, 0.0) for f in frames]
    assert _yaw(bare, cfg)


def test_tyre_sounds_of_a_clip_follow_its_fastest_frame() -> None:
    meta = {"weather": {}, "ego": {"speed_mps": 0.05}, "audio": {"events": ["tire_roll"]}}
    assert sound_events(meta, AudioConfig())  # a single frame at rest: no tyre sound
    meta["clip"] = {"ego": {"speed_mps": [4.0, 1.0, 0.05]}}
    assert sound_events(meta, AudioConfig()) == []


def test_ego_pose_believes_an_off_road_json() -> None:
    cfg = rules.RuleConfig()
    far = cfg.max_lateral_offset_m + 3

    class S:
        meta = {"road": {"lateral_offset_m": far}, "ego": {"off_road": False}}

    assert rules.ego_pose(S, cfg) is not None
    S.meta["ego"]["off_road"] = True
    assert rules.ego_pose(S, cfg) is None


def test_a_sliding_car_may_move_across_its_heading() -> None:
    from datagen.qc.ego_motion import EgoMotionConfig, MotionSummary, heading

    def summary(max_slip: float) -> MotionSummary:
        return MotionSummary("k", "s", ("train", "0", "front"), 3, 1.0, 8.0, (0.0, 8.0), 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.01, None, max_slip)  # fmt: skip

    cfg = EgoMotionConfig()
    assert heading(summary(0.05), cfg) is not None  # gripping tyres: 90 deg is a contradiction
    assert heading(summary(0.9), cfg) is None  # the tyres slide: the course may differ


def test_a_braking_car_pushed_by_a_crash_or_sliding_is_not_called_swapped() -> None:
    from datagen.qc.ego_motion import EgoMotionConfig, MotionSummary, pedals

    def summary(crash: bool, max_slip: float) -> MotionSummary:
        # braking at 0.3 while the speed rises 1.5 m/s^2 (its wheels slip as braked wheels do)
        return MotionSummary("k", "s", ("train", "0", "front"), 3, 1.0, 1.8, (1.8, 0.0), 0.0,
                             0.0, 1.5, 0.0, 0.0, 0.3, 0.01, -0.3, max_slip, crash)  # fmt: skip

    cfg = EgoMotionConfig()
    assert pedals({}, summary(False, 0.05), cfg) is not None
    assert pedals({}, summary(True, 0.05), cfg) is None  # rear-ended while braking
    assert pedals({}, summary(False, 0.9), cfg) is None  # sliding
