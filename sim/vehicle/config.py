"""Typed, self-validating vehicle configuration, loadable from YAML presets.

Every dataclass checks itself in ``__post_init__`` and raises ``ValueError`` naming the
field and the bad value, e.g. ``BodyConfig.mass_kg must be > 0, got -5``. A YAML file is read
with ``safe_load``; syntax errors, sections that are not mappings and values of the wrong type
(a string for a number, a number for a list or a flag, NaN or infinity) are ``ValueError``s
naming the file and the field too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.validation import (
    is_finite_number,
    require,
    require_in_range,
    require_non_negative,
    require_positive,
)

PRESET_DIR = Path(__file__).parent / "presets"
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class BodyConfig:
    """Chassis geometry and mass; the collision box spans clearance..height."""

    mass_kg: float = 1500.0
    length_m: float = 4.7
    width_m: float = 1.85
    height_m: float = 1.45
    ground_clearance_m: float = 0.30
    wheelbase_m: float = 2.75
    track_m: float = 1.58
    cg_height_m: float = 0.52
    front_weight_fraction: float = 0.57

    def __post_init__(self) -> None:
        require_positive(self, "mass_kg", "length_m", "width_m", "height_m", "ground_clearance_m",
                  "wheelbase_m", "track_m", "cg_height_m")
        require(self, "ground_clearance_m", self.ground_clearance_m < self.height_m,
               f"< height_m ({self.height_m})")
        require(self, "wheelbase_m", self.wheelbase_m < self.length_m,
               f"< length_m ({self.length_m})")
        require(self, "track_m", self.track_m <= self.width_m, f"<= width_m ({self.width_m})")
        require(self, "cg_height_m",
               self.ground_clearance_m < self.cg_height_m < self.height_m,
               f"between ground_clearance_m and height_m ({self.ground_clearance_m}, "
               f"{self.height_m})")
        require_in_range(self, "front_weight_fraction", 0.2, 0.8)


@dataclass(frozen=True)
class TireConfig:
    """Magic-formula tire on dry tarmac (surfaces scale B, C, D, E; see surfaces.py).

    bx..ex: longitudinal stiffness, shape, peak friction, curvature (slip ratio);
    by..ey: the same for the lateral force (slip angle in rad);
    load_sensitivity: d(peak mu)/d(relative load), negative for real tires;
    rolling_resistance: coefficient times the normal load;
    relaxation_length_x_m / _y_m: transient slip lengths (also hold a car at rest).
    """

    radius_m: float = 0.33
    inertia_kgm2: float = 1.2
    bx: float = 10.0
    cx: float = 1.9
    dx: float = 1.0
    ex: float = 0.97
    by: float = 10.0
    cy: float = 1.3
    dy: float = 1.0
    ey: float = 0.97
    load_sensitivity: float = -0.1
    rolling_resistance: float = 0.012
    relaxation_length_x_m: float = 0.25
    relaxation_length_y_m: float = 0.5

    def __post_init__(self) -> None:
        require_positive(self, "radius_m", "inertia_kgm2", "bx", "cx", "dx", "by", "cy", "dy",
                  "relaxation_length_x_m", "relaxation_length_y_m")
        require_in_range(self, "ex", -10.0, 1.0)
        require_in_range(self, "ey", -10.0, 1.0)
        require_in_range(self, "load_sensitivity", -0.9, 0.5)
        require_in_range(self, "rolling_resistance", 0.0, 0.2)


@dataclass(frozen=True)
class EngineConfig:
    """Full-throttle torque curve (rpm -> N m), idle and redline, engine braking."""

    curve_rpm: tuple[float, ...] = (1000.0, 2000.0, 3500.0, 5000.0, 6000.0, 6800.0)
    curve_nm: tuple[float, ...] = (180.0, 250.0, 290.0, 280.0, 250.0, 210.0)
    idle_rpm: float = 850.0
    redline_rpm: float = 6800.0
    engine_brake_nm: float = 40.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "curve_rpm", tuple(float(x) for x in self.curve_rpm))
        object.__setattr__(self, "curve_nm", tuple(float(x) for x in self.curve_nm))
        require(self, "curve_nm", len(self.curve_nm) == len(self.curve_rpm) >= 2,
               "as long as curve_rpm (>= 2 points)")
        require(self, "curve_rpm", all(a < b for a, b in zip(self.curve_rpm, self.curve_rpm[1:])),
               "strictly increasing")
        require(self, "curve_nm", min(self.curve_nm) >= 0, "all >= 0")
        require_positive(self, "idle_rpm", "redline_rpm")
        require_non_negative(self, "engine_brake_nm")
        require(self, "redline_rpm", self.redline_rpm > self.idle_rpm,
               f"> idle_rpm ({self.idle_rpm})")


@dataclass(frozen=True)
class GearboxConfig:
    """Automatic gearbox: forward ratios, final drive, shift points and shift time."""

    ratios: tuple[float, ...] = (3.6, 2.2, 1.5, 1.15, 0.92, 0.76)
    final_drive: float = 3.7
    efficiency: float = 0.9
    shift_up_rpm: float = 6300.0
    shift_down_rpm: float = 2200.0
    shift_time_s: float = 0.25
    drive: str = "fwd"
    traction_control: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratios", tuple(float(x) for x in self.ratios))
        require(self, "ratios", len(self.ratios) >= 1 and min(self.ratios) > 0, "positive")
        require(self, "ratios", all(a > b for a, b in zip(self.ratios, self.ratios[1:])),
               "strictly decreasing")
        require_positive(self, "final_drive", "shift_up_rpm", "shift_down_rpm")
        require_non_negative(self, "shift_time_s")
        require_in_range(self, "efficiency", 0.1, 1.0)
        require(self, "shift_down_rpm", self.shift_down_rpm < self.shift_up_rpm,
               f"< shift_up_rpm ({self.shift_up_rpm})")
        require(self, "drive", self.drive in ("fwd", "rwd", "awd"), "one of fwd, rwd, awd")


@dataclass(frozen=True)
class BrakeConfig:
    """Brake torque of the whole car at full pedal, front share, anti-lock system."""

    max_torque_nm: float = 9000.0
    front_bias: float = 0.65
    abs_enabled: bool = True

    def __post_init__(self) -> None:
        require_positive(self, "max_torque_nm")
        require_in_range(self, "front_bias", 0.0, 1.0)


@dataclass(frozen=True)
class SteeringConfig:
    """Road-wheel steering limit and how fast the wheels can turn."""

    max_angle_rad: float = 0.55
    rate_radps: float = 1.5

    def __post_init__(self) -> None:
        require_positive(self, "max_angle_rad", "rate_radps")
        require(self, "max_angle_rad", self.max_angle_rad < 1.2, "< 1.2")


@dataclass(frozen=True)
class SuspensionConfig:
    """Per-corner spring (natural frequency) and damper (damping ratio), travel."""

    frequency_hz: float = 1.5
    damping_ratio: float = 0.4
    travel_m: float = 0.12

    def __post_init__(self) -> None:
        require_positive(self, "frequency_hz", "damping_ratio", "travel_m")


@dataclass(frozen=True)
class AeroConfig:
    """Drag and downforce; the wake behind the car lowers a follower's drag.

    The airflow deficit behind a leader is ``wake_max_deficit * exp(-gap / wake_decay_m)
    * exp(-(lateral / wake_half_width_m)^2)`` for gaps up to ``wake_length_m``.
    """

    drag_coefficient: float = 0.30
    frontal_area_m2: float = 2.2
    downforce_coefficient: float = 0.1
    air_density_kgpm3: float = 1.225
    wake_length_m: float = 20.0
    wake_max_deficit: float = 0.25
    wake_decay_m: float = 10.0
    wake_half_width_m: float = 1.2

    def __post_init__(self) -> None:
        require_positive(self, "drag_coefficient", "frontal_area_m2", "air_density_kgpm3",
                  "wake_length_m", "wake_decay_m", "wake_half_width_m")
        require_non_negative(self, "downforce_coefficient")
        require_in_range(self, "wake_max_deficit", 0.0, 0.9)


@dataclass(frozen=True)
class DamageConfig:
    """How collision impulses turn into damage per zone and worse handling."""

    full_damage_impulse_ns: float = 25000.0
    crash_threshold_ns: float = 500.0
    steer_bias_rad: float = 0.06
    power_loss: float = 0.5
    drag_increase: float = 0.6

    def __post_init__(self) -> None:
        require_positive(self, "full_damage_impulse_ns", "crash_threshold_ns")
        require_non_negative(self, "steer_bias_rad", "drag_increase")
        require_in_range(self, "power_loss", 0.0, 1.0)


_SECTIONS: dict[str, type] = {
    "body": BodyConfig, "tire": TireConfig, "engine": EngineConfig,
    "gearbox": GearboxConfig, "brakes": BrakeConfig, "steering": SteeringConfig,
    "suspension": SuspensionConfig, "aero": AeroConfig, "damage": DamageConfig,
}


@dataclass(frozen=True)
class VehicleConfig:
    """A whole vehicle: one section per subsystem."""

    name: str = "sedan"
    body: BodyConfig = field(default_factory=BodyConfig)
    tire: TireConfig = field(default_factory=TireConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    gearbox: GearboxConfig = field(default_factory=GearboxConfig)
    brakes: BrakeConfig = field(default_factory=BrakeConfig)
    steering: SteeringConfig = field(default_factory=SteeringConfig)
    suspension: SuspensionConfig = field(default_factory=SuspensionConfig)
    aero: AeroConfig = field(default_factory=AeroConfig)
    damage: DamageConfig = field(default_factory=DamageConfig)

    def __post_init__(self) -> None:
        require(self, "name", isinstance(self.name, str) and bool(self.name), "a non-empty str")
        for key, cls in _SECTIONS.items():
            require(self, key, isinstance(getattr(self, key), cls), f"a {cls.__name__}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VehicleConfig:
        """Build from nested dicts (YAML); unknown sections or fields are errors."""
        if not isinstance(data, dict):
            raise ValueError(f"vehicle config must be a mapping, got {type(data).__name__}")
        unknown = set(data) - set(_SECTIONS) - {"name"}
        if unknown:
            raise ValueError(f"VehicleConfig has no section {sorted(map(str, unknown))[0]!r}")
        kwargs: dict[str, Any] = {"name": data.get("name", "custom")}
        for key, section in _SECTIONS.items():
            value = data.get(key)
            kwargs[key] = _section_from_dict(section, {} if value is None else value)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_changes(self, section: str, **changes: Any) -> VehicleConfig:
        """A copy with fields of one section replaced (validated again)."""
        if section not in _SECTIONS:
            raise ValueError(f"VehicleConfig has no section {section!r}")
        new = dataclasses.replace(getattr(self, section), **changes)
        return dataclasses.replace(self, **{section: new})


def _check_type(section: type, name: str, default: Any, value: Any) -> None:
    """``value`` has the kind of ``default``: finite number, list of them, bool or str."""
    where = f"{section.__name__}.{name}"
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int | float):
        ok, kind = is_finite_number(value), "a finite number"
    elif isinstance(default, tuple):
        ok = isinstance(value, list | tuple) and all(is_finite_number(v) for v in value)
        kind = "a list of finite numbers"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    else:
        return
    if not ok:
        raise ValueError(f"{where} must be {kind}, got {value!r}"[:300])


def _section_from_dict(section: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"VehicleConfig section {section.__name__} must be a mapping of "
                         f"fields, got {type(values).__name__} {values!r}"[:300])  # fmt: skip
    fields = {f.name: f for f in dataclasses.fields(section)}
    bad = set(values) - set(fields)
    if bad:
        raise ValueError(f"{section.__name__} has no field {sorted(map(str, bad))[0]!r}")
    defaults = section()
    for name, value in values.items():
        _check_type(section, name, getattr(defaults, name), value)
    return section(**values)


def load_config(path: str | Path) -> VehicleConfig:
    """Read a vehicle config from a YAML file; ``ValueError`` naming the file and the
    problem for anything but a valid config."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no vehicle config file {str(p)!r}")
    if not p.is_file():
        raise ValueError(f"vehicle config {str(p)!r} is not a regular file")
    if p.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"vehicle config {str(p)!r} is larger than {MAX_CONFIG_BYTES >> 20} MiB")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"vehicle config {str(p)!r} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"vehicle config {str(p)!r}: invalid YAML{where}: {problem}"
                         ) from None  # fmt: skip
    except RecursionError:
        raise ValueError(f"vehicle config {str(p)!r} is nested too deeply") from None
    if data is None:
        raise ValueError(f"vehicle config {str(p)!r} is empty")
    try:
        return VehicleConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"vehicle config {str(p)!r}: {msg}") from None


def preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.yaml")))


def preset(name: str) -> VehicleConfig:
    """A shipped preset: ``sports_car``, ``sedan`` or ``van``."""
    if name not in preset_names():
        raise ValueError(f"unknown vehicle preset {name!r}; known: {', '.join(preset_names())}")
    return load_config(PRESET_DIR / f"{name}.yaml")
