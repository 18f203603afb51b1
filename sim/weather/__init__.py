"""Procedural weather and time of day: parameters, presets, sampling, image effects,
road surface state, wind and sound inputs."""

from __future__ import annotations

from sim.lazy import lazy_exports

_EXPORTS = {
    "EgoMotion": "sim.weather.effects",
    "apply_weather": "sim.weather.effects",
    "LightingSpec": "sim.weather.lighting",
    "lighting_for": "sim.weather.lighting",
    "family": "sim.weather.metadata",
    "surface": "sim.weather.metadata",
    "time_of_day": "sim.weather.metadata",
    "weather_metadata": "sim.weather.metadata",
    "visibility_m": "sim.weather.optics",
    "PRECIP_TYPES": "sim.weather.params",
    "WeatherParams": "sim.weather.params",
    "PRESETS": "sim.weather.presets",
    "get_preset": "sim.weather.presets",
    "preset_names": "sim.weather.presets",
    "WeatherDistribution": "sim.weather.sampling",
    "sound_inputs": "sim.weather.sound",
    "thunder_events": "sim.weather.sound",
    "SurfaceMap": "sim.weather.surface",
    "WindField": "sim.weather.wind",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
