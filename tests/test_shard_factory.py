"""The test shard factory (``tests/shard_factory.py``) makes what the project itself accepts:
samples the schema validates, shards its writer wrote with validation on, read back by
``datagen.reader.open_shards`` and by the ``webdataset`` library."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shard_factory import (
    LabelCycle,
    labelled_sample,
    make_sample,
    write_shards,
)

from datagen.reader import open_shards
from datagen.sample import REQUIRED_FILES, SampleError, encode_sample
from datagen.schema import REQUIRED_JSON, sample_problems, validate_sample
from datagen.shards import iter_shard
from sim import vocabulary

EVERY_LABEL = LabelCycle(weathers=vocabulary.WEATHER_FAMILIES, times=vocabulary.TIMES_OF_DAY,
                         styles=vocabulary.DRIVER_STYLES)  # fmt: skip


def _labels_of(meta: dict) -> tuple[str, str, str]:
    return meta["weather"]["family"], meta["weather"]["time_of_day"], meta["driver"]["style"]


@pytest.mark.parametrize("seed", range(6))
def test_realistic_samples_pass_the_schema(seed: int) -> None:
    sample = make_sample(seed, n_objects=seed % 4, frame=seed)
    assert sample_problems(sample) == []
    assert sample_problems(encode_sample(sample)) == []  # and as the files a shard holds
    assert set(REQUIRED_JSON) <= set(sample.meta)


def test_labelled_samples_pass_the_schema_for_every_label_and_option() -> None:
    n = len(vocabulary.WEATHER_FAMILIES) * len(vocabulary.TIMES_OF_DAY)
    scenarios = range(0, n * len(vocabulary.DRIVER_STYLES), 5)
    seen = set()
    for scenario in scenarios:
        s = labelled_sample(scenario, 2, seed=3, size=(24, 40), labels=EVERY_LABEL,
                            duration_s=0.5, sample_rate=8000)  # fmt: skip
        assert sample_problems(s) == [] and sample_problems(encode_sample(s)) == []
        assert _labels_of(s.meta) == EVERY_LABEL(scenario)
        assert s.rgb.shape == (24, 40, 3) and s.audio.shape == (4000,)
        seen.update(_labels_of(s.meta))
    assert set(vocabulary.WEATHER_FAMILIES) <= seen and set(vocabulary.DRIVER_STYLES) <= seen


def test_labelled_samples_carry_their_options() -> None:
    def one_caption(weather: str, time_of_day: str, style: str) -> list[dict]:
        return [{"text": f"{weather}/{time_of_day}/{style}", "family": "plain"}]

    s = labelled_sample(9, 4, seed=1, size=32, captions=one_caption, split="val")
    validate_sample(s)
    assert s.key == "00000009_front_00004" and s.txt == "rain/day/cautious"
    assert s.meta["captions"] == [{"text": s.txt, "family": "plain"}]
    assert (s.meta["split"], s.meta["scenario_id"], s.meta["frame"]) == ("val", 9, 4)
    assert (s.meta["camera"]["width"], s.meta["camera"]["height"]) == (32, 32)
    assert s.meta["audio"] == {"sample_rate": 16000, "duration_s": 1.0, "events": []}
    again = labelled_sample(9, 4, seed=1, size=32, captions=one_caption, split="val")
    assert encode_sample(again) == encode_sample(s)  # deterministic
    other = labelled_sample(9, 4, seed=2, size=32, captions=one_caption, split="val")
    assert not np.array_equal(other.rgb, s.rgb)


def test_written_shards_read_back_through_the_project_reader_and_webdataset(tmp_path) -> None:
    import webdataset as wds

    made = write_shards(tmp_path, "val", range(5), frames=2, n_shards=2, seed=4, size=(16, 24))
    assert [p.name for p in made.paths] == ["val-000000.tar", "val-000001.tar"]
    assert (made.n_scenarios, made.frames) == (5, 2)
    expected = {
        s.key: s
        for scenario in range(5)
        for s in (labelled_sample(scenario, f, 4, size=(16, 24), split="val") for f in range(2))
    }
    # the project's own validating reader: every sample valid, scenarios dealt to shards in turn
    keys = [[s.key for s in iter_shard(p)] for p in made.paths]
    assert keys == [[k for k in expected if int(k[:8]) % 2 == i] for i in (0, 1)]

    got = list(open_shards(made.urls))
    assert sorted(s["__key__"] for s in got) == sorted(expected)
    for s in got:
        want = expected[s["__key__"]]
        np.testing.assert_array_equal(s["rgb.png"], want.rgb)
        np.testing.assert_array_equal(s["depth.npy.gz"], want.depth)
        np.testing.assert_array_equal(s["seg.png"], want.seg)
        np.testing.assert_array_equal(s["inst.npy.gz"], want.inst)
        assert np.abs(s["audio.flac"] - want.audio).max() <= 0.5 / 32767 + 1e-7
        assert s["txt"] == want.txt and s["json"]["split"] == "val"
        assert _labels_of(s["json"]) == _labels_of(want.meta)

    raw = [s for s in wds.WebDataset(made.urls, shardshuffle=False, empty_check=False)]
    assert sorted(s["__key__"] for s in raw) == sorted(expected)
    for s in raw:
        assert set(REQUIRED_FILES) | {"rgb.png"} <= set(s)
        meta = json.loads(s["json"])
        assert meta["captions"][0]["text"] == s["txt"].decode("utf-8")
        validate_sample({k: v for k, v in s.items() if k == "__key__" or isinstance(v, bytes)})


def test_the_factory_writes_with_validation_on(tmp_path) -> None:
    """A sample the schema refuses stops the write, and no shard is published."""

    def blank(weather: str, time_of_day: str, style: str) -> list[dict]:
        return [{"text": "  ", "family": "template"}]

    with pytest.raises(SampleError, match="txt: empty caption"):
        write_shards(tmp_path, "train", range(2), frames=1, n_shards=1, captions=blank)
    assert list(tmp_path.iterdir()) == []
