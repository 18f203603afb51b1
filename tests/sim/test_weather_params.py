"""Weather parameters, presets, derived labels and procedural sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.seeding import rng_for
from sim.vocabulary import SURFACES, TIMES_OF_DAY
from sim.vocabulary import WEATHER_FAMILIES as FAMILIES
from sim.weather import optics, presets
from sim.weather.metadata import weather_metadata
from sim.weather.params import RANGES, WeatherParams
from sim.weather.presets import PRESETS, get_preset
from sim.weather.sampling import WeatherDistribution


def test_at_least_twenty_documented_presets():
    assert len(PRESETS) >= 20
    for name in (
        "clear_noon",
        "dense_fog",
        "blizzard",
        "freezing_rain",
        "thunderstorm_night",
        "dust_storm",
    ):
        assert name in PRESETS
    for name in PRESETS:  # every preset appears in the module's docstring table
        assert f"\n{name} " in presets.__doc__


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError) as err:
        get_preset("sunny_mars")
    assert "sunny_mars" in str(err.value)
    assert "clear_noon" in str(err.value) and "blizzard" in str(err.value)


@pytest.mark.parametrize(
    "field,bad",
    [
        ("fog_density", 1.5),
        ("cloudiness", -0.1),
        ("sun_altitude_deg", 91.0),
        ("wind_speed_mps", 99.0),
    ],
)
def test_out_of_range_values_name_field_and_value(field, bad):
    with pytest.raises(ValueError, match=rf"WeatherParams\.{field} must be in .*{bad}"):
        WeatherParams(**{field: bad})


def test_bad_precip_type_lists_valid_types():
    with pytest.raises(ValueError, match="none, rain, snow, hail.*'sleet'"):
        WeatherParams(precip_type="sleet")
    with pytest.raises(ValueError, match="precip_type"):
        WeatherParams(precip_intensity=0.5)  # intensity without a type


def test_replace_rejects_unknown_fields():
    with pytest.raises(ValueError, match="no field 'fogginess'.*fog_density"):
        get_preset("clear_noon").replace(fogginess=1.0)


def test_koschmieder_visibility():
    p = WeatherParams(fog_density=0.5)
    beta = optics.extinction_coefficient(p)
    assert optics.visibility_m(p) == pytest.approx(3.912 / beta)
    assert 90 < optics.visibility_m(p) < 110  # 0.04 /m of fog
    thicker = [optics.visibility_m(WeatherParams(fog_density=d)) for d in (0.1, 0.3, 0.9)]
    assert thicker == sorted(thicker, reverse=True)


def test_metadata_carries_every_parameter_and_derived_labels():
    for name, p in PRESETS.items():
        meta = weather_metadata(p)
        assert meta["preset"] == name
        assert meta["family"] in FAMILIES
        assert meta["time_of_day"] in TIMES_OF_DAY
        assert meta["surface"] in SURFACES
        assert set(RANGES) | {"precip_type"} <= set(meta)
        assert json.loads(json.dumps(meta)) == meta


def test_derived_labels_follow_the_parameters():
    meta = {n: weather_metadata(p) for n, p in PRESETS.items()}
    assert meta["clear_noon"]["family"] == "clear" and meta["clear_noon"]["time_of_day"] == "day"
    assert meta["clear_night"]["time_of_day"] == "night"
    assert meta["clear_dawn"]["time_of_day"] == "dawn"
    assert meta["clear_dusk"]["time_of_day"] == "dusk"
    assert meta["dense_fog"]["family"] == "fog" and meta["dense_fog"]["visibility_m"] < 100
    assert meta["blizzard"]["family"] == "snow" and meta["blizzard"]["surface"] == "snow"
    assert meta["freezing_rain"]["surface"] == "ice"
    assert meta["thunderstorm_night"]["family"] == "storm"
    assert meta["dust_storm"]["family"] == "dust"
    assert meta["heavy_rain"]["surface"] == "wet"
    assert {m["family"] for m in meta.values()} == set(FAMILIES)


def test_sampling_is_deterministic_and_valid():
    dist = WeatherDistribution(time_of_day_weights={"night": 1.0, "day": 1.0})
    a = [dist.sample(rng_for(3, "weather", i)) for i in range(40)]
    b = [dist.sample(rng_for(3, "weather", i)) for i in range(40)]
    assert a == b
    tods = {weather_metadata(p)["time_of_day"] for p in a}
    assert tods <= {"night", "day"} and len(tods) == 2
    assert len({p.preset for p in a}) > 10


def test_sampling_follows_configured_weights():
    dist = WeatherDistribution(preset_weights={"dense_fog": 1.0}, jitter=0.05)
    rng = np.random.default_rng(0)
    samples = [dist.sample(rng) for _ in range(30)]
    assert all(weather_metadata(p)["family"] == "fog" for p in samples)
    assert len({p.fog_density for p in samples}) == 30  # jittered, not copies


def test_distribution_rejects_bad_configuration():
    with pytest.raises(ValueError, match="unknown preset 'nope'.*clear_noon"):
        WeatherDistribution(preset_weights={"nope": 1.0})
    with pytest.raises(ValueError, match="jitter must be in"):
        WeatherDistribution(jitter=2.0)
    with pytest.raises(ValueError, match="unknown time 'noon'.*dawn"):
        WeatherDistribution(time_of_day_weights={"noon": 1.0})
