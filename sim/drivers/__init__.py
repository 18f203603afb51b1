"""Driver styles trained by reinforcement learning (PPO) and the tools around them.

Importing the package registers the gymnasium env ``drivesynth/Driving-v0`` when gymnasium
is installed (:mod:`sim.drivers.registration`)."""

from __future__ import annotations

from importlib.util import find_spec

from sim.lazy import lazy_exports

_EXPORTS = {
    "ACTION_NAMES": "sim.drivers.actions",
    "controls_of": "sim.drivers.actions",
    "OBS_NAMES": "sim.drivers.observation",
    "OBS_SIZE": "sim.drivers.observation",
    "observe": "sim.drivers.observation",
    "observe_vehicle": "sim.drivers.observation",
    "DriverPolicy": "sim.drivers.policy",
    "load_policy": "sim.drivers.policy",
    "STYLES": "sim.drivers.rewards",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if find_spec("gymnasium") is not None:
    from sim.drivers.registration import register_envs

    register_envs()
