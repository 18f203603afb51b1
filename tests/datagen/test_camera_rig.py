"""Camera rigs: ``generate --cameras``, one physics step shared by all cameras, labels per
camera, ``json.rig`` with each camera's extrinsics, and its validation."""

from __future__ import annotations

import copy
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from datagen.builder import build_scenario_samples
from datagen.plan import GenerateConfig, make_plan
from datagen.schema import sample_problems
from edge.cli import main
from sim.camera import CAMERA_PRESETS, SURROUND_RIG, camera_name, preset_camera, rig_metadata

RIG = ("front", "rear_left", "rear")


def _samples(cameras: tuple[str, ...], frames: int = 2) -> list:
    cfg = GenerateConfig(scenarios=1, frames=frames, seed=3, image_size=48, cameras=cameras,
                         weather="clear_noon", weather_presets=("clear_noon",))  # fmt: skip
    return build_scenario_samples(make_plan(cfg)[0].scenarios[0])


def test_every_camera_of_the_rig_sees_the_same_instant_with_its_own_labels() -> None:
    samples = _samples(RIG)
    names = [camera_name(c) for c in RIG]
    assert [s.key for s in samples] == [f"00000000_{n}_{f:05d}" for f in range(2)
                                        for n in sorted(names)]  # fmt: skip
    for s in samples:
        assert sample_problems(s) == []
        assert [c["name"] for c in s.meta["rig"]["cameras"]] == names
    for frame in range(2):
        group = [s for s in samples if s.meta["frame"] == frame]
        for field in ("time_s", "ego"):  # one physics state per frame
            assert all(s.meta[field] == group[0].meta[field] for s in group)
        assert all(s.meta["rig"] == group[0].meta["rig"] for s in group)
        poses = {s.meta["camera"]["name"]: s.meta["camera"]["T_world_cam"] for s in group}
        assert len({tuple(p) for p in poses.values()}) == len(RIG)  # each camera its own pose
    # the front camera of the rig renders exactly what a front-only run renders
    alone = {s.key: s for s in _samples(("front",))}
    for s in samples:
        if s.meta["camera"]["name"] == "front":
            ref = alone[s.key]
            assert np.array_equal(s.rgb, ref.rgb) and np.array_equal(s.inst, ref.inst)
            assert s.meta["objects"] == ref.meta["objects"]


def test_rig_extrinsics_compose_to_each_camera_pose() -> None:
    cams = tuple(preset_camera(name, 64, 48) for name in SURROUND_RIG)
    T_world_ego = np.eye(4)
    T_world_ego[:3, 3] = (10.0, -4.0, 0.0)
    rig = rig_metadata(cams, T_world_ego)
    assert rig["frame"] == "ego" and [c["name"] for c in rig["cameras"]] == [
        "front", "frontleft", "frontright", "rearleft", "rearright", "rear"]
    for cam, row in zip(cams, rig["cameras"]):
        from sim.camera import camera_pose

        T = np.reshape(rig["T_world_ego"], (4, 4)) @ np.reshape(row["T_ego_cam"], (4, 4))
        np.testing.assert_allclose(T, camera_pose(cam, T_world_ego), atol=1e-12)
        assert (row["fx"], row["cx"], row["cy"]) == (cam.intrinsics()[0], 32.0, 23.0)
    assert set(SURROUND_RIG) <= set(CAMERA_PRESETS)


def test_schema_refuses_a_rig_that_contradicts_the_camera_pose() -> None:
    sample = _samples(("front", "rear"), frames=1)[0]
    assert sample_problems(sample) == []
    broken = copy.deepcopy(sample)
    broken.meta["rig"]["cameras"][0]["T_ego_cam"][3] += 0.5  # front camera moved 0.5 m
    broken.meta["rig"]["cameras"][1]["T_ego_cam"][3] += 0.5
    assert any("json.rig" in str(p) for p in sample_problems(broken))
    missing = copy.deepcopy(sample)
    missing.meta["rig"]["cameras"] = [c for c in missing.meta["rig"]["cameras"]
                                      if c["name"] != sample.meta["camera"]["name"]]  # fmt: skip
    assert any("not in the rig" in str(p) for p in sample_problems(missing))
    del missing.meta["rig"]  # a sample without a rig (older shards) stays valid
    assert sample_problems(missing) == []


@pytest.mark.parametrize("cameras,renderer,match", [
    (("front", "nope"), "tiny", "GenerateConfig.cameras"),
    (("front", "front"), "tiny", "must not repeat"),
    ((), "tiny", "at least one camera"),
    (("front",), "vulkan", "GenerateConfig.renderer"),
])  # fmt: skip
def test_config_refuses_bad_rigs_and_renderers(cameras, renderer, match) -> None:
    with pytest.raises(ValueError, match=match):
        GenerateConfig(scenarios=1, frames=1, cameras=cameras, renderer=renderer)


def test_shards_hold_whole_scenarios_of_every_camera() -> None:
    cfg = GenerateConfig(scenarios=4, frames=2, samples_per_shard=8, cameras=SURROUND_RIG[:2],
                         weather="clear_noon")
    assert [len(s.scenarios) for s in make_plan(cfg)] == [2, 2]  # 2 x 2 frames x 2 cameras


@pytest.mark.slow
def test_generate_command_writes_a_surround_rig(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rig"
    code = main(["generate", "--out", str(out), "--scenarios", "1", "--frames", "1",
                 "--image-size", "32", "--cameras", ",".join(SURROUND_RIG), "--workers", "0",
                 "--no-progress", "--no-card", "--weather", "clear_noon"])  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["cameras"] == list(SURROUND_RIG)
    with tarfile.open(out / "train-000000.tar") as tar:
        keys = sorted({m.name.split(".")[0] for m in tar.getmembers()})
        meta = json.loads(tar.extractfile("00000000_rearleft_00000.json").read())
    assert keys == sorted(f"00000000_{camera_name(c)}_00000" for c in SURROUND_RIG)
    assert len(meta["rig"]["cameras"]) == 6 and meta["camera"]["renderer"] == "tiny"
    bad = main(["generate", "--out", str(tmp_path / "x"), "--scenarios", "1", "--frames", "1",
                "--cameras", "front,sky", "--workers", "0"])  # fmt: skip
    assert bad == 2 and "GenerateConfig.cameras" in capsys.readouterr().err
