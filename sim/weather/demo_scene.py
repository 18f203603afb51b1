"""A small real PyBullet street to render weather previews and tests on.

A straight two-lane road with lane markings and sidewalks on grass, cars, a building and
street-lamp poles, rendered with PyBullet's TinyRenderer. :func:`render_demo_frame` returns
the rgb, metric z-depth (0 = sky), semantic ids (sim/classes.py) and the ``json.camera``
dict, exactly what :func:`sim.weather.effects.apply_weather` consumes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.classes import class_id
from sim.weather.lighting import LightingSpec
from sim.world import World

# (class, half extents [m], centre [m], rgba)
_BOXES: tuple[tuple[str, tuple, tuple, tuple], ...] = (
    ("road", (60.0, 4.0, 0.01), (55.0, 0.0, 0.01), (0.33, 0.33, 0.35, 1)),
    ("lane_marking", (60.0, 0.08, 0.012), (55.0, 0.0, 0.012), (0.95, 0.95, 0.9, 1)),
    ("sidewalk", (60.0, 1.5, 0.08), (55.0, 5.5, 0.08), (0.62, 0.6, 0.57, 1)),
    ("sidewalk", (60.0, 1.5, 0.08), (55.0, -5.5, 0.08), (0.62, 0.6, 0.57, 1)),
    ("vehicle", (2.2, 0.9, 0.7), (12.0, -2.0, 0.7), (0.7, 0.1, 0.1, 1)),
    ("vehicle", (2.2, 0.9, 0.75), (24.0, 2.0, 0.75), (0.1, 0.25, 0.6, 1)),
    ("vehicle", (2.4, 1.0, 0.8), (45.0, -2.0, 0.8), (0.85, 0.85, 0.8, 1)),
    ("building", (8.0, 4.0, 6.0), (30.0, 13.0, 6.0), (0.6, 0.5, 0.42, 1)),
    ("building", (6.0, 4.0, 4.0), (50.0, -12.0, 4.0), (0.5, 0.52, 0.55, 1)),
    ("barrier", (0.3, 0.3, 0.4), (8.0, -3.2, 0.4), (1.0, 0.45, 0.0, 1)),
)
_POLES = ((16.0, 6.5), (28.0, -6.5), (46.0, 6.5))


@dataclass(frozen=True)
class DemoFrame:
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32, metric z-depth, 0 = sky
    seg: np.ndarray  # (H, W) uint8 class ids
    camera: dict  # json.camera


def _build(world: World) -> dict[int, int]:
    c = world.client
    plane_shape = c.createCollisionShape(c.GEOM_BOX, halfExtents=[150, 150, 0.01])
    plane_vis = c.createVisualShape(
        c.GEOM_BOX, halfExtents=[150, 150, 0.01], rgbaColor=[0.3, 0.55, 0.25, 1]
    )
    uid_class = {c.createMultiBody(0, plane_shape, plane_vis, [50, 0, -0.01]): class_id("terrain")}
    for cls, half, pos, rgba in _BOXES:
        vis = c.createVisualShape(c.GEOM_BOX, halfExtents=half, rgbaColor=rgba)
        uid_class[c.createMultiBody(0, -1, vis, pos)] = class_id(cls)
    for x, y in _POLES:
        vis = c.createVisualShape(
            c.GEOM_CYLINDER, radius=0.12, length=6.0, rgbaColor=[0.35, 0.35, 0.38, 1]
        )
        uid_class[c.createMultiBody(0, -1, vis, [x, y, 3.0])] = class_id("pole")
    return uid_class


def _camera_dict(width: int, height: int, fov_deg: float, eye, target, near, far) -> dict:
    fy = 0.5 * height / np.tan(np.radians(fov_deg) / 2)
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye
    return {
        "name": "front",
        "width": width,
        "height": height,
        "fx": fy,
        "fy": fy,
        "cx": width / 2,
        "cy": height / 2,
        "T_world_cam": [float(v) for v in T.ravel()],
        "near": near,
        "far": far,
        "fov_deg": fov_deg,
    }


def render_demo_frame(
    width: int = 320, height: int = 240, lighting: LightingSpec | None = None
) -> DemoFrame:
    """Render the demo street from a camera 1.5 m above the right lane, looking ahead."""
    near, far, fov = 0.1, 200.0, 60.0
    eye, target = (0.0, -2.0, 1.5), (20.0, -1.0, 0.6)
    with World() as world:
        uid_class = _build(world)
        c = world.client
        view = c.computeViewMatrix(eye, target, [0, 0, 1])
        proj = c.computeProjectionMatrixFOV(fov, width / height, near, far)
        extra = lighting.camera_kwargs() if lighting else {}
        _, _, rgba, zbuf, segbuf = c.getCameraImage(
            width, height, view, proj, renderer=c.ER_TINY_RENDERER, **extra
        )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3].copy()
    zbuf = np.asarray(zbuf, dtype=np.float64).reshape(height, width)
    depth = far * near / (far - (far - near) * zbuf)
    segbuf = np.asarray(segbuf).reshape(height, width)
    lut = {-1: class_id("sky"), **uid_class}
    seg = np.vectorize(lambda u: lut.get(int(u) & 0xFFFFFF if u >= 0 else -1, 0))(segbuf)
    depth = np.where(segbuf < 0, 0.0, depth).astype(np.float32)
    camera = _camera_dict(width, height, fov, eye, target, near, far)
    return DemoFrame(rgb, depth, seg.astype(np.uint8), camera)
