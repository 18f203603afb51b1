"""PyBullet input/output of a fleet, batched: body states, suspension rays, wrenches.

Calls go straight to the ``pybullet`` module with the world's client id: the
``BulletClient`` wrapper costs several microseconds per call, more than the call itself.
Per step and body this makes one position, one velocity and one matrix query, one force
and one torque; the rays of all wheels of all vehicles go in one ``rayTestBatch``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet


def client_id(client) -> int:
    """The numeric physics client id behind a ``BulletClient`` (or an int id)."""
    return int(getattr(client, "_client", client))


@dataclass
class BodyStates:
    """Kinematics of N bodies, world frame: rot[:, :, 0] is the body's forward axis."""

    pos: np.ndarray  # (N, 3)
    rot: np.ndarray  # (N, 3, 3)
    lin: np.ndarray  # (N, 3)
    ang: np.ndarray  # (N, 3)


def read_bodies(bodies: tuple[int, ...], cid: int) -> BodyStates:
    """Position, rotation matrix and velocities of every body, in one array build."""
    rows = []
    for b in bodies:
        pos, orn = pybullet.getBasePositionAndOrientation(b, physicsClientId=cid)
        lin, ang = pybullet.getBaseVelocity(b, physicsClientId=cid)
        rows.append(pos + pybullet.getMatrixFromQuaternion(orn) + lin + ang)
    a = np.array(rows)
    return BodyStates(a[:, 0:3], a[:, 3:12].reshape(-1, 3, 3), a[:, 12:15], a[:, 15:18])


def cast_rays(starts: np.ndarray, ends: np.ndarray, cid: int) -> np.ndarray:
    """(M, 8) rows of hit flag (1/0), hit fraction, hit point (3), hit normal (3).

    On the calling thread (``numThreads=1``): each ray's result is the same either way, but
    PyBullet's default hands a handful of rays to a thread pool, which cost more than the
    rays (34 vs 53 us a step for one car's 4 wheels) and competes with the other worker
    processes of ``generate`` for the cores."""
    res = pybullet.rayTestBatch(starts.tolist(), ends.tolist(), numThreads=1,
                                physicsClientId=cid)  # fmt: skip
    return np.array([(r[0] >= 0, r[2], *r[3], *r[4]) for r in res], dtype=float)


def apply_wrenches(bodies: tuple[int, ...], force: np.ndarray, torque: np.ndarray,
                   pos: np.ndarray, cid: int) -> None:
    """Force at the centre of mass and torque, both world frame, for every body.

    Equivalent to the separate forces at their points: PyBullet adds ``r x F`` to the
    base torque of each force applied at a point anyway.
    """
    frame = pybullet.WORLD_FRAME
    for b, f, t, p in zip(bodies, force.tolist(), torque.tolist(), pos.tolist()):
        pybullet.applyExternalForce(b, -1, f, p, frame, physicsClientId=cid)
        pybullet.applyExternalTorque(b, -1, t, frame, physicsClientId=cid)


def contact_pushes(body: int, min_force: float, cid: int) -> list[tuple[np.ndarray, float]]:
    """(normal on the body, normal force) of the body's contacts above ``min_force``."""
    points = pybullet.getContactPoints(bodyA=body, physicsClientId=cid)
    return [(np.asarray(cp[7]), cp[9]) for cp in points if cp[9] >= min_force]


def rotation_of(body: int, cid: int) -> np.ndarray:
    """(3, 3) rotation matrix of one body."""
    _, orn = pybullet.getBasePositionAndOrientation(body, physicsClientId=cid)
    return np.array(pybullet.getMatrixFromQuaternion(orn)).reshape(3, 3)
