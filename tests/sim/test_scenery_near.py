"""Scenery.ensure_near skips checks that cannot create anything: the bodies it creates, and
at which call, are those of the full check at every call."""

from __future__ import annotations

import numpy as np

from sim.road import RoadConfig, generate_road
from sim.scene import SceneRegistry
from sim.scenery import Scenery, SceneryConfig
from sim.world import World


def _walk(road, seed: int, steps: int) -> np.ndarray:
    """Points along the road with lateral wander and the odd jump (a crash, a reset)."""
    rng = np.random.default_rng(seed)
    s = np.cumsum(rng.uniform(0.0, 1.4, steps))
    lateral = rng.normal(0.0, 4.0, steps)
    lateral[rng.random(steps) < 0.02] += 30.0
    return road.pose_at(s % road.length, lateral)[:, :2]


def _created(scenery: Scenery, points: np.ndarray, radius: float, full: bool) -> list:
    out = []
    for xy in points:
        if full:
            scenery._near_check = None  # forget the last check: always the full test
        before = scenery.body_ids.copy()
        scenery.ensure_near(xy, radius)
        out.append(np.flatnonzero((scenery.body_ids >= 0) & (before < 0)).tolist())
    return out


def test_skipped_near_checks_create_the_same_bodies_at_the_same_calls():
    road = generate_road(RoadConfig(kind="open"), 3)
    points = _walk(road, 0, 400)
    runs = []
    for full in (True, False):
        with World() as world:
            scenery = Scenery(world, road, SceneRegistry(), SceneryConfig(density=2.0), 3)
            runs.append(_created(scenery, points, 20.0, full))
    assert runs[0] == runs[1]
    assert sum(map(len, runs[0])) > 10  # the walk did create bodies along the way


def test_near_check_is_redone_for_another_radius():
    road = generate_road(RoadConfig(kind="circuit"), 5)
    with World() as world:
        scenery = Scenery(world, road, SceneRegistry(), SceneryConfig(), 5)
        xy = road.pose_at(np.array([10.0]), np.array([0.0]))[0, :2]
        scenery.ensure_near(xy, 0.0)
        built = scenery.built
        scenery.ensure_near(xy, 60.0)  # same point, larger radius: checked again
        assert scenery.built > built
