"""What the audio synthesis needs from the weather: rain/wind levels and thunder."""

from __future__ import annotations

import numpy as np

from sim.weather.metadata import surface
from sim.weather.params import WeatherParams

SPEED_OF_SOUND_MPS = 343.0
THUNDER_RANGE_M = (300.0, 12000.0)  # audible lightning distances


def sound_inputs(params: WeatherParams) -> dict:
    """Precipitation type and intensity, wind, road surface and lightning rate."""
    return {
        "precip_type": params.precip_type,
        "precip_intensity": params.precip_intensity,
        "wind_speed_mps": params.wind_speed_mps,
        "gustiness": params.gustiness,
        "surface": surface(params),
        "road_wetness": params.road_wetness,
        "lightning_rate_per_min": params.lightning_rate_per_min,
    }


def thunder_events(
    params: WeatherParams, duration_s: float, rng: np.random.Generator
) -> list[dict]:
    """Thunder heard within [0, duration_s): strikes are a Poisson process of the lightning
    rate, uniform over a disc (distance ~ sqrt(uniform)); the sound arrives distance/343 s
    after the flash. Sorted by time."""
    if duration_s < 0:
        raise ValueError(f"thunder_events duration_s must be >= 0, got {duration_s}")
    rate_per_s = params.lightning_rate_per_min / 60.0
    lo, hi = THUNDER_RANGE_M
    lead_s = hi / SPEED_OF_SOUND_MPS  # strikes before t=0 can still be heard
    n = int(rng.poisson(rate_per_s * (duration_s + lead_s)))
    flash = rng.uniform(-lead_s, duration_s, n)
    distance = np.sqrt(rng.uniform(lo**2, hi**2, n))
    arrival = flash + distance / SPEED_OF_SOUND_MPS
    keep = (arrival >= 0.0) & (arrival < duration_s)
    events = [
        {"type": "thunder", "time_s": float(t), "distance_m": float(d)}
        for t, d in zip(arrival[keep], distance[keep])
    ]
    return sorted(events, key=lambda e: e["time_s"])
