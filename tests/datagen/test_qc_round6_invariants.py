"""QC round 6 (issue 20): tyre slips vs the body's motion (``tyre_slip``), json identities
(``object_distance``, ``rig_pose``), no sky below the horizon (``sky_below_horizon``), no
dark spot in the sky (``sky_spot``), the weather vs its preset (``weather_vs_preset``) and
silence before the scenario starts (``audio_before_start``). The frames of one real
generated scenario pass every check; each check flags a frame broken here by hand in the
way its invariant forbids."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from datagen.qc import (
    audio_preroll,
    ground_horizon,
    pose_identities,
    rules,
    sky_spots,
    tyre_kinematics,
    weather_preset,
)
from datagen.qc.shardio import Decoded, iter_decoded

OURS = ("tyre_slip", "object_distance", "rig_pose", "sky_below_horizon", "sky_spot",
        "weather_vs_preset", "audio_before_start")


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario (PyBullet, weather, audio, captions): 4 clear-noon frames at 64 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("round6")
    cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=29, split="r",
                         weather="clear_noon", weather_presets=weather_presets(),
                         driver_style="normal", samples_per_shard=8)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    found = list(iter_decoded(sorted(Path(root).glob("*.tar"))))
    assert len(found) == 4
    return found


def ours(s: Decoded) -> list[str]:
    return [f.check for f in rules.check(s, rules.RuleConfig()) if f.check in OURS]


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    for s in frames:
        assert ours(s) == [], s.key


def moving_ego(speed: float = 10.0, yaw: float = 0.4, rate: float = 0.15,
               vy: float = 0.3) -> dict:  # fmt: skip
    """A sedan's json ego whose rear slip angles follow its motion exactly (steady state);
    ``vy`` the body-frame sideways speed."""
    b, half_track = tyre_kinematics.rear_axle_m("sedan")
    vel = [speed * math.cos(yaw) - vy * math.sin(yaw), speed * math.sin(yaw) + vy * math.cos(yaw),
           0.0]  # fmt: skip
    rear = [-math.atan((vy - b * rate) / (speed - side * rate * half_track)) for side in (1, -1)]
    return {"vehicle": {"preset": "sedan"},
            "ego": {"velocity": vel, "yaw": yaw, "yaw_rate": rate,
                    "wheel_slip": {"angle": [0.02, 0.02, *rear], "ratio": [0.05] * 4}}}


def test_tyre_slip_follows_the_rear_axle() -> None:
    cfg = tyre_kinematics.TyreKinematicsConfig()
    meta = moving_ego()
    assert tyre_kinematics.check(meta, cfg) == []
    degrees = copy.deepcopy(meta)
    degrees["ego"]["wheel_slip"]["angle"] = [math.degrees(a) for a in
                                             meta["ego"]["wheel_slip"]["angle"]]  # fmt: skip
    assert [f.check for f in tyre_kinematics.check(degrees, cfg)] == ["tyre_slip"]
    cornering = moving_ego(rate=0.6, vy=-0.5)  # a rear slip of 0.14 rad
    assert tyre_kinematics.check(cornering, cfg) == []
    flipped = copy.deepcopy(cornering)  # another sign convention
    flipped["ego"]["wheel_slip"]["angle"] = [-a for a in cornering["ego"]["wheel_slip"]["angle"]]
    assert [f.check for f in tyre_kinematics.check(flipped, cfg)] == ["tyre_slip"]
    percent = copy.deepcopy(meta)
    percent["ego"]["wheel_slip"]["ratio"] = [100 * k for k in meta["ego"]["wheel_slip"]["ratio"]]
    found = tyre_kinematics.check(percent, cfg)
    assert [f.check for f in found] == ["tyre_slip"] and "ratio" in found[0].reason
    slow = copy.deepcopy(degrees)  # below min_speed_mps the rear kinematics are not judged
    slow["ego"]["velocity"] = [0.5, 0.0, 0.0]
    slow["ego"]["wheel_slip"]["angle"] = [0.0, 0.0, 0.3, 0.3]
    assert tyre_kinematics.check(slow, cfg) == []


def test_tyre_slip_is_not_judged_where_the_relaxation_lag_is_long() -> None:
    """Stated angles 0.15 rad behind the kinematic ones: the lag of a car turning in at
    3.2 m/s, reversing or spinning (clean clips); the same gap at 10 m/s and 0.6 rad/s flags."""
    cfg = tyre_kinematics.TyreKinematicsConfig()

    def lagging(**kw: float) -> dict:
        meta = moving_ego(**kw)
        meta["ego"]["wheel_slip"]["angle"][2:] = [a - 0.15 for a in
                                                  meta["ego"]["wheel_slip"]["angle"][2:]]
        return meta

    assert tyre_kinematics.check(lagging(speed=3.2, rate=0.3, vy=0.0), cfg) == []
    assert tyre_kinematics.check(lagging(speed=-6.5, rate=-1.2, vy=-2.3), cfg) == []
    assert tyre_kinematics.check(lagging(speed=8.9, rate=4.25, vy=-2.6), cfg) == []
    assert [f.check for f in tyre_kinematics.check(lagging(rate=0.6, vy=-0.5), cfg)] == [
        "tyre_slip"]


def test_tyre_slip_on_real_frame_in_degrees(frames: list[Decoded]) -> None:
    s = next((f for f in frames if f.meta["ego"]["speed_mps"] > 3.0
              and max(abs(a) for a in f.meta["ego"]["wheel_slip"]["angle"][2:]) > 1e-3),
             None)  # fmt: skip
    if s is None:
        pytest.skip("no moving frame with a measurable rear slip in this scenario")
    broken = copy.deepcopy(s)
    slip = broken.meta["ego"]["wheel_slip"]
    slip["angle"] = [math.degrees(a) for a in slip["angle"]]
    assert "tyre_slip" in ours(broken)


def test_object_distance_identity(frames: list[Decoded]) -> None:
    s = next(f for f in frames if f.meta["objects"])
    cfg = pose_identities.PoseIdentitiesConfig()
    assert pose_identities.object_distance(s.meta, cfg) is None
    feet = copy.deepcopy(s.meta)
    for o in feet["objects"]:
        o["distance_m"] *= 3.28084
    assert pose_identities.object_distance(feet, cfg).check == "object_distance"
    moved = copy.deepcopy(s.meta)  # the centre no longer the middle of its corners
    moved["objects"][0]["bbox3d_cam"]["center"][1] += 0.5
    assert pose_identities.object_distance(moved, cfg) is not None


def test_rig_pose_identities(frames: list[Decoded]) -> None:
    s = frames[2]
    cfg = pose_identities.PoseIdentitiesConfig()
    assert pose_identities.rig_pose(s.meta, cfg) is None
    mount = copy.deepcopy(s.meta)  # the camera pose written as its mount pose
    mount["camera"]["T_world_cam"] = list(mount["rig"]["cameras"][0]["T_ego_cam"])
    assert pose_identities.rig_pose(mount, cfg).check == "rig_pose"
    stale = copy.deepcopy(s.meta)  # the ego's position of another tick
    stale["ego"]["position"][0] += 1.2
    assert "position" in pose_identities.rig_pose(stale, cfg).reason
    compass = copy.deepcopy(s.meta)  # yaw as a compass heading
    compass["ego"]["yaw"] = math.pi / 2 - compass["ego"]["yaw"]
    assert "heading" in pose_identities.rig_pose(compass, cfg).reason
    fx = copy.deepcopy(s.meta)
    fx["camera"]["fx"] *= 0.33
    assert "fx" in pose_identities.rig_pose(fx, cfg).reason


def test_sky_below_horizon(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames[1])
    cfg = ground_horizon.GroundHorizonConfig()
    assert ground_horizon.check(s, cfg) is None
    from datagen.qc.geometry import camera_matrices

    K, T, cam = camera_matrices(s.meta)
    rng = ground_horizon.ground_range(K, T, s.seg.shape)
    culled = np.isfinite(rng) & (rng > 60.0)  # a label pass with a 60 m far plane
    assert culled.any()
    s.seg = np.where(culled, 0, s.seg).astype(s.seg.dtype)
    found = ground_horizon.check(s, cfg)
    assert found is not None and found.value >= int(
        (culled & (rng < 0.9 * cam["far"])).sum())  # fmt: skip
    flipped = copy.deepcopy(frames[1])  # labels upside down against the pose
    flipped.seg, flipped.depth_m = flipped.seg[::-1].copy(), flipped.depth_m[::-1].copy()
    assert ground_horizon.check(flipped, cfg) is not None


def test_sky_spot(frames: list[Decoded]) -> None:
    cfg = sky_spots.SkySpotsConfig()
    s = max(frames, key=lambda f: int((f.seg == 0).sum()))
    assert sky_spots.check(s, cfg) is None
    sky = np.argwhere(s.seg == 0)
    assert len(sky) > 200, "the clear-noon frame should show sky"
    h, w = s.seg.shape
    inner = [(y, x) for y, x in sky if 4 <= y < h - 4 and 4 <= x < w - 4
             and (s.seg[y - 4:y + 5, x - 4:x + 5] == 0).all()]  # fmt: skip
    cy, cx = inner[len(inner) // 2]
    yy, xx = np.mgrid[0:h, 0:w]
    gain = 1.0 - 0.3 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.3**2))
    dusty = copy.deepcopy(s)  # a speck of dust on the cover glass, 30 % darker
    dusty.rgb = np.clip(np.round(s.rgb * gain[..., None]), 0, 255).astype(np.uint8)
    found = sky_spots.check(dusty, cfg)
    assert found is not None and found.check == "sky_spot"
    assert abs(int(found.reason.split("row ")[1].split(",")[0]) - cy) <= 1
    bright = copy.deepcopy(s)  # a snowflake: lighter than the sky, allowed
    bright.rgb = np.clip(np.round(s.rgb * (2.0 - gain)[..., None]), 0, 255).astype(np.uint8)
    assert sky_spots.check(bright, cfg) is None


def test_weather_vs_preset(frames: list[Decoded]) -> None:
    from sim.weather.sampling import WeatherDistribution

    cfg = weather_preset.WeatherPresetConfig()
    meta = copy.deepcopy(frames[0].meta)
    assert meta["weather"]["preset"] == "clear_noon"
    assert weather_preset.check(meta, cfg) is None
    drawn = copy.deepcopy(meta)  # the generator's own draws from the preset pass
    rng = np.random.default_rng(5)
    for _ in range(200):
        w = WeatherDistribution(preset_weights={"clear_noon": 1.0}).sample(rng)
        drawn["weather"].update({k: getattr(w, k) for k in w.continuous()})
        assert weather_preset.check(drawn, cfg) is None
    kmh = copy.deepcopy(meta)  # wind in km/h
    kmh["weather"]["wind_speed_mps"] = max(kmh["weather"]["wind_speed_mps"], 4.0) * 3.6
    assert weather_preset.check(kmh, cfg).check == "weather_vs_preset"
    inverted = copy.deepcopy(meta)  # cloudiness as the clear-sky fraction
    inverted["weather"]["cloudiness"] = 1.0 - inverted["weather"]["cloudiness"]
    assert "cloudiness" in weather_preset.check(inverted, cfg).reason
    foggy = copy.deepcopy(meta)  # fog where the preset has none
    foggy["weather"]["fog_density"] = 0.05
    assert "absent" in weather_preset.check(foggy, cfg).reason
    unknown = copy.deepcopy(kmh)  # an unknown preset is not judged
    unknown["weather"]["preset"] = "martian_dawn"
    assert weather_preset.check(unknown, cfg) is None


def test_audio_before_start(frames: list[Decoded]) -> None:
    cfg = audio_preroll.AudioPrerollConfig()
    s = frames[0]
    n = audio_preroll.preroll_samples(s.meta, s.sample_rate, len(s.audio))
    assert n > 0.1 * s.sample_rate, "the first frame's window starts before t = 0"
    edge = int(cfg.margin_s * s.sample_rate)  # the window's edge is rounded
    assert not np.abs(s.audio[: n - edge]).any(), "clean: digital silence before t = 0"
    assert audio_preroll.check(s, cfg) is None
    hiss = copy.deepcopy(s)  # a preamp's noise floor at -60 dBFS under the whole clip
    hiss.audio = s.audio + np.random.default_rng(1).normal(0, 1e-3, s.audio.shape).astype(
        s.audio.dtype)  # fmt: skip
    assert audio_preroll.check(hiss, cfg).check == "audio_before_start"
    tail = copy.deepcopy(s)  # 50 ms of another clip at the start (a buffer not flushed)
    tail.audio = s.audio.copy()
    k = int(0.05 * s.sample_rate)
    tail.audio[:k] = frames[3].audio[-k:]
    assert audio_preroll.check(tail, cfg) is not None
    late = copy.deepcopy(hiss)  # a frame whose whole window lies after t = 0 is not judged
    late.meta["time_s"] = late.meta["audio"]["duration_s"] + 0.5
    assert audio_preroll.check(late, cfg) is None


def test_configs_reject_bad_values() -> None:
    with pytest.raises(ValueError):
        ground_horizon.GroundHorizonConfig(range_fraction=1.5)
    with pytest.raises(ValueError):
        sky_spots.SkySpotsConfig(centre_sigma=3.0, surround_sigma=1.0)
    with pytest.raises(ValueError):
        tyre_kinematics.TyreKinematicsConfig(angle_tol_rad=-1.0)
    with pytest.raises(ValueError):
        pose_identities.PoseIdentitiesConfig(pose_tol=0.0)
    with pytest.raises(ValueError):
        weather_preset.WeatherPresetConfig(max_sd=0.0)
    with pytest.raises(ValueError):
        audio_preroll.AudioPrerollConfig(max_level=0.0)
