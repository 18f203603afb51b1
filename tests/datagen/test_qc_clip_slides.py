"""QC rules on the cars of long clip scenarios that spin, slide and leave the road (issue 20 x
25): a car rolling backwards brakes with positive slip ratios and idles its engine, a car
sliding across the road or with its centre past the road's edge sees no road ahead, and a
road seen at an angle is wider per image row. Each clean case passes; the fault each check
exists for still flags."""

from __future__ import annotations

import math

import numpy as np

from datagen.qc import metadata_sensors, road_view
from datagen.qc.ego_motion import EgoMotionConfig, MotionSummary, pedals
from datagen.qc.ego_state import EgoConfig, powertrain, rpm_per_mps


def _braking(velocity: tuple[float, float], ratios: list[float]) -> MotionSummary:
    """A car heading along +x (yaw 0), brake 0.4, throttle 0, the given world velocity."""
    return MotionSummary("k", "s", ("train", "0", "front"), 15, 4.0, math.hypot(*velocity),
                         velocity, 0.0, 0.1, -2.7, 0.0, 0.0, 0.4, 0.1, min(ratios), 0.2,
                         False, max(ratios))  # fmt: skip


def test_braking_while_rolling_backwards_is_not_called_swapped() -> None:
    cfg = EgoMotionConfig()
    # after a spin: the car moves against its heading; braked wheels turn backwards slower
    # than the ground, (omega r - v_x) / |v_x| > 0 with v_x < 0 (measured on clean clips)
    assert pedals({}, _braking((-3.0, 0.1), [0.27, 0.23, 0.04, 0.05]), cfg) is None
    # rolling forwards with the same ratios: no wheel is braked, the pedals look swapped
    assert pedals({}, _braking((3.0, 0.1), [0.27, 0.23, 0.04, 0.05]), cfg) is not None
    # rolling backwards and no wheel braked (wheels spinning backwards faster): flagged
    found = pedals({}, _braking((-3.0, 0.1), [-0.2, -0.1, -0.05, -0.3]), cfg)
    assert found is not None and "rolling backwards" in found.reason


def test_slip_ratios_of_a_crawling_car_are_not_judged() -> None:
    """Below the tyre model's low speed (2 m/s) a tyre is a damped spring: its ratio keeps
    what it built up before (clean clip: braked to 0.2 m/s, ratios +0.01..+0.71)."""
    cfg = EgoMotionConfig()
    assert pedals({}, _braking((0.16, 0.12), [0.34, 0.71, 0.13, 0.01]), cfg) is None
    assert pedals({}, _braking((2.5, 0.1), [0.34, 0.71, 0.13, 0.01]), cfg) is not None


def _van(speed_x: float, rpm: float, throttle: float = 0.0) -> dict:
    return {"vehicle": {"preset": "van"},
            "ego": {"speed_mps": abs(speed_x), "velocity": [speed_x, 0.3, 0.0], "yaw": 0.0,
                    "rpm": rpm, "gear": 1, "throttle": throttle,
                    "wheel_slip": {"ratio": [0.05] * 4, "angle": [0.1] * 4}}}


def test_an_engine_idling_while_the_car_rolls_backwards_passes() -> None:
    cfg = EgoConfig()
    idle = rpm_per_mps("van")[1]
    assert powertrain(_van(-6.5, idle), cfg) is None  # clean: spun round on ice, clutch open
    assert powertrain(_van(6.5, idle), cfg) is not None  # forwards: the engine must turn
    # rolling backwards but revving well above idle + throttle x 1500 (and below the
    # gear's rpm at that speed): a wrong rpm
    assert powertrain(_van(-6.5, idle + 1000), cfg) is not None


def _view(under_car: float, width_m: float = 7.0, patch_half_m: float = 0.0
          ) -> road_view.RoadView:  # fmt: skip
    return road_view.RoadView(0.0, width_m, under_car, 10, patch_half_m)


def _on_road(lateral: float, angles: list[float], speed: float = 10.0) -> dict:
    return {"ego": {"off_road": False, "speed_mps": speed,
                    "wheel_slip": {"angle": angles, "ratio": [0.0] * 4}},
            "road": {"lateral_offset_m": lateral, "lanes": 2}}


def test_all_road_ahead_of_an_off_road_car_is_judged_only_while_it_drives_with_grip() -> None:
    cfg = metadata_sensors.MetadataSensorsConfig()
    fit = cfg.fit
    meta = _on_road(6.0, [0.05] * 4)
    meta["ego"]["off_road"] = True
    # the fault: json off the road while driving along it, all road just ahead
    assert metadata_sensors.on_road(meta, _view(1.0), fit, cfg) is not None
    # clean: stopped beside the road, or sliding, the car may face the road
    meta["ego"]["speed_mps"] = 0.2
    assert metadata_sensors.on_road(meta, _view(1.0), fit, cfg) is None
    meta["ego"].update(speed_mps=10.0, wheel_slip={"angle": [0.6] * 4, "ratio": [0.0] * 4})
    assert metadata_sensors.on_road(meta, _view(1.0), fit, cfg) is None


def test_no_road_ahead_is_judged_only_for_a_car_driving_along_the_road() -> None:
    cfg = metadata_sensors.MetadataSensorsConfig()
    fit = cfg.fit
    grip = [0.05] * 4
    # the fault: json on the road, driving straight in its lane, yet no road ahead
    assert metadata_sensors.on_road(_on_road(0.5, grip), _view(0.0), fit, cfg) is not None
    # clean: sliding across the road (tyre slip angles ~0.8 rad), facing its edge
    assert metadata_sensors.on_road(_on_road(1.2, [0.5, 0.4, 0.8, 0.7]), _view(0.0), fit,
                                    cfg) is None  # fmt: skip
    # clean: centre past the edge of the narrowest road but within the off-road margin
    edge = 2 * fit.width_per_lane[0] / 2
    assert metadata_sensors.on_road(_on_road(-(edge + 0.3), grip), _view(0.0), fit,
                                    cfg) is None  # fmt: skip
    # clean: centre 0.1 m inside the edge, the patch seeing ground 0.3 m either side
    assert metadata_sensors.on_road(_on_road(edge - 0.1, grip), _view(0.0, patch_half_m=0.3),
                                    fit, cfg) is None  # fmt: skip
    assert metadata_sensors.on_road(_on_road(edge - 0.5, grip), _view(0.0, patch_half_m=0.3),
                                    fit, cfg) is not None  # fmt: skip
    # far beyond the widest road and its margin, off_road false still needs road ahead
    far = 2 * fit.width_per_lane[1] / 2 + 1.5
    assert metadata_sensors.on_road(_on_road(far, grip), _view(0.0), fit, cfg) is not None


def _decoded(seg: np.ndarray, depth: np.ndarray, f: float) -> object:
    class S:
        pass

    s = S()
    s.seg, s.depth_m = seg, depth
    s.meta = {"camera": {"cx": seg.shape[1] / 2, "fx": f}}
    return s


def _road_image(angle: float, width: float = 7.0, size: int = 200, f: float = 100.0
                ) -> object:  # fmt: skip
    """seg and depth of a flat straight road ``width`` m wide whose centre line runs at
    ``angle`` to the optical axis (x = 0.5 + tan(angle) z), rows at depths 4..40 m."""
    seg = np.zeros((size, size), np.uint8)
    depth = np.zeros((size, size), np.float32)
    for v, z in enumerate(np.linspace(40.0, 4.0, size)):
        depth[v] = z
        centre, half = 0.5 + math.tan(angle) * z, width / 2 / math.cos(angle)
        u = np.arange(size)
        x = (u + 0.5 - size / 2) * z / f
        seg[v, (x > centre - half) & (x < centre + half)] = 1
    return _decoded(seg, depth, f)


def test_road_width_is_measured_across_the_road() -> None:
    straight = road_view.measure(_road_image(0.0))
    oblique = road_view.measure(_road_image(0.35))  # 20 deg: rows are 6 % wider
    assert straight is not None and oblique is not None
    assert abs(straight.width_m - 7.0) < 0.3
    assert abs(oblique.width_m - 7.0) < 0.3
    # a road really wider is still wider
    wide = road_view.measure(_road_image(0.35, width=10.0))
    assert wide is not None and abs(wide.width_m - 10.0) < 0.4


def test_no_road_ahead_of_a_clip_heading_off_the_road_is_not_judged() -> None:
    """A clip's course says where the patch ahead lies: a car 1.8 m left of the centre line
    crossing the road at ~11 degrees sees the patch 8 m ahead beyond the edge (clean clips of
    seeds 3131, 7777); the same car on a straight course must see road there."""
    cfg = metadata_sensors.MetadataSensorsConfig()
    fit = cfg.fit
    meta = _on_road(1.8, [0.02] * 4, speed=7.3)
    meta["clip"] = {"rate_hz": 4.0, "ego": {"lateral_offset_m": [1.45, 1.8],
                                            "speed_mps": [8.0, 7.3]}}  # fmt: skip
    view = road_view.RoadView(0.0, 7.0, 0.05, 10, 0.4, 8.0)
    assert metadata_sensors.on_road(meta, view, fit, cfg) is None
    meta["clip"]["ego"]["lateral_offset_m"] = [1.8, 1.8]
    assert metadata_sensors.on_road(meta, view, fit, cfg) is not None
