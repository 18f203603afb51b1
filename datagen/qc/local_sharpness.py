"""Edge sharpness part by part of the frame: a blur that covers only some of the image.

:func:`datagen.qc.optics.edge_sharpness` judges the median over the whole frame of the 1-px /
3-px step ratio at label boundaries, so a blur over half of the image (a tilted sensor, a
smear or a drop on part of the lens, a local defocus) moves it only half-way. Here the same
ratio is taken in each half of the frame (left, right, top, bottom) and in each of nine
half-size windows (a 3 x 3 grid at quarter steps), wherever ``min_pairs`` boundary pairs fall:

- ``local_sharpness``: some part's median log ratio lies below ``floor`` (lower where rain or
  hail falls, and not judged in snowfall of ``snow_skip_intensity`` or more: flakes and drops
  soften edges; clean generated frames stay above it) and, when at least two of the
  scenario's other frames measure the same part, ``min_drop`` below their median (so a part
  that is soft in every frame of the scenario, such as a far fog bank, is not blamed on this
  frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag

HALVES = ((0.0, 0.5, 0.0, 1.0, "top half"), (0.5, 1.0, 0.0, 1.0, "bottom half"),
          (0.0, 1.0, 0.0, 0.5, "left half"), (0.0, 1.0, 0.5, 1.0, "right half"))  # fmt: skip
WINDOWS = tuple((a, a + 0.5, b, b + 0.5, f"window rows {a:.0%}-{a + 0.5:.0%}, columns "
                 f"{b:.0%}-{b + 0.5:.0%}") for a in (0.0, 0.25, 0.5) for b in (0.0, 0.25, 0.5))
REGIONS = HALVES + WINDOWS


@dataclass(frozen=True)
class LocalSharpnessConfig:
    min_pairs: int = 16
    floor: float = -0.7  # log(1-px / 3-px step); a 1-2 px Gaussian blur gives -0.8..-1.1
    precip_floor_per_intensity: float = 0.7  # ... minus this x rain or hail intensity
    snow_skip_intensity: float = 0.2  # not judged in snowfall this heavy (flakes hide edges)
    min_drop: float = 0.4  # below the median of the scenario's other frames' same part

    def __post_init__(self) -> None:
        if self.min_pairs < 1:
            raise ValueError(f"LocalSharpnessConfig.min_pairs must be >= 1, got {self.min_pairs}")
        if not self.floor < 0:
            raise ValueError(f"LocalSharpnessConfig.floor must be < 0, got {self.floor}")
        for name in ("precip_floor_per_intensity", "min_drop"):
            if getattr(self, name) < 0:
                raise ValueError(f"LocalSharpnessConfig.{name} must be >= 0, got "
                                 f"{getattr(self, name)}")  # fmt: skip


@dataclass
class SharpnessSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    parts: np.ndarray  # per REGIONS entry: median log ratio, NaN where too few pairs
    floor: float


def floor_for(meta: dict, cfg: LocalSharpnessConfig) -> float:
    w = meta.get("weather", {}) if isinstance(meta.get("weather"), dict) else {}
    try:
        falls = float(w.get("precip_intensity", 0.0)) if w.get("precip_type") in (
            "snow", "rain", "hail") else 0.0  # fmt: skip
    except (TypeError, ValueError):
        return -math.inf
    if w.get("precip_type") == "snow" and falls >= cfg.snow_skip_intensity:
        return -math.inf
    return cfg.floor - cfg.precip_floor_per_intensity * min(max(falls, 0.0), 1.0)


def summarize(s, cfg: LocalSharpnessConfig, optics_cfg=None) -> SharpnessSummary | None:
    from datagen.qc.optics import OpticsConfig, boundary_pairs

    m = s.meta
    if not isinstance(m, dict) or floor_for(m, cfg) == -math.inf:
        return None
    p = boundary_pairs(s, optics_cfg or OpticsConfig())
    if p is None:
        return None
    h, w = s.seg.shape
    ratio = np.log(np.maximum(np.minimum(p.step1 / np.maximum(p.step3, 1.0), 2.0), 1e-3))
    parts = np.full(len(REGIONS), np.nan)
    for k, (y0, y1, x0, x1, _) in enumerate(REGIONS):
        inside = (p.y >= y0 * h) & (p.y < y1 * h) & (p.x >= x0 * w) & (p.x < x1 * w)
        if int(inside.sum()) >= cfg.min_pairs:
            parts[k] = float(np.median(ratio[inside]))
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    return SharpnessSummary(s.key, s.shard, (str(m.get("split", s.shard.rsplit("-", 1)[0])),
                                             str(m.get("scenario_id")), str(cam.get("name", ""))),
                            parts, floor_for(m, cfg))  # fmt: skip


def _judge_frame(f: SharpnessSummary, others: list[SharpnessSummary],
                 cfg: LocalSharpnessConfig) -> Flag | None:  # fmt: skip
    ref = np.array([o.parts for o in others]) if others else np.zeros((0, len(REGIONS)))
    worst = None
    for k, v in enumerate(f.parts):
        if not np.isfinite(v) or v >= f.floor:
            continue
        own = ref[:, k][np.isfinite(ref[:, k])] if len(ref) else np.zeros(0)
        drop = v - float(np.median(own)) if own.size >= 2 else None
        if drop is not None and drop > -cfg.min_drop:
            continue
        if worst is None or v < worst[1]:
            worst = (k, v, drop, own.size)
    if worst is None:
        return None
    k, v, drop, n = worst
    vs = f", {drop:+.2f} from its scenario's {n} other frames there" if drop is not None else ""
    return flag("local_sharpness", f"image edges soft in the {REGIONS[k][4]}{vs}: median "
                "1-px / 3-px step at its label boundaries", math.exp(v),
                f"allowed >= {math.exp(f.floor):.2f} in this weather", ".2f")  # fmt: skip


def judge(summaries: list[SharpnessSummary], cfg: LocalSharpnessConfig
          ) -> list[tuple[str, str, Flag]]:  # fmt: skip
    groups: dict[tuple[str, str, str], list[SharpnessSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        for i, f in enumerate(frames):
            fl = _judge_frame(f, frames[:i] + frames[i + 1:], cfg)
            if fl is not None:
                out.append((f.key, f.shard, fl))
    return out
