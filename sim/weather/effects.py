"""Weather in the picture: physically grounded post-processing of a rendered frame.

:func:`apply_weather` takes a frame rendered with :func:`sim.weather.lighting.lighting_for`
light settings and returns a new rgb; seg, depth and boxes stay ground truth (inputs are
never modified). Steps, in linear light:

1. sky pixels (depth 0) get the sky model (clouds, sun glow);
2. ground: snow cover, wet/icy road with Fresnel sky reflections, puddles;
3. light: exposure x light colour (night is dark), plus headlights (cone, 1/d^2) and street
   lamps on top of poles when it is dark, and occasional lightning flashes;
4. atmosphere: ``I = J exp(-tau) + A (1 - exp(-tau))`` with tau the optical depth along
   each pixel's ray (fog falls off with height, dust tints the airlight);
5. rain, snow or hail particles in 3D, occluded by the depth buffer;
6. lens droplets and sensor noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sim.classes import class_id
from sim.weather import ground, lighting, optics, particles, sensor
from sim.weather.atmosphere import atmosphere
from sim.weather.color import linear_to_srgb, srgb_to_linear
from sim.weather.geometry import FrameGeometry, frame_geometry
from sim.weather.lamp_light import lamp_light
from sim.weather.params import WeatherParams
from sim.weather.sky import sky_radiance

FLASH_WINDOW_S = 0.2  # a lightning flash lights a frame if it falls in this window


@dataclass(frozen=True)
class EgoMotion:
    """The ego's forward speed [m/s] and yaw rate [rad/s] (they shape particle streaks)."""

    speed_mps: float = 0.0
    yaw_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.speed_mps <= 120.0:
            raise ValueError(f"EgoMotion.speed_mps must be in [0, 120], got {self.speed_mps}")
        if not -10.0 <= self.yaw_rate <= 10.0:
            raise ValueError(f"EgoMotion.yaw_rate must be in [-10, 10], got {self.yaw_rate}")


def _ego(ego_motion: EgoMotion | Mapping | None) -> EgoMotion:
    if ego_motion is None:
        return EgoMotion()
    if isinstance(ego_motion, EgoMotion):
        return ego_motion
    return EgoMotion(
        float(ego_motion.get("speed_mps", 0.0)), float(ego_motion.get("yaw_rate", 0.0))
    )


def _check_inputs(rgb: np.ndarray, depth: np.ndarray, seg: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    if depth.shape != rgb.shape[:2] or seg.shape != rgb.shape[:2]:
        raise ValueError(f"depth {depth.shape} and seg {seg.shape} must match rgb {rgb.shape[:2]}")


def wind_vector(params: WeatherParams) -> tuple[float, float]:
    """Mean wind (vx, vy) [m/s] in the world frame."""
    a = np.radians(params.wind_direction_deg)
    return (params.wind_speed_mps * float(np.cos(a)), params.wind_speed_mps * float(np.sin(a)))


def apply_weather(
    rgb: np.ndarray,
    depth: np.ndarray,
    seg: np.ndarray,
    camera: dict,
    params: WeatherParams,
    rng: np.random.Generator,
    ego_motion: EgoMotion | Mapping | None = None,
) -> np.ndarray:
    """A new uint8 rgb of the frame under ``params``; a pure function of its arguments."""
    _check_inputs(rgb, depth, seg)
    ego = _ego(ego_motion)
    geom = frame_geometry(camera, depth.astype(np.float32))
    spec = lighting.lighting_for(params)
    illum = lighting.illumination_rgb(params)
    lin = srgb_to_linear(rgb)
    lin = _sky(lin, geom, params)
    lin = ground.apply_snow(lin, seg, geom, params)
    lin = ground.apply_wet_road(lin, seg, geom, params)
    lin = _illuminate(lin, seg, geom, params, spec, illum, rng)
    lin = _atmosphere(lin, geom, params, illum * (1.0 + 0.3 * spec.lamps))
    beta = optics.extinction_coefficient(params)
    lit = illum + spec.lamps * 0.08
    lin = particles.draw_precipitation(
        lin,
        geom,
        params,
        rng,
        camera,
        (ego.speed_mps, ego.yaw_rate),
        wind_vector(params),
        lit,
        beta,
    )
    if params.precip_type in ("rain", "hail"):
        lin = sensor.lens_droplets(lin, params.precip_intensity, rng)
    lin = sensor.sensor_noise(lin, spec.exposure, params.precip_intensity, rng)
    return linear_to_srgb(lin)


def _sky(lin: np.ndarray, geom: FrameGeometry, params: WeatherParams) -> np.ndarray:
    sky = ~geom.hit
    if not sky.any():
        return lin
    rays_world = geom.rays[sky] @ geom.R_world_cam.T.astype(np.float32)
    out = lin.copy()
    out[sky] = sky_radiance(params, rays_world)
    return out


def _illuminate(lin, seg, geom, params, spec, illum, rng) -> np.ndarray:
    """Scale rendered radiance to the scene's light; add lamps and lightning."""
    light = illum  # (3,): the same light on every pixel unless lamps are on
    if spec.lamps > 0.0:
        hit = geom.hit & (seg != class_id("ego"))
        pole = class_id("pole")
        lamps = lighting.lamp_positions(geom.points, seg == pole)
        light = lamp_light(geom.points, hit, hit & (seg != pole), lamps, illum, spec.lamps)
        lin = _lamp_glow(lin, lamps, geom, spec.lamps)
    if _flash(params, rng):
        light = light + 0.6
    return (lin * light).astype(np.float32)


def _flash(params: WeatherParams, rng: np.random.Generator) -> bool:
    rate_per_s = params.lightning_rate_per_min / 60.0
    return bool(rate_per_s > 0 and rng.random() < 1.0 - np.exp(-rate_per_s * FLASH_WINDOW_S))


GLOW_COS_MIN = 0.97  # below it cos**4000 underflows to exactly 0 (0.97**4000 ~ 1e-53)


def _lamp_glow(lin: np.ndarray, lamps: np.ndarray, geom: FrameGeometry, on: float):
    """A bright halo around each visible lamp head.

    The halo ``cos**4000`` is exactly 0 in float32 (smallest subnormal 1.4e-45) for rays
    more than ~13 degrees off the lamp (cos < ``GLOW_COS_MIN``), and adding 0 leaves a pixel
    as it is: the power and the sum run only on the rays within that cone (per pixel the
    same operations, so the same numbers as over the whole image; tested)."""
    if len(lamps) == 0:
        return lin
    h, w = geom.distance.shape
    proj = geom.rays.reshape(-1, 3)
    out = lin.copy()
    flat = out.reshape(h * w, -1)
    for lamp in lamps:
        d = lamp / np.linalg.norm(lamp)
        cos = proj @ d
        near = np.flatnonzero(cos > GLOW_COS_MIN)
        if len(near) == 0:
            continue
        halo = np.clip(cos[near], 0.0, 1.0) ** 4000 * 40.0 * on
        flat[near] += halo[..., None] * lighting.STREETLAMP_COLOR / max(on, 1e-3) / 30.0
    return out


def _atmosphere(
    lin: np.ndarray, geom: FrameGeometry, params: WeatherParams, light: np.ndarray
) -> np.ndarray:
    """Koschmieder scattering along each ray; sky rays cross the weather layer only."""
    return atmosphere(lin, geom.distance, geom.sin_elev, geom.cam_height, params, light)
