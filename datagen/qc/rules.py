"""Per-sample rules: what one decoded sample must satisfy on its own (docs/design.md's schema).

Frames neither black nor saturated nor drowned in noise, the camera not inside geometry, the
car upright and on the road, labels present, audio neither silent nor clipped, no NaN
anywhere. Each rule returns a :class:`~datagen.qc.flag.Flag` (measured value and threshold)
or None. The cross-modal checks live beside this module (``geometry``, ``photometric``,
``audio_check``, ``caption_check``, ``temporal``); :func:`check` runs the per-sample ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from datagen.qc import (
    audio_check,
    audio_preroll,
    camera_planes,
    caption_check,
    cfa_pattern,
    clip_yaw_rate,
    control_range,
    ego_state,
    geometry,
    ground_horizon,
    object_relief,
    optics,
    photometric,
    pose_identities,
    road_frame,
    sky_render,
    sky_spots,
    tyre_kinematics,
    weather_preset,
    wheel_order,
)
from datagen.qc.flag import Flag, flag
from datagen.qc.shardio import Decoded


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds of the per-sample rules (8-bit frames, depth in metres, 16-bit audio) and
    of the cross-modal checks."""

    black_mean: float = 6.0
    saturated_mean: float = 249.0
    min_frame_std: float = 1.0
    max_noise_sigma: float = 30.0
    near_depth_m: float = 0.3
    near_depth_fraction: float = 0.7
    max_lateral_offset_m: float = 12.0
    silent_rms: float = 1e-4
    clip_level: float = 0.999
    clipped_fraction: float = 0.01
    geometry: geometry.GeometryConfig = field(default_factory=geometry.GeometryConfig)
    photometric: photometric.PhotometricConfig = field(
        default_factory=photometric.PhotometricConfig)
    optics: optics.OpticsConfig = field(default_factory=optics.OpticsConfig)
    audio: audio_check.AudioConfig = field(default_factory=audio_check.AudioConfig)
    ego: ego_state.EgoConfig = field(default_factory=ego_state.EgoConfig)
    tyres: tyre_kinematics.TyreKinematicsConfig = field(
        default_factory=tyre_kinematics.TyreKinematicsConfig)
    identities: pose_identities.PoseIdentitiesConfig = field(
        default_factory=pose_identities.PoseIdentitiesConfig)
    horizon: ground_horizon.GroundHorizonConfig = field(
        default_factory=ground_horizon.GroundHorizonConfig)
    sky_spots: sky_spots.SkySpotsConfig = field(default_factory=sky_spots.SkySpotsConfig)
    weather: weather_preset.WeatherPresetConfig = field(
        default_factory=weather_preset.WeatherPresetConfig)
    preroll: audio_preroll.AudioPrerollConfig = field(
        default_factory=audio_preroll.AudioPrerollConfig)
    road_frame: road_frame.RoadFrameConfig = field(default_factory=road_frame.RoadFrameConfig)
    controls: control_range.ControlRangeConfig = field(
        default_factory=control_range.ControlRangeConfig)
    cfa: cfa_pattern.CfaPatternConfig = field(default_factory=cfa_pattern.CfaPatternConfig)
    clip_yaw: clip_yaw_rate.ClipYawRateConfig = field(
        default_factory=clip_yaw_rate.ClipYawRateConfig)
    relief: object_relief.ObjectReliefConfig = field(
        default_factory=object_relief.ObjectReliefConfig)
    wheels: wheel_order.WheelOrderConfig = field(
        default_factory=wheel_order.WheelOrderConfig)
    sky_render: sky_render.SkyRenderConfig = field(default_factory=sky_render.SkyRenderConfig)
    planes: camera_planes.CameraPlanesConfig = field(
        default_factory=camera_planes.CameraPlanesConfig)

    def __post_init__(self) -> None:
        for name in ("black_mean", "saturated_mean", "max_noise_sigma", "near_depth_fraction",
                     "near_depth_m", "silent_rms", "clip_level", "clipped_fraction",
                     "max_lateral_offset_m"):  # fmt: skip
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"RuleConfig.{name} must be > 0, got {value}")
        if self.black_mean >= self.saturated_mean:
            raise ValueError(f"RuleConfig.black_mean must be < saturated_mean, got "
                             f"{self.black_mean}")  # fmt: skip


Rule = Callable[[Decoded, RuleConfig], Flag | None]


def decodable(s: Decoded, cfg: RuleConfig) -> Flag | None:
    if s.errors:
        return Flag("decodable", "undecodable " + ", ".join(s.errors), float(len(s.errors)),
                    "allowed 0 files")  # fmt: skip
    missing = [n for n in ("rgb", "depth_m", "seg", "inst", "audio", "meta")
               if getattr(s, n) is None]  # fmt: skip
    if missing:
        return Flag("decodable", f"missing {', '.join(missing)}", float(len(missing)),
                    "allowed 0 files")  # fmt: skip
    return None


def frame_exposure(s: Decoded, cfg: RuleConfig) -> Flag | None:
    if s.rgb is None:
        return None
    mean, std = float(s.rgb.mean()), float(s.rgb.std())
    if mean < cfg.black_mean:
        return flag("exposure", "black frame: mean", mean, f"must be >= {cfg.black_mean}", ".1f")
    if mean > cfg.saturated_mean:
        return flag("exposure", "saturated frame: mean", mean,
                    f"must be <= {cfg.saturated_mean}", ".1f")  # fmt: skip
    if std < cfg.min_frame_std:
        return flag("exposure", "flat frame: std", std, f"must be >= {cfg.min_frame_std}", ".2f")
    return None


def sensor_noise(s: Decoded, cfg: RuleConfig) -> Flag | None:
    """A frame drowned in noise: the robust noise estimate from neighbouring pixels,
    median(|x[i+1] - x[i]|) / (0.6745 sqrt 2), far above the simulated sensor's grain (its
    night and storm presets stay below 20 DN on generated data; a broken sensor is higher)."""
    if s.rgb is None or s.rgb.ndim != 3 or s.rgb.shape[1] < 2:
        return None
    diff = np.abs(np.diff(s.rgb[..., :3].astype(np.int16), axis=1))
    sigma = float(np.median(diff)) / (0.6745 * math.sqrt(2))
    if sigma > cfg.max_noise_sigma:
        return flag("sensor_noise", "noise sigma [DN]", sigma, f"allowed {cfg.max_noise_sigma}",
                    ".1f")  # fmt: skip
    return None


def camera_in_geometry(s: Decoded, cfg: RuleConfig) -> Flag | None:
    if s.depth_m is None:
        return None
    near = float(((s.depth_m > 0) & (s.depth_m < cfg.near_depth_m)).mean())
    if near > cfg.near_depth_fraction:
        return flag("camera_in_geometry", f"camera inside geometry: depth < {cfg.near_depth_m} m"
                    " on", near, f"allowed {cfg.near_depth_fraction:.0%}", ".0%")  # fmt: skip
    return None


def ego_pose(s: Decoded, cfg: RuleConfig) -> Flag | None:
    """Car far off the road while its json says it is on it (the upside-down camera is
    :func:`datagen.qc.geometry.pose`)."""
    if not isinstance(s.meta, dict):
        return None
    offset = s.meta.get("road", {}).get("lateral_offset_m")
    ego = s.meta.get("ego")
    if isinstance(ego, dict) and ego.get("off_road") is True:
        return None  # the json says so: a car that left the road (whether it did: derived_fields)
    if isinstance(offset, int | float) and abs(offset) > cfg.max_lateral_offset_m:
        return flag("ego_pose", "car off the road: lateral offset [m]", offset,
                    f"allowed +-{cfg.max_lateral_offset_m}", ".1f")  # fmt: skip
    return None


def labels(s: Decoded, cfg: RuleConfig) -> Flag | None:
    if s.seg is None:
        return None
    n = len(np.unique(s.seg))
    return flag("labels", "empty segmentation: classes", n, "need >= 2", "d") if n < 2 else None


def audio(s: Decoded, cfg: RuleConfig) -> Flag | None:
    if s.audio is None:
        return None
    if s.audio.size == 0 or not np.isfinite(s.audio).all():
        return Flag("audio", "audio empty or not finite", None, "finite, non-empty")
    rms = float(np.sqrt(np.mean(np.square(s.audio, dtype=np.float64))))
    if rms < cfg.silent_rms:
        return flag("audio", "silent audio: rms", rms, f"must be >= {cfg.silent_rms:g}", ".1e")
    clipped = float((np.abs(s.audio) >= cfg.clip_level).mean())
    if clipped > cfg.clipped_fraction:
        return flag("audio", "clipped audio: samples at full scale", clipped,
                    f"allowed {cfg.clipped_fraction:.0%}", ".1%")  # fmt: skip
    return None


def metadata_object(s: Decoded, cfg: RuleConfig) -> Flag | None:
    """The json must be an object (a list, number or string holds no labels to check)."""
    if s.meta is None or isinstance(s.meta, dict):
        return None
    return Flag("schema", f"json is a {type(s.meta).__name__}, not an object", None, "an object")


def finite_metadata(s: Decoded, cfg: RuleConfig) -> Flag | None:
    if s.meta is None:
        return None
    bad = _first_non_finite(s.meta, "json")
    return Flag("nan", f"non-finite value at {bad}", None, "all finite") if bad else None


def _first_non_finite(value: object, path: str) -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        found = _first_non_finite(v, f"{path}.{k}")
        if found:
            return found
    return None


RULES: dict[str, Rule] = {
    "decodable": decodable,
    "exposure": frame_exposure,
    "sensor_noise": sensor_noise,
    "camera_in_geometry": camera_in_geometry,
    "ego_pose": ego_pose,
    "labels": labels,
    "audio": audio,
    "nan": finite_metadata,
    "json_object": metadata_object,
}


def check(s: Decoded, cfg: RuleConfig) -> list[Flag]:
    """Every flag of ``s``: the per-sample rules, then the cross-modal checks of one sample
    (geometry, captions, image vs labels and weather, optics, audio vs ego state and weather,
    tyre slips vs the body's motion, json identities, sky below the horizon, dark spots in
    the sky, the weather vs its preset, silence before the scenario starts)."""
    found = [f for rule in RULES.values() if (f := rule(s, cfg)) is not None]
    if s.meta is None or not isinstance(s.meta, dict) or _first_non_finite(s.meta, "json"):
        return found
    for fn in (lambda: geometry.check(s, cfg.geometry), lambda: caption_check.check(s),
               lambda: photometric.check(s, cfg.photometric),
               lambda: optics.check(s, cfg.optics),
               lambda: audio_check.check(s, cfg.audio),
               lambda: ego_state.check(s.meta, cfg.ego),
               lambda: tyre_kinematics.check(s.meta, cfg.tyres),
               lambda: pose_identities.check(s.meta, cfg.identities),
               lambda: _listed(ground_horizon.check(s, cfg.horizon)),
               lambda: _listed(sky_spots.check(s, cfg.sky_spots)),
               lambda: _listed(weather_preset.check(s.meta, cfg.weather)),
               lambda: _listed(audio_preroll.check(s, cfg.preroll)),
               lambda: road_frame.check(s.meta, cfg.road_frame),
               lambda: control_range.check(s.meta, cfg.controls),
               lambda: cfa_pattern.check(s, cfg.cfa),
               lambda: clip_yaw_rate.check(s.meta, cfg.clip_yaw),
               lambda: object_relief.check(s, cfg.relief),
               lambda: wheel_order.check(s.meta, cfg.wheels),
               lambda: sky_render.check(s, cfg.sky_render),
               lambda: camera_planes.check(s.meta, cfg.planes)):  # fmt: skip
        try:
            found += fn()
        except (KeyError, TypeError, ValueError, IndexError) as exc:  # malformed metadata
            found.append(Flag("schema", f"cannot cross-check: {type(exc).__name__}: {exc}"))
    return found


def _listed(f: Flag | None) -> list[Flag]:
    return [] if f is None else [f]
