"""The road's surface state along its length, for the vehicle physics.

:class:`SurfaceMap` splits the road (stations 0..road_length) into a base surface from the
weather (dry, wet, snow or ice; :func:`sim.weather.metadata.surface`) with patches laid on
top: puddles (wet) covering about ``puddles`` of the length, snow patches (``snow_cover``)
and ice patches (``ice``). Patch lengths and positions come from ``rng`` at construction;
lookups are pure. Priority where patches overlap: ice > snow > wet.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np

from sim.vocabulary import SURFACES
from sim.weather.metadata import surface
from sim.weather.params import WeatherParams

MEAN_PATCH_M = {"wet": 6.0, "snow": 15.0, "ice": 10.0}
RANK = {name: i for i, name in enumerate(SURFACES)}  # dry < wet < snow < ice


class SurfaceMap:
    """Surface name at any station ``s`` [m] (or world (x, y) with a ``project`` function).

    ``closed`` roads (circuits) wrap stations modulo ``road_length``; open roads clamp.
    """

    def __init__(
        self,
        params: WeatherParams,
        road_length: float,
        rng: np.random.Generator,
        project: Callable[[float, float], float] | None = None,
        closed: bool = False,
    ) -> None:
        if not road_length > 0:
            raise ValueError(f"SurfaceMap.road_length must be > 0, got {road_length}")
        self.road_length = float(road_length)
        self.base = surface(params)
        self.closed = closed
        self._project = project
        fractions = {"wet": params.puddles, "snow": params.snow_cover, "ice": params.ice}
        self.patches: list[tuple[float, float, str]] = []
        for name, fraction in fractions.items():
            if RANK[name] > RANK[self.base]:
                self.patches += _patches(self.road_length, fraction, MEAN_PATCH_M[name], name, rng)
        self.patches.sort(key=lambda p: (-RANK[p[2]], p[0]))
        self._breaks, self._names = self._intervals()

    def _first_patch(self, s: float) -> str:
        """The definition: the first patch (by priority) covering ``s``, else the base."""
        for start, end, name in self.patches:
            if start <= s < end:
                return name
        return self.base

    def _intervals(self) -> tuple[np.ndarray, list[str]]:
        """Patch ends cut the stations into intervals ``[b_i, b_i+1)`` on which every
        ``start <= s < end`` test, hence the surface, is constant: the surface of each
        interval, found by :meth:`_first_patch` at its start."""
        cuts = sorted({0.0, *(v for start, end, _ in self.patches for v in (start, end))})
        breaks = np.array([-np.inf, *cuts])
        names = [self._first_patch(float(np.nextafter(cuts[0], -np.inf)))]
        names += [self._first_patch(c) for c in cuts]
        return breaks, names

    def _wrap(self, s: float) -> float:
        return s % self.road_length if self.closed else min(max(s, 0.0), self.road_length)

    def surface_at(self, s_or_xy: float | tuple[float, float]) -> str:
        """Surface name at station s, or at world (x, y) if the map was given ``project``."""
        if isinstance(s_or_xy, tuple | list | np.ndarray):
            if self._project is None:
                raise ValueError("SurfaceMap.surface_at(x, y) needs a project(x, y) -> s")
            s = float(self._project(float(s_or_xy[0]), float(s_or_xy[1])))
        else:
            s = float(s_or_xy)
        s = self._wrap(s)
        return self._names[bisect_right(self._breaks, s) - 1]

    def interval_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(breaks, codes): the surface on ``[breaks[i], breaks[i + 1])`` is
        ``SURFACES[codes[i]]`` (the vocabulary's order, the vehicle model's codes)."""
        return self._breaks, np.array([SURFACES.index(n) for n in self._names], dtype=np.int64)

    def surfaces_at_stations(self, stations: np.ndarray) -> list[str]:
        """:meth:`surface_at` of many stations at once."""
        s = np.asarray(stations, dtype=np.float64)
        s = np.mod(s, self.road_length) if self.closed else np.clip(s, 0.0, self.road_length)
        idx = np.searchsorted(self._breaks, s, side="right") - 1
        names = self._names
        return [names[i] for i in idx.tolist()]

    def __call__(self, x: float, y: float) -> str:
        """``surface_at(x, y)`` callable for :class:`sim.vehicle` (needs ``project``)."""
        return self.surface_at((x, y))

    def fraction(self, name: str, step_m: float = 0.5) -> float:
        """Share of the road length with surface ``name`` (sampled every ``step_m``)."""
        if name not in SURFACES:
            raise ValueError(f"unknown surface {name!r}; valid surfaces: {', '.join(SURFACES)}")
        stations = np.arange(0.0, self.road_length, step_m)
        return float(np.mean([self.surface_at(float(s)) == name for s in stations]))


def _patches(
    length: float, fraction: float, mean_len: float, name: str, rng: np.random.Generator
) -> list[tuple[float, float, str]]:
    """Alternate gaps and patches with exponential lengths so ~``fraction`` is covered."""
    if fraction <= 0.0:
        return []
    if fraction >= 1.0:
        return [(0.0, length, name)]
    mean_gap = mean_len * (1.0 - fraction) / fraction
    out, s = [], float(rng.exponential(mean_gap))
    while s < length:
        patch = float(rng.exponential(mean_len))
        out.append((s, min(s + patch, length), name))
        s += patch + float(rng.exponential(mean_gap))
    return out
