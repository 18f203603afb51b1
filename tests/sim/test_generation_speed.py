"""The generation speed-ups keep what they replace: same renders, labels, lookups, physics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sim import jit, timing
from sim.camera import CameraConfig, camera_pose, preset_camera
from sim.road import RoadConfig, generate_road
from sim.scenario import Scenario, ScenarioConfig
from sim.scene import SceneRegistry
from sim.scenery import in_view
from sim.seeding import rng_for
from sim.vehicle import VehicleFleet, preset
from sim.vehicle.report import flat_world
from sim.vocabulary import SURFACES
from sim.weather import get_preset
from sim.weather.color import _srgb_curve, srgb_to_linear
from sim.weather.surface import SurfaceMap

needs_numba = pytest.mark.skipif(not jit.AVAILABLE, reason="numba is not installed")


def _frames(config: ScenarioConfig, n: int) -> tuple[list, int, int]:
    with Scenario(config) as sc:
        frames = list(sc.run_frames(n))
        return frames, sc.scenery.built, len(sc.scenery)


@pytest.mark.parametrize("ego", ["dynamic", "kinematic"])
def test_scenery_on_demand_renders_and_labels_like_all_at_once(ego: str) -> None:
    cams = (preset_camera("front", 48), preset_camera("rear_left", 40, 32))
    config = ScenarioConfig(seed=5, road_length_m=400.0, cameras=cams, ego=ego,
                            scenery_on_demand=True)  # fmt: skip
    lazy, built, planned = _frames(config, 3)
    eager, built_all, _ = _frames(dataclasses.replace(config, scenery_on_demand=False), 3)
    assert built_all == planned and 0 < built < planned
    for a, b in zip(lazy, eager):
        assert a.ego == b.ego and a.objects == b.objects and a.rig == b.rig
        for name in a.renders:
            ra, rb = a.renders[name], b.renders[name]
            for field in ("rgb", "depth", "semantic", "instance"):
                assert np.array_equal(getattr(ra, field), getattr(rb, field)), (name, field)


def test_in_view_keeps_every_sphere_that_reaches_the_view_volume() -> None:
    cam = CameraConfig(width=64, height=32, fov_deg=60.0)
    T = camera_pose(cam, np.eye(4))  # looking along world +x from (0.8, 0, 1.75)
    centers = np.array([[50.0, 0.0, 1.0], [-50.0, 0.0, 1.0], [50.0, 80.0, 1.0],
                        [50.0, 63.0, 1.0], [50.0, 63.0, 1.0], [400.0, 0.0, 1.0],
                        [0.9, 0.0, 1.75]])  # fmt: skip
    radii = np.array([1.0, 1.0, 1.0, 5.0, 1.0, 10.0, 0.05])
    # ahead; behind; far off to the side; centre 2.4 m outside the widened view volume
    # (half-width ~60.6 m at 50 m: 2:1 aspect, 5 % margin), ~1.5 m from its side plane:
    # kept with radius 5, dropped with radius 1; beyond the far plane; at the camera
    expected = [True, False, False, True, False, False, True]
    assert in_view(centers, radii, T, cam).tolist() == expected


def test_registry_hands_out_planned_instance_ids_to_later_bodies() -> None:
    reg = SceneRegistry()
    a, b = reg.reserve_instance("vegetation"), reg.reserve_instance("building")
    assert (a, b) == (1, 2) and reg.reserve_instance("road") == 0
    assert reg.register(7, "vehicle", (4.0, 2.0, 1.5)) == 3  # after the reserved ones
    assert reg.register(9, "building", (1.0, 1.0, 1.0), instance_id=b) == b
    with pytest.raises(ValueError, match="not reserved"):
        reg.register(10, "building", (1.0, 1.0, 1.0), instance_id=a)  # reserved for trees
    assert reg.by_instance(b).body_id == 9


@pytest.mark.parametrize("closed", [True, False])
def test_surface_map_interval_lookup_is_the_first_patch_definition(closed: bool) -> None:
    params = dataclasses.replace(get_preset("heavy_rain"), puddles=0.4, ice=0.2, snow_cover=0.3)
    surfaces = SurfaceMap(params, 300.0, rng_for(1, "s"), closed=closed)
    assert len(surfaces.patches) > 10
    edges = [v for start, end, _ in surfaces.patches for v in (start, end)]
    stations = np.concatenate([np.linspace(-20.0, 320.0, 3001), edges,
                               np.nextafter(edges, -np.inf), [0.0, 300.0]])  # fmt: skip
    expected = [surfaces._first_patch(s % 300.0 if closed else min(max(s, 0.0), 300.0))
                for s in stations.tolist()]  # fmt: skip
    assert [surfaces.surface_at(float(s)) for s in stations] == expected
    assert surfaces.surfaces_at_stations(stations) == expected


def test_batched_surfaces_match_wheel_by_wheel_lookups() -> None:
    from sim.scenario_weather import ScenarioWeather

    road = generate_road(RoadConfig(kind="circuit", length_m=500.0), 2)
    params = dataclasses.replace(get_preset("light_snow"), puddles=0.3, ice=0.3)
    one, many = ScenarioWeather(params, road, 2), ScenarioWeather(params, road, 2)
    codes = ScenarioWeather(params, road, 2)
    rng = np.random.default_rng(0)
    seen = set()
    for s in np.linspace(0.0, 480.0, 60):
        xy = road.pose_at(s + rng.uniform(-1.5, 1.5, 4), rng.uniform(-3.0, 3.0, 4))[:, :2]
        names = [one.surface_at(x, y) for x, y in xy.tolist()]
        assert many.surfaces_at(xy) == names
        assert codes.surface_codes_at(xy).tolist() == [SURFACES.index(n) for n in names]
        assert many.stations.hint == one.stations.hint == codes.stations.hint
        seen.update(names)
    assert len(seen) >= 3  # patches of several surfaces were crossed


@needs_numba
@pytest.mark.parametrize("kind", ["circuit", "open"])
def test_compiled_road_projection_equals_the_numpy_search(kind: str) -> None:
    road = generate_road(RoadConfig(kind=kind), 4)
    rng = np.random.default_rng(1)
    pts = road.pose_at(rng.uniform(-40, road.length + 40, 200), rng.uniform(-15, 15, 200))[:, :2]
    assert all(np.array_equal(a, b) for a, b in zip(road.project(pts), road.project_numpy(pts)))
    for p in pts[:60]:
        hint = float(road.project_numpy(p).s) + float(rng.uniform(-8.0, 8.0))
        for near in (None, hint):
            assert road.project(p, near) == road.project_numpy(p, near)


def _drive(backend: str, n: int) -> tuple[list[dict], list[list[dict]]]:
    with flat_world() as world:
        fleet = VehicleFleet(world, backend=backend)
        cars = []
        for i in range(n):
            car = fleet.add(preset(("sedan", "van", "sports_car")[i % 3]), (0.0, 8.0 * i, 0.0),
                            0.05 * i, 3.0 + 6.0 * i)  # fmt: skip
            car.set_controls(0.3 * (-1) ** i, 0.7, 0.0)
            cars.append(car)
        world.step(300)  # launch, shift up; drafting in the column
        for car in cars:
            car.set_controls(-0.2, 0.0, 0.8)
        world.step(150)  # ABS braking
        return [c.state().as_dict() for c in cars], [list(c.events) for c in cars]


@needs_numba
@pytest.mark.parametrize("n", [1, 3])
def test_compiled_vehicle_step_matches_the_numpy_model(n: int) -> None:
    numpy_states, numpy_events = _drive("numpy", n)
    compiled_states, compiled_events = _drive("numba", n)
    assert compiled_events == numpy_events
    if n > 1:  # the faster cars shift gears (the first starts slow: sub-stepped wheels)
        assert sum(len(e) for e in numpy_events) >= 2
    for a, b in zip(numpy_states, compiled_states):
        assert a["gear"] == b["gear"] and a["surface"] == b["surface"]
        for key in ("position", "velocity", "slip_ratio", "slip_angle", "wheel_load_n",
                    "rpm", "steer", "speed_mps", "drag_n"):  # fmt: skip
            np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-6, err_msg=key)


def test_fleet_backend_is_checked() -> None:
    with flat_world() as world, pytest.raises(ValueError, match="VehicleFleet.backend"):
        VehicleFleet(world, backend="cuda")


def test_srgb_lookup_is_the_curve_everywhere() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    img[0, :, 0] = np.arange(53)  # odd offsets, every value somewhere
    np.testing.assert_array_equal(srgb_to_linear(img), _srgb_curve(img))
    values = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(srgb_to_linear(values), _srgb_curve(values))


def test_stage_timers_are_exclusive_and_off_by_default() -> None:
    assert timing.active() is None
    with timing.stage("ignored"):
        pass
    with timing.recording() as rec:
        with timing.stage("outer"):
            sum(range(20000))
            with timing.stage("inner"):
                sum(range(20000))
        assert timing.active() is rec
    assert timing.active() is None
    assert set(rec.seconds) == {"outer", "inner"} and rec.calls == {"outer": 1, "inner": 1}
    assert math.isclose(sum(rec.shares().values()), 1.0)


def test_world_step_records_physics_and_hooks_when_timed() -> None:
    with flat_world() as world:
        fleet = VehicleFleet(world)
        fleet.add(preset("sedan"))
        with timing.recording() as rec:
            world.step(3)
    assert rec.calls == {"vehicle model": 6, "physics": 3}


def _droplets_reference(lin: np.ndarray, intensity: float, rng: np.random.Generator):
    """sim.weather.sensor.lens_droplets before the bounding-box speed-up."""
    from scipy import ndimage

    from sim.weather.sensor import DROPLETS_FROM

    h, w = lin.shape[:2]
    count = int(rng.poisson(30.0 * (intensity - DROPLETS_FROM) / (1.0 - DROPLETS_FROM)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mask = np.zeros((h, w), dtype=np.float32)
    for _ in range(count):
        r = rng.uniform(0.015, 0.05) * w
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        d = np.hypot(yy - cy, xx - cx) / r
        mask = np.maximum(mask, np.clip((1.0 - d) * 4.0, 0.0, 1.0))
    sigma = max(1.5, 0.012 * w)
    blurred = ndimage.gaussian_filter(lin, sigma=(sigma, sigma, 0)) * 1.08 + 0.01
    return lin * (1.0 - mask[..., None]) + blurred * mask[..., None]


def test_lens_droplets_match_the_full_image_computation() -> None:
    from sim.weather.sensor import lens_droplets

    lin = np.random.default_rng(0).random((48, 80, 3), dtype=np.float32)
    for seed in range(4):
        np.testing.assert_array_equal(lens_droplets(lin, 0.95, rng_for(seed, "d")),
                                      _droplets_reference(lin, 0.95, rng_for(seed, "d")))


def test_precipitation_splat_sums_the_same_coverage_as_add_at() -> None:
    from sim.weather.geometry import frame_geometry
    from sim.weather.particles import _kernel, _splat

    cam = {"width": 40, "height": 30, "fx": 35.0, "fy": 35.0, "cx": 20.0, "cy": 14.0}
    depth = np.full((30, 40), 6.0, dtype=np.float32)
    depth[:, :10] = 0.0  # sky
    geom = frame_geometry(cam, depth)
    rng = np.random.default_rng(1)
    n = 400
    pts = np.stack([rng.uniform(-4, 4, (12, n)), rng.uniform(-3, 3, (12, n)),
                    rng.uniform(0.3, 12, (12, n))], -1).astype(np.float32)  # fmt: skip
    alpha = rng.uniform(0.0, 0.05, n)
    radius = np.clip(0.015 * 35.0 / pts[0, :, 2], 0.35, 4.0)
    ref = np.zeros((30, 40), dtype=np.float32)
    z = np.maximum(pts[..., 2], 0.05)
    u, v = pts[..., 0] / z * 35.0 + 20.0, pts[..., 1] / z * 35.0 + 14.0
    for du, dv, wt in _kernel(radius):  # the np.add.at version
        ui, vi = np.floor(u + du).astype(np.int64), np.floor(v + dv).astype(np.int64)
        ok = (ui >= 0) & (ui < 40) & (vi >= 0) & (vi < 30) & (pts[..., 2] > 0.05)
        ui, vi = np.where(ok, ui, 0), np.where(ok, vi, 0)
        scene = geom.points[vi, ui, 2]
        seen = ok & ((scene <= 0) | (pts[..., 2] < scene))
        np.add.at(ref, (vi[seen], ui[seen]), np.broadcast_to(alpha * wt, vi.shape)[seen])
    np.testing.assert_allclose(_splat(pts, alpha, radius, geom, cam),
                               np.clip(ref, 0.0, 0.95), atol=1e-6)  # fmt: skip
