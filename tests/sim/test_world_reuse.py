"""Reused PyBullet clients (sim.world.ClientPool) are as good as fresh ones: a scenario run
in a client another scenario used gives the same bytes as in a fresh process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from sim.camera import preset_camera
from sim.scenario import Scenario, ScenarioConfig
from sim.weather import get_preset
from sim.world import CLIENTS, ClientPool, World

ROOT = Path(__file__).resolve().parents[2]


def _config(seed: int, weather: str, road: str) -> ScenarioConfig:
    return ScenarioConfig(seed=seed, road_kind=road, cameras=(preset_camera("front", 48),),
                          weather=get_preset(weather), n_npc=3, n_pedestrians=2)  # fmt: skip


def scenario_digest(config: ScenarioConfig, frames: int = 3) -> str:
    """sha256 over every render buffer, label, ego state and the trace of ``config``."""
    h = hashlib.sha256()
    with Scenario(config) as sc:
        for f in sc.run_frames(frames):
            for r in f.renders.values():
                for a in (r.rgb, r.depth, r.semantic, r.instance):
                    h.update(np.ascontiguousarray(a).tobytes())
            h.update(json.dumps([f.ego, f.objects, f.rig], sort_keys=True, default=str).encode())
        trace = sc.trace.finalize()
        assert trace.arrays
        for name, values in sorted(trace.arrays.items()):
            h.update(name.encode() + np.ascontiguousarray(values).tobytes())
        h.update(json.dumps(trace.events, sort_keys=True, default=str).encode())
    return h.hexdigest()


B = (11, "fog_night", "open")
_FRESH = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from tests.sim.test_world_reuse import B, _config, scenario_digest; "
    "print(scenario_digest(_config(*B)))"
)


def test_scenario_after_another_in_a_reused_client_matches_a_fresh_process():
    CLIENTS.clear()
    scenario_digest(_config(4, "heavy_rain", "circuit"))  # scenario A leaves its client
    assert len(CLIENTS) == 1
    reused = scenario_digest(_config(*B))  # B runs in A's client, reset
    fresh = subprocess.run([sys.executable, "-c", _FRESH.format(root=str(ROOT))],
                           cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    assert reused == fresh.stdout.strip().splitlines()[-1]


def test_closed_world_returns_its_client_reset_and_the_next_world_takes_it():
    pool = CLIENTS
    pool.clear()
    w = World()
    c = w.client
    c.createMultiBody(1.0, c.createCollisionShape(c.GEOM_SPHERE, radius=0.1))
    w.step(5)
    w.close()
    assert w.client is None and len(pool) == 1
    w2 = World()
    assert w2.client is c and len(pool) == 0
    assert c.getNumBodies() == 0 and w2.step_count == 0
    body = c.createMultiBody(1.0, c.createCollisionShape(c.GEOM_SPHERE, radius=0.1))
    assert body == 0  # uids start again at 0, as in a fresh client
    w2.close()


def test_worlds_that_loaded_plugins_or_file_meshes_are_not_pooled():
    CLIENTS.clear()
    w = World()
    w.use_file_meshes()
    w.close()
    assert len(CLIENTS) == 0


def test_pool_keeps_at_most_its_size():
    pool = ClientPool(size=1)
    (a, reused_a), (b, reused_b) = pool.acquire(), pool.acquire()
    assert not reused_a and not reused_b
    pool.release(a)
    pool.release(b)  # full: b is disconnected
    assert len(pool) == 1 and b._client == -1
    assert pool.acquire() == (a, True)
    pool.release(a)
    pool.clear()
    assert len(pool) == 0 and a._client == -1


def test_a_plugin_is_loaded_into_a_fresh_client_not_a_reused_one():
    CLIENTS.clear()
    World().close()
    w = World()
    reused = w.client
    assert w._reused
    w.load_plugin("/nonexistent/plugin.so", "_none")  # fails, but after the swap
    assert w.client is not reused and not w._reused
    assert len(CLIENTS) == 1  # the reused client went back to the pool
    assert w.client.getPhysicsEngineParameters()["fixedTimeStep"] == w.dt
    w.close()
    assert len(CLIENTS) == 1  # a world that loaded a plugin gives its client up
