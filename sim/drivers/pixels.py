"""Camera pictures for the driving env: the episode's road and lead car in a PyBullet world.

The env's physics (the bicycle model, or the fleet car of the ``bullet`` backend) knows the
ego's planar pose; :class:`EnvCamera` keeps its own world with the episode's road mesh
(:func:`sim.road.build_road`) and a car body for the lead, and renders a camera mounted on the
ego (:data:`sim.camera.CAMERA_PRESETS`) with TinyRenderer: RGB, metric depth and semantic
ids, exactly as the data set's cameras do (no weather effects).
"""

from __future__ import annotations

import numpy as np

from sim.camera import CameraConfig, Lighting, Render, pose_matrix, render, rpy_matrix
from sim.road import Road, build_road
from sim.scene import SceneRegistry

PARKED_Z = -50.0  # where the lead's body waits while there is no lead car


class EnvCamera:
    """One episode's scene for rendering; ``close()`` frees its PyBullet client."""

    def __init__(self, road: Road, road_seed: int, camera: CameraConfig,
                 rng: np.random.Generator) -> None:  # fmt: skip
        from sim.scenery import create_body
        from sim.traffic import vehicle_parts
        from sim.world import World

        self.road, self.camera = road, camera
        self.world = World()
        self.registry = SceneRegistry()
        build_road(self.world, road, self.registry, road_seed, camera.far)
        parts, size = vehicle_parts(rng)
        self.lead_body = create_body(self.world.client, parts, (0.0, 0.0, PARKED_Z), 0.0)
        self.registry.register(self.lead_body, "vehicle", size, (0.0, 0.0, size[2] / 2))
        self.lighting = Lighting()

    def place_lead(self, s: float | None, lateral: float) -> None:
        """Put the lead car at station ``s`` (wrapped on circuits) and ``lateral``; None
        parks it out of sight."""
        c = self.world.client
        if s is None:
            c.resetBasePositionAndOrientation(self.lead_body, [0.0, 0.0, PARKED_Z], [0, 0, 0, 1])
            return
        x, y, heading = self.road.pose_at(float(self.road.wrap(s)), lateral)
        quat = c.getQuaternionFromEuler([0.0, 0.0, float(heading)])
        c.resetBasePositionAndOrientation(self.lead_body, [float(x), float(y), 0.0], quat)

    def render(self, x: float, y: float, yaw: float) -> Render:
        """The camera's images with the ego's ground point at (x, y) heading ``yaw``."""
        T_world_body = pose_matrix(rpy_matrix(0.0, 0.0, yaw), (x, y, 0.0))
        return render(self.world.client, self.registry, self.camera, T_world_body,
                      self.lighting)  # fmt: skip

    def close(self) -> None:
        self.world.close()
