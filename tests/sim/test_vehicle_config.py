"""Vehicle configs, presets, surfaces and the tire formula: validation and laws."""

from __future__ import annotations

import numpy as np
import pytest

from sim.vehicle.config import VehicleConfig, load_config, preset, preset_names
from sim.vehicle.pacejka import combined_forces, magic_formula, peak_slip
from sim.vehicle.surfaces import SURFACE_NAMES, get_surface
from sim.vehicle.tires import surface_table


def test_presets_load_and_differ():
    assert set(preset_names()) >= {"sports_car", "sedan", "van"}
    cars = {n: preset(n) for n in ("sports_car", "sedan", "van")}
    assert cars["van"].body.mass_kg > cars["sedan"].body.mass_kg
    assert cars["sports_car"].body.cg_height_m < cars["van"].body.cg_height_m


@pytest.mark.parametrize(("section", "field", "value"), [
    ("body", "mass_kg", -5.0), ("tire", "dx", -0.2), ("tire", "radius_m", 0.0),
    ("aero", "drag_coefficient", -0.3), ("brakes", "front_bias", 1.5),
    ("gearbox", "drive", "hover"), ("engine", "redline_rpm", 500.0),
])
def test_invalid_values_name_field_and_value(section, field, value):
    with pytest.raises(ValueError) as err:
        VehicleConfig().with_changes(section, **{field: value})
    assert field in str(err.value) and repr(value) in str(err.value)


def test_unknown_surface_preset_and_field_are_errors(tmp_path):
    with pytest.raises(ValueError, match="lava"):
        get_surface("lava")
    with pytest.raises(ValueError, match="hovercraft"):
        preset("hovercraft")
    bad = tmp_path / "bad.yaml"
    bad.write_text("body: {mass_kg: 1000, wings: 2}\n")
    with pytest.raises(ValueError, match="wings"):
        load_config(bad)


def test_yaml_round_trip(tmp_path):
    import yaml

    cfg = preset("sports_car").with_changes("aero", drag_coefficient=0.41)
    path = tmp_path / "car.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    assert load_config(path) == cfg


def test_surface_peak_friction_order():
    table = surface_table(VehicleConfig().tire)
    slip = np.linspace(0, 1, 2001)
    peaks = [magic_formula(slip, *row[:4]).max() for row in table]
    assert peaks == sorted(peaks, reverse=True)
    assert peaks[0] == pytest.approx(1.0, abs=0.01)
    assert peaks[SURFACE_NAMES.index("ice")] == pytest.approx(0.1, abs=0.01)


def test_combined_slip_stays_inside_friction_circle():
    rng = np.random.default_rng(0)
    kappa, alpha = rng.uniform(-1, 1, 500), rng.uniform(-0.6, 0.6, 500)
    fz = np.full(500, 4000.0)
    p = (10.0, 1.9, 1.0, 0.97)
    fx, fy = combined_forces(kappa, alpha, fz, p, p, peak_slip(10, 1.9, 0.97),
                             peak_slip(10, 1.9, 0.97))
    assert np.all(np.hypot(fx, fy) <= 1.0 * fz + 1e-6)
    assert np.all(np.sign(fx[np.abs(kappa) > 0.01]) == np.sign(kappa[np.abs(kappa) > 0.01]))
    pure_x, _ = combined_forces(np.array([0.1]), np.array([0.0]), fz[:1], p, p, 0.1, 0.1)
    mixed_x, _ = combined_forces(np.array([0.1]), np.array([0.1]), fz[:1], p, p, 0.1, 0.1)
    assert mixed_x[0] < pure_x[0]  # lateral slip takes longitudinal grip away
