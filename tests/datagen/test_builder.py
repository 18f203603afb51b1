"""The scenario builder: real simulated samples are valid, true, deterministic and carry the
scenario's weather, driver and vehicle choices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_captions import caption_contradictions

from datagen.builder import build_scenario_samples
from datagen.captions import caption_records
from datagen.plan import GenerateConfig, ScenarioItem, make_plan
from datagen.sample import encode_sample
from datagen.schema import validate_sample
from sim.seeding import rng_for
from sim.weather import get_preset, weather_metadata

ITEM = ScenarioItem(scenario_id=3, seed=1234, dataset_seed=7, split="train", weather="light_rain",
                    frames=3, image_size=32, driver_style="cautious", road_kind="open")  # fmt: skip


@pytest.fixture(scope="module")
def samples() -> list:
    return build_scenario_samples(ITEM)


def test_samples_validate_and_carry_the_scenario_choices(samples) -> None:
    assert [s.key for s in samples] == [f"00000003_front_{k:05d}" for k in range(3)]
    for s in samples:
        validate_sample(s)
        meta = s.meta
        assert meta["weather"] == weather_metadata(get_preset("light_rain"))
        assert meta["driver"] == {"style": "cautious", "policy_id": "ppo-cautious"}
        assert meta["road"]["kind"] == "open"
        assert meta["ego"]["gear"] >= 1 and len(meta["ego"]["wheel_slip"]["ratio"]) == 4
        assert all(e["time_s"] <= meta["time_s"] for e in meta["events"])


def test_captions_of_built_samples_are_true(samples) -> None:
    for s in samples:
        meta = {k: v for k, v in s.meta.items() if k != "captions"}
        rng = rng_for(ITEM.seed, "captions", meta["frame"], meta["camera"]["name"])
        records = caption_records(meta, rng)
        assert [c.text for c in records] == [c["text"] for c in s.meta["captions"]]
        assert caption_contradictions(records, meta) == []
        assert s.txt == records[0].text


def test_same_item_gives_byte_identical_samples(samples) -> None:
    again = build_scenario_samples(ITEM)
    assert [encode_sample(s) for s in samples] == [encode_sample(s) for s in again]
    other = build_scenario_samples(dataclasses.replace(ITEM, driver_style="aggressive"))
    assert encode_sample(other[-1]) != encode_sample(samples[-1])


def test_night_darkens_the_picture_not_the_labels(samples) -> None:
    params = get_preset("light_rain").replace(sun_altitude_deg=-30.0)  # same physics, at night
    night = build_scenario_samples(dataclasses.replace(ITEM, weather_params=params))
    for day, dark in zip(samples, night):
        assert np.array_equal(day.seg, dark.seg) and np.array_equal(day.inst, dark.inst)
        assert day.meta["objects"] == dark.meta["objects"] and day.meta["ego"] == dark.meta["ego"]
        assert dark.meta["weather"]["time_of_day"] == "night"
        assert dark.rgb.mean() < 0.6 * day.rgb.mean()


def test_plan_draws_weather_style_road_and_vehicle_per_scenario() -> None:
    presets = ("clear_noon", "heavy_rain", "light_snow")
    cfg = GenerateConfig(scenarios=24, frames=1, seed=5, weather_presets=presets)
    items = [i for shard in make_plan(cfg) for i in shard.scenarios]
    assert items == [i for shard in make_plan(cfg) for i in shard.scenarios]
    assert {i.weather for i in items} == set(presets)
    assert {i.driver_style for i in items} == {"aggressive", "normal", "cautious", "erratic"}
    assert {i.road_kind for i in items} == {"circuit", "open"}
    assert all(i.weather_params.preset == i.weather for i in items)
    assert len({i.weather_params for i in items}) == len(items)  # jittered, not the presets
    fixed = GenerateConfig(scenarios=4, frames=1, weather="heavy_rain", weather_presets=presets,
                           driver_style="erratic", vehicle_preset="van")  # fmt: skip
    for item in make_plan(fixed)[0].scenarios:
        assert item.weather_state() == get_preset("heavy_rain")
        assert (item.driver_style, item.vehicle_preset) == ("erratic", "van")


@pytest.mark.parametrize(("field", "value"), [("driver_style", "sleepy"), ("road_kind", "maze"),
                                              ("vehicle_preset", "tank")])  # fmt: skip
def test_plan_rejects_unknown_choices(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"GenerateConfig.{field} .*'{value}'"):
        GenerateConfig(scenarios=1, frames=1, **{field: value})
