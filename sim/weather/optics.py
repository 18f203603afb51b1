"""Atmospheric optics: extinction, Koschmieder visibility, airlight and transmittance.

The extinction coefficient beta [1/m] adds up clear air, fog, precipitation and dust.
Koschmieder's law gives the meteorological visibility (5 % contrast threshold):
``V = -ln(0.02) / beta = 3.912 / beta``. A pixel at distance d along its ray is seen as
``I = J exp(-tau) + A (1 - exp(-tau))`` with optical depth ``tau = beta d`` in homogeneous
air; with fog decaying with height (``beta_fog(h) = beta_fog0 exp(-k h)``) the fog part of
``tau`` is integrated along the ray in closed form.
"""

from __future__ import annotations

import numpy as np

from sim.weather.params import WeatherParams

KOSCHMIEDER = 3.912  # -ln(0.02)
CLEAR_AIR_BETA = 3.912 / 30000.0  # 30 km visibility in clean air
FOG_BETA_MAX = 0.08  # fog_density 1 -> V ~ 49 m
DUST_BETA_MAX = 0.02  # dust 1 -> V ~ 200 m
PRECIP_BETA_MAX = {"none": 0.0, "rain": 0.004, "snow": 0.02, "hail": 0.006}

FOG_COLOR = np.array([0.78, 0.80, 0.82], dtype=np.float32)  # linear, grey-white droplets
DUST_COLOR = np.array([0.72, 0.52, 0.30], dtype=np.float32)  # linear, ochre
HAZE_COLOR = np.array([0.70, 0.76, 0.85], dtype=np.float32)  # linear, bluish air


def extinction_components(params: WeatherParams) -> dict[str, float]:
    """Ground-level extinction [1/m] per cause: air, fog, precip, dust."""
    return {
        "air": CLEAR_AIR_BETA,
        "fog": FOG_BETA_MAX * params.fog_density,
        "precip": PRECIP_BETA_MAX[params.precip_type] * params.precip_intensity,
        "dust": DUST_BETA_MAX * params.dust,
    }


def extinction_coefficient(params: WeatherParams) -> float:
    """Total ground-level extinction coefficient beta [1/m]."""
    return float(sum(extinction_components(params).values()))


def visibility_m(params: WeatherParams) -> float:
    """Meteorological visibility [m] by Koschmieder: V = 3.912 / beta."""
    return KOSCHMIEDER / extinction_coefficient(params)


def airlight_rgb(params: WeatherParams) -> np.ndarray:
    """Linear RGB of the airlight (the horizon colour of an infinitely thick layer), before
    scene illumination: the extinction-weighted mix of haze, fog and dust colours."""
    comp = extinction_components(params)
    haze = comp["air"] + comp["precip"]
    total = haze + comp["fog"] + comp["dust"]
    mix = (haze * HAZE_COLOR + comp["fog"] * FOG_COLOR + comp["dust"] * DUST_COLOR) / total
    return mix.astype(np.float32)


def optical_depth(
    params: WeatherParams, distance: np.ndarray, h0: float, sin_elev: np.ndarray
) -> np.ndarray:
    """Optical depth along rays from height ``h0`` [m] with unit direction whose world-z
    component is ``sin_elev``, of length ``distance`` [m] (``inf`` for sky rays).

    Fog density at height h is ``beta_fog0 exp(-k h)``; its integral along the ray is
    ``beta_fog0 exp(-k h0) (1 - exp(-k d s)) / (k s)`` (s = sin_elev), which stays finite
    for sky rays that climb (s > 0, k > 0). Everything else is homogeneous.
    """
    comp = extinction_components(params)
    uniform = comp["air"] + comp["precip"] + comp["dust"]
    k = params.fog_falloff
    d = np.asarray(distance, dtype=np.float64)
    s = np.broadcast_to(np.asarray(sin_elev, dtype=np.float64), d.shape)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        tau = uniform * d
        if comp["fog"] == 0.0:
            return tau
        if k == 0.0:
            return tau + comp["fog"] * d
        ks = k * s
        base = comp["fog"] * np.exp(-k * max(h0, 0.0))
        tilted = base * -np.expm1(-ks * d) / np.where(ks == 0, 1.0, ks)
        fog = np.where(np.abs(ks) < 1e-9, base * d, tilted)
        fog = np.where(np.isinf(d) & (s > 0), base / np.maximum(ks, 1e-12), fog)
        fog = np.where(np.isinf(d) & (s <= 0), np.inf, fog)
    return tau + fog


def transmittance(tau: np.ndarray) -> np.ndarray:
    """Fraction of scene radiance that survives an optical depth ``tau``."""
    return np.exp(-tau)
