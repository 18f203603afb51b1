"""QC's object tracks (datagen/qc/object_tracks.py): each instance id keeps its class, box size
and (standing still) its place across a scenario's frames, and every pixel seg.png gives an
instance class carries an instance id. A real scenario passes; each disagreement is flagged
with the ids and what differs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from datagen.qc import object_tracks
from datagen.qc.object_tracks import ObjectTracksConfig
from datagen.qc.scenario_agreement import AgreementConfig, ScenarioAgreement
from datagen.qc.shardio import Decoded, iter_decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario (PyBullet, weather, audio, captions): 4 frames at 64 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("tracks")
    cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=23, split="a",
                         weather="clear_noon", weather_presets=weather_presets(),
                         driver_style="cautious", samples_per_shard=8)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    found = list(iter_decoded(sorted(Path(root).glob("*.tar"))))
    assert len(found) == 4
    return found


def judged(samples: list[Decoded]) -> list[tuple[str, str, str]]:
    """(key, check, reason) of the object checks' findings."""
    summaries = [f for s in samples if (f := object_tracks.summarize(s)) is not None]
    return [(k, f.check, f.reason) for k, _, f in object_tracks.judge(summaries,
                                                                       ObjectTracksConfig())]


def obj(frame: Decoded, oid: int) -> dict:
    return next(o for o in frame.meta["objects"] if o["instance_id"] == oid)


def test_a_clean_scenario_passes(frames: list[Decoded]) -> None:
    assert judged(frames) == []


def test_a_class_shifted_in_one_frame_is_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    obj(s[2], 100)["class"] = "vegetation"
    ((key, check, why),) = judged(s)
    assert (key, check) == (s[2].key, "object_identity")
    assert "id 100: class" in why and "3 frames" in why


def test_length_and_width_swapped_is_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    box = obj(s[1], 100)["bbox3d_world"]
    box["size"] = [box["size"][1], box["size"][0], box["size"][2]]
    assert [(k, c) for k, c, _ in judged(s)] == [(s[1].key, "object_identity")]
    assert "id 100: size" in judged(s)[0][2]


def test_ids_renumbered_in_one_frame_are_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    ids = sorted(o["instance_id"] for o in s[1].meta["objects"])
    new = {old: k + 1 for k, old in enumerate(ids)}
    for o in s[1].meta["objects"]:
        o["instance_id"] = new[o["instance_id"]]
    ((key, check, why),) = judged(s)
    assert (key, check) == (s[1].key, "object_identity")
    assert " was " in why  # a still object found under its old id in the other frames


def test_objects_culled_from_the_instance_pass_are_found(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    s[3].inst = np.where(s[3].inst == 100, 0, s[3].inst).astype(s[3].inst.dtype)
    s[3].meta["objects"] = [o for o in s[3].meta["objects"] if o["instance_id"] != 100]
    ((key, check, why),) = judged(s)
    assert (key, check) == (s[3].key, "untracked_objects")
    assert "building" in why and "instance id 0" in why


def test_the_checks_run_inside_scenario_agreement(frames: list[Decoded]) -> None:
    s = copy.deepcopy(frames)
    obj(s[2], 120)["class"] = "pedestrian"
    agreement = ScenarioAgreement(AgreementConfig())
    for f in s:
        agreement.add(f)
    assert (s[2].key, "object_identity") in [(k, f.check) for k, _, f in agreement.findings()]


def test_edge_cases_do_not_crash(frames: list[Decoded]) -> None:
    one = judged(copy.deepcopy(frames[:1]))
    assert one == []
    bare = Decoded("k", "x-000000.tar", meta={"scenario_id": 0, "objects": [
        {"instance_id": 3}, {"class": "vehicle"}, "junk"]})  # fmt: skip
    assert object_tracks.summarize(Decoded("k", "x-000000.tar", meta={"frame": 0})) is None
    f = object_tracks.summarize(bare)
    assert f is not None and f.objects == {} and f.untracked == {}
    two = copy.deepcopy(frames[:2])
    obj(two[1], 100)["class"] = "vegetation"
    assert judged(two) == []  # two frames that disagree: no majority, nothing flagged


@pytest.mark.parametrize("field, value", [("size_tol", 0), ("still_m", -1),
                                          ("min_disagreements", 0), ("max_untracked_px", -1)])
def test_config_names_the_bad_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field}.*{value}"):
        ObjectTracksConfig(**{field: value})
