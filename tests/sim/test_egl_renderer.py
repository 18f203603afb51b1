"""The EGL renderer against TinyRenderer on the same scenario (where EGL can start: a GPU with
its EGL driver, or Mesa's software EGL; skipped elsewhere).

The scenario runs twice from one seed, once per renderer (a loaded EGL plugin renders
every camera of its client): same physics, same poses. EGL's projection is shifted onto
TinyRenderer's pixel grid (``sim.camera.RENDERERS``), so the labels agree pixel for pixel
but for rasterisation ties along edges.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.camera import CameraConfig, gl_strings, renderer_info
from sim.classes import CLASS_IDS
from sim.scenario import Scenario, ScenarioConfig
from sim.world import World


@pytest.fixture(scope="module")
def egl() -> dict:
    try:
        return renderer_info("egl")
    except RuntimeError as err:
        pytest.skip(str(err))


def _frames(seed: int, renderer: str, size: int = 96) -> list:
    cams = (CameraConfig("front", size, size, 60.0, renderer=renderer),)
    config = ScenarioConfig(seed=seed, n_npc=8, n_pedestrians=6, cameras=cams,
                            road_length_m=500)  # fmt: skip
    with Scenario(config) as sc:
        return [f.renders["front"] for f in sc.run_frames(3)]


def _pair(seed: int, size: int = 96) -> list[tuple]:
    """The same scenario rendered by TinyRenderer and by EGL, frame by frame (two worlds: a
    loaded EGL plugin renders every camera of its client)."""
    return list(zip(_frames(seed, "tiny", size), _frames(seed, "egl", size)))


@pytest.mark.parametrize("seed", [3, 11])
def test_segmentation_agrees_with_tiny_renderer(egl, seed):
    for tiny, gl in _pair(seed):
        assert np.array_equal(tiny.T_world_cam, gl.T_world_cam)  # the same physics
        assert not np.array_equal(tiny.rgb, gl.rgb)  # two renderers
        assert np.mean(tiny.semantic == gl.semantic) >= 0.99
        assert np.mean(tiny.instance == gl.instance) >= 0.99
        both = (tiny.instance == gl.instance) & (tiny.depth > 0)
        rel = np.abs(tiny.depth[both] - gl.depth[both]) / tiny.depth[both]
        assert np.median(rel) < 0.005


def test_egl_labels_are_its_own_sky_and_depth(egl):
    for r in _frames(5, "egl"):
        assert np.array_equal(r.depth == 0, r.semantic == CLASS_IDS["sky"])
        assert r.depth.max() <= r.config.far


def test_egl_renders_are_deterministic(egl):
    for ra, rb in zip(_frames(7, "egl"), _frames(7, "egl")):
        assert np.array_equal(ra.rgb, rb.rgb)
        assert np.array_equal(ra.depth, rb.depth)
        assert np.array_equal(ra.instance, rb.instance)


def test_renderer_info_names_the_gl_driver(egl):
    assert egl.get("gl_renderer")
    assert renderer_info("egl") == egl
    assert renderer_info("tiny") == {}


def test_gl_strings_parse_the_plugin_report():
    report = ("Loaded EGL 1.5\nGL_VENDOR=NVIDIA Corporation\n"
              "GL_RENDERER=NVIDIA H100 80GB HBM3/PCIe/SSE2\n")  # fmt: skip
    assert gl_strings(report) == {"gl_vendor": "NVIDIA Corporation",
                                  "gl_renderer": "NVIDIA H100 80GB HBM3/PCIe/SSE2"}  # fmt: skip


def test_file_meshes_render_like_vertex_meshes(monkeypatch):
    """The OBJ path EGL needs gives TinyRenderer the same labels as vertex arrays."""
    cams = (CameraConfig("front", 96, 96, 60.0),)
    config = ScenarioConfig(seed=4, n_npc=4, n_pedestrians=2, cameras=cams, road_length_m=400)
    with Scenario(config) as sc:
        plain = [f.renders["front"] for f in sc.run_frames(2)]
    original = World.__init__

    def with_files(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.use_file_meshes()

    monkeypatch.setattr(World, "__init__", with_files)
    with Scenario(config) as sc:
        files = [f.renders["front"] for f in sc.run_frames(2)]
    for a, b in zip(plain, files):
        assert np.mean(a.semantic == b.semantic) >= 0.99
        assert np.mean(a.instance == b.instance) >= 0.99
