"""Labels must agree exactly with the masks, the depth and the projected 3D boxes."""

from __future__ import annotations

import numpy as np
import pytest

from sim.camera import CameraConfig, Lighting, render, renderer_info, renderer_spec
from sim.classes import CLASS_IDS
from sim.labels import extract_labels, mask_boxes, project_points
from sim.scenario import Scenario, ScenarioConfig
from sim.scene import SceneRegistry
from sim.scenery import Part, create_body
from sim.world import World


def renderer_or_skip(name: str) -> str:
    """``name``, or skip the test where that renderer cannot start (EGL without a GPU or
    Mesa's EGL)."""
    try:
        renderer_info(name)
    except RuntimeError as err:
        pytest.skip(str(err))
    return name


@pytest.fixture(scope="module", params=["tiny", "egl"])
def frames(request):
    renderer = renderer_or_skip(request.param)
    cams = (CameraConfig("front", 160, 120, 60.0, renderer=renderer),
            CameraConfig("wide", 96, 96, 100.0, renderer=renderer))  # fmt: skip
    config = ScenarioConfig(seed=5, n_npc=10, n_pedestrians=8, cameras=cams, road_length_m=600)
    with Scenario(config) as sc:
        yield [f for f in sc.run_frames(4)]


def _each_object(frames):
    for f in frames:
        for name, objects in f.objects.items():
            for obj in objects:
                yield f.renders[name], obj


def test_scenes_have_objects_of_several_classes(frames):
    classes = {obj["class"] for _, obj in _each_object(frames)}
    assert len(classes) >= 3, classes


def test_bbox2d_is_tight_box_of_instance_mask(frames):
    for r, obj in _each_object(frames):
        mask = r.instance == obj["instance_id"]
        ys, xs = np.nonzero(mask)
        assert obj["visible_px"] == mask.sum()
        assert obj["bbox2d"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_semantic_class_under_instance_is_object_class(frames):
    for r, obj in _each_object(frames):
        mask = r.instance == obj["instance_id"]
        assert np.all(r.semantic[mask] == CLASS_IDS[obj["class"]])


def test_depth_under_object_within_its_3d_box(frames):
    checked = 0
    for r, obj in _each_object(frames):
        z = np.asarray(obj["bbox3d_cam"]["corners"])[:, 2]
        depth = r.depth[r.instance == obj["instance_id"]]
        tol = 0.05 + 0.01 * z.max()
        assert depth.min() >= z.min() - tol and depth.max() <= z.max() + tol, obj
        checked += 1
    assert checked > 5


def test_object_pixels_inside_projected_3d_box(frames):
    checked = 0
    for r, obj in _each_object(frames):
        corners = np.asarray(obj["bbox3d_cam"]["corners"])
        if corners[:, 2].min() <= r.config.near:
            continue
        uv = project_points(r, corners)
        x0, y0, x1, y1 = obj["bbox2d"]
        assert x0 >= np.floor(uv[:, 0].min()) - 1 and x1 - 1 <= np.ceil(uv[:, 0].max()) + 1
        assert y0 >= np.floor(uv[:, 1].min()) - 1 and y1 - 1 <= np.ceil(uv[:, 1].max()) + 1
        checked += 1
    assert checked > 5


def test_depth_zero_exactly_where_sky(frames):
    for f in frames:
        for r in f.renders.values():
            assert np.array_equal(r.depth == 0, r.semantic == CLASS_IDS["sky"])


def _one_box_world(x: float, z: float, y: float = 0.3, renderer: str = "tiny"):
    world, reg = World(), SceneRegistry()
    renderer_spec(renderer).setup(world)  # before any body: EGL converts shapes as made
    part = Part("box", (0.5, 0.5, 0.5), (0.0, 0.0, 0.5), (0.8, 0.1, 0.1, 1.0))
    body = create_body(world.client, (part,), (x, y, z), 0.0)
    reg.register(body, "building", (1.0, 1.0, 1.0), (0.0, 0.0, 0.5))
    return world, reg


@pytest.mark.parametrize("x", [4.0, 7.3, 12.0])
def test_metric_depth_of_facing_plane(x):
    world, reg = _one_box_world(x, 1.2)
    cam = CameraConfig("c", 64, 64, 60.0, mount_xyz=(0.0, 0.0, 1.7), mount_rpy=(0.0, 0.0, 0.0))
    r = render(world.client, reg, cam, np.eye(4))
    front = r.depth[r.instance == 1]
    assert front.size > 0
    assert np.median(front) == pytest.approx(x - 0.5, abs=0.02)
    world.close()


@pytest.mark.parametrize("renderer", ["tiny", "egl"])
def test_intrinsics_match_rendered_edges(renderer):
    """The renderer's principal point, measured: over sub-pixel positions of a box's edges,
    the first covered pixel lies 0 to 1 pixel past the projected edge (pixels sampled at
    integer coordinates), and the spread spans that whole pixel (so the offset is exact,
    not merely within a pixel)."""
    renderer = renderer_or_skip(renderer)
    cam = CameraConfig("c", 160, 120, 60.0, mount_xyz=(0.0, 0.0, 1.5), mount_rpy=(0.0, 0.0, 0.0),
                       renderer=renderer)  # fmt: skip
    dx, dy = [], []
    for i, dz in enumerate(np.linspace(0.0, 0.3, 13)):
        world, reg = _one_box_world(9.0, 1.0 + dz, y=0.3 + 0.021 * i, renderer=renderer)
        r = render(world.client, reg, cam, np.eye(4))
        obj = extract_labels(world.client, reg, r)[0]
        corners = np.asarray(obj["bbox3d_cam"]["corners"])
        front = corners[corners[:, 2] < corners[:, 2].mean()]  # the face towards the camera
        uv = project_points(r, front)
        x0, y0, x1, y1 = obj["bbox2d"]
        dx += [x0 - uv[:, 0].min(), uv[:, 0].max() - (x1 - 1)]
        dy += [y0 - uv[:, 1].min(), uv[:, 1].max() - (y1 - 1)]
        world.close()
    for d in (np.array(dx), np.array(dy)):
        assert -0.05 <= d.min() < 0.25 and 0.75 < d.max() < 1.05, (renderer, d)


def test_lighting_changes_rgb_not_labels():
    world, reg = _one_box_world(6.0, 1.0)
    cam = CameraConfig("c", 48, 48, 60.0, mount_rpy=(0.0, 0.0, 0.0))
    bright = render(world.client, reg, cam, np.eye(4), Lighting(ambient=0.9))
    night = render(world.client, reg, cam, np.eye(4), Lighting(ambient=0.1, diffuse=0.1))
    mask = bright.instance == 1
    assert bright.rgb[mask].mean() > night.rgb[mask].mean() + 20
    assert np.array_equal(bright.instance, night.instance)
    world.close()


def test_mask_boxes_on_handmade_mask():
    inst = np.zeros((6, 8), dtype=np.uint16)
    inst[1:3, 2:5] = 7
    inst[4, 0] = 3
    ids, counts, boxes = mask_boxes(inst)
    assert ids.tolist() == [3, 7] and counts.tolist() == [1, 6]
    assert boxes.tolist() == [[0, 4, 1, 5], [2, 1, 5, 3]]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"width": 0}, "width"), ({"height": 0}, "height"), ({"fov_deg": 0}, "fov_deg"),
     ({"fov_deg": 175}, "fov_deg"), ({"near": 0.0}, "near"), ({"name": "Front.1"}, "name")],
)  # fmt: skip
def test_invalid_camera_config_names_field_and_value(kwargs, field):
    with pytest.raises(ValueError, match=field) as err:
        CameraConfig(**kwargs)
    assert str(next(iter(kwargs.values()))) in str(err.value)


def test_unknown_class_rejected():
    with pytest.raises(ValueError, match="unicorn"):
        SceneRegistry().register(3, "unicorn", (1.0, 1.0, 1.0))


def test_registry_rejects_duplicates_and_bad_sizes_and_gives_stuff_no_instance():
    reg = SceneRegistry()
    assert reg.register(4, "vehicle", (4.0, 2.0, 1.5)) == 1
    assert reg.register(5, "road", (0.0, 0.0, 0.0)) == 0
    assert reg.register(6, "ego", (4.0, 2.0, 1.5), instance=False) == 0
    with pytest.raises(ValueError, match="already registered"):
        reg.register(4, "vehicle", (4.0, 2.0, 1.5))
    with pytest.raises(ValueError, match="size_lwh"):
        reg.register(7, "pole", (1.0, -1.0, 1.0))
    sem, inst = reg.decode(np.array([[-1, 4, 5], [6, 4 + (2 << 24), 99]], dtype=np.int32))
    assert sem.tolist() == [[0, 5, 1], [11, 5, 0]]
    assert inst.tolist() == [[0, 1, 0], [0, 1, 0]]
