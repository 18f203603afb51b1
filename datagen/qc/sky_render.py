"""The sky pixels against the simulator's sky re-rendered from the json: ``sky_render``.

:func:`sim.weather.effects.apply_weather` overwrites every pixel whose ray hits nothing with
:func:`sim.weather.sky.sky_radiance` of the weather and the ray's world direction, then scales,
scatters, adds precipitation, lens droplets and sensor noise, every random draw from
``rng_for(seed, "weather_fx", frame, camera)`` (``datagen.builder.weathered_frame``). None of
that needs the rendered scene on a sky pixel: the json's weather parameters, camera
(intrinsics, ``T_world_cam``), scenario seed, frame index, camera name and ego speed and yaw
rate, with the depth map (which pixels hit), give the sky's 8-bit values again. On 2 600
clean frames of every preset (seed 4040; 1 528 dry, 1 072 with precipitation) every sky
pixel of a dry frame is within 1 DN of them (none more than 2 DN off); in rain, hail and snow
the particle streaks and droplets that reach into the sky from the scene differ (at most
2.9 % of a frame's sky pixels more than 2 DN off).

Any later change of the image shows in the sky: fringes, glows, shade bands, scratches,
overlays, white balance, tone curves, noise, compression, a misregistered or mirrored image,
another frame's or scenario's image. Judged on the share of sky pixels more than ``tol_dn``
off in any channel (``max_share_dry`` for a dry frame, ``max_share_wet`` with precipitation),
and on a count of at least ``min_off_px`` such pixels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from datagen.qc.flag import Flag, flag

CHECK = "sky_render"


@dataclass(frozen=True)
class SkyRenderConfig:
    tol_dn: int = 2  # 8-bit difference that counts as off (clean dry frames: <= 1 DN)
    max_share_dry: float = 0.002  # of the sky pixels off in a dry frame (clean: none)
    max_share_wet: float = 0.05  # with precipitation (clean: <= 2.9 %, particle streaks)
    min_off_px: int = 3  # off pixels before a frame is flagged
    min_sky_px: int = 16  # sky pixels before a frame is judged

    def __post_init__(self) -> None:
        for name in ("tol_dn", "max_share_dry", "max_share_wet", "min_off_px", "min_sky_px"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"SkyRenderConfig.{name} must be > 0, got {value!r}")
        for name in ("max_share_dry", "max_share_wet"):
            if getattr(self, name) >= 1:
                raise ValueError(f"SkyRenderConfig.{name} must be < 1, got "
                                 f"{getattr(self, name)!r}")  # fmt: skip


@lru_cache(maxsize=1)
def _weather_fields() -> frozenset[str]:
    from sim.weather.params import WeatherParams

    return frozenset(f.name for f in dataclasses.fields(WeatherParams))


def rendered_sky(s) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(the sky re-rendered as 8-bit rgb, the sky mask, precipitation) of a sample, or None
    when the json lacks what the renderer needs."""
    from sim.seeding import rng_for
    from sim.weather.effects import apply_weather
    from sim.weather.geometry import frame_geometry
    from sim.weather.params import WeatherParams

    meta, rgb, depth, seg = s.meta, s.rgb, s.depth_m, s.seg
    if not isinstance(meta, dict) or rgb is None or depth is None or seg is None:
        return None
    if rgb.ndim != 3 or rgb.shape[2] < 3 or rgb.shape[:2] != depth.shape \
            or depth.shape != seg.shape:  # fmt: skip
        return None
    weather, cam, ego = meta.get("weather"), meta.get("camera"), meta.get("ego")
    if not (isinstance(weather, dict) and isinstance(cam, dict) and isinstance(ego, dict)):
        return None
    try:
        params = WeatherParams(**{k: v for k, v in weather.items() if k in _weather_fields()})
        seed, frame, name = int(meta["seed"]), int(meta["frame"]), str(cam["name"])
        motion = {"speed_mps": min(max(float(ego["speed_mps"]), 0.0), 120.0),
                  "yaw_rate": min(max(float(ego["yaw_rate"]), -10.0), 10.0)}  # fmt: skip
        d = np.ascontiguousarray(depth, dtype=np.float32)
        sky = ~frame_geometry(cam, d).hit
        if seed < 0:
            return None
        out = apply_weather(np.zeros(rgb[..., :3].shape, np.uint8), d, seg, cam, params,
                            rng_for(seed, "weather_fx", frame, name), motion)  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None
    return out, sky, params.precip_intensity > 0


def check(s, cfg: SkyRenderConfig) -> list[Flag]:
    found = rendered_sky(s)
    if found is None:
        return []
    pred, sky, wet = found
    n = int(sky.sum())
    if n < cfg.min_sky_px:
        return []
    diff = np.abs(s.rgb[..., :3][sky].astype(np.int16) - pred[sky].astype(np.int16)).max(axis=1)
    off = int((diff > cfg.tol_dn).sum())
    limit = cfg.max_share_wet if wet else cfg.max_share_dry
    if off < cfg.min_off_px or off <= limit * n:
        return []
    return [flag(CHECK, f"{off} of {n} sky pixels differ from the sky re-rendered from the json "
                 f"(weather, camera, seed, frame; up to {int(diff.max())} DN, more than "
                 f"{cfg.tol_dn} DN off): share", off / n,
                 f"allowed {limit:.0%} ({'precipitation' if wet else 'dry'})", ".1%")]
