"""The frame's colours, class by class, against its scenario's other frames: channel order.

Within one scenario (same camera, weather and light, frames 0.2 s apart) each class of the
segmentation keeps its colour: the sky, the road, the grass and the cars look alike from
frame to frame. Each class's chromaticity (log of its mean linear r, g, b minus their mean) is
compared with the median of the other frames' same class, as stored and with the channels of
the other frames reordered in each of the five other ways. ``channel_order`` flags a frame
that departs from the other frames as stored (weighted RMS over classes above
``min_departure``) while some reordering fits it ``fit_ratio`` times better: an image handed
over as BGR (or in any other channel order). The finding names the order and both misfits.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag

ORDERS = tuple(p for p in itertools.permutations(range(3)) if p != (0, 1, 2))


@dataclass(frozen=True)
class ChannelOrderConfig:
    min_class_px: int = 12
    floor: float = 0.002  # linear light added before the log (sensor black level)
    min_departure: float = 0.1  # weighted RMS of the chromaticity departure, as stored
    fit_ratio: float = 3.0  # a reordering must fit this many times better
    min_classes: int = 2

    def __post_init__(self) -> None:
        for name in ("min_class_px", "floor", "min_departure", "fit_ratio", "min_classes"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"ChannelOrderConfig.{name} must be > 0, got {value}")


@dataclass
class ColourSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    colours: np.ndarray  # (256, 3) mean linear r, g, b per class id, NaN where too few pixels
    pixels: np.ndarray  # (256,) pixel counts


def summarize(s, cfg: ChannelOrderConfig) -> ColourSummary | None:
    from sim.weather.color import srgb_to_linear

    m = s.meta
    if not isinstance(m, dict) or s.rgb is None or s.seg is None or s.rgb.ndim != 3:
        return None
    if s.seg.shape != s.rgb.shape[:2] or s.rgb.dtype != np.uint8:
        return None
    lin = srgb_to_linear(np.ascontiguousarray(s.rgb[..., :3])).reshape(-1, 3).astype(np.float64)
    cls = s.seg.ravel().astype(np.int64) % 256
    n = np.bincount(cls, minlength=256).astype(np.float64)
    sums = np.stack([np.bincount(cls, lin[:, c], minlength=256) for c in range(3)], axis=1)
    mean = np.where((n >= cfg.min_class_px)[:, None], sums / np.maximum(n, 1)[:, None], np.nan)
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    return ColourSummary(s.key, s.shard, (str(m.get("split", s.shard.rsplit("-", 1)[0])),
                                          str(m.get("scenario_id")), str(cam.get("name", ""))),
                         mean, n)  # fmt: skip


def _chroma(rgb: np.ndarray, floor: float) -> np.ndarray:
    q = np.log(rgb + floor)
    return q - q.mean(axis=-1, keepdims=True)


def _misfits(f: ColourSummary, others: list[ColourSummary], cfg: ChannelOrderConfig
             ) -> tuple[float, float, tuple[int, ...], int] | None:  # fmt: skip
    """(RMS departure as stored, best RMS over reorderings, that order, classes used)."""
    own = np.flatnonzero(np.isfinite(f.colours).all(1))
    stack = np.array([o.colours[own] for o in others])
    seen = np.isfinite(stack).all(2).sum(0) >= 1
    own, stack = own[seen], stack[:, seen]
    if own.size < cfg.min_classes:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanmedian(stack, axis=0)
    w = f.pixels[own] / f.pixels[own].sum()
    q = _chroma(f.colours[own], cfg.floor)

    def rms(r: np.ndarray) -> float:
        return float(np.sqrt((w * ((q - _chroma(r, cfg.floor)) ** 2).sum(1)).sum()))

    stored = rms(ref)
    best = min(ORDERS, key=lambda p: rms(ref[:, list(p)]))
    return stored, rms(ref[:, list(best)]), best, int(own.size)


def _judge_frame(f: ColourSummary, others: list[ColourSummary],
                 cfg: ChannelOrderConfig) -> Flag | None:  # fmt: skip
    found = _misfits(f, others, cfg)
    if found is None:
        return None
    stored, swapped, order, n = found
    if stored <= cfg.min_departure or swapped * cfg.fit_ratio >= stored:
        return None
    name = "".join("RGB"[c] for c in order)
    return flag("channel_order", f"colours of {n} classes vs its scenario's {len(others)} other "
                f"frames: as stored off by {stored:.2f} (log chromaticity, RMS), with the "
                f"channels read as {name} off by {swapped:.2f}; ratio", stored / max(swapped, 1e-9),
                f"a reordering may not fit better than x{cfg.fit_ratio:g} when the stored "
                f"colours are off by > {cfg.min_departure:g}", ".1f")  # fmt: skip


def judge(summaries: list[ColourSummary], cfg: ChannelOrderConfig
          ) -> list[tuple[str, str, Flag]]:  # fmt: skip
    """(key, shard, flag) of frames whose colours fit the scenario's others only reordered."""
    groups: dict[tuple[str, str, str], list[ColourSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        for i, f in enumerate(frames):
            others = frames[:i] + frames[i + 1:]
            fl = _judge_frame(f, others, cfg) if len(others) >= 2 else None
            if fl is not None:
                out.append((f.key, f.shard, fl))
    return out
