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


def _shapes(client, part: Part, offset: tuple[float, float, float]) -> tuple[int, int]:
    import pybullet as p

    geom = {"box": p.GEOM_BOX, "cylinder": p.GEOM_CYLINDER, "capsule": p.GEOM_CAPSULE}
    kind = geom.get(part.shape, p.GEOM_SPHERE)
    if part.shape == "box":
        vis_kw: dict = {"halfExtents": part.dims}
        col_kw: dict = {"halfExtents": part.dims}
    elif part.shape in ("cylinder", "capsule"):
        vis_kw = {"radius": part.dims[0], "length": part.dims[1]}
        col_kw = {"radius": part.dims[0], "height": part.dims[1]}
    else:
        vis_kw = col_kw = {"radius": part.dims[0]}
    vis = client.createVisualShape(
        kind, rgbaColor=list(part.rgba), visualFramePosition=list(offset), **vis_kw
    )
    col = client.createCollisionShape(kind, collisionFramePosition=list(offset), **col_kw)
    return vis, col


def create_body(client, parts: tuple[Part, ...], xyz, yaw: float) -> int:
    """A static multi-part body with its frame on the ground: parts after the first are
    fixed links placed at their ``pos``."""
    zero = (0.0, 0.0, 0.0)
    shapes = [_shapes(client, parts[0], parts[0].pos)]
    shapes += [_shapes(client, part, zero) for part in parts[1:]]
    n = len(parts) - 1
    return client.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=shapes[0][1],
        baseVisualShapeIndex=shapes[0][0],
        basePosition=list(xyz),
        baseOrientation=client.getQuaternionFromEuler([0.0, 0.0, yaw]),
        linkMasses=[0.0] * n,
        linkCollisionShapeIndices=[s[1] for s in shapes[1:]],
        linkVisualShapeIndices=[s[0] for s in shapes[1:]],
        linkPositions=[list(part.pos) for part in parts[1:]],
        linkOrientations=[[0, 0, 0, 1]] * n,
        linkInertialFramePositions=[[0, 0, 0]] * n,
        linkInertialFrameOrientations=[[0, 0, 0, 1]] * n,
        linkParentIndices=[0] * n,
        linkJointTypes=[4] * n,  # JOINT_FIXED
        linkJointAxis=[[0, 0, 1]] * n,
    )


def _rgba(rng: np.random.Generator, base: tuple[float, float, float], spread: float) -> tuple:
    rgb = np.clip(np.asarray(base) + rng.uniform(-spread, spread, 3), 0.0, 1.0)
    return (*[float(v) for v in rgb], 1.0)


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


def _clear_of_road(road: Road, p: Placement, min_lateral: float) -> bool:
    """True when every footprint corner is at least ``min_lateral`` from the centre line."""
    x, y, h = road.pose_at(p.s, p.lateral)
    l, w = p.size_lwh[0] / 2, p.size_lwh[1] / 2
    local = np.array([[l, w], [l, -w], [-l, w], [-l, -w], [0.0, 0.0]])
    c, s = np.cos(h), np.sin(h)
    corners = np.stack(
        [x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], 1
    )
    return bool(np.all(np.abs(road.project(corners).lateral) >= min_lateral))


def plan_scenery(road: Road, config: SceneryConfig, seed: int) -> list[Placement]:
    """Where every scenery object goes (pure function of road, config and seed)."""
    edge = road.half_width + road.config.shoulder_m
    plan: list[Placement] = []
    for cls, (per_100m, (near, far)) in LAYOUT.items():
        rate = per_100m * config.density / 100.0
        for side in (-1, 1):
            rng = rng_for(seed, "scenery", cls, side + 1)
            s = float(rng.uniform(0, 20))
            while rate > 0 and s < road.length - 10:
                parts, size = MAKERS[cls](rng)
                offset = edge + rng.uniform(near, far) + size[1] / 2
                p = Placement(cls, parts, size, s + size[0] / 2, side * offset)
                min_lat = road.half_width + (0.3 if cls == "barrier" else road.config.shoulder_m)
                if _clear_of_road(road, p, min_lat):
                    plan.append(p)
                s += size[0] + rng.exponential(1.0 / rate)
    return plan


def build_scenery(
    world, road: Road, registry: SceneRegistry, config: SceneryConfig, seed: int
) -> list[int]:
    """Create the planned scenery bodies; return their uids."""
    bodies = []
    for p in plan_scenery(road, config, seed):
        x, y, yaw = road.pose_at(p.s, p.lateral)
        body = create_body(world.client, p.parts, (x, y, 0.0), float(yaw))
        registry.register(body, p.cls, p.size_lwh, (0.0, 0.0, p.size_lwh[2] / 2))
        bodies.append(body)
    return bodies
