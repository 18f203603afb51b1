"""A physics world that owns its own PyBullet client.

Each :class:`World` connects its own DIRECT client (never the global one), so several
worlds in one process never interfere. Physics runs at a fixed rate (240 Hz by default)
with deterministic engine settings. Components (vehicles, traffic, weather forces)
register ordered step hooks, MetaDrive-style: ``before_step(world, dt)`` runs before
each physics step, ``after_step(world, dt)`` after it, in ascending ``order``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import pybullet
from pybullet_utils.bullet_client import BulletClient

from sim import timing


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence the C-level ``argv[0]=`` line PyBullet prints when a client connects."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured / replaced stdout
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


@dataclass
class WorldConfig:
    physics_hz: int = 240
    gravity_mps2: float = 9.81
    solver_iterations: int = 50

    def __post_init__(self) -> None:
        if not 30 <= self.physics_hz <= 2000:
            raise ValueError(f"physics_hz must be in [30, 2000], got {self.physics_hz}")
        if self.gravity_mps2 < 0:
            raise ValueError(f"gravity_mps2 must be >= 0, got {self.gravity_mps2}")
        if self.solver_iterations < 1:
            raise ValueError(f"solver_iterations must be >= 1, got {self.solver_iterations}")


class StepHook(Protocol):
    order: int

    def before_step(self, world: World, dt: float) -> None: ...

    def after_step(self, world: World, dt: float) -> None: ...


class World:
    """One PyBullet simulation with its own client, fixed time step and ordered hooks."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        with _quiet_stdout():
            self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self.dt = 1.0 / self.config.physics_hz
        self.step_count = 0
        self._hooks: list[StepHook] = []
        c = self.client
        c.resetSimulation()
        c.setPhysicsEngineParameter(
            fixedTimeStep=self.dt,
            numSolverIterations=self.config.solver_iterations,
            numSubSteps=0,
            deterministicOverlappingPairs=1,
        )
        c.setGravity(0.0, 0.0, -self.config.gravity_mps2)

    @property
    def time_s(self) -> float:
        return self.step_count * self.dt

    def add_hook(self, hook: StepHook) -> None:
        self._hooks.append(hook)
        self._hooks.sort(key=lambda h: h.order)

    def remove_hook(self, hook: StepHook) -> None:
        self._hooks.remove(hook)

    def step(self, n: int = 1) -> None:
        """Advance ``n`` fixed physics steps, running every hook around each step."""
        rec = timing.active()
        if rec is not None:
            self._step_timed(n, rec)
            return
        for _ in range(n):
            for h in self._hooks:
                h.before_step(self, self.dt)
            self.client.stepSimulation()
            self.step_count += 1
            for h in self._hooks:
                h.after_step(self, self.dt)

    def _step_timed(self, n: int, rec: timing.StageRecorder) -> None:
        """:meth:`step` charging PyBullet's step to ``physics`` and each hook to its
        ``stage`` (e.g. the vehicle model)."""
        for _ in range(n):
            for h in self._hooks:
                rec.enter(getattr(h, "stage", "hooks"))
                h.before_step(self, self.dt)
                rec.exit()
            rec.enter("physics")
            self.client.stepSimulation()
            rec.exit()
            self.step_count += 1
            for h in self._hooks:
                rec.enter(getattr(h, "stage", "hooks"))
                h.after_step(self, self.dt)
                rec.exit()

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.disconnect()
            except pybullet.error:
                pass
            self.client = None  # type: ignore[assignment]

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: free the native client
        try:
            self.close()
        except Exception:
            pass
