"""QC on clean clips (issue 20): two checks that held a clean clip to an approximation.

- ``steer_vs_motion`` read the road-wheel angle back with the small-angle bicycle model,
  ``alpha_f + (v_y + a r) / v_x``; a sliding car (front slip angles near 1 rad, a clean clip of
  seed 9393) is far outside it. The exact direction of the front axle's motion,
  ``atan((v_y + a r) / v_x)``, puts its wheels where its steer says.
- ``road_curvature`` fitted a line through the scenario's other frames; a clip's key frames
  are 2 s (tens of metres of a 40 m mean) apart, where the curve is no line. A clip's key frame
  is judged against its own frames (``json.clip.ego.curvature_ahead``, 0.25 s apart), which
  still catches a flipped sign.

The values are those of clean clips of seed 9393 (64 px, 8 frames at 4 Hz)."""

from __future__ import annotations

import copy

from datagen.qc import ego_motion, ego_telemetry
from datagen.qc.ego_motion import EgoMotionConfig
from datagen.qc.ego_telemetry import EgoTelemetryConfig
from datagen.qc.shardio import Decoded


def _motion(velocity, yaw, yaw_rate, steer, angles) -> ego_motion.MotionSummary:
    meta = {"scenario_id": 20, "frame": 23, "time_s": 6.0, "camera": {"name": "front"},
            "ego": {"velocity": list(velocity), "yaw": yaw, "yaw_rate": yaw_rate,
                    "steer": steer, "speed_mps": 5.3856, "throttle": 0.0, "brake": 0.0,
                    "accel_mps2": -0.5,
                    "wheel_slip": {"angle": list(angles), "ratio": [-0.42] * 4}}}  # fmt: skip
    s = ego_motion.summarize(Decoded("00000020_front_c00002", "train-000001.tar", meta=meta))
    assert s is not None
    return s


SLIDE = dict(velocity=(-0.5522004281, 5.357250654), yaw=2.310646782, yaw_rate=-0.8003061112,
             steer=0.0614872314, angles=(0.8328001124, 1.00285399, 0.5173515259, 0.6144682862))


def test_a_sliding_cars_steer_fits_the_exact_front_axle_direction():
    f, cfg = _motion(**SLIDE), EgoMotionConfig()
    assert ego_motion.steer(f, cfg) is None  # the small-angle form flagged it: -0.077 rad
    delta = ego_motion.wheel_angle(f, cfg)
    assert abs(delta - SLIDE["steer"]) < cfg.steer_tol


def test_a_flipped_steer_is_still_caught_at_small_and_large_sideslip():
    cfg = EgoMotionConfig()
    grip = dict(velocity=(12.0, 0.0), yaw=0.0, yaw_rate=0.25, steer=0.12,
                angles=(0.05, 0.05, 0.03, 0.03))  # fmt: skip
    assert ego_motion.steer(_motion(**grip), cfg) is None
    found = ego_motion.steer(_motion(**{**grip, "steer": -0.12}), cfg)
    assert found is not None and "opposite sign" in found.reason
    slide = _motion(**SLIDE)
    slide.steer = -0.25  # against the read-back +0.13 of the sliding car
    assert ego_motion.steer(slide, cfg) is not None


# scenario 33 of seed 9393: the key frames' curvature ahead and each clip's own frames
KEYS = [(7, -0.008575679702), (15, -0.004499504219), (23, -0.002308872105),
        (31, -0.001902496347)]  # fmt: skip
OWN = {7: [-0.0099, -0.00992, -0.00988, -0.00977, -0.00958, -0.00932, -0.00898, -0.00858],
       15: [-0.00811, -0.00762, -0.0071, -0.00658, -0.00606, -0.00553, -0.00501, -0.0045],
       23: [-0.00402, -0.00358, -0.00322, -0.00292, -0.0027, -0.00253, -0.0024, -0.00231],
       31: [-0.00224, -0.00218, -0.00212, -0.00207, -0.00201, -0.00197, -0.00193, -0.0019]}


def _clips(with_own: bool) -> list[Decoded]:
    out = []
    for n, (frame, k) in enumerate(KEYS):
        meta = {"split": "train", "scenario_id": 33, "frame": frame, "camera": {"name": "front"},
                "ego": {"speed_mps": 10.0, "velocity": [10.0, 0.0, 0.0]},
                "road": {"curvature_ahead": k},
                "clip": {"frame_indices": list(range(frame - 7, frame + 1)), "key_frame": 7,
                         "ego": {"speed_mps": [10.0] * 8}}}  # fmt: skip
        if with_own:
            meta["clip"]["ego"]["curvature_ahead"] = OWN[frame]
        out.append(Decoded(f"00000033_front_c{n:05d}", "train-000002.tar", meta=meta))
    return out


def _judge(samples: list[Decoded]) -> list[tuple[str, str]]:
    found = ego_telemetry.judge([ego_telemetry.summarize(s) for s in samples],
                                EgoTelemetryConfig())
    return [(k, f.check) for k, _, f in found if f.check == "road_curvature"]


def test_a_clips_key_frame_is_judged_against_its_own_frames():
    assert _judge(_clips(True)) == []
    # the line through the other clips' key frames, 2 s apart, misses the last one by 0.003
    assert _judge(_clips(False)) == [("00000033_front_c00003", "road_curvature")]


def test_a_flipped_key_frame_curvature_of_a_clip_is_caught():
    for n in range(len(KEYS)):
        clips = copy.deepcopy(_clips(True))
        clips[n].meta["road"]["curvature_ahead"] *= -1
        assert _judge(clips) == [(clips[n].key, "road_curvature")], n


def _spin_key_frames(rate: float, window: tuple[float, float] | None):
    """Key frames 2 s apart of a car spinning at ``rate`` rad/s, moving slowly."""
    import math

    import numpy as np

    from datagen.qc.temporal import FrameSummary

    out = []
    for n in range(3):
        t, yaw = 2.0 * (n + 1), (rate * 2.0 * (n + 1) + math.pi) % (2 * math.pi) - math.pi
        out.append(FrameSummary(f"00000011_front_c{n:05d}", "train-000000.tar",
                                ("train", 11, "front"), 8 * n + 7, t,
                                np.array([0.5 * t, 0.0, 0.0]), 0.5, 0.0, yaw, rate, None, {},
                                None, {}, (0.4, 0.6) if window else None, window))  # fmt: skip
    return out


def test_a_clip_of_a_car_spinning_past_half_a_turn_between_key_frames_fits_its_yaw_rate():
    from datagen.qc import temporal

    cfg = temporal.TemporalConfig()
    # -1.6 rad/s over 2 s is -3.2 rad: wrapped, +3.08 rad, which read +1.54 rad/s
    assert temporal._yaw(_spin_key_frames(-1.6, (-1.7, -1.5)), cfg) == {}
    # single frames (no clip windows) keep the wrapped change: the same headings disagree
    assert temporal._yaw(_spin_key_frames(-1.6, None), cfg) != {}


# a clean single frame of seed 6161 (64 px): a rear-driven sports car on black ice in first
# gear, pedals released; engine braking locks the rear wheels, whose own slip (1945 rpm of the
# gear's 3743 at 11.88 m/s: -0.48) runs ahead of the tyre's transient slip in the json (-0.43)
LOCKING = {"vehicle": {"preset": "sports_car"},
           "ego": {"speed_mps": 11.883342, "velocity": [11.88334069, -0.005576467618, 0.0],
                   "yaw": -0.0003115517174, "rpm": 1944.563504, "gear": 1, "throttle": 0.0,
                   "brake": 0.0, "accel_mps2": -0.5832900225,
                   "wheel_slip": {"angle": [-0.0126, -0.0126, -0.0001, -0.0001],
                                  "ratio": [0.0023, 0.0024, -0.4316, -0.4325]}}}  # fmt: skip


def test_wheels_locking_faster_than_the_transient_slip_follows_pass():
    from datagen.qc.ego_state import EgoConfig, lock_lag, powertrain

    cfg = EgoConfig()
    assert powertrain(copy.deepcopy(LOCKING), cfg) is None  # the bound without the lag: 165
    ego = LOCKING["ego"]
    lag = lock_lag(ego, "sports_car", ego["speed_mps"], 1)
    assert 0.05 < lag < 0.15  # the engine's braking through first gear at 12 m/s
    # the lag shrinks with speed squared and grows with the brake pedal
    assert lock_lag(ego, "sports_car", 30.0, 1) < lag / 5
    assert lock_lag({**ego, "brake": 1.0}, "sports_car", ego["speed_mps"], 1) > 1.0


def test_faults_on_a_locking_car_still_flag():
    from datagen.qc.ego_state import EgoConfig, powertrain

    cfg = EgoConfig()
    slower = copy.deepcopy(LOCKING)
    slower["ego"]["rpm"] *= 0.75  # wheels slower than the lag allows (lower bound 0.45 x 315)
    assert powertrain(slower, cfg) is not None
    kmh = copy.deepcopy(LOCKING)
    kmh["ego"]["speed_mps"] *= 3.6
    assert powertrain(kmh, cfg) is not None


def test_a_car_braked_to_a_standstill_is_not_speeding_up():
    """A clean clip of seed 8282: the car stopped, brake held at 0.12, springs back on its
    tyres, rolling backwards at 0.8 mm/s and +1e-4 m/s^2 (below the tyre model's low speed
    the tyre is a damped spring holding the car). Speeding up forwards still flags."""
    cfg = EgoMotionConfig()
    meta = {"scenario_id": 3, "frame": 31, "time_s": 8.0, "camera": {"name": "front"},
            "ego": {"velocity": [-0.0006, -0.00055], "yaw": 0.0, "yaw_rate": 0.0, "steer": 0.0,
                    "speed_mps": 0.00081, "throttle": 0.0, "brake": 0.118,
                    "accel_mps2": 0.000115,
                    "wheel_slip": {"angle": [-0.07, -0.08, 0.05, 0.02],
                                   "ratio": [-0.1, -0.01, 0.01, 0.09]}}}  # fmt: skip
    f = ego_motion.summarize(Decoded("00000003_front_c00003", "train-000000.tar", meta=meta))
    assert ego_motion.pedals({}, f, cfg) is None
    f.velocity = (0.0006, 0.00055)  # creeping forwards instead: the spring does not explain it
    assert ego_motion.pedals({}, f, cfg) is not None


def test_the_lag_opens_only_for_a_locking_wheel():
    """Below the tyre's force peak the tyre holds the wheel to the road: a gripping car with
    the pedals released gets no lag, so an rpm of another gearbox (here 15 % low) still flags."""
    from datagen.qc.ego_state import EgoConfig, powertrain

    gripping = copy.deepcopy(LOCKING)
    gripping["ego"]["wheel_slip"]["ratio"] = [0.002, 0.002, -0.008, -0.008]
    per_mps = 3743 / 11.883342  # the gear's rpm per m/s (comment above LOCKING)
    gripping["ego"]["rpm"] = 0.85 * per_mps * gripping["ego"]["speed_mps"]
    assert powertrain(gripping, EgoConfig()) is not None
    gripping["ego"]["rpm"] = per_mps * gripping["ego"]["speed_mps"]
    assert powertrain(gripping, EgoConfig()) is None
