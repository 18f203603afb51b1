"""Rule-based checks of one decoded sample: each rule returns a reason string or None.

Rules encode what a valid sample must satisfy (DESIGN.md's shard schema): frames neither
black nor saturated nor drowned in noise, the camera not inside geometry, the car upright
and on the road, labels present and consistent with the masks, audio neither silent nor
clipped, no NaN anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datagen.qc.shardio import Decoded


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds of the rules (defaults suit 8-bit frames, depth in mm, 16-bit audio)."""

    black_mean: float = 6.0
    saturated_mean: float = 249.0
    min_frame_std: float = 1.0
    max_noise_sigma: float = 30.0
    near_depth_mm: int = 300
    near_depth_fraction: float = 0.7
    max_lateral_offset_m: float = 12.0
    silent_rms: float = 1e-4
    clip_level: float = 0.999
    clipped_fraction: float = 0.01

    def __post_init__(self) -> None:
        for name in ("black_mean", "saturated_mean", "max_noise_sigma", "near_depth_fraction",
                     "silent_rms",
                     "clip_level", "clipped_fraction", "max_lateral_offset_m"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"RuleConfig.{name} must be > 0, got {value}")
        if self.black_mean >= self.saturated_mean:
            raise ValueError(f"RuleConfig.black_mean must be < saturated_mean, got "
                             f"{self.black_mean}")


Rule = Callable[[Decoded, RuleConfig], str | None]


def decodable(s: Decoded, cfg: RuleConfig) -> str | None:
    missing = [n for n in ("rgb", "depth", "seg", "inst", "audio", "meta")
               if getattr(s, n) is None]
    if s.errors:
        return "undecodable " + ", ".join(s.errors)
    return f"missing {', '.join(missing)}" if missing else None


def frame_exposure(s: Decoded, cfg: RuleConfig) -> str | None:
    if s.rgb is None:
        return None
    mean, std = float(s.rgb.mean()), float(s.rgb.std())
    if mean < cfg.black_mean:
        return f"black frame (mean {mean:.1f})"
    if mean > cfg.saturated_mean:
        return f"saturated frame (mean {mean:.1f})"
    if std < cfg.min_frame_std:
        return f"flat frame (std {std:.2f})"
    return None


def sensor_noise(s: Decoded, cfg: RuleConfig) -> str | None:
    """A frame drowned in noise: the robust noise estimate from neighbouring pixels,
    median(|x[i+1] - x[i]|) / (0.6745 sqrt 2), far above the simulated sensor's grain (its
    night and storm presets stay below 20 DN on generated data; a broken sensor is higher)."""
    if s.rgb is None or s.rgb.ndim != 3 or s.rgb.shape[1] < 2:
        return None
    diff = np.abs(np.diff(s.rgb[..., :3].astype(np.int16), axis=1))
    sigma = float(np.median(diff)) / (0.6745 * math.sqrt(2))
    return f"noisy frame (noise sigma {sigma:.0f})" if sigma > cfg.max_noise_sigma else None


def camera_in_geometry(s: Decoded, cfg: RuleConfig) -> str | None:
    if s.depth is None:
        return None
    near = float(((s.depth > 0) & (s.depth < cfg.near_depth_mm)).mean())
    return f"camera inside geometry ({near:.0%} of depth < {cfg.near_depth_mm} mm)" \
        if near > cfg.near_depth_fraction else None


def ego_pose(s: Decoded, cfg: RuleConfig) -> str | None:
    """Upside-down camera (its y axis, 'down', points up in the world) or car off the road."""
    if s.meta is None:
        return None
    t = s.meta.get("camera", {}).get("T_world_cam")
    if isinstance(t, list) and len(t) == 16 and float(t[9]) > 0.5:  # R[2][1]: cam y . world z
        return "car flipped (camera upside down)"
    offset = s.meta.get("road", {}).get("lateral_offset_m")
    if isinstance(offset, int | float) and abs(offset) > cfg.max_lateral_offset_m:
        return f"car off the road (lateral offset {offset:.1f} m)"
    return None


def labels(s: Decoded, cfg: RuleConfig) -> str | None:
    if s.seg is None or s.inst is None or s.meta is None:
        return None
    if len(np.unique(s.seg)) < 2:
        return "empty segmentation (one class only)"
    objects = s.meta.get("objects", [])
    mask_ids = set(np.unique(s.inst).tolist()) - {0}
    meta_ids = {int(o.get("instance_id", -1)) for o in objects}
    if mask_ids != meta_ids:
        return f"instances in mask and metadata differ ({len(mask_ids)} vs {len(meta_ids)})"
    return _boxes(s.inst, objects)


def _boxes(inst: np.ndarray, objects: list[dict]) -> str | None:
    for o in objects:
        ys, xs = np.nonzero(inst == int(o["instance_id"]))
        box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        if [int(v) for v in o.get("bbox2d", [])] != box or o.get("visible_px") != len(xs):
            return f"object {o['instance_id']} box or pixel count disagrees with its mask"
    return None


def audio(s: Decoded, cfg: RuleConfig) -> str | None:
    if s.audio is None:
        return None
    if s.audio.size == 0 or not np.isfinite(s.audio).all():
        return "audio empty or not finite"
    rms = float(np.sqrt(np.mean(np.square(s.audio, dtype=np.float64))))
    if rms < cfg.silent_rms:
        return f"silent audio (rms {rms:.1e})"
    clipped = float((np.abs(s.audio) >= cfg.clip_level).mean())
    return f"clipped audio ({clipped:.1%} at full scale)" if clipped > cfg.clipped_fraction \
        else None


def finite_metadata(s: Decoded, cfg: RuleConfig) -> str | None:
    if s.meta is None:
        return None
    bad = _first_non_finite(s.meta, "json")
    return f"non-finite value at {bad}" if bad else None


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
}


def check(s: Decoded, cfg: RuleConfig) -> list[tuple[str, str]]:
    """Every (rule, reason) that ``s`` fails."""
    found = []
    for name, rule in RULES.items():
        reason = rule(s, cfg)
        if reason:
            found.append((name, reason))
    return found
