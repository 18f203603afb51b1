"""Sub-commands of ``drivesynth`` provided by this package (see edge/cli.py).

Each module listed here defines ``register(subparsers)``; handlers import heavy
modules (pybullet, torch) lazily, inside the handler.
"""

from __future__ import annotations

import argparse
import importlib

COMMAND_MODULES: tuple[str, ...] = (
    "edge.commands.export",
    "edge.commands.edge",
    "edge.commands.bench",
)


def register(sub: argparse._SubParsersAction) -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command not built in this version
                continue
            raise
        module.register(sub)
