"""The camera's clip planes against the depth encoding written from them: ``camera_planes``.

The writer builds ``json.camera.depth`` from the camera's far plane
(``datagen.builder``: ``depth_encoding(cam_json["far"])``; ``datagen.schema`` refuses a json
whose encoding differs), so on every clean frame ``camera.depth`` is exactly
``datagen.sample.depth_encoding(camera.far)`` (``max_m`` = ``far``), and ``0 < near < far``
(``sim.camera.CameraConfig``). A far plane defaulted, rewritten or read from another camera
on its way into the json (or a depth descriptor edited alone) breaks it. A far plane below
the largest depth is :func:`datagen.qc.geometry.sky_depth`'s; this one needs no depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from datagen.qc.flag import Flag

CHECK = "camera_planes"


@dataclass(frozen=True)
class CameraPlanesConfig:
    rel_tol: float = 1e-9  # float rounding of the json numbers

    def __post_init__(self) -> None:
        if not (isinstance(self.rel_tol, int | float) and 0 <= self.rel_tol < 1e-3):
            raise ValueError(f"CameraPlanesConfig.rel_tol must be in [0, 1e-3), got "
                             f"{self.rel_tol!r}")  # fmt: skip


def _num(x: object) -> float | None:
    if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def check(meta: dict, cfg: CameraPlanesConfig) -> list[Flag]:
    from datagen.sample import depth_encoding

    cam = meta.get("camera") if isinstance(meta, dict) else None
    if not isinstance(cam, dict):
        return []
    near, far, enc = _num(cam.get("near")), _num(cam.get("far")), cam.get("depth")
    if near is None or far is None:
        return []
    if not 0 < near < far:
        return [Flag(CHECK, f"camera near {near:g} m, far {far:g} m: not 0 < near < far",
                     far, "0 < near < far")]  # fmt: skip
    if not isinstance(enc, dict):
        return []
    want = depth_encoding(far)
    bad = []
    for k, v in want.items():
        got = enc.get(k)
        if isinstance(v, float):
            g = _num(got)
            if g is None or not math.isclose(g, v, rel_tol=cfg.rel_tol, abs_tol=cfg.rel_tol):
                bad.append(f"depth.{k} {got!r} (expected {v:g})")
        elif got != v:
            bad.append(f"depth.{k} {got!r} (expected {v!r})")
    if not bad:
        return []
    return [Flag(CHECK, f"json.camera.depth is not the encoding written from the camera's far "
                 f"plane {far:g} m: " + ", ".join(bad[:3]), float(len(bad)),
                 "camera.depth == depth_encoding(camera.far)")]  # fmt: skip
