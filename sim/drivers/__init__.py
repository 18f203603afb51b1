"""Driver styles trained by reinforcement learning (PPO) and the tools around them."""

from sim.drivers.actions import ACTION_NAMES, controls_of
from sim.drivers.observation import OBS_NAMES, OBS_SIZE, observe, observe_vehicle
from sim.drivers.policy import DriverPolicy, load_policy
from sim.drivers.rewards import STYLES

__all__ = [
    "ACTION_NAMES",
    "OBS_NAMES",
    "OBS_SIZE",
    "STYLES",
    "DriverPolicy",
    "controls_of",
    "load_policy",
    "observe",
    "observe_vehicle",
]
