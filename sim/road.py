"""Procedural roads: a centre line from a seed, queries on it, and its meshes in a World.

A :class:`Road` is a centre line sampled every ``SAMPLE_STEP_M`` metres (closed circuits or
open roads) with lanes all driving in the direction of increasing station ``s``. Lane 0 is
the rightmost lane; lateral offsets are positive to the left. :func:`build_road` turns it
into static PyBullet bodies: the road surface and shoulders as flat concave triangle meshes,
lane markings as thin visual-only meshes 1 cm above the road, and a ground slab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sim import jit
from sim.scene import SceneRegistry
from sim.seeding import rng_for
from sim.vocabulary import ROAD_KINDS

SAMPLE_STEP_M = 1.0
MARKING_Z = 0.01
MARKING_WIDTH_M = 0.15
PROJECT_WINDOW = 3  # segments searched on each side of the nearest sample
STRAIGHT_CURVATURE = 1.0 / 500.0  # below this mean curvature a road counts as straight
HINT_WINDOW_M = 30.0  # samples searched around a station hint
MAX_RIBBON_SAMPLES = 2000  # samples per mesh body; longer ribbons are split into chunks
# the ground reaches this far beyond the road's bounding box, at least: a camera on the road
# must find ground up to its far plane in every direction (else the sky shows below the
# horizon where the world ends): build_road takes the cameras' far plane + FAR_GROUND_MARGIN_M
GROUND_MARGIN_M = 120.0
FAR_GROUND_MARGIN_M = 20.0


@dataclass
class RoadConfig:
    kind: str = "circuit"
    length_m: float = 800.0
    lanes: int = 2
    lane_width_m: float = 3.5
    shoulder_m: float = 3.0
    curviness: float = 0.5  # 0 = straight / round, 1 = as twisty as the width allows
    mesh_step_m: float = 2.0
    speed_limit_mps: float = 20.0

    def __post_init__(self) -> None:
        if self.kind not in ROAD_KINDS:
            raise ValueError(f"RoadConfig.kind must be one of {ROAD_KINDS}, got {self.kind!r}")
        if not 100.0 <= self.length_m <= 20000.0:
            raise ValueError(f"RoadConfig.length_m must be in [100, 20000], got {self.length_m}")
        if not 1 <= self.lanes <= 6:
            raise ValueError(f"RoadConfig.lanes must be in [1, 6], got {self.lanes}")
        if not 2.0 <= self.lane_width_m <= 6.0:
            raise ValueError(f"RoadConfig.lane_width_m must be in [2, 6], got {self.lane_width_m}")
        if not 0.5 <= self.shoulder_m <= 10.0:
            raise ValueError(f"RoadConfig.shoulder_m must be in [0.5, 10], got {self.shoulder_m}")
        if not 0.0 <= self.curviness <= 1.0:
            raise ValueError(f"RoadConfig.curviness must be in [0, 1], got {self.curviness}")
        if not 0.5 <= self.mesh_step_m <= 10.0:
            raise ValueError(f"RoadConfig.mesh_step_m must be in [0.5, 10], got {self.mesh_step_m}")
        if self.speed_limit_mps <= 0:
            raise ValueError(f"RoadConfig.speed_limit_mps must be > 0, got {self.speed_limit_mps}")

    @property
    def half_width_m(self) -> float:
        return self.lanes * self.lane_width_m / 2.0


class Projection(NamedTuple):
    """A point expressed in road coordinates (arrays for batched queries)."""

    s: np.ndarray | float
    lateral: np.ndarray | float
    heading: np.ndarray | float
    curvature: np.ndarray | float


@dataclass
class Road:
    """A sampled centre line: stations, positions, unwrapped headings and curvature."""

    config: RoadConfig
    s: np.ndarray  # (N+1,) stations; closed roads repeat the first sample at s = length
    xy: np.ndarray  # (N+1, 2)
    heading: np.ndarray  # (N+1,) unwrapped
    curvature: np.ndarray  # (N+1,) 1/m, left positive
    closed: bool
    seg_dir: np.ndarray = field(init=False, repr=False)
    seg_len: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        d = np.diff(self.xy, axis=0)
        self.seg_len = np.hypot(d[:, 0], d[:, 1])
        self.seg_dir = d / self.seg_len[:, None]
        self._length = float(self.s[-1])
        self._step = float(self.s[1] - self.s[0])
        self._half = int(HINT_WINDOW_M / self._step)

    @property
    def length(self) -> float:
        return float(self.s[-1])

    @property
    def half_width(self) -> float:
        return self.config.half_width_m

    def lane_offsets(self) -> np.ndarray:
        """Lateral offsets of the lane centres, lane 0 (rightmost) first."""
        c = self.config
        return -c.half_width_m + (np.arange(c.lanes) + 0.5) * c.lane_width_m

    def wrap(self, s: np.ndarray | float) -> np.ndarray | float:
        """Stations on the road: modulo the length on circuits, clipped on open roads."""
        if self.closed:
            return np.mod(s, self.length)
        return np.clip(s, 0.0, self.length)

    def _interp(self, s: np.ndarray | float, values: np.ndarray) -> np.ndarray | float:
        return np.interp(self.wrap(s), self.s, values)

    def pose_at(self, s: np.ndarray | float, lateral: np.ndarray | float = 0.0) -> np.ndarray:
        """(x, y, heading) of the point at station ``s`` and ``lateral`` offset (left +)."""
        sw = self.wrap(s)
        h = np.interp(sw, self.s, self.heading)
        out = np.empty(np.shape(h) + (3,))
        out[..., 0] = np.interp(sw, self.s, self.xy[:, 0]) - lateral * np.sin(h)
        out[..., 1] = np.interp(sw, self.s, self.xy[:, 1]) + lateral * np.cos(h)
        out[..., 2] = h
        return out

    def curvature_at(self, s: np.ndarray | float) -> np.ndarray | float:
        return self._interp(s, self.curvature)

    def curvature_ahead(self, s: float, distances: np.ndarray | list[float]) -> np.ndarray:
        """Curvature (1/m, left positive) at ``s + d`` for each distance ``d``."""
        return np.asarray(self.curvature_at(s + np.asarray(distances, dtype=np.float64)))

    def _candidates(self, near_s: float | None) -> np.ndarray:
        """Sample indices to search: all, or those within ``HINT_WINDOW_M`` of ``near_s``."""
        n = len(self.xy) - 1
        if near_s is None:
            return np.arange(n)
        step = self.s[1] - self.s[0]
        centre = int(float(self.wrap(near_s)) / step)
        idx = centre + np.arange(-int(HINT_WINDOW_M / step), int(HINT_WINDOW_M / step) + 1)
        return np.mod(idx, n) if self.closed else np.clip(idx, 0, n - 1)

    def describe(self, s: float, lateral: float) -> dict:
        """The sample metadata's ``road`` entry for a car at (``s``, ``lateral``)."""
        ahead = float(np.mean(self.curvature_ahead(s, np.linspace(0.0, 40.0, 9))))
        shape = "straight" if abs(ahead) < STRAIGHT_CURVATURE else (
            "left_curve" if ahead > 0 else "right_curve"
        )  # fmt: skip
        lane = int(np.argmin(np.abs(self.lane_offsets() - lateral)))
        return {
            "kind": self.config.kind, "shape": shape, "curvature_ahead": ahead,
            "lanes": self.config.lanes, "lane_index": lane, "lateral_offset_m": float(lateral),
            "speed_limit_mps": self.config.speed_limit_mps,
        }  # fmt: skip

    def project(self, xy: np.ndarray | list[float], near_s: float | None = None) -> Projection:
        """Nearest centre-line point of ``xy`` ((2,) or (M, 2)): s, lateral, heading, kappa.

        The nearest sample is found first (among those within ``HINT_WINDOW_M`` of
        ``near_s`` when given, e.g. the previous station of a tracked body), then the
        segments around it are searched. Runs compiled (:mod:`sim.road_kernels`) where
        numba is installed; :meth:`project_numpy` is the same search in numpy."""
        kernel = _project_kernel()
        if kernel is None:
            return self.project_numpy(xy, near_s)
        p = np.asarray(xy, dtype=np.float64)
        single = p.ndim == 1
        p = p.reshape(1, 2) if single else np.ascontiguousarray(p)
        start, count = self.candidate_range(near_s)
        out = np.empty((len(p), 4))
        kernel(p, self.xy, self.s, self.seg_dir, self.seg_len, self.heading, self.curvature,
               self.closed, start, count, PROJECT_WINDOW, out)  # fmt: skip
        if single:
            s_, lateral, heading, kappa = out[0].tolist()
            return Projection(s_, lateral, heading, kappa)
        return Projection(out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy())

    def candidate_range(self, near_s: float | None) -> tuple[int, int]:
        """:meth:`_candidates` as (first index, count) before wrapping or clamping."""
        if near_s is None:
            return 0, len(self.xy) - 1
        length = self._length
        s0 = float(near_s) % length if self.closed else min(max(float(near_s), 0.0), length)
        return int(s0 / self._step) - self._half, 2 * self._half + 1

    def project_numpy(self, xy: np.ndarray | list[float], near_s: float | None = None
                      ) -> Projection:  # fmt: skip
        """:meth:`project` in numpy (the reference for the compiled search)."""
        p = np.asarray(xy, dtype=np.float64)
        single = p.ndim == 1
        p = np.atleast_2d(p)
        cand = self._candidates(near_s)
        verts = self.xy[cand]
        d2 = (verts[None, :, 0] - p[:, None, 0]) ** 2 + (verts[None, :, 1] - p[:, None, 1]) ** 2
        n = len(self.xy) - 1
        verts = self.xy[:-1]
        nearest = cand[np.argmin(d2, axis=1)]
        near = nearest[:, None] + np.arange(-PROJECT_WINDOW, PROJECT_WINDOW)
        seg = np.mod(near, n) if self.closed else np.clip(near, 0, n - 1)  # (M, K)
        rel = p[:, None, :] - verts[seg]
        t = np.clip(np.einsum("mkc,mkc->mk", rel, self.seg_dir[seg]), 0.0, self.seg_len[seg])
        off = rel - t[..., None] * self.seg_dir[seg]
        best = np.argmin(np.einsum("mkc,mkc->mk", off, off), axis=1)
        rows = np.arange(len(p))
        i, t, off = seg[rows, best], t[rows, best], off[rows, best]
        s = self.s[i] + t
        d = self.seg_dir[i]
        lateral = d[:, 0] * off[:, 1] - d[:, 1] * off[:, 0]
        h = np.asarray(self._interp(s, self.heading))
        kappa = np.asarray(self.curvature_at(s))
        if single:
            return Projection(float(s[0]), float(lateral[0]), float(h[0]), float(kappa[0]))
        return Projection(s, lateral, h, kappa)


_KERNELS: list = []


def _project_kernel():
    """The compiled projection, or None without numba (imported on first use)."""
    if not _KERNELS:
        if not jit.AVAILABLE:
            return None
        from sim.road_kernels import project

        _KERNELS.append(project)
    return _KERNELS[0]


def _polyline_road(config: RoadConfig, xy: np.ndarray, closed: bool) -> Road:
    """Resample a polyline uniformly in arc length and derive heading and curvature."""
    pts = np.vstack([xy, xy[:1]]) if closed else xy
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s_raw = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(round(s_raw[-1] / SAMPLE_STEP_M)), 8)
    s = np.linspace(0.0, s_raw[-1], n + 1)
    res = np.stack([np.interp(s, s_raw, pts[:, 0]), np.interp(s, s_raw, pts[:, 1])], axis=1)
    d = np.gradient(res, s, axis=0)
    if closed:  # central differences across the seam
        d[0] = d[-1] = (res[1] - res[-2]) / (s[1] - s[0] + s[-1] - s[-2])
    heading = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
    kappa = np.gradient(heading, s)
    if closed:
        before_seam = heading[-2] - (heading[-1] - heading[0])
        kappa[0] = kappa[-1] = (heading[1] - before_seam) / (s[1] - s[0] + s[-1] - s[-2])
    return Road(config, s, res, heading, kappa, closed)


def _circuit_points(config: RoadConfig, rng: np.random.Generator, scale: float) -> np.ndarray:
    theta = np.linspace(0.0, 2 * np.pi, int(config.length_m / SAMPLE_STEP_M), endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        amp = rng.uniform(0.0, 0.35 / k) * config.curviness * scale
        r += amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    pts = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    perimeter = np.sum(np.hypot(*(np.roll(pts, -1, axis=0) - pts).T))
    return pts * (config.length_m / perimeter)


def _open_points(config: RoadConfig, rng: np.random.Generator, scale: float) -> np.ndarray:
    n = int(config.length_m / SAMPLE_STEP_M) + 1
    kappa = np.zeros(n)
    i = 0
    while i < n:
        seg = int(rng.uniform(60, 200) / SAMPLE_STEP_M)
        if rng.random() > 0.35:
            kappa[i : i + seg] = rng.choice([-1, 1]) * rng.uniform(1 / 400, 1 / 50)
        i += seg
    window = np.hanning(int(40 / SAMPLE_STEP_M))  # smooth transitions (clothoid-like)
    kappa = np.convolve(kappa, window / window.sum(), mode="same") * config.curviness * scale
    heading = np.concatenate([[0.0], np.cumsum(kappa[:-1] * SAMPLE_STEP_M)])
    steps = SAMPLE_STEP_M * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    return np.vstack([[0.0, 0.0], np.cumsum(steps[:-1], axis=0)])


def generate_road(config: RoadConfig, seed: int) -> Road:
    """A road from ``seed``; curvature is limited so both edges stay free of folds."""
    min_radius = config.half_width_m + config.shoulder_m + 6.0
    scale = 1.0
    for attempt in range(12):
        rng = rng_for(seed, "road", attempt)
        if config.kind == "circuit":
            road = _polyline_road(config, _circuit_points(config, rng, scale), closed=True)
        else:
            road = _polyline_road(config, _open_points(config, rng, scale), closed=False)
        if np.max(np.abs(road.curvature)) * min_radius < 1.0:
            return road
        scale *= 0.7
    return road


# ----------------------------------------------------------------------------- meshes


def ribbon_mesh(
    road: Road, s: np.ndarray, lat_right: float, lat_left: float, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (2n, 3) and upward-facing triangle indices of a strip along ``s``."""
    right = road.pose_at(s, lat_right)
    left = road.pose_at(s, lat_left)
    v = np.empty((2 * len(s), 3))
    v[0::2, :2], v[1::2, :2] = right[:, :2], left[:, :2]
    v[:, 2] = z
    a = 2 * np.arange(len(s) - 1)
    idx = np.stack([a, a + 2, a + 1, a + 1, a + 2, a + 3], axis=1).ravel()
    return v, idx


def dashed_mesh(
    road: Road, lat: float, z: float, dash_m: float = 3.0, gap_m: float = 6.0
) -> tuple[np.ndarray, np.ndarray]:
    """One mesh of all dashes of a dashed line at lateral offset ``lat``."""
    starts = np.arange(0.0, road.length - dash_m, dash_m + gap_m)
    s = np.stack([starts, starts + dash_m], axis=1).ravel()
    right = road.pose_at(s, lat - MARKING_WIDTH_M / 2)
    left = road.pose_at(s, lat + MARKING_WIDTH_M / 2)
    v = np.empty((2 * len(s), 3))
    v[0::2, :2], v[1::2, :2] = right[:, :2], left[:, :2]
    v[:, 2] = z
    a = 4 * np.arange(len(starts))
    idx = np.stack([a, a + 2, a + 1, a + 1, a + 2, a + 3], axis=1).ravel()
    return v, idx


@dataclass
class RoadBodies:
    """Body uids of a built road, by role."""

    surface: list[int] = field(default_factory=list)
    shoulders: list[int] = field(default_factory=list)
    markings: list[int] = field(default_factory=list)
    ground: int = -1


def write_obj(path, v: np.ndarray, idx: np.ndarray) -> None:
    """A Wavefront OBJ of vertices ``v`` and triangle indices ``idx`` (0-based), with an
    upward normal per vertex (road meshes are flat)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in np.asarray(v, dtype=float)]
    lines.append("vn 0 0 1")
    tri = np.asarray(idx, dtype=int).reshape(-1, 3) + 1
    lines += [f"f {a}//1 {b}//1 {c}//1" for a, b, c in tri]
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


def _visual_mesh(world, v: np.ndarray, idx: np.ndarray, rgba: list[float],
                 lists: tuple[list, list] | None = None) -> int:  # fmt: skip
    """The visual shape of a mesh: vertex arrays, or an OBJ file where the world's renderer
    needs one (:meth:`sim.world.World.use_file_meshes`). ``lists``: ``v`` and ``idx`` as
    PyBullet's lists when the caller has them already."""
    import pybullet as p

    path = world.mesh_file()
    if path is None:
        verts, tris = lists if lists is not None else _mesh_lists(v, idx)
        return world.client.createVisualShape(
            p.GEOM_MESH, vertices=verts, indices=tris, rgbaColor=rgba
        )
    write_obj(path, v, idx)
    return world.client.createVisualShape(p.GEOM_MESH, fileName=str(path), rgbaColor=rgba)


def _mesh_lists(v: np.ndarray, idx: np.ndarray) -> tuple[list, list]:
    """Vertices and triangle indices as the nested Python lists PyBullet reads."""
    return v.tolist(), idx.astype(int).tolist()


def _mesh_body(world, v: np.ndarray, idx: np.ndarray, rgba: list[float], collide: bool) -> int:
    """A static mesh body; the visual and the collision shape share one conversion of the
    arrays to lists (the same lists as before, made once instead of twice)."""
    import pybullet as p

    client = world.client
    lists = _mesh_lists(v, idx) if collide else None
    vis = _visual_mesh(world, v, idx, rgba, lists)
    col = -1
    if lists is not None:
        col = client.createCollisionShape(
            p.GEOM_MESH,
            vertices=lists[0],
            indices=lists[1],
            flags=p.GEOM_FORCE_CONCAVE_TRIMESH,
        )
    return client.createMultiBody(0.0, col, vis)


def _mesh_stations(road: Road) -> list[np.ndarray]:
    """Mesh sample stations, split into chunks that share their end samples."""
    n = max(int(np.ceil(road.length / road.config.mesh_step_m)), 2)
    s = np.linspace(0.0, road.length, n + 1)
    step = MAX_RIBBON_SAMPLES - 1
    return [s[i : i + MAX_RIBBON_SAMPLES] for i in range(0, len(s) - 1, step)]


def _ribbons(world, road: Road, lat0: float, lat1: float, z: float, rgba, collide) -> list[int]:
    out = []
    for s in _mesh_stations(road):
        v, idx = ribbon_mesh(road, s, lat0, lat1, z)
        out.append(_mesh_body(world, v, idx, rgba, collide))
    return out


def _shade(rng: np.random.Generator, base: tuple[float, float, float], spread: float) -> list:
    rgb = np.clip(np.asarray(base) + rng.uniform(-spread, spread, 3), 0.0, 1.0)
    return [*rgb.tolist(), 1.0]


def _build_markings(world, road: Road, registry: SceneRegistry) -> list[int]:
    hw, w = road.half_width, MARKING_WIDTH_M
    white = [0.95, 0.95, 0.92, 1.0]
    bodies = _ribbons(world, road, hw - 0.3 - w, hw - 0.3, MARKING_Z, white, False)
    bodies += _ribbons(world, road, -hw + 0.3, -hw + 0.3 + w, MARKING_Z, white, False)
    for k in range(1, road.config.lanes):
        v, idx = dashed_mesh(road, -hw + k * road.config.lane_width_m, MARKING_Z)
        bodies.append(_mesh_body(world, v, idx, white, False))
    for b in bodies:
        registry.register(b, "lane_marking", (0.0, 0.0, 0.0), instance=False)
    return bodies


def _build_ground(world, road: Road, rgba: list[float], margin_m: float) -> int:
    import pybullet as p

    lo, hi = road.xy.min(axis=0) - margin_m, road.xy.max(axis=0) + margin_m
    half = [(hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2, 0.5]
    centre = [(hi[0] + lo[0]) / 2, (hi[1] + lo[1]) / 2, -0.51]
    c = world.client
    vis = c.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba)
    col = c.createCollisionShape(p.GEOM_BOX, halfExtents=half)
    return c.createMultiBody(0.0, col, vis, basePosition=centre)


def build_road(world, road: Road, registry: SceneRegistry, seed: int,
               far_m: float = 0.0) -> RoadBodies:  # fmt: skip
    """Create the road's static bodies in ``world`` and register their classes; the ground
    reaches ``far_m`` (the cameras' far plane) + :data:`FAR_GROUND_MARGIN_M` beyond the road,
    at least :data:`GROUND_MARGIN_M`."""
    rng = rng_for(seed, "road", "colours")
    hw, sh = road.half_width, road.config.shoulder_m
    asphalt = _shade(rng, (0.27, 0.27, 0.29), 0.05)
    kerb = _shade(rng, (0.62, 0.6, 0.57), 0.06)
    bodies = RoadBodies()
    bodies.surface = _ribbons(world, road, -hw, hw, 0.0, asphalt, True)
    bodies.shoulders = _ribbons(world, road, hw, hw + sh, 0.0, kerb, True)
    bodies.shoulders += _ribbons(world, road, -hw - sh, -hw, 0.0, kerb, True)
    bodies.markings = _build_markings(world, road, registry)
    margin = max(GROUND_MARGIN_M, float(far_m) + FAR_GROUND_MARGIN_M)
    bodies.ground = _build_ground(world, road, _shade(rng, (0.33, 0.5, 0.22), 0.06), margin)
    for b in bodies.surface:
        registry.register(b, "road", (0.0, 0.0, 0.0), instance=False)
    for b in bodies.shoulders:
        registry.register(b, "sidewalk", (0.0, 0.0, 0.0), instance=False)
    registry.register(bodies.ground, "terrain", (0.0, 0.0, 0.0), instance=False)
    return bodies
