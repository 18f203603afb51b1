"""The weather state: one validated point in a space of continuous parameters.

Units: metres, m/s, degrees for the sun and wind direction (compass-free: the sun's
azimuth is measured clockwise from world +y ("north"), so azimuth 90 is world +x ("east");
the wind direction is where the air moves *towards*, counter-clockwise from world +x).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

PRECIP_TYPES: tuple[str, ...] = ("none", "rain", "snow", "hail")

# field name -> (low, high), both inclusive
RANGES: dict[str, tuple[float, float]] = {
    "cloudiness": (0.0, 1.0),
    "precip_intensity": (0.0, 1.0),
    "fog_density": (0.0, 1.0),
    "fog_falloff": (0.0, 1.0),
    "road_wetness": (0.0, 1.0),
    "puddles": (0.0, 1.0),
    "snow_cover": (0.0, 1.0),
    "ice": (0.0, 1.0),
    "wind_speed_mps": (0.0, 40.0),
    "wind_direction_deg": (0.0, 360.0),
    "gustiness": (0.0, 1.0),
    "sun_altitude_deg": (-90.0, 90.0),
    "sun_azimuth_deg": (0.0, 360.0),
    "lightning_rate_per_min": (0.0, 30.0),
    "dust": (0.0, 1.0),
}


@dataclass(frozen=True)
class WeatherParams:
    """Continuous weather and time-of-day parameters (all validated on construction).

    cloudiness           [0, 1]   cloud cover fraction
    precip_intensity     [0, 1]   0 = none, 1 = cloudburst / heaviest snowfall
    precip_type          none | rain | snow | hail (intensity > 0 needs a type)
    fog_density          [0, 1]   fog extinction at ground level, 1 = 0.08 /m (V ~ 49 m)
    fog_falloff          [0, 1]   1/m: fog extinction decays as exp(-falloff * height)
    road_wetness         [0, 1]   water film on the road (darker, glossier asphalt)
    puddles              [0, 1]   fraction of the road covered by standing water
    snow_cover           [0, 1]   fraction of the ground covered by snow
    ice                  [0, 1]   fraction of the road covered by ice
    wind_speed_mps       [0, 40]  mean wind speed
    wind_direction_deg   [0, 360] direction the air moves towards, ccw from world +x
    gustiness            [0, 1]   gust amplitude relative to the mean wind speed
    sun_altitude_deg     [-90, 90] sun elevation above the horizon (< -6: night)
    sun_azimuth_deg      [0, 360] clockwise from world +y; ~90 at dawn, ~270 at dusk
    lightning_rate_per_min [0, 30] lightning strikes per minute within ~10 km
    dust                 [0, 1]   airborne dust / sand (1 = dust storm, V ~ 200 m)
    preset               name of the preset this point came from ("custom" otherwise)
    """

    cloudiness: float = 0.0
    precip_intensity: float = 0.0
    precip_type: str = "none"
    fog_density: float = 0.0
    fog_falloff: float = 0.0
    road_wetness: float = 0.0
    puddles: float = 0.0
    snow_cover: float = 0.0
    ice: float = 0.0
    wind_speed_mps: float = 0.0
    wind_direction_deg: float = 0.0
    gustiness: float = 0.0
    sun_altitude_deg: float = 60.0
    sun_azimuth_deg: float = 180.0
    lightning_rate_per_min: float = 0.0
    dust: float = 0.0
    preset: str = "custom"

    def __post_init__(self) -> None:
        for name, (lo, hi) in RANGES.items():
            value = getattr(self, name)
            if not isinstance(value, int | float) or not lo <= value <= hi:
                raise ValueError(f"WeatherParams.{name} must be in [{lo:g}, {hi:g}], got {value!r}")
        if self.precip_type not in PRECIP_TYPES:
            raise ValueError(
                f"WeatherParams.precip_type must be one of {', '.join(PRECIP_TYPES)}, "
                f"got {self.precip_type!r}"
            )
        if self.precip_intensity > 0 and self.precip_type == "none":
            raise ValueError(
                f"WeatherParams.precip_type must be one of rain, snow, hail when "
                f"precip_intensity > 0, got 'none' with {self.precip_intensity}"
            )
        if not self.preset:
            raise ValueError("WeatherParams.preset must be a non-empty name, got ''")

    def continuous(self) -> dict[str, float | str]:
        """Every parameter except the preset name, as JSON-ready values."""
        return {k: v for k, v in asdict(self).items() if k != "preset"}

    def replace(self, **changes: object) -> WeatherParams:
        """A copy with some fields changed (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = sorted(set(changes) - set(values))
        if unknown:
            raise ValueError(
                f"WeatherParams has no field {unknown[0]!r}; valid fields: {', '.join(values)}"
            )
        values.update(changes)
        return WeatherParams(**values)  # type: ignore[arg-type]
