"""Derived weather labels and the ``json.weather`` dict of a sample (docs/internals.md)."""

from __future__ import annotations

from sim.weather.optics import FOG_BETA_MAX, KOSCHMIEDER, visibility_m
from sim.weather.params import WeatherParams

NIGHT_BELOW_DEG = -6.0  # civil twilight ends
DAY_ABOVE_DEG = 10.0
FOG_VISIBILITY_M = 1000.0  # WMO: fog when visibility < 1 km
STORM_WIND_MPS = 20.0  # ~ Beaufort 8 (gale)


def time_of_day(params: WeatherParams) -> str:
    """dawn | day | dusk | night from the sun's altitude (and azimuth: east = dawn)."""
    alt = params.sun_altitude_deg
    if alt < NIGHT_BELOW_DEG:
        return "night"
    if alt >= DAY_ABOVE_DEG:
        return "day"
    return "dawn" if params.sun_azimuth_deg < 180.0 else "dusk"


def family(params: WeatherParams) -> str:
    """The dominant weather family, in priority dust > storm > fog > snow > rain > cloudy."""
    fog_beta = FOG_BETA_MAX * params.fog_density
    if params.dust >= 0.5:
        return "dust"
    if params.lightning_rate_per_min >= 0.5 or params.wind_speed_mps >= STORM_WIND_MPS:
        return "storm"
    if fog_beta > 0 and KOSCHMIEDER / fog_beta < FOG_VISIBILITY_M:
        return "fog"
    if params.precip_intensity >= 0.05 and params.precip_type == "snow":
        return "snow"
    if params.precip_intensity >= 0.05 and params.precip_type in ("rain", "hail"):
        return "rain"
    return "cloudy" if params.cloudiness >= 0.5 else "clear"


def surface(params: WeatherParams) -> str:
    """The road's dominant surface state: ice > snow > wet > dry."""
    if params.ice >= 0.5:
        return "ice"
    if params.snow_cover >= 0.5:
        return "snow"
    if params.road_wetness >= 0.3 or params.puddles >= 0.3:
        return "wet"
    return "dry"


def weather_metadata(params: WeatherParams) -> dict:
    """The sample's ``json.weather``: preset, derived labels, visibility, every parameter."""
    return {
        "preset": params.preset,
        "family": family(params),
        "time_of_day": time_of_day(params),
        "visibility_m": round(visibility_m(params), 3),
        "surface": surface(params),
        **params.continuous(),
    }
