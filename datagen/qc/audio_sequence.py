"""The audio clips of one scenario against each other: cuts of one waveform.

The generator synthesises each scenario's sound once and cuts every frame's clip from it:
the ``duration_s`` seconds ending at the frame's ``time_s`` (``datagen.audio.clip``). Two
frames whose windows overlap therefore hold the same samples over the overlap, placed where
their ``time_s`` says (on generated data: bit for bit). ``audio_continuity`` pins a clip that
disagrees with every other clip of its scenario it overlaps, while one of those agrees with
a third (so the odd one out, not its neighbour, is blamed): a clip of another frame or
scenario, or a ``time_s`` that puts the clip at the wrong place. The finding names the
frames, the relative difference over the overlap and, where the clip matches another clip
at some other offset, that offset (the time the clip really ends at, relative to
``time_s``).

Each clip is kept as a fingerprint: the mean of every ``block`` samples on the scenario's
absolute sample grid (so clips cut at different times share blocks exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class AudioSequenceConfig:
    block: int = 16  # samples averaged per fingerprint value (1 ms at 16 kHz)
    min_overlap_s: float = 0.1  # shorter common stretches are not compared
    max_difference: float = 0.1  # relative RMS difference over the overlap that still agrees
    min_rms: float = 1e-4  # an overlap quieter than this in both clips says nothing
    partners: int = 4  # clips compared on each side in time

    def __post_init__(self) -> None:
        for name in ("block", "min_overlap_s", "max_difference", "min_rms", "partners"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"AudioSequenceConfig.{name} must be > 0, got {value}")


@dataclass
class ClipPrint:
    key: str
    shard: str
    scenario: tuple[str, str]
    frame: int
    time_s: float
    sample_rate: int
    start_block: int  # index of the first fingerprint block on the absolute grid
    blocks: np.ndarray  # block means, float64


def summarize(s, cfg: AudioSequenceConfig) -> ClipPrint | None:
    """The clip's fingerprint, or None without audio or a usable ``time_s``."""
    m = s.meta
    if not isinstance(m, dict) or s.audio is None or s.audio.ndim != 1 or s.sample_rate <= 0:
        return None
    try:
        t, frame = float(m["time_s"]), int(m.get("frame", -1))
    except (KeyError, TypeError, ValueError):
        return None
    if not np.isfinite(t) or t < 0:
        return None
    stop = int(round(t * s.sample_rate)) + 1  # datagen.audio.clip_bounds
    start = stop - s.audio.size
    first = -(-start // cfg.block)  # first block wholly inside the clip
    last = stop // cfg.block
    if last <= first:
        return None
    x = s.audio.astype(np.float64)[first * cfg.block - start: last * cfg.block - start]
    return ClipPrint(s.key, s.shard, (str(m.get("split", s.shard.rsplit("-", 1)[0])),
                                      str(m.get("scenario_id"))), frame, t, s.sample_rate,
                     first, x.reshape(-1, cfg.block).mean(axis=1))  # fmt: skip


def _difference(a: np.ndarray, b: np.ndarray, min_rms: float) -> float | None:
    """Relative RMS difference of two equal-length stretches; None when both are silent."""
    scale = max(float(np.sqrt(np.mean(a * a))), float(np.sqrt(np.mean(b * b))))
    if scale < min_rms:
        return None
    return float(np.sqrt(np.mean((a - b) ** 2))) / scale


def compare(a: ClipPrint, b: ClipPrint, cfg: AudioSequenceConfig,
            offset: int = 0) -> tuple[float, int] | None:  # fmt: skip
    """(relative difference, blocks compared) of ``a`` shifted by ``offset`` blocks against
    ``b`` over their common stretch; None if too short or silent."""
    a0 = a.start_block + offset
    lo, hi = max(a0, b.start_block), min(a0 + a.blocks.size, b.start_block + b.blocks.size)
    need = cfg.min_overlap_s * a.sample_rate / cfg.block
    if hi - lo < max(need, 1) or a.sample_rate != b.sample_rate:
        return None
    d = _difference(a.blocks[lo - a0: hi - a0], b.blocks[lo - b.start_block: hi - b.start_block],
                    cfg.min_rms)  # fmt: skip
    return None if d is None else (d, hi - lo)


def best_offset(a: ClipPrint, b: ClipPrint, cfg: AudioSequenceConfig) -> float | None:
    """Seconds by which ``a`` must move to agree with ``b`` (None if no offset agrees)."""
    x, y = a.blocks, b.blocks
    if a.sample_rate != b.sample_rate or x.size == 0 or y.size == 0:
        return None
    rel = np.arange(-(x.size - 1), y.size)  # a's block 0 sits at b's block rel
    cross = np.correlate(y, x, "full")
    cx, cy = np.concatenate([[0.0], np.cumsum(x * x)]), np.concatenate([[0.0], np.cumsum(y * y)])
    a_lo, a_hi = np.maximum(0, -rel), np.minimum(x.size, y.size - rel)
    n = a_hi - a_lo
    sa, sb = cx[a_hi] - cx[a_lo], cy[a_lo + rel + n] - cy[a_lo + rel]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt(np.maximum(sa, sb) / np.maximum(n, 1))
        diff = np.sqrt(np.maximum(sa + sb - 2 * cross, 0.0) / np.maximum(n, 1)) / scale
    offset = rel - (a.start_block - b.start_block)
    ok = (n >= max(cfg.min_overlap_s * a.sample_rate / cfg.block, 1)) & (scale >= cfg.min_rms)
    ok &= (offset != 0) & (diff <= cfg.max_difference)
    if not ok.any():
        return None
    best = int(np.argmin(np.where(ok, diff, np.inf)))
    return float(offset[best]) * cfg.block / a.sample_rate


def _verdicts(clips: list[ClipPrint], cfg: AudioSequenceConfig
              ) -> dict[int, list[tuple[int, float]]]:  # fmt: skip
    """Per clip, (partner, relative difference) for each overlapping partner compared."""
    out: dict[int, list[tuple[int, float]]] = {i: [] for i in range(len(clips))}
    for i in range(len(clips)):
        for j in range(i + 1, min(len(clips), i + 1 + 2 * cfg.partners)):
            found = compare(clips[i], clips[j], cfg)
            if found is not None:
                out[i].append((j, found[0]))
                out[j].append((i, found[0]))
    return out


def _finding(i: int, clips: list[ClipPrint], pairs: list[tuple[int, float]],
             cfg: AudioSequenceConfig) -> Flag:  # fmt: skip
    c = clips[i]
    frames = ", ".join(str(clips[j].frame) for j, _ in pairs)
    worst = min(d for _, d in pairs)
    where = ""
    for j, _ in pairs:
        off = best_offset(c, clips[j], cfg)
        if off is not None:
            where = (f"; it matches frame {clips[j].frame}'s clip if it ended {off:+.3f} s from "
                     f"its time_s {c.time_s:g} s")
            break
    return flag("audio_continuity", f"audio clip unlike the same stretch of the scenario's "
                f"clips of frames {frames} (cuts of one waveform, which agree with other "
                f"clips){where}: relative difference", worst,
                f"allowed {cfg.max_difference}", ".2f")  # fmt: skip


def check(prints: list[ClipPrint], cfg: AudioSequenceConfig) -> list[tuple[str, str, Flag]]:
    """(key, shard, flag) for each clip that disagrees with every overlapping clip of its
    scenario while at least one of those agrees with some other clip."""
    groups: dict[tuple[str, str], list[ClipPrint]] = {}
    for p in prints:
        groups.setdefault(p.scenario, []).append(p)
    out = []
    for clips in groups.values():
        clips.sort(key=lambda p: (p.frame, p.time_s, p.key))
        verdicts = _verdicts(clips, cfg)
        good = {i for i, v in verdicts.items() if any(d <= cfg.max_difference for _, d in v)}
        for i, pairs in verdicts.items():
            if pairs and i not in good and any(j in good for j, _ in pairs):
                out.append((clips[i].key, clips[i].shard, _finding(i, clips, pairs, cfg)))
    return out
