"""Identities between json fields that are one quantity written twice: ``object_distance``,
``rig_pose``.

The simulator writes some quantities in more than one place from one value
(:mod:`sim.labels`, :mod:`sim.scenario`); a bug in one writer (a unit, a stale cache, another
frame, another convention) breaks the identity. On 2 600 clean frames (seed 4040, every
preset) each holds to float precision (largest error in brackets):

- ``object_distance``: an object's ``distance_m`` is the length of its camera-frame box
  centre ``bbox3d_cam.center`` (relative 1e-9), and that centre is the mean of the box's 8
  corners (7e-8 m);
- ``rig_pose``: the camera's pose is the ego pose times the camera's mount,
  ``camera.T_world_cam = rig.T_world_ego @ rig.cameras[camera].T_ego_cam`` (1e-7); the rig's
  entry for the camera has the camera's intrinsics and size (exact); ``rig.T_world_ego`` is
  a rotation (det 1, 1e-10) whose heading is ``ego.yaw`` (5e-10 rad) and whose origin lies
  on the body's vertical axis through ``ego.position`` (1e-7 m; the height along that axis
  is the vehicle's frame origin vs its centre of mass, 0-0.65 m, so it is not compared).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag

log = logging.getLogger(__name__)
INTRINSICS = ("fx", "fy", "cx", "cy", "width", "height")


@dataclass(frozen=True)
class PoseIdentitiesConfig:
    distance_tol_rel: float = 1e-3  # distance_m vs |bbox3d_cam.center| ...
    distance_tol_m: float = 0.01  # ... plus this
    centre_tol_m: float = 0.01  # box centre vs the mean of its corners
    pose_tol: float = 1e-3  # rotation entries; translations in metres x 10
    position_tol_m: float = 0.01
    yaw_tol_rad: float = 1e-3
    intrinsics_tol_rel: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("distance_tol_rel", "distance_tol_m", "centre_tol_m", "pose_tol",
                     "position_tol_m", "yaw_tol_rad", "intrinsics_tol_rel"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"PoseIdentitiesConfig.{name} must be > 0")


def _matrix(x: object) -> np.ndarray | None:
    try:
        m = np.asarray(x, dtype=np.float64).reshape(4, 4)
    except (TypeError, ValueError):
        return None
    return m if np.isfinite(m).all() else None


def _object_problem(o: dict, cfg: PoseIdentitiesConfig) -> tuple[str, float] | None:
    box = o.get("bbox3d_cam")
    d = o.get("distance_m")
    if not isinstance(box, dict) or not isinstance(d, int | float):
        return None
    try:
        centre = np.asarray(box["center"], dtype=np.float64).reshape(3)
        corners = np.asarray(box["corners"], dtype=np.float64).reshape(8, 3)
    except (KeyError, TypeError, ValueError):
        return None
    off = float(np.abs(corners.mean(axis=0) - centre).max())
    if off > cfg.centre_tol_m:
        return f"bbox3d_cam.center {off:.3f} m from the mean of its corners", off
    length = float(np.linalg.norm(centre))
    if abs(float(d) - length) > cfg.distance_tol_m + cfg.distance_tol_rel * length:
        ratio = float(d) / length if length > 0 else math.inf
        return f"distance_m {float(d):.2f} vs |bbox3d_cam.center| {length:.2f} m", ratio
    return None


def object_distance(meta: dict, cfg: PoseIdentitiesConfig) -> Flag | None:
    """Every object's distance_m = |bbox3d_cam.center| = |mean of its corners|."""
    problems = []
    for o in meta.get("objects") or []:
        if isinstance(o, dict):
            found = _object_problem(o, cfg)
            if found is not None:
                problems.append((o.get("instance_id"), *found))
    if not problems:
        return None
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    oid, what, value = problems[0]
    return flag("object_distance", f"object {oid}: {what}{more}; value", value,
                f"identity: distance_m = |bbox3d_cam.center|, within "
                f"{cfg.distance_tol_rel:g} + {cfg.distance_tol_m} m")  # fmt: skip


def _rig_camera(meta: dict) -> tuple[dict, dict, dict] | None:
    cam, rig = meta.get("camera"), meta.get("rig")
    if not isinstance(cam, dict) or not isinstance(rig, dict):
        return None
    mine = [c for c in rig.get("cameras") or []
            if isinstance(c, dict) and c.get("name") == cam.get("name")]  # fmt: skip
    return (cam, rig, mine[0]) if len(mine) == 1 else None


def _intrinsics_problem(cam: dict, mount: dict, cfg: PoseIdentitiesConfig) -> str | None:
    for k in INTRINSICS:
        a, b = cam.get(k), mount.get(k)
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            continue
        if abs(float(a) - float(b)) > cfg.intrinsics_tol_rel * max(1.0, abs(float(a))):
            return f"camera.{k} {float(a):g} vs the rig's {float(b):g}"
    return None


def _ego_problem(T_we: np.ndarray, ego: dict,
                 cfg: PoseIdentitiesConfig) -> tuple[str, float] | None:  # fmt: skip
    R = T_we[:3, :3]
    det = float(np.linalg.det(R))
    if abs(det - 1.0) > cfg.pose_tol or float(np.abs(R.T @ R - np.eye(3)).max()) > cfg.pose_tol:
        return "rig.T_world_ego is not a rotation: det", det
    pos = ego.get("position")
    if isinstance(pos, list | tuple) and len(pos) == 3 and all(
            isinstance(v, int | float) for v in pos):  # fmt: skip
        d = R.T @ (T_we[:3, 3] - np.asarray(pos, dtype=np.float64))  # in the body's frame
        off = math.hypot(d[0], d[1])
        if off > cfg.position_tol_m:
            return ("rig.T_world_ego's origin vs ego.position, across the body's vertical "
                    "[m]", off)  # fmt: skip
    yaw = ego.get("yaw")
    if isinstance(yaw, int | float):
        heading = math.atan2(R[1, 0], R[0, 0])
        off = abs((heading - float(yaw) + math.pi) % (2 * math.pi) - math.pi)
        if off > cfg.yaw_tol_rad:
            return (f"rig.T_world_ego's heading {heading:+.3f} vs ego.yaw {float(yaw):+.3f}: "
                    "off by [rad]", off)  # fmt: skip
    return None


def rig_pose(meta: dict, cfg: PoseIdentitiesConfig) -> Flag | None:
    """T_world_cam = T_world_ego @ T_ego_cam; the rig's intrinsics; T_world_ego vs ego."""
    found = _rig_camera(meta)
    if found is None:
        return None
    cam, rig, mount = found
    T_wc, T_we, T_ec = (_matrix(cam.get("T_world_cam")), _matrix(rig.get("T_world_ego")),
                        _matrix(mount.get("T_ego_cam")))  # fmt: skip
    problem = _intrinsics_problem(cam, mount, cfg)
    if problem is not None:
        return Flag("rig_pose", f"{problem} (identity: the rig lists the camera's intrinsics)",
                    None, "equal")  # fmt: skip
    if T_wc is not None and T_we is not None and T_ec is not None:
        chain = T_we @ T_ec
        err = max(float(np.abs(chain[:3, :3] - T_wc[:3, :3]).max()),
                  float(np.abs(chain[:3, 3] - T_wc[:3, 3]).max()) / 10.0)
        if err > cfg.pose_tol:
            return flag("rig_pose", "camera.T_world_cam vs rig.T_world_ego @ T_ego_cam: largest "
                        "difference (rotation; translation / 10 m)", err,
                        f"identity, allowed {cfg.pose_tol:g}")  # fmt: skip
    ego = meta.get("ego")
    if T_we is not None and isinstance(ego, dict):
        found_ego = _ego_problem(T_we, ego, cfg)
        if found_ego is not None:
            what, value = found_ego
            return flag("rig_pose", what, value, "identity: one ego pose written twice")
    return None


def check(meta: dict, cfg: PoseIdentitiesConfig) -> list[Flag]:
    if not isinstance(meta, dict):
        return []
    return [f for f in (object_distance(meta, cfg), rig_pose(meta, cfg)) if f is not None]
