"""Koschmieder scattering on every pixel: ``I = J t + A (1 - t)``, ``t = exp(-tau)``.

Each pixel's optical depth ``tau`` runs along its own ray (:func:`sim.weather.optics.
optical_depth`): to the hit point, or for sky pixels across the weather layer only (the
clear air above it is the sky model's). :func:`atmosphere` is :func:`atmosphere_numpy` in
one compiled pass where numba is installed: the same operations in the same order and
precisions (libm ``exp`` / ``expm1`` in float64, as numpy's here), so the same numbers
(tested on every preset).
"""

from __future__ import annotations

import numpy as np

from sim import jit
from sim.weather import optics
from sim.weather.params import WeatherParams

SKY_LAYER_M = 1500.0  # depth of the weather layer that sky rays cross


def atmosphere_numpy(lin: np.ndarray, distance: np.ndarray, sin_elev: np.ndarray,
                     cam_height: float, params: WeatherParams, light: np.ndarray
                     ) -> np.ndarray:  # fmt: skip
    """Scattering over linear ``lin`` (H, W, 3); ``distance`` (inf: sky) and ``sin_elev``
    per pixel, airlight lit by ``light`` (3,)."""
    hit = np.isfinite(distance)
    sky = ~hit
    # each pixel's optical depth along its own kind of ray (per pixel: the same numbers as
    # computing both kinds over the whole image and picking one)
    tau = np.empty(hit.shape, dtype=np.float64)
    tau[hit] = optics.optical_depth(params, distance[hit], cam_height, sin_elev[hit])
    sin_sky = sin_elev[sky]
    sky_len = SKY_LAYER_M / np.maximum(sin_sky, 0.05)
    tau[sky] = optics.optical_depth(params, sky_len, cam_height, sin_sky) - (
        optics.CLEAR_AIR_BETA * sky_len
    )
    t = optics.transmittance(tau).astype(np.float32)[..., None]
    airlight = optics.airlight_rgb(params) * light
    return (lin * t + airlight * (1.0 - t)).astype(np.float32)


def atmosphere(lin: np.ndarray, distance: np.ndarray, sin_elev: np.ndarray,
               cam_height: float, params: WeatherParams, light: np.ndarray
               ) -> np.ndarray:  # fmt: skip
    """:func:`atmosphere_numpy`, compiled where it can be (the same numbers)."""
    airlight = optics.airlight_rgb(params) * light
    f4 = np.float32
    ok = (lin.dtype == f4 and distance.dtype == f4 and sin_elev.dtype == f4
          and airlight.dtype == f4 and airlight.shape == (3,))  # fmt: skip
    if not (jit.AVAILABLE and ok):
        return atmosphere_numpy(lin, distance, sin_elev, cam_height, params, light)
    comp = optics.extinction_components(params)
    uniform = comp["air"] + comp["precip"] + comp["dust"]
    k, fog = float(params.fog_falloff), float(comp["fog"])
    base = float(fog * np.exp(-k * max(cam_height, 0.0))) if fog != 0.0 and k != 0.0 else 0.0
    out = np.empty(lin.shape, dtype=np.float32)
    _atmosphere_compiled(
        np.ascontiguousarray(lin).reshape(-1, 3), np.ascontiguousarray(distance).reshape(-1),
        np.ascontiguousarray(sin_elev).reshape(-1), float(uniform), fog, k, base, airlight,
        f4(SKY_LAYER_M), f4(0.05), f4(optics.CLEAR_AIR_BETA), f4(1.0), out.reshape(-1, 3),
    )  # fmt: skip
    return out


@jit.njit
def _optical_depth(d, s, uniform, fog, k, base):
    """:func:`sim.weather.optics.optical_depth` of one ray (float64; ``base`` is the fog at
    the camera height)."""
    tau = uniform * d
    if fog == 0.0:
        return tau
    if k == 0.0:
        return tau + fog * d
    ks = k * s
    if np.isinf(d) and s <= 0:
        return tau + np.inf
    if np.isinf(d) and s > 0:
        return tau + base / (ks if ks > 1e-12 else 1e-12)
    if abs(ks) < 1e-9:
        return tau + base * d
    return tau + base * -np.expm1(-ks * d) / (1.0 if ks == 0 else ks)


@jit.njit
def _atmosphere_compiled(lin, distance, sin_elev, uniform, fog, k, base, airlight,
                         layer, min_sin, clear_beta, one, out):  # fmt: skip
    """:func:`atmosphere_numpy` per pixel ``i`` into ``out[i]``."""
    for i in range(distance.shape[0]):
        s = sin_elev[i]
        if np.isfinite(distance[i]):
            tau = _optical_depth(np.float64(distance[i]), np.float64(s), uniform, fog, k, base)
        else:
            length = layer / (s if s > min_sin else min_sin)
            tau = _optical_depth(np.float64(length), np.float64(s), uniform, fog, k, base)
            tau = tau - np.float64(clear_beta * length)
        t = np.float32(np.exp(-tau))
        for j in range(3):
            out[i, j] = lin[i, j] * t + airlight[j] * (one - t)
