"""QC's powertrain check on a car sliding sideways: the driven wheels roll with their own
longitudinal speed, |v| cos(slip angle) (1 + slip ratio), so the engine turns slower than the
car's speed says; faults (a speed in km/h, a doubled rpm, a wrong gear) still flag."""

from __future__ import annotations

import math

from datagen.qc.ego_state import EgoConfig, driven_wheels, powertrain, rpm_per_mps


def _sliding(rpm_share: float, angle: float = 0.8, ratio: float = -0.3,
             speed: float = 11.8, gear: int = 1) -> dict:  # fmt: skip
    """A rear-driven sports car braking in a slide on snow (front wheels barely slip sideways);
    rpm = ``rpm_share`` x the gear's rpm at ``speed``."""
    per_mps = rpm_per_mps("sports_car")[0][gear][0]
    return {"vehicle": {"preset": "sports_car"},
            "ego": {"speed_mps": speed, "rpm": rpm_share * per_mps * speed, "gear": gear,
                    "throttle": 0.0,
                    "wheel_slip": {"ratio": [ratio] * 4, "angle": [0.1, 0.1, angle, angle]}}}


def test_driven_wheels_follow_the_preset() -> None:
    assert driven_wheels("sports_car") == (2, 3)
    assert driven_wheels("sedan") == (0, 1)
    assert driven_wheels(None) == (0, 1, 2, 3)
    assert driven_wheels("no_such_car") == (0, 1, 2, 3)


def test_a_sliding_car_whose_wheels_roll_slower_passes() -> None:
    """The physics of the slide: omega r = |v| cos(alpha) (1 + kappa) (measured on clean clip
    data: rpm / speed at 0.50 of the gear's, slip angle 0.85 rad, slip ratio -0.32)."""
    cfg = EgoConfig()
    share = math.cos(0.8) * (1 - 0.3)
    assert powertrain(_sliding(share), cfg) is None
    # the same engine speed without the slide angle is a wrong rpm (the old false positive's
    # shape: the bound without the angle)
    assert powertrain(_sliding(share, angle=0.0), cfg) is not None


def test_faults_on_a_sliding_car_still_flag() -> None:
    cfg = EgoConfig()
    share = math.cos(0.8) * (1 - 0.3)
    kmh = _sliding(share)
    kmh["ego"]["speed_mps"] *= 3.6  # speed stored in km/h
    assert powertrain(kmh, cfg).check == "powertrain"
    doubled = _sliding(share)
    doubled["ego"]["rpm"] *= 2 / share  # rpm of the wrong ratio, above the gripping wheels'
    assert powertrain(doubled, cfg) is not None
    # the front wheels' angle does not excuse a rear-driven car
    front = _sliding(share, angle=0.0)
    front["ego"]["wheel_slip"]["angle"] = [0.8, 0.8, 0.0, 0.0]
    assert powertrain(front, cfg) is not None


def test_unreadable_slip_angles_keep_the_old_bound() -> None:
    cfg = EgoConfig()
    meta = _sliding(math.cos(0.8) * (1 - 0.3))
    meta["ego"]["wheel_slip"]["angle"] = "junk"
    assert powertrain(meta, cfg) is not None
    del meta["ego"]["wheel_slip"]["angle"]
    assert powertrain(meta, cfg) is not None


def test_a_wheel_at_the_tyre_models_angle_limit_bounds_nothing_below() -> None:
    """The tyre model's slip angle stops at atan(3) = 1.249 rad: a wheel there may slide at
    any larger angle (clean clip: 12 m/s, rear angles 1.25, engine at 940 rpm in gear 1)."""
    cfg = EgoConfig()
    limit = math.atan(3.0)
    assert powertrain(_sliding(0.25, angle=limit, ratio=0.0), cfg) is None
    assert powertrain(_sliding(0.25, angle=limit - 0.2, ratio=0.0), cfg) is not None
    # too high an rpm still flags at the limit
    assert powertrain(_sliding(2.0, angle=limit, ratio=0.0), cfg) is not None
