"""A physics world that owns its own PyBullet client.

Each :class:`World` connects its own DIRECT client (never the global one), so several
worlds in one process never interfere. Physics runs at a fixed rate (240 Hz by default)
with deterministic engine settings. Components (vehicles, traffic, weather forces)
register ordered step hooks, MetaDrive-style: ``before_step(world, dt)`` runs before
each physics step, ``after_step(world, dt)`` after it, in ascending ``order``.

Connecting a client costs ~5 ms, so a closed world hands its client to a small per-process
pool (:class:`ClientPool`) after ``resetSimulation``, and the next world takes it from there
and resets it again. A reset client is the same as a fresh one for everything the worlds here
use (bodies, shapes, constraints, engine parameters and gravity are all set again by
:class:`World`): the same config gives the same bytes in a fresh or a reused client. Clients
that loaded a plugin or were given meshes as files are never pooled.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pybullet
from pybullet_utils.bullet_client import BulletClient

from sim import timing
from sim.c_output import captured_c_output, quiet_stdout


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


class ClientPool:
    """Idle DIRECT clients of closed worlds, reset, for the next :class:`World` (per
    process; at most ``size`` kept, the rest disconnected)."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._idle: list[BulletClient] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def acquire(self) -> tuple[BulletClient, bool]:
        """An idle client, or a new one when none is idle (or this is a forked child, whose
        copies of the parent's clients are dropped unused); and whether it was idle."""
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = [], os.getpid()
            client = self._idle.pop() if self._idle else None
        if client is not None:
            return client, True
        return connect(), False

    def release(self, client: BulletClient) -> None:
        """Reset ``client`` (frees its bodies and shapes) and keep it, or disconnect it
        when the pool is full or the reset fails."""
        try:
            client.resetSimulation()
        except pybullet.error:
            return _disconnect(client)
        with self._lock:
            if len(self._idle) < self.size and self._pid == os.getpid():
                self._idle.append(client)
                return None
        return _disconnect(client)

    def clear(self) -> None:
        """Disconnect every idle client."""
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            _disconnect(client)

    def __len__(self) -> int:
        return len(self._idle)


def connect() -> BulletClient:
    """A new DIRECT client (PyBullet's start-up banner kept off the terminal)."""
    with quiet_stdout():
        return BulletClient(connection_mode=pybullet.DIRECT)


def _disconnect(client: BulletClient) -> None:
    try:
        with quiet_stdout():
            client.disconnect()
    except pybullet.error:
        pass


CLIENTS = ClientPool()
atexit.register(CLIENTS.clear)  # disconnect while pybullet is still importable


class StepHook(Protocol):
    order: int

    def before_step(self, world: World, dt: float) -> None: ...

    def after_step(self, world: World, dt: float) -> None: ...


class World:
    """One PyBullet simulation with its own client, fixed time step and ordered hooks."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        self.client, self._reused = CLIENTS.acquire()
        self._poolable = True  # False once a plugin or file meshes touched the client
        self.dt = 1.0 / self.config.physics_hz
        self.step_count = 0
        self._hooks: list[StepHook] = []
        self._mesh_dir: tempfile.TemporaryDirectory | None = None
        self._mesh_count = 0
        self._configure()

    def _configure(self) -> None:
        """Reset the client and set the engine parameters and gravity."""
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

    def load_plugin(self, path: str, name: str) -> tuple[int, str]:
        """Load a PyBullet plugin into this world's client: its id (negative when it
        failed) and what it printed (kept off the user's terminal)."""
        self._poolable = False
        if self._reused and self.client.getNumBodies() == 0:
            self._fresh_client()
        with captured_c_output() as text:
            plugin = int(self.client.loadPlugin(path, name))
        return plugin, "".join(text)

    def _fresh_client(self) -> None:
        """Swap a reused client (still empty) for a new connection, so that a plugin starts
        in a client that never held another world, as it always did."""
        CLIENTS.release(self.client)
        self.client, self._reused = connect(), False
        self._configure()

    def use_file_meshes(self) -> None:
        """Give meshes to PyBullet as OBJ files instead of vertex arrays (for renderers
        whose shape converter cannot read in-memory meshes, such as EGL's)."""
        self._poolable = False
        if self._mesh_dir is None:
            self._mesh_dir = tempfile.TemporaryDirectory(prefix="drivesynth-meshes-")

    def mesh_file(self) -> Path | None:
        """A fresh OBJ path in this world's scratch folder, or None when meshes go to
        PyBullet as vertex arrays (the default)."""
        if self._mesh_dir is None:
            return None
        self._mesh_count += 1
        return Path(self._mesh_dir.name) / f"mesh{self._mesh_count:05d}.obj"

    def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            if getattr(self, "_poolable", False):
                CLIENTS.release(client)
            else:
                _disconnect(client)
        if self._mesh_dir is not None:
            self._mesh_dir.cleanup()
            self._mesh_dir = None

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: free the native client
        try:
            self.close()
        except Exception:
            pass
