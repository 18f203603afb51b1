"""QC's ego motion checks (issue 20, round 3): acceleration vs the speed change between frames
(``accel_vs_speed``), velocity vs heading (``velocity_vs_heading``), steer vs the road wheels'
angle from the tyres and the body's motion (``steer_vs_motion``), brake vs the wheels and the
acceleration (``pedals_vs_accel``). A real scenario passes; each disagreement is flagged with
a reason naming both sides; missing fields and single frames do not crash."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from datagen.qc import ego_motion
from datagen.qc.ego_motion import EgoMotionConfig
from datagen.qc.scenario_agreement import AgreementConfig, ScenarioAgreement
from datagen.qc.shardio import Decoded, iter_decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario (PyBullet): 4 frames at 64 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("ego_motion")
    cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=23, split="a",
                         weather="clear_noon", weather_presets=weather_presets(),
                         driver_style="cautious", samples_per_shard=8)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    found = sorted(iter_decoded(sorted(Path(root).glob("*.tar"))), key=lambda s: s.meta["frame"])
    assert len(found) == 4
    return found


def judge(samples: list[Decoded]) -> list[tuple[str, str, str]]:
    cfg = EgoMotionConfig()
    summaries = [x for x in (ego_motion.summarize(s) for s in samples) if x is not None]
    return [(k, f.check, f.reason) for k, _, f in ego_motion.judge(summaries, cfg)]


def only(samples: list[Decoded], check: str) -> tuple[str, str]:
    found = judge(samples)
    assert len(found) == 1 and found[0][1] == check, found
    return found[0][0], found[0][2]


def rotate(samples: list[Decoded], angle: float) -> list[Decoded]:
    """The same motion with the road turned by ``angle``: yaw and world velocity turn too."""
    out = copy.deepcopy(samples)
    c, s = math.cos(angle), math.sin(angle)
    for x in out:
        e = x.meta["ego"]
        vx, vy = e["velocity"][:2]
        e["velocity"][:2] = [c * vx - s * vy, s * vx + c * vy]
        e["yaw"] = e["yaw"] + angle
    return out


def test_a_clean_scenario_passes(frames: list[Decoded]) -> None:
    assert judge(frames) == []
    assert judge(rotate(frames, 1.3)) == []
    agreement = ScenarioAgreement(AgreementConfig())
    for s in frames:
        agreement.add(s)
    assert [f.check for _, _, f in agreement.findings()] == []


def test_accel_in_g_is_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    s[2].meta["ego"]["accel_mps2"] /= ego_motion.G
    key, why = only(s, "accel_vs_speed")
    assert key == s[2].key and "since frame 1" in why and "in g" in why


def test_a_wrong_speed_does_not_blame_its_neighbour(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    e = s[2].meta["ego"]
    e["speed_mps"] += 1.0
    e["velocity"][0] += 1.0 * e["velocity"][0] / math.hypot(*e["velocity"][:2])
    e["speed_mps"] = math.hypot(*e["velocity"][:2])
    assert [c for _, c, _ in judge(s)] == []


def test_velocity_in_the_body_frame_is_found(frames: list[Decoded]) -> None:
    s = rotate(frames, 1.3)
    e = s[1].meta["ego"]
    c, si = math.cos(e["yaw"]), math.sin(e["yaw"])
    vx, vy = e["velocity"][:2]
    e["velocity"][:2] = [c * vx + si * vy, -si * vx + c * vy]
    key, why = only(s, "velocity_vs_heading")
    assert key == s[1].key and "body frame" in why


def turning(frames: list[Decoded], steer: float) -> list[Decoded]:
    """Frame 3 steering ``steer`` rad, its front tyres' slip angle set to match (bicycle)."""
    s = copy.deepcopy(frames)
    cfg = EgoMotionConfig()
    e = s[3].meta["ego"]
    e["steer"] = steer
    summary = ego_motion.summarize(s[3])
    assert summary is not None
    now = ego_motion.wheel_angle(summary, cfg)
    assert now is not None
    for i in (0, 1):
        e["wheel_slip"]["angle"][i] += steer - now
    return s


def test_steer_of_the_opposite_sign_is_found(frames: list[Decoded]) -> None:
    s = turning(frames, 0.2)
    assert judge(s) == []
    s[3].meta["ego"]["steer"] = -0.2
    key, why = only(s, "steer_vs_motion")
    assert key == s[3].key and "opposite sign" in why and "-0.200" in why


def test_brake_on_free_rolling_wheels_is_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    e = s[1].meta["ego"]
    e["throttle"], e["brake"] = 0.0, e["throttle"] + 0.3
    assert judge(s) == []  # the rear wheels slow (engine braking): the brake may be on
    e["wheel_slip"]["ratio"] = [1e-4, -1e-4, 2e-4, 1e-4]  # every wheel rolling free
    key, why = only(s, "pedals_vs_accel")
    assert key == s[1].key and "no wheel" in why and "swapped" in why


def test_brake_while_speeding_up_is_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    for x in s:
        x.meta["ego"].pop("wheel_slip")
    e = s[0].meta["ego"]
    e["brake"], e["accel_mps2"] = 0.4, 1.5
    key, why = only(s, "pedals_vs_accel")
    assert key == s[0].key and "speeds up" in why


def test_missing_fields_and_one_frame_do_not_crash(frames: list[Decoded]) -> None:
    assert judge(frames[:1]) == []
    s = copy.deepcopy(frames)
    for name in ("velocity", "yaw", "wheel_slip", "accel_mps2", "steer", "brake"):
        s[0].meta["ego"].pop(name)
    s[1].meta["ego"]["velocity"] = "n/a"
    s[2].meta["ego"]["wheel_slip"] = {"angle": [None], "ratio": []}
    s[3].meta.pop("ego")
    s[3].meta.pop("time_s")
    assert judge(s) == []
    s[0].meta = "broken"
    assert judge(s) == []


@pytest.mark.parametrize("name, value", [("accel_tol", 0.0), ("heading_tol", -1.0),
                                         ("pedal_min", "x")])
def test_config_names_the_bad_field(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        EgoMotionConfig(**{name: value})
