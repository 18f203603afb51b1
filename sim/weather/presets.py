"""Named weather presets: documented points in the WeatherParams space.

Each preset is a point in the space of :class:`~sim.weather.params.WeatherParams`;
the derived labels and Koschmieder visibility are listed for reference:

======================  =======  ===========  =======  ==========  ==============================
name                    family   time of day  surface  visibility  description
======================  =======  ===========  =======  ==========  ==============================
clear_noon              clear    day          dry         30000 m  cloudless sky, sun high, dry road
clear_dawn              clear    dawn         dry         30000 m  low sun in the east, cool light
clear_dusk              clear    dusk         dry         30000 m  low sun in the west, warm light
clear_night             clear    night        dry         30000 m  moonless clear night, dry road
cloudy_noon             cloudy   day          dry         30000 m  broken clouds at noon
overcast_afternoon      cloudy   day          dry         30000 m  flat grey light, no shadows
light_rain              rain     day          wet          3461 m  drizzle on a damp road
heavy_rain              rain     day          wet           734 m  downpour, standing water
wet_after_rain          cloudy   day          wet         30000 m  rain has stopped, road still wet
rain_night              rain     night        wet          1546 m  rain after dark, reflections
light_fog               fog      dawn         dry           599 m  mist, visibility ~ 600 m
dense_fog               fog      day          wet            61 m  thick fog, visibility ~ 60 m
ground_fog_dawn         fog      dawn         dry            97 m  shallow fog over the ground
fog_night               fog      night        wet           122 m  fog after dark
light_snow              snow     day          wet           638 m  light snowfall, dusted ground
heavy_snow              snow     day          snow          243 m  heavy snowfall, snow-covered road
blizzard                snow     day          snow          194 m  wind-driven snow, near white-out
snowy_clear             clear    day          snow        30000 m  sunny after snowfall
freezing_rain           rain     day          ice          1836 m  rain freezing into glaze ice
black_ice_night         clear    night        ice         30000 m  dry-looking road with ice patches
hail_storm              storm    day          wet           903 m  hail, gusts and lightning
thunderstorm            storm    day          wet           763 m  heavy rain, lightning, gusts
thunderstorm_night      storm    night        wet          1175 m  thunderstorm after dark
gale                    storm    day          dry          5356 m  dry gale with strong gusts
dust_storm              dust     day          dry           216 m  blowing sand, ochre sky
hazy_dusk               clear    dusk         dry           638 m  dusty haze at sunset
======================  =======  ===========  =======  ==========  ==============================
"""

from __future__ import annotations

from sim.weather.params import WeatherParams

NOON = {"sun_altitude_deg": 60.0, "sun_azimuth_deg": 180.0}
MORNING = {"sun_altitude_deg": 4.0, "sun_azimuth_deg": 95.0}
EVENING = {"sun_altitude_deg": 3.0, "sun_azimuth_deg": 265.0}
NIGHT = {"sun_altitude_deg": -30.0, "sun_azimuth_deg": 0.0}
AFTERNOON = {"sun_altitude_deg": 35.0, "sun_azimuth_deg": 225.0}

_SPECS: dict[str, tuple[str, dict]] = {
    "clear_noon": ("cloudless sky, sun high, dry road", {**NOON}),
    "clear_dawn": ("low sun in the east, cool light", {**MORNING, "cloudiness": 0.1}),
    "clear_dusk": ("low sun in the west, warm light", {**EVENING, "cloudiness": 0.15}),
    "clear_night": ("moonless clear night, dry road", {**NIGHT}),
    "cloudy_noon": (
        "broken clouds at noon",
        {**NOON, "cloudiness": 0.6, "wind_speed_mps": 4.0, "gustiness": 0.3},
    ),
    "overcast_afternoon": (
        "flat grey light, no shadows",
        {**AFTERNOON, "cloudiness": 1.0, "wind_speed_mps": 5.0},
    ),
    "light_rain": (
        "drizzle on a damp road",
        {
            **AFTERNOON,
            "cloudiness": 0.85,
            "precip_type": "rain",
            "precip_intensity": 0.25,
            "road_wetness": 0.5,
            "puddles": 0.1,
            "wind_speed_mps": 4.0,
            "gustiness": 0.3,
        },
    ),
    "heavy_rain": (
        "downpour, standing water",
        {
            **AFTERNOON,
            "cloudiness": 1.0,
            "precip_type": "rain",
            "precip_intensity": 0.9,
            "road_wetness": 1.0,
            "puddles": 0.5,
            "wind_speed_mps": 8.0,
            "gustiness": 0.5,
            "fog_density": 0.02,
        },
    ),
    "wet_after_rain": (
        "rain has stopped, road still wet",
        {
            **AFTERNOON,
            "cloudiness": 0.5,
            "road_wetness": 0.8,
            "puddles": 0.35,
            "wind_speed_mps": 3.0,
        },
    ),
    "rain_night": (
        "rain after dark, reflections",
        {
            **NIGHT,
            "cloudiness": 1.0,
            "precip_type": "rain",
            "precip_intensity": 0.6,
            "road_wetness": 0.9,
            "puddles": 0.3,
            "wind_speed_mps": 5.0,
            "gustiness": 0.4,
        },
    ),
    "light_fog": (
        "mist, visibility ~ 600 m",
        {
            **MORNING,
            "cloudiness": 0.4,
            "fog_density": 0.08,
            "fog_falloff": 0.02,
            "road_wetness": 0.2,
        },
    ),
    "dense_fog": (
        "thick fog, visibility ~ 60 m",
        {
            **AFTERNOON,
            "cloudiness": 0.9,
            "fog_density": 0.8,
            "fog_falloff": 0.01,
            "road_wetness": 0.3,
        },
    ),
    "ground_fog_dawn": (
        "shallow fog over the ground",
        {**MORNING, "cloudiness": 0.2, "fog_density": 0.5, "fog_falloff": 0.6, "road_wetness": 0.2},
    ),
    "fog_night": (
        "fog after dark",
        {**NIGHT, "cloudiness": 0.9, "fog_density": 0.4, "fog_falloff": 0.02, "road_wetness": 0.4},
    ),
    "light_snow": (
        "light snowfall, dusted ground",
        {
            **AFTERNOON,
            "cloudiness": 0.9,
            "precip_type": "snow",
            "precip_intensity": 0.3,
            "snow_cover": 0.4,
            "road_wetness": 0.3,
            "wind_speed_mps": 3.0,
            "gustiness": 0.2,
        },
    ),
    "heavy_snow": (
        "heavy snowfall, snow-covered road",
        {
            **AFTERNOON,
            "cloudiness": 1.0,
            "precip_type": "snow",
            "precip_intensity": 0.8,
            "snow_cover": 0.85,
            "wind_speed_mps": 5.0,
            "gustiness": 0.3,
        },
    ),
    "blizzard": (
        "wind-driven snow, near white-out",
        {
            **AFTERNOON,
            "cloudiness": 1.0,
            "precip_type": "snow",
            "precip_intensity": 1.0,
            "snow_cover": 1.0,
            "wind_speed_mps": 18.0,
            "wind_direction_deg": 90.0,
            "gustiness": 0.8,
        },
    ),
    "snowy_clear": (
        "sunny after snowfall",
        {**NOON, "cloudiness": 0.1, "snow_cover": 0.9, "ice": 0.2},
    ),
    "freezing_rain": (
        "rain freezing into glaze ice",
        {
            **AFTERNOON,
            "cloudiness": 1.0,
            "precip_type": "rain",
            "precip_intensity": 0.5,
            "road_wetness": 0.6,
            "ice": 0.8,
            "wind_speed_mps": 4.0,
        },
    ),
    "black_ice_night": (
        "dry-looking road with ice patches",
        {**NIGHT, "cloudiness": 0.2, "road_wetness": 0.2, "ice": 0.6, "snow_cover": 0.2},
    ),
    "hail_storm": (
        "hail, gusts and lightning",
        {
            **AFTERNOON,
            "cloudiness": 1.0,
            "precip_type": "hail",
            "precip_intensity": 0.7,
            "road_wetness": 0.7,
            "puddles": 0.2,
            "wind_speed_mps": 14.0,
            "gustiness": 0.7,
            "lightning_rate_per_min": 2.0,
        },
    ),
    "thunderstorm": (
        "heavy rain, lightning, gusts",
        {
            **AFTERNOON,
            "cloudiness": 1.0,
            "precip_type": "rain",
            "precip_intensity": 0.85,
            "road_wetness": 1.0,
            "puddles": 0.45,
            "wind_speed_mps": 12.0,
            "gustiness": 0.7,
            "lightning_rate_per_min": 4.0,
            "fog_density": 0.02,
        },
    ),
    "thunderstorm_night": (
        "thunderstorm after dark",
        {
            **NIGHT,
            "cloudiness": 1.0,
            "precip_type": "rain",
            "precip_intensity": 0.8,
            "road_wetness": 1.0,
            "puddles": 0.4,
            "wind_speed_mps": 12.0,
            "gustiness": 0.7,
            "lightning_rate_per_min": 6.0,
        },
    ),
    "gale": (
        "dry gale with strong gusts",
        {
            **NOON,
            "cloudiness": 0.5,
            "wind_speed_mps": 24.0,
            "wind_direction_deg": 90.0,
            "gustiness": 0.9,
            "dust": 0.03,
        },
    ),
    "dust_storm": (
        "blowing sand, ochre sky",
        {
            **NOON,
            "cloudiness": 0.3,
            "dust": 0.9,
            "wind_speed_mps": 16.0,
            "wind_direction_deg": 270.0,
            "gustiness": 0.8,
        },
    ),
    "hazy_dusk": (
        "dusty haze at sunset",
        {**EVENING, "cloudiness": 0.2, "dust": 0.3, "wind_speed_mps": 3.0},
    ),
}

PRESET_DESCRIPTIONS: dict[str, str] = {name: desc for name, (desc, _) in _SPECS.items()}
PRESETS: dict[str, WeatherParams] = {
    name: WeatherParams(**values, preset=name) for name, (_, values) in _SPECS.items()
}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> WeatherParams:
    """The preset called ``name``, or a ValueError listing the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown weather preset {name!r}; valid presets: {', '.join(PRESETS)}"
        ) from None
