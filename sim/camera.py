"""Cameras: configuration, pose, intrinsics and rendering with PyBullet's TinyRenderer.

A camera is mounted on the ego body (mount xyz in metres and roll/pitch/yaw in radians in
the body frame: x forward, y left, z up) and looks along the body's x axis. Renders give
RGB, metric z-depth, semantic and instance segmentation (decoded through the scene
registry), intrinsics consistent with the projection matrix and ``T_world_cam`` in the
OpenCV convention (x right, y down, z forward). Lighting is passed per render.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sim.c_output import quiet_stdout
from sim.scene import SceneRegistry
from sim.timing import stage

# OpenCV camera axes expressed in the body frame (x forward, y left, z up): columns x, y, z.
R_BODY_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
GL_FROM_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class RendererSpec:
    """A PyBullet renderer: its ``getCameraImage`` flag, pixel-grid convention and plugin.

    ``principal_offset`` is (cx - W/2, cy - H/2) in pixels, measured per renderer (tests in
    tests/sim/test_camera_labels.py and, on a GPU, tests/sim/test_egl_renderer.py check it
    against rendered edges). ``plugin`` names the module of a PyBullet plugin that
    :meth:`setup` loads into each client (the EGL renderer), None for none."""

    name: str
    pybullet_flag: str  # attribute of the pybullet module
    principal_offset: tuple[float, float]
    plugin: str | None = None  # the plugin's module, e.g. eglRenderer
    plugin_name: str = ""  # its name for loadPlugin, e.g. _eglRendererPlugin
    # (right, up) in pixels: where the projection moves the image so that this renderer's
    # pixel grid is TinyRenderer's (same intrinsics, same pixels for the same scene)
    grid_shift_px: tuple[float, float] = (0.0, 0.0)

    def flag(self) -> int:
        import pybullet as p

        return int(getattr(p, self.pybullet_flag))

    def setup(self, world) -> dict[str, str]:
        """Prepare ``world`` (a :class:`sim.world.World`) to render with this renderer: load
        its plugin, if it has one, and give it meshes as files where it needs them. Returns
        what the renderer runs on (``GL_VENDOR``, ``GL_RENDERER``, ``GL_VERSION`` as the
        plugin reports them; empty for TinyRenderer, which is the same code everywhere).

        Raises RuntimeError naming the fix when the plugin is missing or cannot start (no
        GPU, no EGL driver, a pybullet build without it)."""
        if self.plugin is None:
            return {}
        import importlib.util

        spec = importlib.util.find_spec(self.plugin)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"renderer {self.name!r} needs pybullet's {self.plugin} plugin, "
                               "which this pybullet build lacks; use --renderer tiny")
        plugin, report = world.load_plugin(spec.origin, self.plugin_name)
        if plugin < 0:
            raise RuntimeError(f"renderer {self.name!r} could not start ({self.plugin} found no "
                               "EGL device: a GPU with its EGL driver is needed); use "
                               "--renderer tiny")
        world.use_file_meshes()  # EGL's shape converter reads meshes from files only
        return gl_strings(report)


def gl_strings(report: str) -> dict[str, str]:
    """``GL_VENDOR``/``GL_RENDERER``/``GL_VERSION`` from the EGL plugin's start-up report."""
    found = re.findall(r"^(GL_VENDOR|GL_RENDERER|GL_VERSION)=(.*)$", report, re.MULTILINE)
    return {key.lower(): value.strip() for key, value in found}


# TinyRenderer flips rows after rasterising: principal point at (W/2, H/2 - 1).
# EGL (hardware OpenGL): OpenGL samples pixel centres, which puts its principal point at
# (W/2 - 1/2, H/2 - 1/2); its projection shifts the image half a pixel right and up, onto
# TinyRenderer's grid, so both renderers share intrinsics (measured, Mesa's EGL and
# NVIDIA's, by tests/sim/test_camera_labels.py::test_intrinsics_match_rendered_edges).
RENDERERS: dict[str, RendererSpec] = {
    "tiny": RendererSpec("tiny", "ER_TINY_RENDERER", (0.0, -1.0)),
    "egl": RendererSpec("egl", "ER_BULLET_HARDWARE_OPENGL", (0.0, -1.0),
                        plugin="eglRenderer", plugin_name="_eglRendererPlugin",
                        grid_shift_px=(0.5, 0.5)),
}
DEFAULT_RENDERER = "tiny"


def renderer_spec(name: str) -> RendererSpec:
    if name not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {name!r}")
    return RENDERERS[name]


@dataclass(frozen=True)
class CameraConfig:
    name: str = "front"
    width: int = 128
    height: int = 128
    fov_deg: float = 60.0  # vertical field of view
    mount_xyz: tuple[float, float, float] = (0.8, 0.0, 1.75)
    mount_rpy: tuple[float, float, float] = (0.0, 0.03, 0.0)
    near: float = 0.1
    far: float = 200.0
    renderer: str = DEFAULT_RENDERER  # a key of RENDERERS; fixes the principal point

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]+", self.name):
            raise ValueError(f"CameraConfig.name must match [a-z0-9]+, got {self.name!r}")
        if self.renderer not in RENDERERS:
            raise ValueError(f"CameraConfig.renderer must be one of {', '.join(RENDERERS)}, "
                             f"got {self.renderer!r}")  # fmt: skip
        for key in ("width", "height"):
            value = getattr(self, key)
            if not 1 <= value <= 4096:
                raise ValueError(f"CameraConfig.{key} must be in [1, 4096], got {value}")
        if not 10.0 < self.fov_deg < 170.0:
            raise ValueError(f"CameraConfig.fov_deg must be in (10, 170), got {self.fov_deg}")
        if len(self.mount_xyz) != 3 or len(self.mount_rpy) != 3:
            raise ValueError(
                f"CameraConfig.mount_xyz/mount_rpy need 3 values, got "
                f"{self.mount_xyz}, {self.mount_rpy}"
            )
        if not 0.0 < self.near < self.far:
            raise ValueError(
                f"CameraConfig.near/far must satisfy 0 < near < far, got {self.near}, {self.far}"
            )

    def intrinsics(self) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) in pixels, OpenCV convention: pixel (u, v) is sampled at its
        integer coordinates. The principal point is the renderer's (``RENDERERS``):
        TinyRenderer flips rows after rasterising, which puts it at (W/2, H/2 - 1) (measured
        in tests/sim/test_camera_labels.py); EGL's projection is shifted onto that grid."""
        fy = self.height / (2.0 * np.tan(np.radians(self.fov_deg) / 2.0))
        dx, dy = RENDERERS[self.renderer].principal_offset
        return fy, fy, self.width / 2.0 + dx, self.height / 2.0 + dy

    def T_body_cam(self) -> np.ndarray:
        """The camera's pose on its body (the mount), OpenCV camera axes: its extrinsics."""
        return pose_matrix(rpy_matrix(*self.mount_rpy) @ R_BODY_OPTICAL, self.mount_xyz)

    def K(self) -> np.ndarray:
        fx, fy, cx, cy = self.intrinsics()
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Lighting:
    """Per-render lighting of TinyRenderer, plus the sky colours painted where nothing is hit."""

    direction: tuple[float, float, float] = (0.4, 0.3, 1.0)  # towards the light, world frame
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    distance: float = 100.0
    ambient: float = 0.6
    diffuse: float = 0.5
    specular: float = 0.05
    shadow: bool = False
    sky_top: tuple[int, int, int] = (90, 140, 205)
    sky_horizon: tuple[int, int, int] = (185, 210, 235)

    def __post_init__(self) -> None:
        for key in ("ambient", "diffuse", "specular"):
            value = getattr(self, key)
            if not 0.0 <= value <= 2.0:
                raise ValueError(f"Lighting.{key} must be in [0, 2], got {value}")
        if len(self.direction) != 3 or not np.any(self.direction):
            raise ValueError(
                f"Lighting.direction must be a non-zero 3-vector, got {self.direction}"
            )
        if any(not 0.0 <= c <= 1.0 for c in self.color):
            raise ValueError(f"Lighting.color must be 3 values in [0, 1], got {self.color}")
        if self.distance <= 0:
            raise ValueError(f"Lighting.distance must be > 0, got {self.distance}")

    def camera_kwargs(self) -> dict:
        return {
            "lightDirection": list(self.direction),
            "lightColor": list(self.color),
            "lightDistance": self.distance,
            "lightAmbientCoeff": self.ambient,
            "lightDiffuseCoeff": self.diffuse,
            "lightSpecularCoeff": self.specular,
            "shadow": int(self.shadow),
        }


@dataclass
class Render:
    """One camera image set: rgb (H,W,3) uint8, depth (H,W) float32 m (0 = no hit),
    semantic (H,W) uint8, instance (H,W) uint16, and the camera pose."""

    config: CameraConfig
    rgb: np.ndarray
    depth: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray
    T_world_cam: np.ndarray
    meta: dict = field(default_factory=dict)

    def camera_json(self) -> dict:
        c = self.config
        fx, fy, cx, cy = c.intrinsics()
        return {
            "name": c.name, "width": c.width, "height": c.height,
            "fx": fx, "fy": fy, "cx": cx, "cy": cy,
            "T_world_cam": [float(v) for v in self.T_world_cam.ravel()],
            "near": c.near, "far": c.far, "fov_deg": c.fov_deg, "renderer": c.renderer,
        }  # fmt: skip


def rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Rotation R = Rz(yaw) Ry(pitch) Rx(roll), as PyBullet's Euler convention."""
    cr, sr, cp, sp = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def pose_matrix(rotation: np.ndarray, translation) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = rotation, translation
    return T


def camera_pose(config: CameraConfig, T_world_body: np.ndarray) -> np.ndarray:
    """T_world_cam (OpenCV axes) of a camera mounted on a body at ``T_world_body``."""
    return T_world_body @ config.T_body_cam()


def projection_matrix(config: CameraConfig) -> np.ndarray:
    """The OpenGL projection matrix matching :meth:`CameraConfig.intrinsics` (with the
    renderer's grid shift: clip x gains ``2 dx / W`` of w, i.e. the image moves ``dx`` px)."""
    f = 1.0 / np.tan(np.radians(config.fov_deg) / 2.0)
    aspect = config.width / config.height
    n, fa = config.near, config.far
    dx, dy = RENDERERS[config.renderer].grid_shift_px
    sx, sy = 2.0 * dx / config.width, 2.0 * dy / config.height
    return np.array([
        [f / aspect, 0, -sx, 0],
        [0, f, -sy, 0],
        [0, 0, (fa + n) / (n - fa), 2 * fa * n / (n - fa)],
        [0, 0, -1, 0],
    ])  # fmt: skip


def linear_depth(buffer: np.ndarray, hit: np.ndarray, near: float, far: float) -> np.ndarray:
    """Metric z-depth from the [0, 1] depth buffer; 0 where nothing was hit."""
    z = np.float32(far * near) / (np.float32(far) - np.float32(far - near) * buffer)
    return np.where(hit, z, np.float32(0.0)).astype(np.float32, copy=False)


def paint_sky(rgb: np.ndarray, hit: np.ndarray, lighting: Lighting) -> None:
    """Fill pixels that hit nothing with a vertical gradient from sky_top to sky_horizon."""
    rows = np.linspace(0.0, 1.0, rgb.shape[0])[:, None]
    grad = (1 - rows) * np.asarray(lighting.sky_top) + rows * np.asarray(lighting.sky_horizon)
    sky = np.broadcast_to(grad.astype(np.uint8)[:, None, :], rgb.shape)
    np.copyto(rgb, sky, where=~hit[..., None])


class LightingLike(Protocol):
    """Anything that gives getCameraImage light settings (Lighting, weather's LightingSpec)."""

    def camera_kwargs(self) -> dict: ...


def render(
    client,
    registry: SceneRegistry,
    config: CameraConfig,
    T_world_body: np.ndarray,
    lighting: LightingLike | None = None,
) -> Render:
    """Render one camera with its renderer (``config.renderer``, TinyRenderer by default)
    and decode its segmentation through ``registry``.

    Pixels that hit nothing get ``lighting``'s sky gradient when it is a :class:`Lighting`
    (other light specs, such as the weather's, paint their own sky afterwards)."""
    import pybullet as p

    lighting = lighting or Lighting()
    T_world_cam = camera_pose(config, T_world_body)
    view = np.linalg.inv(T_world_cam @ GL_FROM_CV)
    spec = RENDERERS[config.renderer]
    with quiet_stdout() if spec.plugin else nullcontext():  # EGL reports its driver
        _, _, rgba, depth_buf, seg = client.getCameraImage(
            config.width,
            config.height,
            viewMatrix=view.T.ravel().tolist(),
            projectionMatrix=projection_matrix(config).T.ravel().tolist(),
            renderer=spec.flag(),
            flags=p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX,
            **lighting.camera_kwargs(),
        )
    shape = (config.height, config.width)
    seg = np.asarray(seg, dtype=np.int64).reshape(shape)
    hit = seg >= 0
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(*shape, 4)[..., :3].copy()
    if isinstance(lighting, Lighting):
        paint_sky(rgb, hit, lighting)
    depth_buf = np.asarray(depth_buf, dtype=np.float32).reshape(shape)
    depth = linear_depth(depth_buf, hit, config.near, config.far)
    with stage("labels"):
        semantic, instance = registry.decode(seg)
    return Render(config, rgb, depth, semantic, instance, T_world_cam)


# name -> (vertical fov, mount xyz, mount rpy); used by the CLI and datagen defaults
CAMERA_PRESETS: dict[str, tuple[float, tuple, tuple]] = {
    "front": (60.0, (0.8, 0.0, 1.75), (0.0, 0.03, 0.0)),
    "wide": (100.0, (0.8, 0.0, 1.75), (0.0, 0.12, 0.0)),
    "left": (75.0, (0.0, 1.0, 1.75), (0.0, 0.05, np.pi / 2)),
    "right": (75.0, (0.0, -1.0, 1.75), (0.0, 0.05, -np.pi / 2)),
    "rear": (60.0, (-0.8, 0.0, 1.75), (0.0, 0.03, np.pi)),
    # the surround rig (as the driving data sets users know): roof corners, 55 and 110 deg
    "front_left": (60.0, (0.6, 0.5, 1.75), (0.0, 0.03, np.radians(55.0))),
    "front_right": (60.0, (0.6, -0.5, 1.75), (0.0, 0.03, -np.radians(55.0))),
    "rear_left": (60.0, (-0.4, 0.5, 1.75), (0.0, 0.03, np.radians(110.0))),
    "rear_right": (60.0, (-0.4, -0.5, 1.75), (0.0, 0.03, -np.radians(110.0))),
}
SURROUND_RIG = ("front", "front_left", "front_right", "rear_left", "rear_right", "rear")


def camera_name(preset: str) -> str:
    """The camera name a preset's samples carry (keys and ``json.camera.name`` allow
    [a-z0-9]+ only): the preset name without underscores, e.g. ``front_left`` ->
    ``frontleft``."""
    return preset.replace("_", "")


def preset_camera(name: str, width: int, height: int | None = None,
                  renderer: str = DEFAULT_RENDERER) -> CameraConfig:  # fmt: skip
    """A CameraConfig from :data:`CAMERA_PRESETS`; ValueError naming valid presets."""
    if name not in CAMERA_PRESETS:
        raise ValueError(f"camera preset must be one of {sorted(CAMERA_PRESETS)}, got {name!r}")
    fov, xyz, rpy = CAMERA_PRESETS[name]
    return CameraConfig(camera_name(name), width, height or width, fov, xyz, rpy,
                        renderer=renderer)  # fmt: skip


def rig_metadata(cameras: tuple[CameraConfig, ...], T_world_ego: np.ndarray) -> dict:
    """``json.rig``: the ego pose and every camera's extrinsics (``T_ego_cam``, OpenCV axes,
    16 floats row-major) and intrinsics, in rig order. The ego frame is the cameras' mount
    frame: x forward, y left, z up, origin on the ground under the centre of mass;
    ``T_world_cam = T_world_ego @ T_ego_cam`` for every camera of the frame."""
    rows = []
    for c in cameras:
        fx, fy, cx, cy = c.intrinsics()
        rows.append({"name": c.name, "T_ego_cam": [float(v) for v in c.T_body_cam().ravel()],
                     "width": c.width, "height": c.height, "fx": fx, "fy": fy, "cx": cx,
                     "cy": cy})  # fmt: skip
    return {"frame": "ego", "T_world_ego": [float(v) for v in np.asarray(T_world_ego).ravel()],
            "cameras": rows}  # fmt: skip


def renderer_info(name: str) -> dict[str, str]:
    """What renderer ``name`` runs on here (GL strings for EGL; empty for TinyRenderer), for
    manifests: EGL bytes are reproducible for a given GPU model and driver."""
    from sim.world import World

    world = World()
    try:
        return renderer_spec(name).setup(world)
    finally:
        world.close()
