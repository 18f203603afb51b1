"""Shared by every package's ``cli`` module: add the sub-commands of a list of modules.

Each module defines ``register(subparsers)``; a module missing from a slim install is
skipped, any other import error propagates. Handlers import heavy modules lazily."""

from __future__ import annotations

import argparse
import importlib


def register_modules(sub: argparse._SubParsersAction, names: tuple[str, ...]) -> None:
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command not built in this version
                continue
            raise
        module.register(sub)
