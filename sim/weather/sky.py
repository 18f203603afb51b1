"""Sky radiance: a gradient from horizon to zenith, sun glow, clouds (linear RGB, noon = 1).

Cloud colour runs from the grey of a stratus deck to the dark slate base of a cumulonimbus
as the deck's convective share grows (:func:`sim.weather.lighting.convection`)."""

from __future__ import annotations

import numpy as np

from sim.weather.lighting import convection, sun_direction
from sim.weather.params import WeatherParams

ZENITH = np.array([0.10, 0.22, 0.58], dtype=np.float32)
HORIZON = np.array([0.55, 0.66, 0.82], dtype=np.float32)
OVERCAST = np.array([0.55, 0.57, 0.60], dtype=np.float32)
CUMULONIMBUS = np.array([0.20, 0.22, 0.27], dtype=np.float32)  # slate base of a storm cloud
GLOW = np.array([1.0, 0.75, 0.45], dtype=np.float32)


def sky_radiance(params: WeatherParams, rays_world: np.ndarray) -> np.ndarray:
    """Sky colour for unit world ray directions (..., 3), before scene illumination."""
    elev = np.clip(rays_world[..., 2], 0.0, 1.0)[..., None]
    blend = np.sqrt(elev)
    clear = HORIZON * (1.0 - blend) + ZENITH * blend
    sun = sun_direction(params.sun_altitude_deg, params.sun_azimuth_deg).astype(np.float32)
    cos_sun = np.clip(rays_world @ sun, 0.0, 1.0)[..., None]
    low_sun = float(np.clip(1.0 - params.sun_altitude_deg / 30.0, 0.0, 1.0))
    glow = GLOW * (0.9 * cos_sun**48 + 0.35 * low_sun * cos_sun**4)
    c = params.cloudiness
    k = convection(params) / max(c, 1e-6)  # the convective share of the cloud deck
    cloud = OVERCAST * (1.0 - k) + CUMULONIMBUS * k
    sky = (clear + glow * (1.0 - 0.8 * c)) * (1.0 - c) + cloud * (0.9 - 0.15 * elev) * c
    return sky.astype(np.float32)


def reflected_sky(params: WeatherParams, rays_world: np.ndarray) -> np.ndarray:
    """Sky radiance seen in a horizontal mirror (the ray's vertical component flipped)."""
    mirrored = rays_world * np.array([1.0, 1.0, -1.0], dtype=np.float32)
    return sky_radiance(params, mirrored)
