"""Sub-commands of ``drivesynth`` provided by this package (see edge/cli.py)."""

from __future__ import annotations

import argparse

from sim.commands.registry import register_modules

COMMAND_MODULES: tuple[str, ...] = (
    "datagen.commands.generate",
    "datagen.commands.view",
)


def register(sub: argparse._SubParsersAction) -> None:
    register_modules(sub, COMMAND_MODULES)
