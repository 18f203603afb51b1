"""Light that follows the sun: renderer settings, exposure, and the ego's and poles' lamps.

:func:`lighting_for` gives PyBullet ``getCameraImage`` light settings (a render with them
is "well exposed"); the post-processing in :mod:`sim.weather.effects` multiplies scene
radiance by :func:`illumination_rgb` (exposure times light colour) so night frames are
dark, then adds the light of the ego's headlights and of street lamps on top of poles,
both falling off with the inverse square of the metric distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.weather.params import WeatherParams

# sun altitude [deg] -> exposure of a clear sky, interpolated (civil/nautical twilight)
_ALTITUDES = np.array([-90.0, -18.0, -6.0, 0.0, 10.0, 30.0, 90.0])
_EXPOSURES = np.array([0.035, 0.035, 0.07, 0.28, 0.65, 0.97, 1.0])
_WARM = np.array([1.0, 0.62, 0.38])
_WHITE = np.array([1.0, 1.0, 1.0])
_MOON = np.array([0.55, 0.65, 1.0])
HEADLIGHT_INTENSITY = 30.0  # irradiance 0.3 of noon at 10 m on the beam axis
HEADLIGHT_HALF_ANGLE_DEG = 22.0
HEADLIGHT_OFFSET_CAM = np.array([0.0, 0.8, 0.5])  # below and ahead of the camera [m]
STREETLAMP_INTENSITY = 25.0
STREETLAMP_COLOR = np.array([1.0, 0.78, 0.5])
# A thunderstorm's cumulonimbus is optically several times thicker than the nimbostratus of
# a steady rain (optical depth ~100+ vs ~20-50): the light under it is a third lower
FULL_CONVECTION_LIGHTNING_PER_MIN = 2.0
CONVECTIVE_DIMMING = 0.3


def convection(params: WeatherParams) -> float:
    """How much of the cloud deck is deep convection (cumulonimbus), in [0, 1]: lightning is
    its signature, so it grows with the lightning rate (full at 2 strikes/min) under cloud."""
    share = params.lightning_rate_per_min / FULL_CONVECTION_LIGHTNING_PER_MIN
    return float(np.clip(share, 0.0, 1.0) * params.cloudiness)


@dataclass(frozen=True)
class LightingSpec:
    """PyBullet light settings and the post-processing exposure for one weather state.

    ``light_direction`` is the world direction towards the light (sun, or moon at night),
    ``light_color`` its RGB in [0, 1]; the three coefficients go to getCameraImage's
    lightAmbientCoeff / lightDiffuseCoeff / lightSpecularCoeff; ``exposure`` in (0, 1]
    scales the rendered radiance (1 = clear noon); ``lamps`` in [0, 1] is how much artificial
    light (headlights, street lamps) is switched on.
    """

    light_direction: tuple[float, float, float]
    light_color: tuple[float, float, float]
    ambient: float
    diffuse: float
    specular: float
    exposure: float
    lamps: float

    def camera_kwargs(self) -> dict:
        """Keyword arguments for ``getCameraImage``."""
        return {
            "lightDirection": list(self.light_direction),
            "lightColor": list(self.light_color),
            "lightAmbientCoeff": self.ambient,
            "lightDiffuseCoeff": self.diffuse,
            "lightSpecularCoeff": self.specular,
            "shadow": 0,
        }


def sun_direction(altitude_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit world vector towards the sun (x east, y north, z up; azimuth clockwise from y)."""
    alt, az = np.radians(altitude_deg), np.radians(azimuth_deg)
    return np.array([np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt), np.sin(alt)])


def lighting_for(params: WeatherParams) -> LightingSpec:
    """Renderer light and exposure: warm low sun, white noon sun, dim blue night."""
    alt = params.sun_altitude_deg
    clouds = params.cloudiness
    exposure = float(np.interp(alt, _ALTITUDES, _EXPOSURES))
    exposure *= 1.0 - 0.35 * clouds - 0.15 * params.precip_intensity - 0.2 * params.dust
    exposure *= 1.0 - CONVECTIVE_DIMMING * convection(params)
    warmth = float(np.clip(1.0 - (alt - 2.0) / 25.0, 0.0, 1.0)) if alt > -6 else 0.0
    color = _WARM * warmth + _WHITE * (1.0 - warmth) if alt > -6 else _MOON
    color = color * (1 - 0.5 * clouds) + 0.5 * clouds * np.array([0.92, 0.95, 1.0])
    if alt > -6:
        direction = sun_direction(max(alt, 2.0), params.sun_azimuth_deg)
    else:
        direction = sun_direction(35.0, (params.sun_azimuth_deg + 180.0) % 360.0)
    diffuse = 0.75 * (1.0 - 0.7 * clouds)
    lamps = float(np.clip((0.3 - exposure) / 0.2, 0.0, 1.0))
    return LightingSpec(
        light_direction=tuple(float(v) for v in direction),
        light_color=tuple(float(v) for v in np.clip(color, 0.0, 1.0)),
        ambient=0.6 + 0.3 * clouds,
        diffuse=diffuse,
        specular=0.05 + 0.1 * params.road_wetness,
        exposure=max(exposure, 0.01),
        lamps=lamps,
    )


def illumination_rgb(params: WeatherParams) -> np.ndarray:
    """Per-channel factor applied to rendered linear radiance: exposure x light colour."""
    spec = lighting_for(params)
    color = np.asarray(spec.light_color, dtype=np.float32)
    return (spec.exposure * color / max(color.max(), 1e-6)).astype(np.float32)


def headlight_irradiance(points_cam: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Headlight irradiance (noon = 1) at camera-frame points (H, W, 3): a cone along +z
    from just below the camera with a smooth edge, falling off as 1/d^2."""
    rel = points_cam - HEADLIGHT_OFFSET_CAM
    dist2 = np.maximum(np.sum(rel * rel, axis=-1), 0.25)
    cos_axis = rel[..., 2] / np.sqrt(dist2)
    edge = np.cos(np.radians(HEADLIGHT_HALF_ANGLE_DEG))
    cone = np.clip((cos_axis - edge + 0.12) / 0.12, 0.0, 1.0) ** 2
    irradiance = HEADLIGHT_INTENSITY * cone / dist2
    return np.where(valid, _soft_limit(irradiance), 0.0).astype(np.float32)


def _soft_limit(irradiance: np.ndarray, ceiling: float = 1.2) -> np.ndarray:
    """Saturating response so lamps close to a surface do not blow it out."""
    return ceiling * -np.expm1(-irradiance / ceiling)


def lamp_positions(points_cam: np.ndarray, pole_mask: np.ndarray) -> np.ndarray:
    """Camera-frame positions of street lamps: the top of each connected pole region."""
    from scipy import ndimage

    labels, _ = ndimage.label(pole_mask)
    lamps = []
    # each region searched within its bounding box (the same pixels in the same order)
    for idx, box in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = np.nonzero(labels[box] == idx)
        rows, cols = rows + box[0].start, cols + box[1].start
        if rows.size < 20:
            continue
        top = rows.min()
        col = int(np.round(cols[rows == top].mean()))
        p = points_cam[top, col]
        lamps.append(p + np.array([0.0, -0.2, 0.0]))
    return np.asarray(lamps, dtype=np.float32).reshape(-1, 3)


def streetlamp_irradiance(points_cam: np.ndarray, lamps: np.ndarray) -> np.ndarray:
    """Irradiance (noon = 1) from lamps at camera-frame positions, inverse square."""
    total = np.zeros(points_cam.shape[:2], dtype=np.float32)
    for lamp in lamps:
        d2 = np.sum((points_cam - lamp) ** 2, axis=-1)
        total += STREETLAMP_INTENSITY / np.maximum(d2, 1.0)
    return _soft_limit(total)
