"""json fields the simulator derives from other json fields, recomputed: ``derived_fields``.

Some labels are functions of values stored next to them, by the simulator's own code. QC
recomputes them with that code (or its constants) and flags a label that disagrees, naming
both values and the rule:

- ``road.shape`` from ``road.curvature_ahead`` (:func:`sim.road.Road.describe`: straight
  below ``STRAIGHT_CURVATURE``, else left or right by the sign);
- ``weather.surface`` and ``weather.time_of_day`` from the weather's parameters
  (:mod:`sim.weather.metadata`);
- ``ego.surface``: the weather's base surface or a patch of a higher rank whose share of the
  road (``puddles``, ``snow_cover``, ``ice``) is above zero (:class:`sim.weather.surface.
  SurfaceMap`);
- ``ego.off_road`` from ``road.lateral_offset_m`` and ``road.lanes`` (``Scenario.off_road``:
  beyond the road's half width by ``OFFROAD_MARGIN_M``);
- ``audio.duration_s`` from the length of audio.flac.

A value within ``margin`` of a rule's boundary is not judged (float rounding in the json).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from datagen.qc.flag import Flag
from sim.road import STRAIGHT_CURVATURE, RoadConfig
from sim.vocabulary import SURFACES
from sim.weather.metadata import DAY_ABOVE_DEG, NIGHT_BELOW_DEG, surface, time_of_day
from sim.weather.surface import RANK

CHECK = "derived_fields"
# sim.scenario.OFFROAD_MARGIN_M (equal, tested): importing sim.scenario would load PyBullet
OFFROAD_MARGIN_M = 1.0
PATCH_SHARE = {"wet": "puddles", "snow": "snow_cover", "ice": "ice"}


@dataclass(frozen=True)
class DerivedFieldsConfig:
    curvature_margin: float = 0.05  # relative, about STRAIGHT_CURVATURE
    off_road_margin_m: float = 0.5  # about the road edge + OFFROAD_MARGIN_M
    lane_width_m: float = RoadConfig.lane_width_m  # not in the json; the generator's
    audio_tolerance_samples: int = 1
    angle_margin_deg: float = 0.5  # about the sun-altitude boundaries of time_of_day

    def __post_init__(self) -> None:
        for name in ("curvature_margin", "off_road_margin_m", "lane_width_m",
                     "angle_margin_deg"):  # fmt: skip
            if not getattr(self, name) >= 0:
                raise ValueError(f"DerivedFieldsConfig.{name} must be >= 0")


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def road_shape(meta: dict, cfg: DerivedFieldsConfig) -> str | None:
    road = meta.get("road", {})
    k, shape = _num(road.get("curvature_ahead")), road.get("shape")
    if k is None or not isinstance(shape, str):
        return None
    if abs(abs(k) - STRAIGHT_CURVATURE) <= cfg.curvature_margin * STRAIGHT_CURVATURE:
        return None
    want = "straight" if abs(k) < STRAIGHT_CURVATURE else ("left_curve" if k > 0 else
                                                            "right_curve")  # fmt: skip
    if shape == want:
        return None
    return (
        f"json road.shape {shape} but its curvature_ahead {k:+.4f} 1/m makes it {want} "
        f"(straight below {STRAIGHT_CURVATURE:g} 1/m, left positive)"
    )


def weather_labels(meta: dict, cfg: DerivedFieldsConfig) -> str | None:
    w = meta.get("weather", {})
    keys = ("ice", "snow_cover", "road_wetness", "puddles")
    if all(_num(w.get(k)) is not None for k in keys) and isinstance(w.get("surface"), str):
        want = surface(SimpleNamespace(**{k: float(w[k]) for k in keys}))
        if want != w["surface"]:
            vals = ", ".join(f"{k} {float(w[k]):.2f}" for k in keys)
            return (
                f"json weather.surface {w['surface']} but its parameters ({vals}) make it "
                f"{want} (sim.weather.metadata.surface)"
            )
    alt, az = _num(w.get("sun_altitude_deg")), _num(w.get("sun_azimuth_deg"))
    if alt is not None and az is not None and isinstance(w.get("time_of_day"), str):
        twilight = {"dawn", "dusk"}
        near = min(abs(alt - b) for b in (NIGHT_BELOW_DEG, DAY_ABOVE_DEG)) <= \
            cfg.angle_margin_deg  # fmt: skip
        # dawn and dusk differ by the azimuth only: near due north or south, either
        near_az = min(az % 180.0, 180.0 - az % 180.0) <= cfg.angle_margin_deg
        want = time_of_day(SimpleNamespace(sun_altitude_deg=alt, sun_azimuth_deg=az))
        both_twilight = {want, w["time_of_day"]} <= twilight
        if not (near or (near_az and both_twilight)) and want != w["time_of_day"]:
            return (f"json weather.time_of_day {w['time_of_day']} but its sun altitude "
                    f"{alt:.1f} deg (azimuth {az:.0f}) makes it {want}")  # fmt: skip
    return None


def ego_surface(meta: dict, cfg: DerivedFieldsConfig) -> str | None:
    w, ego = meta.get("weather", {}), meta.get("ego", {})
    base, under = w.get("surface"), ego.get("surface")
    if base not in SURFACES or under not in SURFACES or under == base:
        return None
    share = _num(w.get(PATCH_SHARE.get(under, ""), None))
    if RANK[under] > RANK[base] and share is not None and share > 0:
        return None
    why = (
        "a lower rank than the base"
        if RANK[under] < RANK[base]
        else f"weather.{PATCH_SHARE[under]} is {share if share is not None else 'missing'}"
    )
    return (
        f"json ego.surface {under} under the wheels but the weather's road is {base} and "
        f"{under} patches cannot lie on it ({why}; patches only rank above the base "
        f"surface, dry < wet < snow < ice)"
    )


def off_road(meta: dict, cfg: DerivedFieldsConfig) -> str | None:
    road, ego = meta.get("road", {}), meta.get("ego", {})
    lat, lanes, flag_ = _num(road.get("lateral_offset_m")), _num(road.get("lanes")), \
        ego.get("off_road")  # fmt: skip
    if lat is None or lanes is None or not isinstance(flag_, bool):
        return None
    edge = lanes * cfg.lane_width_m / 2.0 + OFFROAD_MARGIN_M
    if abs(abs(lat) - edge) <= cfg.off_road_margin_m or (abs(lat) > edge) == flag_:
        return None
    return (
        f"json ego.off_road {str(flag_).lower()} but road.lateral_offset_m {lat:+.2f} m "
        f"is {'inside' if abs(lat) < edge else 'beyond'} +-{edge:.2f} m (half of "
        f"{lanes:g} lanes x {cfg.lane_width_m:g} m + {OFFROAD_MARGIN_M:g} m)"
    )


def audio_duration(s, cfg: DerivedFieldsConfig) -> str | None:
    dur = _num(s.meta.get("audio", {}).get("duration_s"))
    if dur is None or s.audio is None or s.sample_rate <= 0:
        return None
    n = s.audio.size
    if abs(n - dur * s.sample_rate) <= cfg.audio_tolerance_samples:
        return None
    return (
        f"json audio.duration_s {dur:g} s but audio.flac holds {n} samples = "
        f"{n / s.sample_rate:g} s at {s.sample_rate} Hz"
    )


def _meta(rule: Callable[[dict, DerivedFieldsConfig], str | None]
          ) -> Callable[[object, DerivedFieldsConfig], str | None]:  # fmt: skip
    return lambda s, cfg: rule(s.meta, cfg)


RULES: tuple[Callable[[object, DerivedFieldsConfig], str | None], ...] = (
    _meta(road_shape),
    _meta(weather_labels),
    _meta(ego_surface),
    _meta(off_road),
    audio_duration,
)


def check(s, cfg: DerivedFieldsConfig) -> Flag | None:
    """The first derived field of the sample's json that disagrees with its sources."""
    meta = s.meta
    if not isinstance(meta, dict):
        return None
    for rule in RULES:
        try:
            why = rule(s, cfg)
        except (AttributeError, KeyError, TypeError, ValueError):
            why = None
        if why is not None:
            return Flag(CHECK, why, None, "the simulator's derivation of the field")
    return None
