"""The image's colour levels against its scenario's other frames: ``bit_depth``.

A rendered 8-bit image uses neighbouring levels: wherever a channel's values spread over a
range, some two of its levels present are one code apart. An image that passed through fewer
bits (a 565 or 444 frame buffer, a 3-3-2 palette) and was scaled back to 8 bits uses only
levels ``255 / (2^b - 1)`` apart: every channel's levels present lie ``min_gap`` or more
codes apart. The frame is flagged where every channel with ``min_levels`` or more levels has
such gaps, unless all the scenario's other frames (same camera, 0.2 s apart) do; the finding
names each channel's levels and smallest gap, with the bits they fit, and the other frames'
levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class BitDepthConfig:
    min_gap: int = 3  # codes between neighbouring levels present in a quantised channel
    min_levels: int = 3  # channels with fewer levels present say nothing

    def __post_init__(self) -> None:
        for name in ("min_gap", "min_levels"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 2):
                raise ValueError(f"BitDepthConfig.{name} must be an int >= 2, got {value!r}")


@dataclass
class LevelSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    levels: tuple[int, ...]  # distinct values per channel
    gaps: tuple[int, ...]  # smallest step between neighbouring values present, per channel


def summarize(s) -> LevelSummary | None:
    m = s.meta
    rgb = s.rgb
    if not isinstance(m, dict) or rgb is None or rgb.ndim != 3 or rgb.dtype != np.uint8:
        return None
    levels, gaps = [], []
    for c in range(min(3, rgb.shape[2])):
        present = np.flatnonzero(np.bincount(rgb[..., c].ravel(), minlength=256))
        levels.append(int(present.size))
        gaps.append(int(np.diff(present).min()) if present.size > 1 else 0)
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    return LevelSummary(s.key, s.shard, (str(m.get("split", s.shard.rsplit("-", 1)[0])),
                                         str(m.get("scenario_id")), str(cam.get("name", ""))),
                        tuple(levels), tuple(gaps))  # fmt: skip


def quantised(f: LevelSummary, cfg: BitDepthConfig) -> bool:
    judged = [g for n, g in zip(f.levels, f.gaps, strict=True) if n >= cfg.min_levels]
    return len(judged) >= 2 and min(judged) >= cfg.min_gap


def _bits(gap: int) -> int:
    return max(1, round(math.log2(255.0 / gap + 1)))


def check(f: LevelSummary, others: list[LevelSummary], cfg: BitDepthConfig) -> Flag | None:
    if not quantised(f, cfg) or (others and all(quantised(o, cfg) for o in others)):
        return None
    chans = ", ".join(f"{c} {n} levels {g} apart (~{_bits(g)} bits)"
                      for c, n, g in zip("RGB", f.levels, f.gaps, strict=False))  # fmt: skip
    seen = (f"; the scenario's {len(others)} other frames use "
            + ", ".join("/".join(str(n) for n in o.levels) for o in others)
            + " levels with neighbours" if others else "")  # fmt: skip
    return flag("bit_depth", f"the image's channels use only quantised levels: {chans}{seen}; "
                "smallest gap [codes]", min(g for n, g in zip(f.levels, f.gaps, strict=True)
                                             if n >= cfg.min_levels),
                f"a rendered 8-bit image has levels 1 code apart; flagged at >= {cfg.min_gap}",
                ".0f")


def judge(summaries: list[LevelSummary], cfg: BitDepthConfig) -> list[tuple[str, str, Flag]]:
    groups: dict[tuple[str, str, str], list[LevelSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        for i, f in enumerate(frames):
            found = check(f, frames[:i] + frames[i + 1:], cfg)
            if found is not None:
                out.append((f.key, f.shard, found))
    return out
