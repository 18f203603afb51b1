"""Compiled nearest-point projection onto a road's centre line (:meth:`sim.road.Road.project`).

The same search as the numpy code it replaces (nearest sample among the candidates, then the
segments around it; first minimum on ties), for one or a few points per call: a vehicle's
wheels every physics step, the ego every control step. :func:`surface_codes` adds the
surface map's interval lookup (:class:`sim.weather.surface.SurfaceMap`) for the wheels.
See :mod:`sim.jit`.
"""

from __future__ import annotations

import numpy as np

from sim.jit import njit


@njit
def _nearest(px, py, xy, seg_dir, seg_len, closed, cand_start, cand_count, window):
    """(segment, distance along it, offset x, offset y) of the point nearest (px, py)."""
    n = xy.shape[0] - 1
    best, nearest = np.inf, 0
    for j in range(cand_count):
        k = cand_start + j
        k = k % n if closed else min(max(k, 0), n - 1)
        d2 = (xy[k, 0] - px) ** 2 + (xy[k, 1] - py) ** 2
        if d2 < best:
            best, nearest = d2, k
    best = np.inf
    seg, t_best, o0, o1 = 0, 0.0, 0.0, 0.0
    for j in range(-window, window):
        k = nearest + j
        k = k % n if closed else min(max(k, 0), n - 1)
        r0, r1 = px - xy[k, 0], py - xy[k, 1]
        t = min(max(r0 * seg_dir[k, 0] + r1 * seg_dir[k, 1], 0.0), seg_len[k])
        f0, f1 = r0 - t * seg_dir[k, 0], r1 - t * seg_dir[k, 1]
        d2 = f0 * f0 + f1 * f1
        if d2 < best:
            best, seg, t_best, o0, o1 = d2, k, t, f0, f1
    return seg, t_best, o0, o1


@njit
def project(p, xy, s, seg_dir, seg_len, heading, curvature, closed, cand_start, cand_count,
            window, out):  # fmt: skip
    """Row ``m`` of ``out`` (M, 4): station, lateral offset, heading and curvature of point
    ``p[m]``. Candidate samples: ``cand_count`` consecutive indices from ``cand_start``
    (wrapped on closed roads, clamped on open ones); ``window`` segments each side."""
    length = s[xy.shape[0] - 1]
    for m in range(p.shape[0]):
        seg, t, o0, o1 = _nearest(p[m, 0], p[m, 1], xy, seg_dir, seg_len, closed, cand_start,
                                  cand_count, window)  # fmt: skip
        station = s[seg] + t
        out[m, 0] = station
        out[m, 1] = seg_dir[seg, 0] * o1 - seg_dir[seg, 1] * o0
        wrapped = np.mod(station, length) if closed else min(max(station, 0.0), length)
        out[m, 2] = np.interp(wrapped, s, heading)
        out[m, 3] = np.interp(wrapped, s, curvature)


@njit
def surface_codes(p, xy, s, seg_dir, seg_len, closed, cand_start, cand_count, window,
                  breaks, codes, map_length, map_closed, out):  # fmt: skip
    """The surface code of each point ``p[m]`` into ``out[m]``: its station on the road
    (as :func:`project`), wrapped or clamped to the map's length, looked up in the map's
    intervals (``codes[i]`` on ``[breaks[i], breaks[i + 1])``). Returns the last station."""
    station = 0.0
    for m in range(p.shape[0]):
        seg, t, _, _ = _nearest(p[m, 0], p[m, 1], xy, seg_dir, seg_len, closed, cand_start,
                                cand_count, window)  # fmt: skip
        station = s[seg] + t
        x = np.mod(station, map_length) if map_closed else min(max(station, 0.0), map_length)
        out[m] = codes[np.searchsorted(breaks, x, side="right") - 1]
    return station
