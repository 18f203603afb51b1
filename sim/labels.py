"""Per-object labels of a render: 2D boxes from the instance mask and 3D boxes from poses.

Everything is vectorised over the mask (``np.bincount`` and ``ufunc.at``), so extracting
labels costs little next to rendering. Schema (DESIGN.md): ``instance_id``, ``class``,
``bbox2d`` [x0, y0, x1, y1] (tight box of the instance mask, x1/y1 exclusive),
``visible_px``, ``bbox3d_world`` {center, size [l, w, h], yaw}, ``bbox3d_cam`` {center,
size, corners 8x3} in the OpenCV camera frame, ``distance_m`` (camera to box centre).
Corner order: bottom face (+l+w, +l-w, -l-w, -l+w) then the top face in the same order.
"""

from __future__ import annotations

import numpy as np

from sim.camera import Render
from sim.scene import SceneRegistry

CORNER_SIGNS = np.array(
    [[1, 1, -1], [1, -1, -1], [-1, -1, -1], [-1, 1, -1],
     [1, 1, 1], [1, -1, 1], [-1, -1, 1], [-1, 1, 1]], dtype=np.float64,
)  # fmt: skip


def mask_boxes(instance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, visible_px, boxes [x0, y0, x1, y1]) of every non-zero id in an instance image."""
    flat = instance.ravel()
    counts = np.bincount(flat)
    ids = np.flatnonzero(counts[1:]) + 1
    if len(ids) == 0:
        return ids, ids, np.zeros((0, 4), dtype=np.int64)
    idx = np.flatnonzero(flat)
    vals = flat[idx]
    ys, xs = np.divmod(idx, instance.shape[1])
    n = len(counts)
    lo_x, lo_y = np.full(n, instance.shape[1]), np.full(n, instance.shape[0])
    hi_x, hi_y = np.full(n, -1), np.full(n, -1)
    np.minimum.at(lo_x, vals, xs)
    np.minimum.at(lo_y, vals, ys)
    np.maximum.at(hi_x, vals, xs)
    np.maximum.at(hi_y, vals, ys)
    boxes = np.stack([lo_x[ids], lo_y[ids], hi_x[ids] + 1, hi_y[ids] + 1], axis=1)
    return ids, counts[ids], boxes


def body_box_world(client, info) -> tuple[np.ndarray, float]:
    """World centre and yaw of a registered body's 3D box."""
    pos, quat = client.getBasePositionAndOrientation(info.body_id)
    rot = np.asarray(client.getMatrixFromQuaternion(quat)).reshape(3, 3)
    center = np.asarray(pos) + rot @ np.asarray(info.center_offset)
    return center, float(np.arctan2(rot[1, 0], rot[0, 0]))


def box_corners(center: np.ndarray, size, yaw: float) -> np.ndarray:
    """(8, 3) world corners of a yaw-only box (order: see module docstring)."""
    c, s = np.cos(yaw), np.sin(yaw)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return center + (CORNER_SIGNS * (np.asarray(size) / 2.0)) @ rz.T


def _floats(a) -> list:
    return [float(v) for v in np.asarray(a).ravel()]


def object_label(client, info, box2d, visible: int, T_cam_world: np.ndarray) -> dict:
    center, yaw = body_box_world(client, info)
    corners_w = box_corners(center, info.size_lwh, yaw)
    to_cam = lambda pts: pts @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]  # noqa: E731
    center_c = to_cam(center)
    return {
        "instance_id": int(info.instance_id),
        "class": info.class_name,
        "bbox2d": [int(v) for v in box2d],
        "visible_px": int(visible),
        "bbox3d_world": {"center": _floats(center), "size": list(info.size_lwh), "yaw": yaw},
        "bbox3d_cam": {
            "center": _floats(center_c),
            "size": list(info.size_lwh),
            "corners": [_floats(c) for c in to_cam(corners_w)],
        },
        "distance_m": float(np.linalg.norm(center_c)),
    }


def extract_labels(
    client, registry: SceneRegistry, render: Render, min_visible_px: int = 1
) -> list[dict]:
    """One label per object instance with at least ``min_visible_px`` visible pixels."""
    ids, counts, boxes = mask_boxes(render.instance)
    T_cam_world = np.linalg.inv(render.T_world_cam)
    labels = []
    for inst, count, box in zip(ids, counts, boxes):
        if count >= min_visible_px:
            info = registry.by_instance(int(inst))
            labels.append(object_label(client, info, box, int(count), T_cam_world))
    return labels


def project_points(render: Render, points_cam: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N, 2) of camera-frame points (z > 0)."""
    fx, fy, cx, cy = render.config.intrinsics()
    p = np.asarray(points_cam, dtype=np.float64)
    return np.stack([fx * p[:, 0] / p[:, 2] + cx, fy * p[:, 1] / p[:, 2] + cy], axis=1)
