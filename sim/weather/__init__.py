"""Procedural weather and time of day: parameters, presets, sampling, image effects,
road surface state, wind and sound inputs."""

from sim.weather.effects import EgoMotion, apply_weather
from sim.weather.lighting import LightingSpec, lighting_for
from sim.weather.metadata import family, surface, time_of_day, weather_metadata
from sim.weather.optics import visibility_m
from sim.weather.params import PRECIP_TYPES, WeatherParams
from sim.weather.presets import PRESETS, get_preset, preset_names
from sim.weather.sampling import WeatherDistribution
from sim.weather.sound import sound_inputs, thunder_events
from sim.weather.surface import SurfaceMap
from sim.weather.wind import WindField

__all__ = [
    "PRECIP_TYPES",
    "PRESETS",
    "EgoMotion",
    "LightingSpec",
    "SurfaceMap",
    "WeatherDistribution",
    "WeatherParams",
    "WindField",
    "apply_weather",
    "family",
    "get_preset",
    "lighting_for",
    "preset_names",
    "sound_inputs",
    "surface",
    "thunder_events",
    "time_of_day",
    "visibility_m",
    "weather_metadata",
]
