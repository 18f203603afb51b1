"""Rows of a frame against the same rows of its scenario's other frames: ``torn_frame``.

Two frames of one camera 0.2 s apart may share rows byte for byte where nothing in view
changed (a sky gradient, a black night sky), but then their labels share those rows too. A
block of rows whose pixels equal another frame's while the segmentation of those rows differs
was not rendered from this frame's scene: a buffer swap during read-out (a torn frame), rows
of a stale buffer. Which of the two frames holds the foreign rows is told by the labels: an
image's edges lie on its own label boundaries, so in those rows the contrast across the
frame's label boundaries (relative to the contrast elsewhere) is lower in the frame holding
another frame's pixels than in the frame they came from. The finding names the rows, the
frame they match and both edge contrasts.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag


@dataclass(frozen=True)
class FrameTearsConfig:
    min_rows_frac: float = 0.05  # of the height: a block at least this tall ...
    min_rows: int = 2  # ... and at least this many rows
    edge_ratio: float = 1.2  # label edges this much sharper in the other frame's rows

    def __post_init__(self) -> None:
        for name in ("min_rows_frac", "min_rows", "edge_ratio"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"FrameTearsConfig.{name} must be > 0, got {value}")
        if self.edge_ratio < 1:
            raise ValueError(f"FrameTearsConfig.edge_ratio must be >= 1, got "
                             f"{self.edge_ratio}")  # fmt: skip


@dataclass
class RowSummary:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    frame: int
    rgb_rows: np.ndarray  # (H,) crc32 of each image row
    seg_rows: np.ndarray  # (H,) crc32 of each segmentation row
    textured: np.ndarray  # (H,) bool: the row is not one colour
    edges: np.ndarray  # (4, H): per row, summed contrast on / off label boundaries, counts


def _row_hashes(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return np.array([zlib.crc32(a[r].tobytes()) for r in range(a.shape[0])], dtype=np.int64)


def _row_edges(rgb: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """(4, H): per row, the summed image contrast (|difference| of neighbouring pixels, summed
    over channels) across label boundaries, its count, the same off the boundaries and its
    count. A vertical neighbour pair counts for both of its rows."""
    x = rgb.astype(np.float64)
    out = np.zeros((4, seg.shape[0]))
    gh, bh = np.abs(np.diff(x, axis=1)).sum(2), seg[:, 1:] != seg[:, :-1]
    gv, bv = np.abs(np.diff(x, axis=0)).sum(2), seg[1:] != seg[:-1]
    for k, v in enumerate(((gh * bh).sum(1), bh.sum(1), (gh * ~bh).sum(1), (~bh).sum(1))):
        out[k] += v
    for k, v in enumerate(((gv * bv).sum(1), bv.sum(1), (gv * ~bv).sum(1), (~bv).sum(1))):
        out[k, :-1] += v
        out[k, 1:] += v
    return out


def _edge_contrast(edges: np.ndarray, rows: np.ndarray) -> float:
    """Mean contrast across label boundaries / mean contrast elsewhere, over ``rows``."""
    on, n_on, off, n_off = edges[:, rows].sum(1)
    return (on / max(n_on, 1.0)) / max(off / max(n_off, 1.0), 1e-9)


def summarize(s) -> RowSummary | None:
    m = s.meta
    rgb, seg = getattr(s, "rgb", None), getattr(s, "seg", None)
    if not isinstance(m, dict) or rgb is None or seg is None or rgb.ndim != 3:
        return None
    if seg.shape != rgb.shape[:2]:
        return None
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    scenario = (str(m.get("split", s.shard.rsplit("-", 1)[0])), str(m.get("scenario_id")),
                str(cam.get("name", "")))
    try:
        frame = int(m.get("frame", -1))
    except (TypeError, ValueError):
        frame = -1
    textured = (rgb != rgb[:, :1]).any(axis=(1, 2))
    return RowSummary(s.key, s.shard, scenario, frame, _row_hashes(rgb), _row_hashes(seg),
                      textured, _row_edges(rgb, seg))  # fmt: skip


def _foreign_rows(a: RowSummary, b: RowSummary) -> np.ndarray:
    """Rows whose pixels ``a`` and ``b`` share (not one colour) while their labels differ."""
    if a.rgb_rows.shape != b.rgb_rows.shape:
        return np.zeros(0, dtype=np.int64)
    same = (a.rgb_rows == b.rgb_rows) & (a.seg_rows != b.seg_rows) & a.textured & b.textured
    return np.flatnonzero(same)


def _span(rows: np.ndarray) -> str:
    """``"a..b"`` for the rows' range, with ``" (in parts)"`` when it has gaps."""
    if rows.size == 0:
        return "none"
    gaps = "" if rows[-1] - rows[0] + 1 == rows.size else " in parts"
    return f"{rows[0]}..{rows[-1]}{gaps}"


def _judge_pair(a: RowSummary, b: RowSummary, cfg: FrameTearsConfig) -> Flag | None:
    """A flag for ``a`` when it holds rows of ``b`` whose edges lie on ``b``'s labels."""
    rows = _foreign_rows(a, b)
    need = max(cfg.min_rows, int(np.ceil(cfg.min_rows_frac * a.rgb_rows.size)))
    if rows.size < need:
        return None
    mine, theirs = _edge_contrast(a.edges, rows), _edge_contrast(b.edges, rows)
    if theirs <= mine * cfg.edge_ratio:
        return None
    equal = np.flatnonzero(a.rgb_rows == b.rgb_rows)
    return flag("torn_frame", f"image rows {_span(equal)} ({equal.size}) equal frame {b.frame}'s "
                f"byte for byte while the segmentation differs in {rows.size} of them; their "
                f"edges lie on frame {b.frame}'s labels (contrast across label boundaries "
                f"x{theirs:.1f} of elsewhere there, x{mine:.1f} on this frame's); rows",
                rows.size, f"rows of another frame are allowed only with its labels; at least "
                f"{need} rows and edge contrast ratio > {cfg.edge_ratio:g}", "d")  # fmt: skip


def judge(summaries: list[RowSummary], cfg: FrameTearsConfig) -> list[tuple[str, str, Flag]]:
    """(key, shard, flag) of frames holding rows of another frame of their scenario."""
    groups: dict[tuple[str, str, str], list[RowSummary]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    out = []
    for frames in groups.values():
        for i, a in enumerate(frames):
            found = [fl for j, b in enumerate(frames) if j != i
                     if (fl := _judge_pair(a, b, cfg)) is not None]  # fmt: skip
            if found:
                out.append((a.key, a.shard, max(found, key=lambda fl: fl.value or 0.0)))
    return out
