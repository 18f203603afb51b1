"""Static scenery placed procedurally along a road: buildings, trees, poles, signs,
barriers and traffic cones.

Objects sit in lateral bands beside the road (cones and barriers on the shoulder, poles and
signs at its outer edge, trees beyond, buildings further out), spaced along the station so
they do not overlap; a footprint check keeps them clear of the road on the inside of bends.
Every object is one static body (parts as links) registered with its class, an instance id
and a 3D box whose base sits on the ground. Colours vary per instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.road import Road
from sim.scene import SceneRegistry
from sim.seeding import rng_for


@dataclass
class SceneryConfig:
    density: float = 1.0  # 0 = bare road, 1 = typical, up to 3 = dense

    def __post_init__(self) -> None:
        if not 0.0 <= self.density <= 3.0:
            raise ValueError(f"SceneryConfig.density must be in [0, 3], got {self.density}")


@dataclass(frozen=True)
class Part:
    """One box / cylinder / sphere of an object, placed in the object's frame (base at z=0)."""

    shape: str  # box | cylinder | capsule | sphere
    dims: tuple[float, ...]  # box: half extents; cylinder/capsule: radius, length; sphere: r
    pos: tuple[float, float, float]
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True)
class Placement:
    cls: str
    parts: tuple[Part, ...]
    size_lwh: tuple[float, float, float]
    s: float
    lateral: float


def _shapes(client, kind: int, part: Part) -> tuple[int, int]:
    """Visual and collision shape of a one-part body, offset by the part's ``pos``."""
    if part.shape == "box":
        vis_kw: dict = {"halfExtents": part.dims}
        col_kw: dict = {"halfExtents": part.dims}
    elif part.shape in ("cylinder", "capsule"):
        vis_kw = {"radius": part.dims[0], "length": part.dims[1]}
        col_kw = {"radius": part.dims[0], "height": part.dims[1]}
    else:
        vis_kw = col_kw = {"radius": part.dims[0]}
    vis = client.createVisualShape(
        kind, rgbaColor=list(part.rgba), visualFramePosition=list(part.pos), **vis_kw
    )
    col = client.createCollisionShape(kind, collisionFramePosition=list(part.pos), **col_kw)
    return vis, col


def create_body(client, parts: tuple[Part, ...], xyz, yaw: float) -> int:
    """A static body with its frame on the ground; several parts are the children of one
    compound collision shape and one visual shape array, each placed at its ``pos``.

    (Before, parts after the first were fixed links: the same images, rays and contacts,
    but a link costs PyBullet ~1 ms to create, and scenario set-up creates hundreds.)"""
    import pybullet as p

    geom = {"box": p.GEOM_BOX, "cylinder": p.GEOM_CYLINDER, "capsule": p.GEOM_CAPSULE}
    types = [geom.get(part.shape, p.GEOM_SPHERE) for part in parts]
    if len(parts) == 1:
        vis, col = _shapes(client, types[0], parts[0])
    else:
        boxes = [list(part.dims) if part.shape == "box" else [0.0] * 3 for part in parts]
        radii = [0.0 if part.shape == "box" else float(part.dims[0]) for part in parts]
        lengths = [float(part.dims[1]) if part.shape in ("cylinder", "capsule") else 0.0
                   for part in parts]  # fmt: skip
        frames = [list(part.pos) for part in parts]
        vis = client.createVisualShapeArray(
            shapeTypes=types, halfExtents=boxes, radii=radii, lengths=lengths,
            rgbaColors=[list(part.rgba) for part in parts], visualFramePositions=frames,
        )  # fmt: skip
        col = client.createCollisionShapeArray(
            shapeTypes=types, halfExtents=boxes, radii=radii, lengths=lengths,
            collisionFramePositions=frames,
        )  # fmt: skip
    return client.createMultiBody(
        baseMass=0.0, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
        basePosition=list(xyz), baseOrientation=client.getQuaternionFromEuler([0.0, 0.0, yaw]),
    )  # fmt: skip


def _rgba(rng: np.random.Generator, base: tuple[float, float, float], spread: float) -> tuple:
    """``base`` plus a uniform draw per channel, clipped to [0, 1], opaque. Plain floats:
    the same sums and clips as numpy's float64 (``np.clip(base + draw, 0, 1)``), without
    its per-call overhead (scenario set-up draws ~170 colours)."""
    draw = rng.uniform(-spread, spread, 3).tolist()
    return (*[min(max(b + d, 0.0), 1.0) for b, d in zip(base, draw)], 1.0)


def _building(rng: np.random.Generator) -> tuple[tuple[Part, ...], tuple[float, float, float]]:
    l, w, h = rng.uniform(8, 24), rng.uniform(8, 18), rng.uniform(5, 28)
    wall = _rgba(rng, (0.62, 0.58, 0.52), 0.2)
    roof = _rgba(rng, (0.35, 0.3, 0.3), 0.1)
    body = Part("box", (l / 2, w / 2, h / 2), (0.0, 0.0, h / 2), wall)
    top = Part("box", (l / 2 - 0.3, w / 2 - 0.3, 0.4), (0.0, 0.0, h + 0.4), roof)
    return (body, top), (l, w, h + 0.8)


def _tree(rng: np.random.Generator) -> tuple[tuple[Part, ...], tuple[float, float, float]]:
    trunk_h, crown_r = rng.uniform(1.8, 4.0), rng.uniform(1.2, 3.0)
    trunk = Part(
        "cylinder", (0.2, trunk_h), (0.0, 0.0, trunk_h / 2), _rgba(rng, (0.4, 0.28, 0.16), 0.06)
    )
    crown_z = trunk_h + 0.6 * crown_r
    crown = Part("sphere", (crown_r,), (0.0, 0.0, crown_z), _rgba(rng, (0.2, 0.45, 0.15), 0.1))
    return (trunk, crown), (2 * crown_r, 2 * crown_r, crown_z + crown_r)


def _pole(rng: np.random.Generator) -> tuple[tuple[Part, ...], tuple[float, float, float]]:
    if rng.random() < 0.5:  # a sign: short pole and a panel facing the traffic
        h = rng.uniform(2.2, 3.0)
        pole = Part("cylinder", (0.05, h), (0.0, 0.0, h / 2), (0.55, 0.55, 0.58, 1.0))
        colour = [(0.8, 0.1, 0.1), (0.1, 0.25, 0.7), (0.9, 0.75, 0.1)][int(rng.integers(3))]
        panel = Part("box", (0.04, 0.4, 0.35), (0.0, 0.0, h + 0.35), _rgba(rng, colour, 0.05))
        return (pole, panel), (0.1, 0.8, h + 0.7)
    h = rng.uniform(5.0, 8.0)
    pole = Part("cylinder", (0.09, h), (0.0, 0.0, h / 2), _rgba(rng, (0.45, 0.45, 0.47), 0.05))
    return (pole,), (0.18, 0.18, h)


def _barrier(rng: np.random.Generator) -> tuple[tuple[Part, ...], tuple[float, float, float]]:
    if rng.random() < 0.5:  # a traffic cone
        cone = Part("cylinder", (0.16, 0.7), (0.0, 0.0, 0.35), _rgba(rng, (0.95, 0.4, 0.05), 0.04))
        return (cone,), (0.32, 0.32, 0.7)
    colour = (0.9, 0.5, 0.1) if rng.random() < 0.5 else (0.85, 0.85, 0.85)
    block = Part("box", (1.0, 0.2, 0.4), (0.0, 0.0, 0.4), _rgba(rng, colour, 0.05))
    return (block,), (2.0, 0.4, 0.8)


MAKERS: dict[str, Callable] = {
    "building": _building,
    "vegetation": _tree,
    "pole": _pole,
    "barrier": _barrier,
}

# class -> (objects per 100 m per side at density 1, lateral band beyond the shoulder)
LAYOUT: dict[str, tuple[float, tuple[float, float]]] = {
    "barrier": (0.8, (-1.2, -0.5)),
    "pole": (2.0, (0.4, 0.8)),
    "vegetation": (3.0, (2.5, 7.0)),
    "building": (1.2, (10.0, 22.0)),
}


def _clear_of_road(road: Road, placements: list[Placement], min_lateral: np.ndarray
                   ) -> np.ndarray:  # fmt: skip
    """Per placement: every footprint corner (and the centre) at least ``min_lateral`` from
    the centre line (one batched projection for all placements)."""
    if not placements:
        return np.zeros(0, dtype=bool)
    pose = road.pose_at(np.array([p.s for p in placements]),
                        np.array([p.lateral for p in placements]))
    half = np.array([p.size_lwh[:2] for p in placements]) / 2
    signs = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]])
    local = signs[None] * half[:, None, :]  # (N, 5, 2)
    c, s = np.cos(pose[:, 2])[:, None], np.sin(pose[:, 2])[:, None]
    corners = np.stack([pose[:, 0:1] + c * local[..., 0] - s * local[..., 1],
                        pose[:, 1:2] + s * local[..., 0] + c * local[..., 1]], -1)
    lateral = np.asarray(road.project(corners.reshape(-1, 2)).lateral).reshape(-1, 5)
    return np.all(np.abs(lateral) >= np.asarray(min_lateral)[:, None], axis=1)


def plan_scenery(road: Road, config: SceneryConfig, seed: int) -> list[Placement]:
    """Where every scenery object goes (pure function of road, config and seed): candidates
    drawn class by class and side by side, then those too close to the road dropped."""
    edge = road.half_width + road.config.shoulder_m
    candidates: list[Placement] = []
    min_lateral: list[float] = []
    for cls, (per_100m, (near, far)) in LAYOUT.items():
        rate = per_100m * config.density / 100.0
        for side in (-1, 1):
            rng = rng_for(seed, "scenery", cls, side + 1)
            s = float(rng.uniform(0, 20))
            while rate > 0 and s < road.length - 10:
                parts, size = MAKERS[cls](rng)
                offset = edge + rng.uniform(near, far) + size[1] / 2
                candidates.append(Placement(cls, parts, size, s + size[0] / 2, side * offset))
                min_lateral.append(
                    road.half_width + (0.3 if cls == "barrier" else road.config.shoulder_m)
                )
                s += size[0] + rng.exponential(1.0 / rate)
    keep = _clear_of_road(road, candidates, np.array(min_lateral))
    return [p for p, ok in zip(candidates, keep.tolist()) if ok]


class Scenery:
    """The planned scenery of a road, whose bodies are created when first needed.

    Every placement gets its instance id at planning (in plan order, as if all bodies were
    created up front); its body is created by :meth:`build` or the first
    :meth:`ensure_near` / :meth:`ensure_visible` that needs it, so scenery that no camera
    ever sees and the ego never reaches costs nothing. What a camera renders is the same
    either way: everything that could be in its view volume exists before it renders.
    """

    def __init__(self, world, road: Road, registry: SceneRegistry, config: SceneryConfig,
                 seed: int) -> None:  # fmt: skip
        self.world, self.registry = world, registry
        self.placements = plan_scenery(road, config, seed)
        n = len(self.placements)
        pose = road.pose_at(np.array([p.s for p in self.placements], dtype=np.float64),
                            np.array([p.lateral for p in self.placements], dtype=np.float64))
        self.poses = pose.reshape(n, 3)  # x, y, yaw
        sizes = np.array([p.size_lwh for p in self.placements], dtype=np.float64).reshape(n, 3)
        self.centers = np.column_stack([self.poses[:, :2], sizes[:, 2] / 2])
        self.radii = 0.5 * np.linalg.norm(sizes, axis=1)  # bounding spheres of the boxes
        self.instance_ids = [registry.reserve_instance(p.cls) for p in self.placements]
        self.body_ids = np.full(n, -1, dtype=np.int64)
        # last ensure_near check: x, y, radius, smallest gap to a pending object's reach
        self._near_check: tuple[float, float, float, float] | None = None

    def __len__(self) -> int:
        return len(self.placements)

    @property
    def built(self) -> int:
        return int(np.count_nonzero(self.body_ids >= 0))

    def build(self, rows=None) -> None:
        """Create the bodies of ``rows`` (default: all) not created yet, in plan order."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        for i in sorted(set(rows[self.body_ids[rows] < 0].tolist())):
            p = self.placements[i]
            x, y, yaw = self.poses[i].tolist()
            body = create_body(self.world.client, p.parts, (x, y, 0.0), float(yaw))
            self.registry.register(body, p.cls, p.size_lwh, (0.0, 0.0, p.size_lwh[2] / 2),
                                   instance_id=self.instance_ids[i])  # fmt: skip
            self.body_ids[i] = body

    def pending(self) -> np.ndarray:
        return np.flatnonzero(self.body_ids < 0)

    def ensure_near(self, xy, radius_m: float) -> None:
        """Create every object whose box comes within ``radius_m`` of the point ``xy``.

        Called every control step: after a check, the smallest gap between ``radius_m`` and
        an object still pending is kept, and while ``xy`` stays closer than that gap to the
        point of that check no pending object can be in range (triangle inequality, with a
        micrometre to spare for rounding), so the check is skipped; the objects created,
        and when, are the same."""
        xy = np.asarray(xy, dtype=np.float64)[:2]
        if self._near_skip(xy, radius_m):
            return
        rows = self.pending()
        if len(rows):
            d = np.hypot(*(self.centers[rows, :2] - xy).T)
            reach = radius_m + self.radii[rows]
            inside = d < reach
            self.build(rows[inside])
            gaps = (d - reach)[~inside]
            slack = float(gaps.min()) if len(gaps) else np.inf
        else:
            slack = np.inf
        self._near_check = (float(xy[0]), float(xy[1]), float(radius_m), slack)

    def _near_skip(self, xy: np.ndarray, radius_m: float) -> bool:
        """Whether no pending object can be within ``radius_m`` of ``xy`` (see
        :meth:`ensure_near`); objects created since the last check only shrink the set."""
        if self._near_check is None:
            return False
        x, y, radius, slack = self._near_check
        moved = float(np.hypot(xy[0] - x, xy[1] - y))
        return radius == radius_m and moved < slack - NEAR_CHECK_MARGIN_M

    def ensure_visible(self, views) -> None:
        """Create every object that may be inside the view volume of one of ``views``:
        (T_world_cam in OpenCV axes, CameraConfig) pairs. The test is conservative: the
        object's bounding sphere against the frustum widened by ``VIEW_MARGIN``."""
        rows = self.pending()
        if not len(rows):
            return
        centers, radii = self.centers[rows], self.radii[rows]
        seen = np.zeros(len(rows), dtype=bool)
        for T, cam in views:
            seen |= in_view(centers, radii, np.asarray(T, dtype=np.float64), cam)
        self.build(rows[seen])


NEAR_CHECK_MARGIN_M = 1e-6  # ensure_near skips only with this much room to spare
VIEW_MARGIN = 1.05  # the view volume's half-angle tangents, widened by 5 %


def in_view(centers: np.ndarray, radii: np.ndarray, T_world_cam: np.ndarray, cam) -> np.ndarray:
    """Whether spheres (N, 3), (N,) may intersect a camera's view volume (near to far, the
    symmetric frustum of :func:`sim.camera.projection_matrix`)."""
    p = (centers - T_world_cam[:3, 3]) @ T_world_cam[:3, :3]  # camera frame: x right, y down
    ty = np.tan(np.radians(cam.fov_deg) / 2.0) * VIEW_MARGIN
    tx = ty * cam.width / cam.height
    ok = (p[:, 2] + radii > cam.near) & (p[:, 2] - radii < cam.far)
    for t, axis in ((tx, 0), (ty, 1)):
        norm = np.sqrt(1.0 + t * t)
        ok &= (p[:, axis] - t * p[:, 2]) / norm < radii
        ok &= (-p[:, axis] - t * p[:, 2]) / norm < radii
    return ok


def build_scenery(
    world, road: Road, registry: SceneRegistry, config: SceneryConfig, seed: int
) -> list[int]:
    """Create all planned scenery bodies now; return their uids."""
    scenery = Scenery(world, road, registry, config, seed)
    scenery.build()
    return scenery.body_ids.tolist()
