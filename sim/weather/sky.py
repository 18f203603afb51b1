"""Sky radiance: a gradient from horizon to zenith, sun glow, clouds (linear RGB, noon = 1).

Cloud colour runs from the grey of a stratus deck to the dark slate base of a cumulonimbus
as the deck's convective share grows (:func:`sim.weather.lighting.convection`)."""

from __future__ import annotations

import numpy as np

from sim import jit
from sim.weather.lighting import convection, sun_direction
from sim.weather.params import WeatherParams

ZENITH = np.array([0.10, 0.22, 0.58], dtype=np.float32)
HORIZON = np.array([0.55, 0.66, 0.82], dtype=np.float32)
OVERCAST = np.array([0.55, 0.57, 0.60], dtype=np.float32)
CUMULONIMBUS = np.array([0.20, 0.22, 0.27], dtype=np.float32)  # slate base of a storm cloud
GLOW = np.array([1.0, 0.75, 0.45], dtype=np.float32)


def sky_radiance(params: WeatherParams, rays_world: np.ndarray) -> np.ndarray:
    """Sky colour for unit world ray directions (..., 3), before scene illumination.

    With numba the per-ray maths runs compiled in one pass (:func:`_sky_compiled`): the same
    operations in the same order and precisions as :func:`sky_radiance_numpy` (its powers
    are libm's ``pow``, as numpy's here), so the same numbers (tested on every preset)."""
    if not jit.AVAILABLE or rays_world.dtype not in (np.float32, np.float64):
        return sky_radiance_numpy(params, rays_world)
    t = rays_world.dtype.type
    sun = sun_direction(params.sun_altitude_deg, params.sun_azimuth_deg).astype(np.float32)
    cos_raw = np.ascontiguousarray(rays_world @ sun).reshape(-1)  # numpy's matmul, as before
    low_sun = float(np.clip(1.0 - params.sun_altitude_deg / 30.0, 0.0, 1.0))
    c = params.cloudiness
    k = convection(params) / max(c, 1e-6)
    cloud = OVERCAST * (1.0 - k) + CUMULONIMBUS * k
    # each scalar as numpy combines it with a t array: a Python float is cast to t first
    # (NEP 50), a numpy scalar keeps its own type
    glow_k, clear_k, fade = _weak(1.0 - 0.8 * c, t), _weak(1.0 - c, t), _weak(c, t)
    out_dtype = np.result_type(rays_world, glow_k, clear_k, cloud, fade)
    out = np.empty((cos_raw.size, 3), dtype=out_dtype)
    _sky_compiled(np.ascontiguousarray(rays_world[..., 2]).reshape(-1), cos_raw, HORIZON, ZENITH,
                  GLOW, cloud, t(0.9), t(0.35 * low_sun), t(48), t(4), glow_k, clear_k,
                  t(0.9), t(0.15), fade, t(0.0), t(1.0), out)  # fmt: skip
    return out.reshape(*rays_world.shape[:-1], 3).astype(np.float32)


def _weak(x: object, t: type) -> object:
    """``x`` as numpy treats it next to an array of type ``t``."""
    return t(x) if type(x) in (float, int) else x


@jit.njit
def _sky_compiled(z, cos_raw, horizon, zenith, glow_rgb, cloud, k_sun, k_low, p_sun, p_low,
                  glow_k, clear_k, base, slope, fade, zero, one, out):  # fmt: skip
    """:func:`sky_radiance_numpy` per ray ``i`` (``z`` its world-z, ``cos_raw`` its dot
    with the sun) into ``out[i]``; scalars come typed as numpy would use them."""
    for i in range(z.shape[0]):
        elev = min(max(z[i], zero), one)
        blend = np.sqrt(elev)
        cos_sun = min(max(cos_raw[i], zero), one)
        g = k_sun * cos_sun**p_sun + k_low * cos_sun**p_low
        shade = base - slope * elev
        for j in range(3):
            clear = horizon[j] * (one - blend) + zenith[j] * blend
            out[i, j] = (clear + glow_rgb[j] * g * glow_k) * clear_k + cloud[j] * shade * fade


def sky_radiance_numpy(params: WeatherParams, rays_world: np.ndarray) -> np.ndarray:
    """:func:`sky_radiance` in numpy (the reference for the compiled pass)."""
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
