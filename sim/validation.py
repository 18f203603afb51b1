"""Validation of dataclass configs, one way for every package: a bad field raises
``ValueError("Config.field must be RULE, got VALUE")``, which the CLI reports as one line.

Call these from ``__post_init__``: ``require(self, "limit", self.limit <= 1, "<= 1")``.
"""

from __future__ import annotations

import math

_FIELD = object()


def is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def require(obj: object, name: str, ok: bool, rule: str, value: object = _FIELD) -> None:
    """Raise naming ``type(obj).name``, the rule and the value (the field's, unless given)."""
    if not ok:
        shown = getattr(obj, name) if value is _FIELD else value
        raise ValueError(f"{type(obj).__name__}.{name} must be {rule}, got {shown!r}")


def require_positive(obj: object, *names: str, rule: str = "> 0") -> None:
    for name in names:
        value = getattr(obj, name)
        require(obj, name, is_finite_number(value) and value > 0, rule)


def require_non_negative(obj: object, *names: str, rule: str = ">= 0") -> None:
    for name in names:
        value = getattr(obj, name)
        require(obj, name, is_finite_number(value) and value >= 0, rule)


def require_in_range(obj: object, name: str, lo: float, hi: float, rule: str = "") -> None:
    value = getattr(obj, name)
    ok = is_finite_number(value) and lo <= value <= hi
    require(obj, name, ok, rule or f"in [{lo}, {hi}]")
