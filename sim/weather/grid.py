"""One scene under many presets, side by side (for ``preview`` and for eyeballing)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from sim.seeding import rng_for
from sim.weather.effects import EgoMotion, apply_weather
from sim.weather.presets import get_preset


def weather_grid(
    rgb: np.ndarray,
    depth: np.ndarray,
    seg: np.ndarray,
    camera: dict,
    presets: list[str],
    seed: int = 0,
    columns: int = 4,
    ego_motion: EgoMotion | None = None,
) -> np.ndarray:
    """A (rows*H, columns*W, 3) uint8 mosaic of the frame under each preset, labelled."""
    if not presets:
        raise ValueError("weather_grid needs at least one preset")
    if columns < 1:
        raise ValueError(f"weather_grid columns must be >= 1, got {columns}")
    tiles = [
        apply_weather(
            rgb, depth, seg, camera, get_preset(name), rng_for(seed, "weather", i), ego_motion
        )
        for i, name in enumerate(presets)
    ]
    return labelled_mosaic(tiles, presets, columns)


def labelled_mosaic(tiles: list[np.ndarray], labels: list[str], columns: int) -> np.ndarray:
    """Equal-size RGB tiles, each with its label drawn in, row by row on a black canvas."""
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    mosaic = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        image = Image.fromarray(tile)
        ImageDraw.Draw(image).text((4, 3), label, fill=(255, 255, 0))
        r, c = divmod(i, columns)
        mosaic[r * h : (r + 1) * h, c * w : (c + 1) * w] = np.asarray(image)
    return mosaic
