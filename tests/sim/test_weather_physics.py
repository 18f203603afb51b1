"""Weather for physics and sound: surface map, wind field, thunder, stopping distances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.seeding import rng_for
from sim.weather.params import WeatherParams
from sim.weather.presets import get_preset
from sim.weather.sound import SPEED_OF_SOUND_MPS, sound_inputs, thunder_events
from sim.weather.surface import SurfaceMap
from sim.weather.wind import WindField


def test_surface_map_base_follows_weather():
    length = 500.0
    for name, expected in (
        ("clear_noon", "dry"),
        ("heavy_rain", "wet"),
        ("heavy_snow", "snow"),
        ("freezing_rain", "ice"),
    ):
        m = SurfaceMap(get_preset(name), length, rng_for(1, "surface"))
        assert m.base == expected
        assert m.fraction(expected) > 0.5


def test_patch_coverage_matches_parameters():
    params = WeatherParams(puddles=0.3, ice=0.1)
    m = SurfaceMap(params, 5000.0, rng_for(2, "surface"))
    assert m.base == "wet"  # puddles >= 0.3 make the road count as wet
    dry_base = SurfaceMap(params.replace(puddles=0.2), 5000.0, rng_for(2, "surface"))
    assert dry_base.fraction("wet") == pytest.approx(0.2 * 0.9, abs=0.06)  # ice wins overlap
    assert dry_base.fraction("ice") == pytest.approx(0.1, abs=0.04)
    assert dry_base.fraction("dry") == pytest.approx(1 - 0.1 - 0.2 * 0.9, abs=0.07)


def test_surface_map_is_deterministic_and_uses_projection():
    params = get_preset("black_ice_night")
    a = SurfaceMap(params, 300.0, rng_for(4, "surface"), project=lambda x, y: x, closed=True)
    b = SurfaceMap(params, 300.0, rng_for(4, "surface"), project=lambda x, y: x, closed=True)
    assert a.patches == b.patches
    for s in np.linspace(0, 299, 50):
        assert a(float(s), 3.0) == a.surface_at(float(s)) == a.surface_at(float(s) + 300.0)
    with pytest.raises(ValueError, match="needs a project"):
        SurfaceMap(params, 300.0, rng_for(4, "surface")).surface_at((1.0, 2.0))
    with pytest.raises(ValueError, match="road_length must be > 0"):
        SurfaceMap(params, 0.0, rng_for(4, "surface"))


def test_wind_gusts_are_smooth_deterministic_and_centred():
    params = get_preset("gale")
    a, b = WindField(params, rng_for(5, "wind")), WindField(params, rng_for(5, "wind"))
    t = np.arange(0.0, 600.0, 0.05)
    speeds = np.array([a.speed(x) for x in t])
    assert np.array_equal(speeds, [b.speed(x) for x in t])
    assert speeds.mean() == pytest.approx(params.wind_speed_mps, rel=0.15)
    assert speeds.std() > 0.15 * params.wind_speed_mps  # gusty
    assert np.abs(np.diff(speeds)).max() < 1.0  # no jumps within 50 ms
    vx, vy = a.at(12.0)
    assert math.hypot(vx, vy) == pytest.approx(a.speed(12.0))
    calm = WindField(get_preset("clear_noon"), rng_for(5, "wind"))
    assert calm(3.0) == (0.0, 0.0, 0.0)


def test_thunder_follows_lightning_rate_and_sound_delay():
    rate = get_preset("thunderstorm_night")
    events = thunder_events(rate, 600.0, rng_for(6, "thunder"))
    per_min = len(events) / 10.0
    assert per_min == pytest.approx(rate.lightning_rate_per_min, rel=0.35)
    assert all(0 <= e["time_s"] < 600 and e["type"] == "thunder" for e in events)
    assert all(300 <= e["distance_m"] <= 12000 for e in events)
    assert [e["time_s"] for e in events] == sorted(e["time_s"] for e in events)
    assert thunder_events(get_preset("clear_noon"), 600.0, rng_for(6, "thunder")) == []
    assert 12000 / SPEED_OF_SOUND_MPS > 30  # distant strikes arrive tens of seconds later


def test_sound_inputs_carry_precipitation_wind_and_surface():
    s = sound_inputs(get_preset("heavy_rain"))
    assert s["precip_type"] == "rain" and s["precip_intensity"] == 0.9
    assert s["surface"] == "wet" and s["wind_speed_mps"] == 8.0


@pytest.mark.slow
def test_stopping_distance_order_dry_wet_snow_ice():
    vehicle = pytest.importorskip("sim.vehicle")
    from sim.vehicle.report import flat_world

    presets = ("clear_noon", "heavy_rain", "heavy_snow", "freezing_rain")
    maps = [
        SurfaceMap(get_preset(n), 400.0, rng_for(7, "surface", i), project=lambda x, y: x)
        for i, n in enumerate(presets)
    ]

    def surface_at(x: float, y: float) -> str:  # one lateral band per weather
        return maps[int(np.clip(y // 50.0, 0, len(maps) - 1))](x, y)

    with flat_world() as world:
        fleet = vehicle.VehicleFleet(world, surface_at=surface_at)
        cars = [
            fleet.add(vehicle.preset("sedan"), (0.0, 25.0 + 50.0 * i, 0.0), 0.0, 12.0)
            for i in range(len(presets))
        ]
        for car in cars:
            car.set_controls(0.0, 0.0, 1.0)
        stopped: dict[int, float] = {}
        for _ in range(60 * 20):
            world.step(4)
            for i, car in enumerate(cars):
                st = car.state()
                if i not in stopped and st.speed_mps < 0.05:
                    stopped[i] = float(st.position[0])
            if len(stopped) == len(cars):
                break
    distances = [stopped.get(i, math.inf) for i in range(len(cars))]
    assert distances == sorted(distances) and len(set(distances)) == 4, distances
