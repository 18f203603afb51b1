"""Per-object labels of a render: 2D boxes from the instance mask and 3D boxes from poses.

Everything is vectorised over the mask (``np.bincount`` and ``ufunc.at``), so extracting
labels costs little next to rendering. Schema (docs/design.md): ``instance_id``, ``class``,
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


def quat_matrices(quats: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotation matrices of (N, 4) quaternions (x, y, z, w)."""
    x, y, z, w = np.asarray(quats, dtype=np.float64).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], axis=1)  # fmt: skip


def boxes_world(client, infos: list) -> tuple[np.ndarray, np.ndarray]:
    """World box centres (N, 3) and yaws (N,) of registered bodies."""
    poses = [client.getBasePositionAndOrientation(info.body_id) for info in infos]
    pos = np.array([p for p, _ in poses], dtype=np.float64).reshape(-1, 3)
    rot = quat_matrices(np.array([q for _, q in poses], dtype=np.float64).reshape(-1, 4))
    offsets = np.array([info.center_offset for info in infos], dtype=np.float64).reshape(-1, 3)
    centers = pos + np.einsum("nij,nj->ni", rot, offsets)
    return centers, np.arctan2(rot[:, 1, 0], rot[:, 0, 0])


def box_corners(centers: np.ndarray, sizes: np.ndarray, yaws: np.ndarray) -> np.ndarray:
    """(N, 8, 3) world corners of yaw-only boxes (order: see module docstring)."""
    c, s = np.cos(yaws), np.sin(yaws)
    local = CORNER_SIGNS[None] * (np.asarray(sizes)[:, None, :] / 2.0)
    x = c[:, None] * local[..., 0] - s[:, None] * local[..., 1]
    y = s[:, None] * local[..., 0] + c[:, None] * local[..., 1]
    return centers[:, None, :] + np.stack([x, y, local[..., 2]], axis=-1)


def extract_labels(
    client, registry: SceneRegistry, render: Render, min_visible_px: int = 1
) -> list[dict]:
    """One label per object instance with at least ``min_visible_px`` visible pixels."""
    ids, counts, boxes = mask_boxes(render.instance)
    keep = counts >= min_visible_px
    ids, counts, boxes = ids[keep], counts[keep], boxes[keep]
    infos = [registry.by_instance(int(i)) for i in ids]
    if not infos:
        return []
    sizes = np.array([info.size_lwh for info in infos], dtype=np.float64)
    centers, yaws = boxes_world(client, infos)
    T_cam_world = np.linalg.inv(render.T_world_cam)
    R, t = T_cam_world[:3, :3], T_cam_world[:3, 3]
    centers_c = centers @ R.T + t
    corners_c = box_corners(centers, sizes, yaws) @ R.T + t
    dist = np.linalg.norm(centers_c, axis=1)
    rows = zip(infos, boxes.tolist(), counts.tolist(), centers.tolist(), yaws.tolist(),
               centers_c.tolist(), corners_c.tolist(), dist.tolist(), sizes.tolist())  # fmt: skip
    return [
        {
            "instance_id": info.instance_id,
            "class": info.class_name,
            "bbox2d": box,
            "visible_px": count,
            "bbox3d_world": {"center": cw, "size": size, "yaw": yaw},
            "bbox3d_cam": {"center": cc, "size": list(size), "corners": corners},
            "distance_m": d,
        }
        for info, box, count, cw, yaw, cc, corners, d, size in rows
    ]


def project_points(render: Render, points_cam: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N, 2) of camera-frame points (z > 0)."""
    fx, fy, cx, cy = render.config.intrinsics()
    p = np.asarray(points_cam, dtype=np.float64)
    return np.stack([fx * p[:, 0] / p[:, 2] + cx, fy * p[:, 1] / p[:, 2] + cy], axis=1)
