"""The weather as a scenario experiences it: surface under the wheels, wind, thunder.

:class:`ScenarioWeather` turns one :class:`sim.weather.WeatherParams` into what the
physics, the state trace and the sound need while a scenario runs:

* ``surface_at(x, y)``: the road's :class:`sim.weather.SurfaceMap` (puddles, snow, ice
  patches) looked up by world position, for :class:`sim.vehicle.VehicleFleet`;
* ``wind(t)``: the gusty :class:`sim.weather.WindField` for the fleet's aerodynamics;
* ``state(s, t)``: the trace's environment columns (surface code, precipitation, wind);
* ``thunder_due(t)``: thunder heard up to time ``t``, drawn window by window from the seed
  (a Poisson process thinned to disjoint windows stays one), so no duration is needed.

Every draw comes from ``rng_for(seed, "weather", ...)``.
"""

from __future__ import annotations

import numpy as np

from sim import jit
from sim.road import PROJECT_WINDOW, Road
from sim.seeding import rng_for
from sim.trace import SURFACE_CODES
from sim.vocabulary import SURFACES
from sim.weather import SurfaceMap, WeatherParams, WindField, thunder_events

THUNDER_WINDOW_S = 10.0


class StationTracker:
    """Road station of world points near a tracked body: a projection with a hint."""

    def __init__(self, road: Road) -> None:
        self.road = road
        self.hint: float | None = None

    def __call__(self, x: float, y: float) -> float:
        """Station of (x, y), searched near the last answer (wheels move a few cm a step)."""
        s = float(self.road.project(np.array([x, y]), near_s=self.hint).s)
        self.hint = s
        return s


class ScenarioWeather:
    """Surface map, wind field and thunder schedule of one scenario's weather."""

    def __init__(self, params: WeatherParams, road: Road, seed: int) -> None:
        self.params = params
        self.stations = StationTracker(road)
        self.surfaces = SurfaceMap(
            params, road.length, rng_for(seed, "weather", "surface"),
            project=self.stations, closed=road.closed,
        )  # fmt: skip
        self.wind = WindField(params, rng_for(seed, "weather", "wind"))
        self._breaks, self._codes = self.surfaces.interval_codes()
        self._seed = seed
        self._windows = 0  # thunder windows drawn so far
        self._pending: list[dict] = []

    def surface_at(self, x: float, y: float) -> str:
        """Surface name at world (x, y) (the fleet's ``surface_at``)."""
        return self.surfaces(x, y)

    def surfaces_at(self, xy: np.ndarray) -> list[str]:
        """Surface names at world points ``xy`` (M, 2) at once (the fleet's batched
        lookup): one projection near the tracked station, which then moves to the last
        point's, as M calls of :meth:`surface_at` would leave it."""
        tracker = self.stations
        proj = tracker.road.project(np.asarray(xy, dtype=np.float64), near_s=tracker.hint)
        stations = np.atleast_1d(proj.s)
        if len(stations):
            tracker.hint = float(stations[-1])
        return self.surfaces.surfaces_at_stations(stations)

    def surface_codes_at(self, xy: np.ndarray) -> np.ndarray:
        """:meth:`surfaces_at` as codes (indices of ``sim.vocabulary.SURFACES``, the vehicle
        model's), compiled in one call where numba is installed (every physics step)."""
        if not jit.AVAILABLE:
            return np.array([SURFACES.index(n) for n in self.surfaces_at(xy)], dtype=np.int64)
        from sim.road_kernels import surface_codes

        tracker, road = self.stations, self.stations.road
        p = np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 2)
        start, count = road.candidate_range(tracker.hint)
        out = np.empty(len(p), dtype=np.int64)
        if len(p):
            tracker.hint = float(surface_codes(
                p, road.xy, road.s, road.seg_dir, road.seg_len, road.closed, start, count,
                PROJECT_WINDOW, self._breaks, self._codes, self.surfaces.road_length,
                self.surfaces.closed, out))  # fmt: skip
        return out

    def surface_at_s(self, s: float) -> str:
        """Surface name at road station ``s`` (the drivers' grip look-ahead)."""
        return self.surfaces.surface_at(float(s))

    def state(self, s: float, t: float) -> dict:
        """The trace's environment columns for an ego at station ``s`` at time ``t``."""
        return {
            "surface": SURFACE_CODES[self.surface_at_s(s)],
            "precip_intensity": float(self.params.precip_intensity),
            "wind_speed_mps": float(self.wind.speed(t)),
        }

    def thunder_due(self, t: float) -> list[dict]:
        """Thunder events heard at or before ``t`` not returned before, in time order."""
        while self._windows * THUNDER_WINDOW_S <= t:
            start = self._windows * THUNDER_WINDOW_S
            rng = rng_for(self._seed, "weather", "thunder", self._windows)
            for event in thunder_events(self.params, THUNDER_WINDOW_S, rng):
                self._pending.append({**event, "time_s": round(start + event["time_s"], 6)})
            self._windows += 1
        due = [e for e in self._pending if e["time_s"] <= t]
        self._pending = [e for e in self._pending if e["time_s"] > t]
        return due
