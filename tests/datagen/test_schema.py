"""Sample encoding round trips and the validator names the key and field of each problem."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shard_factory import make_sample

from datagen.sample import decode_sample, encode_sample
from datagen.schema import REQUIRED_JSON, SampleError, sample_problems, validate_sample

KEY = "00000007_front_00003"


def test_encode_decode_round_trip() -> None:
    s = make_sample(1)
    files = encode_sample(s)
    assert set(files) == {"__key__", "rgb.png", "depth.npy.gz", "seg.png", "inst.npy.gz",
                          "audio.flac", "txt", "json"}  # fmt: skip
    back = decode_sample(files)
    assert back.key == s.key and back.txt == s.txt
    for name in ("rgb", "depth", "seg", "inst"):
        a, b = getattr(s, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert np.max(np.abs(back.audio - s.audio)) <= 0.5 / 32767 + 1e-7
    assert back.meta == json.loads(json.dumps(back.meta))
    assert back.meta["objects"][0]["bbox2d"] == s.meta["objects"][0]["bbox2d"]
    assert encode_sample(back) == files  # canonical: re-encoding gives the same bytes


def test_encoding_is_deterministic() -> None:
    assert encode_sample(make_sample(2)) == encode_sample(make_sample(2))
    assert encode_sample(make_sample(2)) != encode_sample(make_sample(3))


def test_valid_samples_pass() -> None:
    for seed in range(10):
        s = make_sample(seed, n_objects=seed % 4)
        assert sample_problems(s) == []
        assert validate_sample(encode_sample(s)).key == s.key


def problem_of(sample_or_files) -> SampleError:
    with pytest.raises(SampleError) as info:
        validate_sample(sample_or_files)
    return info.value


def test_missing_file_is_named() -> None:
    files = encode_sample(make_sample(1))
    del files["audio.flac"]
    assert str(problem_of(files)) == f"{KEY}: audio.flac: missing file"


@pytest.mark.parametrize("field", sorted(REQUIRED_JSON))
def test_missing_json_field_is_named(field: str) -> None:
    s = make_sample(1)
    del s.meta[field]
    assert str(problem_of(s)) == f"{KEY}: json.{field}: missing field"


def test_missing_nested_field_and_bad_enum() -> None:
    s = make_sample(1)
    del s.meta["ego"]["damage"]["front"]
    assert problem_of(s).field == "json.ego.damage.front"
    s = make_sample(1)
    s.meta["weather"]["family"] = "hail"
    err = problem_of(s)
    assert err.field == "json.weather.family" and "'hail'" in err.problem


def test_nan_in_json_is_named() -> None:
    s = make_sample(1)
    s.meta["ego"]["rpm"] = float("nan")
    assert problem_of(s).field == "json.ego.rpm"
    files = encode_sample(make_sample(1))
    files["json"] = files["json"].replace(b'"time_s":0.6', b'"time_s":NaN')
    assert problem_of(files).field == "json.time_s"


def test_wrong_dtype_and_disagreeing_sizes() -> None:
    s = make_sample(1)
    s.depth = np.round(s.depth * 1000).astype(np.uint16)  # the old millimetres: refused
    err = problem_of(s)
    assert err.field == "depth.npy.gz" and "float32" in err.problem
    s = make_sample(1)
    s.inst = s.inst.astype(np.uint32)
    assert problem_of(s).field == "inst.npy.gz"
    s = make_sample(1)
    s.seg = s.seg[:-1]
    assert problem_of(s).field == "seg.png"
    with pytest.raises(SampleError, match="depth.npy.gz: expected 2-d float32"):
        encode_sample(make_sample(1).__class__(**{**make_sample(1).__dict__,
                                                  "depth": np.zeros((2, 2))}))  # fmt: skip


def test_camera_size_mismatch() -> None:
    s = make_sample(1)
    s.meta["camera"]["width"] = 64
    assert str(problem_of(s)).startswith(f"{KEY}: json.camera: width x height 64x24")


def test_bbox_outside_image_and_not_tight() -> None:
    s = make_sample(1, n_objects=1)
    s.meta["objects"][0]["bbox2d"] = [-3, 2, 7, 6]
    assert problem_of(s).field == "json.objects[0].bbox2d"
    s = make_sample(1, n_objects=1)
    s.meta["objects"][0]["bbox2d"][2] += 1
    assert "tight" in problem_of(s).problem


def test_instance_ids_must_match_objects() -> None:
    s = make_sample(1, n_objects=2)
    s.meta["objects"].pop()
    err = problem_of(s)
    assert err.field == "inst.npy.gz" and "[101]" in err.problem
    s = make_sample(1, n_objects=1)
    s.meta["objects"][0]["visible_px"] += 1
    assert problem_of(s).field == "json.objects[0].visible_px"


def test_audio_duration_mismatch_and_range() -> None:
    s = make_sample(1)
    s.meta["audio"]["duration_s"] = 1.0
    err = problem_of(s)
    assert err.field == "audio.flac" and "16000" in err.problem
    s = make_sample(1)
    s.audio[5] = np.nan
    assert problem_of(s).field == "audio.flac"


def test_key_and_caption_consistency() -> None:
    s = make_sample(1)
    s.key = "00000008_front_00003"
    assert problem_of(s).field == "__key__"
    s = make_sample(1)
    s.txt = "something else"
    assert problem_of(s).field == "txt"


def test_sample_problems_lists_everything() -> None:
    s = make_sample(1, n_objects=2)
    s.meta["audio"]["duration_s"] = 2.0
    s.txt = "other"
    assert {e.field for e in sample_problems(s)} == {"audio.flac", "txt"}


def test_corrupt_files_are_named() -> None:
    for name in ("inst.npy.gz", "depth.npy.gz", "seg.png"):
        files = encode_sample(make_sample(1))
        files[name] = files[name][:20]
        err = problem_of(files)
        assert err.key == KEY and err.field == name and "cannot decode" in err.problem


def test_depth_must_be_metres_up_to_the_far_plane() -> None:
    s = make_sample(1)
    s.depth[0, 0] = 200.0  # exactly at the far plane: a valid hit, stored as is
    assert sample_problems(s) == []
    for bad, words in ((201.0, "beyond the far plane"), (-0.5, "negative"),
                       (np.nan, "NaN"), (65535.0, "wrong unit")):  # fmt: skip
        s = make_sample(1)
        s.depth[3, 4] = bad
        err = problem_of(s)
        assert err.field == "depth.npy.gz" and words in err.problem


def test_label_encodings_are_stated_in_the_json() -> None:
    s = make_sample(1)
    s.meta["camera"]["depth"]["unit"] = "mm"
    assert problem_of(s).field == "json.camera.depth"
    s = make_sample(1)
    s.meta["camera"]["far"] = 300.0  # max_m must follow the far plane
    assert problem_of(s).field == "json.camera.depth"
    s = make_sample(1)
    del s.meta["camera"]["instances"]
    assert problem_of(s).field == "json.camera.instances"


def test_instance_ids_outside_uint16_are_refused() -> None:
    s = make_sample(1, n_objects=1)
    s.meta["objects"][0]["instance_id"] = 70000
    assert problem_of(s).field == "json.objects[0].instance_id"
    s = make_sample(1, n_objects=1)
    s.inst = s.inst.astype(np.int64)
    s.inst[0, 0] = 70000
    with pytest.raises(SampleError, match="inst.npy.gz: expected 2-d uint16"):
        encode_sample(s)


def test_old_png_labels_are_refused_by_name() -> None:
    files = encode_sample(make_sample(1))
    files["depth.png"] = files.pop("depth.npy.gz")
    err = problem_of(files)
    assert err.field == "depth.npy.gz" and "regenerate" in err.problem


def test_label_files_are_gzipped_npy_with_fixed_bytes() -> None:
    import gzip
    import io

    files = encode_sample(make_sample(1))
    for name, dtype in (("depth.npy.gz", "<f4"), ("inst.npy.gz", "<u2")):
        assert files[name][:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        arr = np.load(io.BytesIO(gzip.decompress(files[name])), allow_pickle=False)
        assert arr.dtype.str == dtype and arr.shape == (24, 32)
