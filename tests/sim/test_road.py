"""Road geometry: the centre line, its queries and the built meshes."""

from __future__ import annotations

import numpy as np
import pytest

from sim.classes import CLASS_IDS
from sim.road import RoadConfig, build_road, generate_road
from sim.scene import SceneRegistry
from sim.world import World


@pytest.fixture(params=["circuit", "open"])
def road(request):
    return generate_road(RoadConfig(kind=request.param, length_m=900.0, lanes=3), seed=11)


def test_length_and_closure(road):
    assert road.length == pytest.approx(900.0, rel=0.01)
    turn = road.heading[-1] - road.heading[0]
    if road.closed:
        assert np.allclose(road.xy[0], road.xy[-1])
        assert turn == pytest.approx(2 * np.pi, abs=1e-6)


def test_curvature_is_derivative_of_heading_and_bounded(road):
    s = np.linspace(20.0, road.length - 20.0, 50)
    h = road.pose_at(s)[:, 2]
    numeric = (road.pose_at(s + 0.5)[:, 2] - road.pose_at(s - 0.5)[:, 2]) / 1.0
    assert np.allclose(road.curvature_ahead(0.0, s), numeric, atol=2e-3)
    clear = road.half_width + road.config.shoulder_m
    assert np.max(np.abs(road.curvature)) * clear < 1.0
    assert np.all(np.isfinite(h))


def test_project_inverts_pose_at(road):
    rng = np.random.default_rng(0)
    s = rng.uniform(5.0, road.length - 5.0, 40)
    lat = rng.uniform(-road.half_width, road.half_width, 40)
    pose = road.pose_at(s, lat)
    proj = road.project(pose[:, :2])
    assert np.allclose(proj.s, s, atol=0.05)
    assert np.allclose(proj.lateral, lat, atol=0.02)
    assert np.allclose(np.cos(proj.heading - pose[:, 2]), 1.0, atol=1e-4)


def test_lateral_is_left_positive(road):
    x, y, h = road.pose_at(100.0)
    left = np.array([x - np.sin(h), y + np.cos(h)])
    assert road.project(left).lateral == pytest.approx(1.0, abs=1e-3)


def test_lane_offsets_tile_the_road(road):
    offs = road.lane_offsets()
    w = road.config.lane_width_m
    assert np.allclose(np.diff(offs), w)
    assert offs[0] - w / 2 == pytest.approx(-road.half_width)
    assert offs[-1] + w / 2 == pytest.approx(road.half_width)


def test_same_seed_same_road_different_seed_different_road():
    cfg = RoadConfig(kind="open", length_m=500.0)
    a, b, c = generate_road(cfg, 4), generate_road(cfg, 4), generate_road(cfg, 5)
    assert np.array_equal(a.xy, b.xy)
    assert not np.allclose(a.xy[-1], c.xy[-1])


def test_built_road_bodies_rest_a_dropped_box_on_the_surface():
    road = generate_road(RoadConfig(kind="circuit", length_m=400.0), seed=2)
    with World() as world:
        reg = SceneRegistry()
        bodies = build_road(world, road, reg, seed=2)
        assert reg.info(bodies.surface[0]).class_id == CLASS_IDS["road"]
        assert reg.info(bodies.markings[0]).class_id == CLASS_IDS["lane_marking"]
        assert reg.info(bodies.shoulders[0]).class_id == CLASS_IDS["sidewalk"]
        assert reg.info(bodies.ground).class_id == CLASS_IDS["terrain"]
        c = world.client
        x, y, _ = road.pose_at(50.0, 1.0)
        box = c.createMultiBody(
            1.0, c.createCollisionShape(c.GEOM_BOX, halfExtents=[0.2] * 3), -1, [x, y, 0.5]
        )
        world.step(480)
        z = c.getBasePositionAndOrientation(box)[0][2]
        assert z == pytest.approx(0.2, abs=0.01)  # rests on the road mesh at z = 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"kind": "spiral"}, "kind"), ({"lanes": 0}, "lanes"), ({"length_m": 5.0}, "length_m"),
     ({"curviness": 2.0}, "curviness"), ({"lane_width_m": 0.5}, "lane_width_m")],
)  # fmt: skip
def test_invalid_road_config(kwargs, field):
    with pytest.raises(ValueError, match=field):
        RoadConfig(**kwargs)


def test_project_with_station_hint_matches_full_search(road):
    s = np.linspace(3.0, road.length - 3.0, 25)
    pose = road.pose_at(s, 1.2)
    for k in range(len(s)):
        full = road.project(pose[k, :2])
        hinted = road.project(pose[k, :2], near_s=s[k] + 7.0)
        assert hinted.s == pytest.approx(full.s) and hinted.lateral == pytest.approx(full.lateral)
