"""Road surfaces and their Pacejka magic-formula coefficient sets.

The B, C, D, E sets are the well-known longitudinal sets quoted with the magic formula
(e.g. in MATLAB/Simscape's "Tire-Road Interaction" block): D is the peak friction
coefficient. A tire's own coefficients (``TireConfig``) describe it on dry tarmac; on
another surface each coefficient is scaled by ``surface / dry`` (see ``scale_for``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim import vocabulary


@dataclass(frozen=True)
class Surface:
    """Magic-formula shape of one road surface (stiffness B, shape C, peak D, curvature E)."""

    name: str
    b: float
    c: float
    d: float
    e: float


SURFACES: dict[str, Surface] = {
    "dry": Surface("dry", b=10.0, c=1.9, d=1.0, e=0.97),
    "wet": Surface("wet", b=12.0, c=2.3, d=0.82, e=1.0),
    "snow": Surface("snow", b=5.0, c=2.0, d=0.3, e=1.0),
    "ice": Surface("ice", b=4.0, c=2.0, d=0.1, e=1.0),
}
SURFACE_NAMES: tuple[str, ...] = vocabulary.SURFACES
if tuple(SURFACES) != SURFACE_NAMES:  # the friction tables cover the vocabulary, in order
    raise ImportError(f"tire surfaces {tuple(SURFACES)} differ from {SURFACE_NAMES}")


def get_surface(name: str) -> Surface:
    """The surface called ``name``; ValueError naming the bad value otherwise."""
    try:
        return SURFACES[name]
    except (KeyError, TypeError):
        known = ", ".join(SURFACE_NAMES)
        raise ValueError(f"unknown surface {name!r}; known: {known}") from None


def surface_index(name: str) -> int:
    """Position of ``name`` in :data:`SURFACE_NAMES` (the code used in traces)."""
    return SURFACE_NAMES.index(get_surface(name).name)


def scale_for(name: str) -> tuple[float, float, float, float]:
    """Multipliers (B, C, D, E) that map a dry-tarmac tire onto surface ``name``."""
    s, dry = get_surface(name), SURFACES["dry"]
    return s.b / dry.b, s.c / dry.c, s.d / dry.d, s.e / dry.e


def dry_everywhere(x: float, y: float) -> str:
    """Default ``surface_at`` callable: dry tarmac at every point."""
    return "dry"
