"""Cross-checks between the labels, the depth and the camera a sample records.

Everything a sample carries must describe one scene seen by one camera:

- ``intrinsics``: fy from the vertical field of view and the image height, square pixels, the
  principal point near the image centre;
- ``pose``: T_world_cam a rotation with the camera's y axis pointing down (upright camera);
- ``road_plane``: the ground (road, markings, shoulder, terrain) lies on the world plane z = 0,
  so its depth at every pixel follows from the intrinsics and T_world_cam alone; the measured
  depth / predicted depth must be 1 (this catches depth in the wrong unit, a wrong pose,
  height or focal length, and depth or labels from another frame);
- ``sky_depth``: pixels labelled sky are exactly the pixels whose depth says "no hit";
- ``boxes3d``: each object's camera-frame box is its world box seen through T_world_cam;
- ``mask_in_box``: each instance mask lies inside its 3D box projected with the intrinsics;
- ``mask_depth``: the depth inside each mask lies within the box's depth range;
- ``mask_labels``: bbox2d is the tight box of the mask, visible_px its size, seg.png shows the
  object's class there, and mask ids equal the json's ids.

On generated data these hold to float precision (measured: road depth ratio within 3e-5, no
mask pixel outside its projected box); the thresholds leave room for other renderers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datagen.qc.flag import Flag, flag

GROUND_CLASSES = (1, 2, 3, 4)  # road, lane_marking, sidewalk, terrain (sim.classes)
SKY_CLASS = 0
# sim.labels' corner order: bottom face (+l+w, +l-w, -l-w, -l+w), then the top face
CORNER_SIGNS = np.array([[1, 1, -1], [1, -1, -1], [-1, -1, -1], [-1, 1, -1],
                         [1, 1, 1], [1, -1, 1], [-1, -1, 1], [-1, 1, 1]], dtype=np.float64)


@dataclass(frozen=True)
class GeometryConfig:
    focal_tol: float = 0.01  # relative, fy vs H / (2 tan(fov/2)); fx vs fy
    principal_tol_frac: float = 0.03  # of the image size, plus 1 px
    max_roll_deg: float = 12.0  # camera x axis out of the horizontal plane
    max_pitch_deg: float = 25.0  # optical axis above/below the horizon
    plane_median_tol: float = 0.02  # median(depth / plane depth) in 1 +- this
    plane_pixel_tol: float = 0.05  # a ground pixel disagrees beyond this relative error
    plane_bad_fraction: float = 0.05  # ... and at most this fraction may disagree
    min_ground_px: int = 20
    sky_mismatch_fraction: float = 0.005
    box_tol_m: float = 0.05  # world box vs camera box corners
    mask_margin_px: float = 1.0
    mask_out_fraction: float = 0.02
    depth_tol_m: float = 0.1
    depth_tol_rel: float = 0.01
    depth_out_fraction: float = 0.02


def _fraction_flag(check: str, what: str, bad: int, total: int, limit: float) -> Flag | None:
    if total == 0 or bad / total <= limit or bad == 0:
        return None
    return flag(check, what, bad / total, f"allowed {limit:.1%}", ".1%")


def camera_matrices(meta: dict) -> tuple[np.ndarray, np.ndarray, dict] | None:
    cam = meta.get("camera") if isinstance(meta, dict) else None
    if not isinstance(cam, dict):
        return None
    try:
        T = np.array(cam["T_world_cam"], dtype=np.float64).reshape(4, 4)
        K = np.array([[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]], [0, 0, 1]], float)
    except (KeyError, TypeError, ValueError):
        return None
    if not (np.isfinite(T).all() and np.isfinite(K).all()) or K[0, 0] <= 0 or K[1, 1] <= 0:
        return None
    return K, T, cam


def intrinsics(meta: dict, cfg: GeometryConfig) -> list[Flag]:
    found = camera_matrices(meta)
    if found is None:
        return []
    K, _, cam = found
    out = []
    w, h = float(cam.get("width", 0)), float(cam.get("height", 0))
    fov = cam.get("fov_deg")
    if isinstance(fov, int | float) and 0 < fov < 180 and h > 0:
        expected = h / (2.0 * math.tan(math.radians(fov) / 2.0))
        r = K[1, 1] / expected
        if abs(r - 1) > cfg.focal_tol:
            out.append(flag("intrinsics", f"fy / (H / 2 tan(fov/2)) = {K[1, 1]:.2f} / "
                            f"{expected:.2f} =", r, f"allowed 1 +- {cfg.focal_tol}"))  # fmt: skip
    r = K[0, 0] / K[1, 1]
    if abs(r - 1) > cfg.focal_tol:
        out.append(flag("intrinsics", "fx / fy", r, f"square pixels: 1 +- {cfg.focal_tol}"))
    for name, c, size in (("cx", K[0, 2], w), ("cy", K[1, 2], h)):
        if size <= 0:
            continue
        off = c - size / 2.0
        tol = cfg.principal_tol_frac * size + 1.0
        if abs(off) > tol:
            out.append(flag("intrinsics", f"{name} - image centre [px]", off,
                            f"allowed +-{tol:.1f} px"))  # fmt: skip
    return out


def pose_matrix(meta: dict) -> np.ndarray | None:
    try:
        T = np.array(meta["camera"]["T_world_cam"], dtype=np.float64).reshape(4, 4)
    except (KeyError, TypeError, ValueError):
        return None
    return T if np.isfinite(T).all() else None


def pose(meta: dict, cfg: GeometryConfig) -> list[Flag]:
    T = pose_matrix(meta)
    if T is None:
        return []
    R = T[:3, :3]
    err = float(np.abs(R.T @ R - np.eye(3)).max())
    if err > 1e-3 or np.linalg.det(R) < 0:
        return [flag("pose", "T_world_cam rotation not orthonormal (max |R'R - I|)", err,
                     "allowed 1e-3")]  # fmt: skip
    out = []
    if R[2, 1] > 0.5:  # the camera's "down" axis points up
        out.append(flag("pose", "camera upside down: y axis . world z", R[2, 1], "must be < 0"))
        return out
    roll = math.degrees(math.asin(max(-1.0, min(1.0, R[2, 0]))))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -R[2, 2]))))
    if abs(roll) > cfg.max_roll_deg:
        out.append(flag("pose", "camera roll [deg]", roll, f"allowed +-{cfg.max_roll_deg}"))
    if abs(pitch) > cfg.max_pitch_deg:
        out.append(flag("pose", "camera pitch [deg]", pitch, f"allowed +-{cfg.max_pitch_deg}"))
    return out


def plane_depth(K: np.ndarray, T: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """z-depth of the world plane z = 0 at every pixel (NaN where the ray misses it)."""
    h, w = shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    down = rays @ T[2, :3]  # world z component of each ray (per unit camera z)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -T[2, 3] / down
    return np.where((down < -1e-9) & (t > 0), t, np.nan)


def road_plane(s, cfg: GeometryConfig) -> list[Flag]:
    found = camera_matrices(s.meta)
    if found is None or s.depth_m is None or s.seg is None or s.depth_m.shape != s.seg.shape:
        return []
    K, T, _ = found
    if T[2, 3] <= 0:
        return [flag("road_plane", "camera height above the ground [m]", T[2, 3], "must be > 0")]
    pred = plane_depth(K, T, s.seg.shape)
    d = s.depth_m
    ground = np.isin(s.seg, GROUND_CLASSES) & (d > 0) & (d < s.depth_max_m)
    ground &= np.isfinite(pred)
    n = int(ground.sum())
    if n < cfg.min_ground_px:
        return []
    ratio = d[ground].astype(np.float64) / pred[ground]
    med = float(np.median(ratio))
    if abs(med - 1) > cfg.plane_median_tol:
        return [flag("road_plane", "ground depth / depth of the plane z=0 seen by the camera, "
                     "median", med, f"allowed 1 +- {cfg.plane_median_tol}")]  # fmt: skip
    bad = int((np.abs(ratio - 1) > cfg.plane_pixel_tol).sum())
    f = _fraction_flag("road_plane", f"ground pixels off the plane z=0 by > "
                       f"{cfg.plane_pixel_tol:.0%}:", bad, n, cfg.plane_bad_fraction)  # fmt: skip
    return [f] if f else []


def sky_depth(s, cfg: GeometryConfig) -> list[Flag]:
    if s.depth_m is None or s.seg is None or s.depth_m.shape != s.seg.shape:
        return []
    sky, miss = s.seg == SKY_CLASS, s.depth_m <= 0
    bad = int((sky != miss).sum())
    f = _fraction_flag("sky_depth", "pixels where 'sky' in seg.png and 'no hit' in depth "
                       "disagree:", bad, sky.size, cfg.sky_mismatch_fraction)  # fmt: skip
    out = [f] if f else []
    far = s.meta.get("camera", {}).get("far") if isinstance(s.meta, dict) else None
    if isinstance(far, int | float) and far > 0:
        beyond = float(s.depth_m.max(initial=0.0))
        if beyond > far * 1.001 + 0.01:
            out.append(flag("sky_depth", "largest depth [m]", beyond,
                            f"beyond the far plane {far:g} m"))  # fmt: skip
    return out


def _box_corners_world(box: dict) -> np.ndarray:
    c = np.asarray(box["center"], dtype=np.float64)
    size = np.asarray(box["size"], dtype=np.float64)
    yaw = float(box["yaw"])
    local = CORNER_SIGNS * size / 2.0
    cy, sy = math.cos(yaw), math.sin(yaw)
    x = cy * local[:, 0] - sy * local[:, 1]
    y = sy * local[:, 0] + cy * local[:, 1]
    return c + np.stack([x, y, local[:, 2]], axis=1)


def objects(s, cfg: GeometryConfig) -> list[Flag]:
    """Per object: camera box vs world box, mask vs projected box, depth in mask vs box depth,
    tight bbox2d, pixel count and class; instance ids of the mask vs the json."""
    meta = s.meta
    if not isinstance(meta, dict) or s.inst is None:
        return []
    objs = [o for o in meta.get("objects", []) if isinstance(o, dict)]
    out: list[Flag] = []
    mask_ids = set(np.unique(s.inst).tolist()) - {0}
    try:
        meta_ids = {int(o["instance_id"]) for o in objs}
    except (KeyError, TypeError, ValueError):
        return [Flag("mask_labels", "json.objects without a valid instance_id")]
    if mask_ids != meta_ids:
        only_mask, only_json = sorted(mask_ids - meta_ids), sorted(meta_ids - mask_ids)
        out.append(Flag("mask_labels", f"instance ids only in the mask {only_mask[:5]}, only in "
                        f"json {only_json[:5]}", float(len(only_mask) + len(only_json)),
                        "allowed 0"))  # fmt: skip
    found = camera_matrices(meta)
    K, T = (found[0], found[1]) if found else (None, None)
    Tinv = np.linalg.inv(T) if T is not None else None
    per_check: dict[str, list[str]] = {}
    values: dict[str, float] = {}
    for o in objs:
        oid = int(o["instance_id"])
        ys, xs = np.nonzero(s.inst == oid)
        if xs.size == 0:
            continue
        for check, problem, value in _object_problems(s, o, xs, ys, K, Tinv, cfg):
            per_check.setdefault(check, []).append(f"object {oid}: {problem}")
            values[check] = max(values.get(check, 0.0), value)
    thresholds = {
        "boxes3d": f"allowed {cfg.box_tol_m} m",
        "mask_in_box": f"allowed {cfg.mask_out_fraction:.0%} of the mask, margin "
                       f"{cfg.mask_margin_px} px",
        "mask_depth": f"allowed {cfg.depth_out_fraction:.0%} of the mask, tolerance "
                      f"{cfg.depth_tol_m} m + {cfg.depth_tol_rel:.0%}",
        "mask_labels": "bbox2d tight, visible_px = mask size, seg class = json class",
    }  # fmt: skip
    for check, problems in per_check.items():
        more = f" (+{len(problems) - 2} more)" if len(problems) > 2 else ""
        out.append(Flag(check, "; ".join(problems[:2]) + more + f" ({thresholds[check]})",
                        values[check], thresholds[check]))  # fmt: skip
    return out


def _object_problems(s, o: dict, xs: np.ndarray, ys: np.ndarray, K, Tinv,
                     cfg: GeometryConfig) -> list[tuple[str, str, float]]:  # fmt: skip
    from sim.classes import CLASS_IDS

    found: list[tuple[str, str, float]] = []
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    try:
        stated = [int(v) for v in o.get("bbox2d", [])]
    except (TypeError, ValueError):
        stated = []
    if stated != box:
        err = float(np.abs(np.subtract(stated, box)).max()) if len(stated) == 4 else 1e9
        found.append(("mask_labels", f"bbox2d {stated} vs tight mask box {box}", err))
    if o.get("visible_px") != int(xs.size):
        found.append(("mask_labels", f"visible_px {o.get('visible_px')} vs mask {xs.size}",
                      float(abs(int(o.get("visible_px") or 0) - xs.size))))  # fmt: skip
    cls = CLASS_IDS.get(str(o.get("class")))
    if s.seg is not None and cls is not None:
        wrong = float(np.mean(s.seg[ys, xs] != cls))
        if wrong > cfg.mask_out_fraction:
            found.append(("mask_labels", f"seg.png shows another class than {o.get('class')!r} "
                          f"on {wrong:.0%} of the mask", wrong))  # fmt: skip
    cam_box = o.get("bbox3d_cam")
    if not isinstance(cam_box, dict) or K is None:
        return found
    try:
        corners = np.asarray(cam_box["corners"], dtype=np.float64).reshape(8, 3)
    except (KeyError, TypeError, ValueError):
        return found + [("boxes3d", "bbox3d_cam.corners is not 8 x 3", 1e9)]
    world = o.get("bbox3d_world")
    if isinstance(world, dict) and Tinv is not None:
        try:
            cw = _box_corners_world(world)
            expected = cw @ Tinv[:3, :3].T + Tinv[:3, 3]
            err = float(np.abs(expected - corners).max())
        except (KeyError, TypeError, ValueError):
            err = 1e9
        if err > cfg.box_tol_m:
            found.append(("boxes3d", f"bbox3d_world through T_world_cam misses bbox3d_cam by "
                          f"{err:.2f} m", err))  # fmt: skip
    z = corners[:, 2]
    if z.min() > 0.05:
        u = K[0, 0] * corners[:, 0] / z + K[0, 2]
        v = K[1, 1] * corners[:, 1] / z + K[1, 2]
        m = cfg.mask_margin_px
        out = (xs < u.min() - m) | (xs > u.max() + m) | (ys < v.min() - m) | (ys > v.max() + m)
        frac = float(out.mean())
        if frac > cfg.mask_out_fraction:
            found.append(("mask_in_box", f"{frac:.0%} of the mask outside its projected 3D box "
                          f"[{u.min():.1f}, {v.min():.1f}, {u.max():.1f}, {v.max():.1f}]",
                          frac))  # fmt: skip
    if s.depth_m is not None and s.depth_m.shape == s.inst.shape:
        d = s.depth_m[ys, xs].astype(np.float64)
        lo = z.min() - cfg.depth_tol_m - cfg.depth_tol_rel * abs(z.min())
        hi = z.max() + cfg.depth_tol_m + cfg.depth_tol_rel * abs(z.max())
        inside = (d >= lo) & (d <= hi)
        inside |= (d >= s.depth_max_m) & (hi >= s.depth_max_m)  # saturated encodings
        frac = float(1.0 - inside.mean())
        if frac > cfg.depth_out_fraction:
            found.append(("mask_depth", f"median depth in mask {np.median(d):.2f} m, box depth "
                          f"{z.min():.2f}..{z.max():.2f} m ({frac:.0%} of the mask outside)",
                          frac))  # fmt: skip
    return found


def check(s, cfg: GeometryConfig) -> list[Flag]:
    if not isinstance(s.meta, dict):
        return []
    return [*intrinsics(s.meta, cfg), *pose(s.meta, cfg), *road_plane(s, cfg),
            *sky_depth(s, cfg), *objects(s, cfg)]  # fmt: skip
