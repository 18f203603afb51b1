"""Shards: round trips, byte-identical rewrites, atomic publication, named errors."""

from __future__ import annotations

import numpy as np
import pytest
from shard_factory import make_sample

from datagen.sample import canonical_json, encode_sample
from datagen.schema import SampleError
from datagen.shards import (
    ShardError,
    ShardWriter,
    iter_shard,
    shard_name,
    verify_shard,
    write_shard,
)


def samples(n: int = 3, seed: int = 0) -> list:
    return [make_sample(seed + i, n_objects=i % 3, frame=i) for i in range(n)]


def test_round_trip(tmp_path) -> None:
    written = samples(4)
    info = write_shard(tmp_path / "train-000000.tar", written)
    assert (info.name, info.count) == ("train-000000.tar", 4)
    assert info.bytes == (tmp_path / info.name).stat().st_size
    back = list(iter_shard(tmp_path / info.name))
    assert [s.key for s in back] == [s.key for s in written]
    for a, b in zip(written, back):
        for name in ("rgb", "depth", "seg", "inst"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.max(np.abs(a.audio - b.audio)) <= 0.5 / 32767 + 1e-7
        assert a.txt == b.txt
        assert b.meta == canonical_json(a.meta)  # floats kept to 10 significant digits
        assert b.meta["ego"]["speed_mps"] == pytest.approx(a.meta["ego"]["speed_mps"], rel=1e-9)
    raw = list(iter_shard(tmp_path / info.name, decode=False))
    assert raw == [encode_sample(s) for s in written]


def test_same_samples_give_identical_bytes(tmp_path) -> None:
    a = write_shard(tmp_path / "a" / "val-000003.tar", samples())
    b = write_shard(tmp_path / "b" / "val-000003.tar", samples())
    assert a == b
    assert (tmp_path / "a" / a.name).read_bytes() == (tmp_path / "b" / b.name).read_bytes()
    c = write_shard(tmp_path / "c" / "val-000003.tar", samples(seed=1))
    assert c.sha256 != a.sha256


def test_interrupted_write_leaves_no_shard(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="worker died"):
        with ShardWriter(tmp_path, "train", 7) as writer:
            writer.write(make_sample(0))
            raise RuntimeError("worker died")
    assert list(tmp_path.iterdir()) == []
    broken = make_sample(1)
    broken.meta["camera"]["height"] = 5
    with pytest.raises(SampleError, match="json.camera"):
        write_shard(tmp_path / "train-000007.tar", [make_sample(0), broken])
    assert list(tmp_path.iterdir()) == []


def test_broken_sample_in_shard_is_named_on_read(tmp_path) -> None:
    bad = make_sample(1, frame=1)
    bad.meta["objects"] = []
    good = make_sample(0, frame=0)
    path = tmp_path / write_shard(tmp_path / "test-000000.tar", [good, bad], validate=False).name
    reader = iter_shard(path)
    assert next(reader).key == good.key
    with pytest.raises(SampleError) as info:
        next(reader)
    assert (info.value.key, info.value.field) == (bad.key, "inst.npy.gz")
    assert len(list(iter_shard(path, validate=False))) == 2


def test_duplicate_keys_and_bad_names(tmp_path) -> None:
    with pytest.raises(SampleError, match="duplicate key"):
        write_shard(tmp_path / "train-000000.tar", [make_sample(0), make_sample(0)])
    with pytest.raises(ValueError, match="split must match"):
        shard_name("Train-x", 0)
    with pytest.raises(ValueError, match="NAME-NNNNNN.tar"):
        write_shard(tmp_path / "train.tar", [])


def test_verify_shard(tmp_path) -> None:
    info = write_shard(tmp_path / "train-000001.tar", samples(2))
    path = tmp_path / info.name
    assert verify_shard(path, info.sha256, 2)
    assert not verify_shard(path, info.sha256, 3)
    assert not verify_shard(path, "0" * 64, 2)
    assert not verify_shard(tmp_path / "train-000002.tar", info.sha256, 2)
    path.write_bytes(path.read_bytes()[:1000])
    assert not verify_shard(path, info.sha256, 2)


def test_truncated_shard_raises_shard_error(tmp_path) -> None:
    info = write_shard(tmp_path / "train-000000.tar", samples(2))
    path = tmp_path / info.name
    path.write_bytes(path.read_bytes()[:700])
    with pytest.raises((ShardError, SampleError)):
        list(iter_shard(path))


def test_webdataset_reads_our_shards(tmp_path) -> None:
    import webdataset as wds

    written = samples(3)
    info = write_shard(tmp_path / "train-000000.tar", written)
    dataset = wds.WebDataset(str(tmp_path / info.name), shardshuffle=False, empty_check=False)
    got = [s for s in dataset if "json" in s]
    assert [s["__key__"] for s in got] == [s.key for s in written]
    assert all(s["txt"].decode() == w.txt for s, w in zip(got, written))
