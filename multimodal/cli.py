"""Sub-commands of ``drivesynth`` provided by this package (see edge/cli.py)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this package's sub-commands. Handlers import heavy modules lazily."""
