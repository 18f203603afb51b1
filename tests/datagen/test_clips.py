"""Clip samples (generate --clip-frames T): end to end through the command, deterministic,
validated (T consistent everywhere), read back by open_shards, webdataset and tarfile, and
captions whose every statement follows from the json (docs/internals.md "Clip samples")."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from datagen.captions import caption_records
from datagen.captions.clip import behaviours, clip_facts, gear_changes
from datagen.captions.lexicon import forms
from datagen.generate import shard_fingerprint
from datagen.plan import GenerateConfig, make_plan
from datagen.qc.caption_check import caption_problem
from datagen.reader import open_shards
from datagen.sample import FRAMES_FILE, SampleError, decode_sample, encode_sample
from datagen.schema import sample_problems, validate_sample
from datagen.shards import iter_files
from edge.cli import main

T = 4
CLIP_ARGS = ["--scenarios", "2", "--frames", "2", "--image-size", "32", "--workers", "0",
             "--seed", "4", "--no-progress", "--no-card", "--clip-frames", str(T),
             "--clip-rate", "4", "--driver-style", "erratic"]  # fmt: skip


def _generate(out: Path) -> Path:
    assert main(["generate", "--out", str(out), *CLIP_ARGS]) == 0
    return out


def _shas(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.glob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def clip_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("clips") / "data")


@pytest.fixture(scope="module")
def samples(clip_set: Path) -> list:
    return [decode_sample(f) for shard in sorted(clip_set.glob("*.tar"))
            for f in iter_files(shard)]  # fmt: skip


def test_clip_generation_end_to_end(clip_set: Path, samples: list) -> None:
    manifest = json.loads((clip_set / "manifest.json").read_text())
    assert manifest["config"]["clip_frames"] == T and manifest["config"]["clip_rate"] == 4.0
    assert [s.key for s in samples] == [f"{sc:08d}_front_c{k:05d}" for sc in (0, 1)
                                        for k in (0, 1)]  # fmt: skip
    for s in samples:
        validate_sample(s)
        clip = s.meta["clip"]
        assert s.frames.shape == (T, 32, 32, 3) and s.frames.dtype == np.uint8
        assert np.array_equal(s.frames[-1], s.rgb)
        assert clip["frames"] == T and clip["rate_hz"] == 4.0
        assert clip["t1"] == s.meta["time_s"] and clip["duration_s"] == T / 4.0
        assert clip["t0"] == pytest.approx(clip["index"] * T / 4.0)  # clips tile the scenario
        assert s.audio.size == round(clip["duration_s"] * 16000)  # the whole window's audio
        assert all(len(v) == T for v in clip["ego"].values())
        assert (
            len(clip["T_world_cam"]) == T
            and clip["T_world_cam"][-1] == s.meta["camera"]["T_world_cam"]
        )
        assert all(clip["t0"] < e["time_s"] <= clip["t1"] for e in s.meta["events"])
        assert not np.array_equal(s.frames[0], s.frames[-1])  # the car moves


def test_clip_runs_are_byte_identical(clip_set: Path, tmp_path: Path) -> None:
    again = _generate(tmp_path / "again")
    assert _shas(again) == _shas(clip_set)


def test_clip_captions_are_true_statement_by_statement(samples: list) -> None:
    for s in samples:
        kinds = {st.kind for c in _records(s) for st in c.statements}
        assert "behaviour" in kinds  # every clip caption says how the car is driven
        for cap in s.meta["captions"]:
            assert caption_problem(cap["text"], cap["family"], s.meta) is None, cap
        assert s.txt == s.meta["captions"][0]["text"]


def _records(s) -> list:
    from sim.seeding import rng_for

    meta = {k: v for k, v in s.meta.items() if k != "captions"}
    rng = rng_for(s.meta["seed"], "captions", "clip", s.meta["clip"]["index"], "front")
    records = caption_records(meta, rng)
    assert [c.text for c in records] == [c["text"] for c in s.meta["captions"]]
    return records


def _clip_meta(samples: list, **ego: list) -> dict:
    meta = copy.deepcopy(samples[0].meta)
    meta["clip"]["ego"].update(ego)
    return meta


def test_behaviours_follow_the_window(samples: list) -> None:
    still = [10.0] * T
    calm = _clip_meta(samples, speed_mps=still, accel_mps2=[0.0] * T,
                      lateral_offset_m=[0.0] * T)  # fmt: skip
    calm["clip"]["lead_distance_m"] = [None] * T
    calm["road"]["speed_limit_mps"] = 20.0
    assert behaviours(calm) == ["steady"]
    brake = copy.deepcopy(calm)
    brake["clip"]["ego"]["accel_mps2"] = [0.0, -5.0, -1.0, 0.0]
    assert behaviours(brake) == ["hard_braking"]
    launch = copy.deepcopy(calm)  # 0.6 g forwards is not steady driving
    launch["clip"]["ego"]["accel_mps2"] = [6.1, 6.2, 3.3, 2.0]
    assert behaviours(launch) == ["hard_acceleration"]
    weave = copy.deepcopy(calm)
    weave["clip"]["ego"]["lateral_offset_m"] = [0.0, 0.4, -0.1, 0.3]
    assert behaviours(weave) == ["weaving"]
    close = copy.deepcopy(calm)
    close["clip"]["lead_distance_m"] = [None, 14.0, 11.0, 9.0]  # 0.9 s at 10 m/s
    assert behaviours(close) == ["closing_up"]
    fast = copy.deepcopy(calm)
    fast["clip"]["ego"]["speed_mps"] = [20.0, 21.0, 23.0, 22.5]
    assert behaviours(fast) == ["speeding"]
    shifted = copy.deepcopy(calm)
    shifted["events"] = [{"type": "gear_shift", "time_s": calm["clip"]["t1"], "from": 3, "to": 2}]
    assert gear_changes(shifted) == ["down"]
    assert clip_facts(shifted) == [("behaviour", "steady"), ("gear_change", "down")]
    assert clip_facts(samples[0].meta | {"clip": None}) == []  # single frames: none


def test_the_checker_refuses_a_false_clip_statement(samples: list) -> None:
    meta = copy.deepcopy(samples[0].meta)
    meta["clip"]["ego"]["accel_mps2"] = [0.0] * T
    meta["clip"]["ego"]["lateral_offset_m"] = [0.0] * T
    meta["clip"]["ego"]["speed_mps"] = [5.0] * T
    meta["clip"]["lead_distance_m"] = [None] * T
    meta["events"] = []
    wx = "WX=" + forms("weather", meta["weather"]["family"])["tag"]
    assert caption_problem(f"[dashcam] {wx} | BHV=steady", "dashcam_log", meta) is None
    text = f"[dashcam] {wx} | BHV=hard braking"
    problem = caption_problem(text, "dashcam_log", meta)
    assert problem is not None and "hard braking" in problem
    said = caption_problem("[dashcam] BHV=steady", "dashcam_log", meta)
    assert said is None
    assert caption_problem("[dashcam] GEAR=upshift", "dashcam_log", meta) is not None


def _files(samples: list, i: int = 0) -> dict:
    return encode_sample(samples[i])


def _problem(sample_or_files) -> str:
    problems = sample_problems(sample_or_files)
    assert problems, "expected the schema to refuse this clip"
    return str(problems[0])


def test_schema_refuses_inconsistent_clips(samples: list) -> None:
    s = samples[0]
    assert sample_problems(s) == []
    short = replace(s, frames=s.frames[1:])
    assert "frames, json.clip.frames says 4" in _problem(short)
    meta = copy.deepcopy(s.meta)
    meta["clip"]["frames"] = T + 1
    assert "json.clip" in _problem(replace(s, meta=meta))
    meta = copy.deepcopy(s.meta)
    meta["clip"]["ego"]["speed_mps"] = meta["clip"]["ego"]["speed_mps"][:-1]
    assert "json.clip.ego.speed_mps" in _problem(replace(s, meta=meta))
    meta = copy.deepcopy(s.meta)
    meta["clip"]["t0"] -= 0.1
    assert "duration_s" in _problem(replace(s, meta=meta))
    meta = copy.deepcopy(s.meta)
    meta["audio"]["duration_s"] = 1.0 if meta["audio"]["duration_s"] != 1.0 else 2.0
    assert "audio" in _problem(replace(s, meta=meta))
    other = s.frames.copy()
    other[-1] ^= 1
    assert "key frame differs from rgb" in _problem(replace(s, frames=other))
    assert "missing file" in _problem(replace(s, frames=None))
    meta = {k: v for k, v in s.meta.items() if k != "clip"}
    assert "names a clip" in _problem(replace(s, meta=meta))
    files = _files(samples)
    files["__key__"] = s.key.replace("_c", "_")
    assert "has a clip" in _problem(files)
    files = _files(samples)
    bad = np.zeros((T, 32, 32), np.uint8)  # no colour axis
    from datagen.sample import FRAMES_DTYPE, encode_npy

    files[FRAMES_FILE] = encode_npy(bad, FRAMES_DTYPE)
    with pytest.raises(SampleError, match="expected 4-d uint8"):
        decode_sample(files)


def test_readers_round_trip(clip_set: Path, samples: list) -> None:
    import webdataset as wds

    shard = sorted(clip_set.glob("*.tar"))[0]
    by_key = {s.key: s for s in samples}
    read = list(open_shards(shard))
    assert read and all(r["frames.npy.gz"].dtype == np.uint8 for r in read)
    for r in read:
        s = by_key[r["__key__"]]
        assert np.array_equal(r["frames.npy.gz"], s.frames)
        assert np.array_equal(r["rgb.png"], s.frames[-1])
        assert r["json"]["clip"]["frames"] == T
    plain = list(wds.WebDataset(str(shard), shardshuffle=False, empty_check=False).decode())
    for r in plain:  # webdataset's own decoders: gunzip, then numpy
        assert np.array_equal(r["frames.npy.gz"], by_key[r["__key__"]].frames)
    with tarfile.open(shard) as tar:
        names = tar.getnames()
        member = next(n for n in names if n.endswith(".frames.npy.gz"))
        data = tar.extractfile(member).read()
    arr = np.load(io.BytesIO(gzip.decompress(data)), allow_pickle=False)
    assert np.array_equal(arr, by_key[member.split(".")[0]].frames)


def test_single_frame_config_and_plan_are_unchanged() -> None:
    base = dict(scenarios=2, frames=3, weather_presets=("clear_noon",), weather="clear_noon")
    cfg = GenerateConfig(**base)
    assert "clip_frames" not in cfg.to_json() and "clip_rate" not in cfg.to_json()
    plan = make_plan(cfg)[0]
    assert "clip_frames" not in json.dumps(shard_fingerprint(plan))
    clips = GenerateConfig(**base, clip_frames=8)
    assert clips.to_json()["clip_frames"] == 8 and clips.frames_per_scenario == 24
    assert shard_fingerprint(make_plan(clips)[0]) != shard_fingerprint(plan)
    for bad, match in (({"clip_frames": 1}, "clip_frames"), ({"clip_frames": 8, "clip_rate": 7.0},
                       "clip_rate"), ({"clip_rate": 2.0}, "needs clip_frames")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            GenerateConfig(**base, **bad)


def test_single_frame_samples_have_no_clip(tmp_path: Path) -> None:
    from shard_factory import make_sample

    s = make_sample(1)
    files = encode_sample(s)
    assert FRAMES_FILE not in files and "clip" not in s.meta and s.frames is None
    assert decode_sample(files).frames is None and sample_problems(files) == []


def test_overlapping_clips_share_frames(tmp_path: Path) -> None:
    """--clip-stride S < T: clip k holds frames kS .. kS+T-1, shared frames are the same
    pixels in every clip holding them, the scenario simulates T + (F-1)S frames, the
    manifest records the stride, and the samples are valid clips."""
    args = [a for a in CLIP_ARGS]
    args[args.index("--frames") + 1] = "3"
    out = tmp_path / "overlap"
    assert main(["generate", "--out", str(out), *args, "--clip-stride", "2"]) == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["clip_stride"] == 2
    got = [decode_sample(f) for shard in sorted(out.glob("*.tar")) for f in iter_files(shard)]
    assert len(got) == 2 * 3
    by_frame: dict = {}
    for s in got:
        validate_sample(s)
        k, idx = s.meta["clip"]["index"], s.meta["clip"]["frame_indices"]
        assert idx == list(range(2 * k, 2 * k + T))
        for i, frame in zip(idx, s.frames):
            by_frame.setdefault((s.meta["scenario_id"], i), []).append(frame)
    shared = [v for v in by_frame.values() if len(v) > 1]
    assert shared and all(np.array_equal(v[0], w) for v in shared for w in v[1:])
    assert max(i for _, i in by_frame) == T + 2 * 2 - 1
    cfg = GenerateConfig(scenarios=1, frames=3, clip_frames=T, clip_stride=2)
    assert cfg.frames_per_scenario == T + 2 * 2
    tiling = GenerateConfig(scenarios=1, frames=3, clip_frames=T, weather="clear_noon",
                            weather_presets=("clear_noon",))  # fmt: skip
    assert "clip_stride" not in tiling.to_json() and tiling.frames_per_scenario == 3 * T
    assert "clip_stride" not in json.dumps(shard_fingerprint(make_plan(tiling)[0]))
    for bad in ({"clip_frames": T, "clip_stride": T + 1}, {"clip_stride": 2},
                {"clip_frames": T, "clip_stride": -1}):  # fmt: skip
        with pytest.raises(ValueError, match="clip_stride"):
            GenerateConfig(scenarios=1, frames=3, **bad)
