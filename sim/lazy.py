"""Lazy package exports (PEP 562): ``from sim.vehicle import preset`` imports only the
module that defines ``preset``, so a pure table (surfaces, rewards) imports without
pybullet, and no package ``__init__`` imports its own modules (no import circles)."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package`` exporting ``name -> module``."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
