"""Worlds own their clients: two in one process never interfere, and runs are repeatable."""

from __future__ import annotations

import numpy as np
import pytest

from sim.world import World, WorldConfig


def _drop_ball(world: World, height: float) -> int:
    c = world.client
    c.createMultiBody(0.0, c.createCollisionShape(c.GEOM_PLANE))
    shape = c.createCollisionShape(c.GEOM_SPHERE, radius=0.1)
    return c.createMultiBody(1.0, shape, -1, [0.0, 0.0, height])


def _z(world: World, body: int) -> float:
    return world.client.getBasePositionAndOrientation(body)[0][2]


def test_free_fall_follows_gravity():
    with World() as w:
        ball = _drop_ball(w, 10.0)
        w.step(120)  # 0.5 s
        assert w.time_s == pytest.approx(0.5)
        assert _z(w, ball) == pytest.approx(10.0 - 0.5 * 9.81 * 0.5**2, abs=0.05)


def test_two_worlds_do_not_interfere():
    a, b = World(), World(WorldConfig(gravity_mps2=1.62))
    ball_a, ball_b = _drop_ball(a, 10.0), _drop_ball(b, 10.0)
    assert a.client._client != b.client._client
    a.step(240)
    assert _z(b, ball_b) == pytest.approx(10.0)  # b did not move while a stepped
    b.step(240)
    assert _z(a, ball_a) < 6.0 and _z(b, ball_b) == pytest.approx(10.0 - 0.81, abs=0.05)
    a.close()
    b.step(10)  # closing a leaves b working
    b.close()


def test_same_setup_same_trajectory_interleaved():
    a, b = World(), World()
    balls = [_drop_ball(a, 3.0), _drop_ball(b, 3.0)]
    za, zb = [], []
    for _ in range(200):
        a.step()
        b.step()
        za.append(_z(a, balls[0]))
        zb.append(_z(b, balls[1]))
    assert np.array_equal(za, zb)
    a.close()
    b.close()


class _Recorder:
    def __init__(self, order: int, log: list) -> None:
        self.order, self.log = order, log

    def before_step(self, world: World, dt: float) -> None:
        self.log.append(("before", self.order, world.step_count))

    def after_step(self, world: World, dt: float) -> None:
        self.log.append(("after", self.order, world.step_count))


def test_hooks_run_in_order_around_each_step():
    log: list = []
    with World() as w:
        w.add_hook(_Recorder(2, log))
        w.add_hook(_Recorder(1, log))
        w.step(2)
    assert log[:4] == [("before", 1, 0), ("before", 2, 0), ("after", 1, 1), ("after", 2, 1)]
    assert len(log) == 8


def test_invalid_world_config():
    with pytest.raises(ValueError, match="physics_hz"):
        WorldConfig(physics_hz=5)
