"""gymnasium ids of drivesynth's environments.

``import sim.drivers`` registers them when gymnasium is installed (so does the
``gymnasium.envs`` entry point of the distribution, for tools that load plugins), then::

    env = gymnasium.make("drivesynth/Driving-v0", style="cautious", observation="rgb",
                         render_mode="rgb_array")

Keyword arguments are :class:`sim.drivers.env.DrivingEnvConfig` fields.
``gymnasium.make("sim.drivers:drivesynth/Driving-v0")`` imports the package itself.
"""

from __future__ import annotations

DRIVING_ENV_ID = "drivesynth/Driving-v0"


def register_envs() -> None:
    """Register :data:`DRIVING_ENV_ID` (once; later calls do nothing)."""
    import gymnasium

    if DRIVING_ENV_ID not in gymnasium.registry:
        gymnasium.register(id=DRIVING_ENV_ID, entry_point="sim.drivers.env:DrivingEnv")
