"""A picture of scenarios a person can look at: per camera a row of RGB with 2D boxes,
segmentation overlay, colour-mapped depth and RGB with 3D boxes, plus a class legend."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sim.camera import Render
from sim.classes import CLASS_IDS, CLASSES
from sim.labels import project_points

PANEL_MIN_PX = 256
HEADER_PX = 22
EDGES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 0),
    (4, 5),
    (5, 6),
    (6, 7),
    (7, 4),
    (0, 4),
    (1, 5),
    (2, 6),
    (3, 7),
]
PALETTE = np.array([c.color for c in CLASSES], dtype=np.uint8)


def _scale(r: Render) -> int:
    return max(1, int(np.ceil(PANEL_MIN_PX / max(r.config.width, r.config.height))))


def _upscale(img: np.ndarray, k: int, smooth: bool = False) -> Image.Image:
    im = Image.fromarray(img)
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    return im.resize((im.width * k, im.height * k), resample)


def seg_overlay(r: Render, alpha: float = 0.55) -> np.ndarray:
    colour = PALETTE[r.semantic].astype(np.float32)
    mixed = (1 - alpha) * r.rgb.astype(np.float32) + alpha * colour
    return mixed.astype(np.uint8)


def depth_colour(r: Render) -> np.ndarray:
    """Inverse depth through the turbo colour map (near = warm); black where no hit."""
    from matplotlib import colormaps

    inv = np.where(r.depth > 0, 1.0 / np.maximum(r.depth, 1e-3), 0.0)
    top = max(float(np.percentile(inv[inv > 0], 99)), 1e-6) if np.any(inv > 0) else 1.0
    rgb = colormaps["turbo"](np.clip(inv / top, 0.0, 1.0))[..., :3]
    return np.where(r.depth[..., None] > 0, rgb * 255, 0).astype(np.uint8)


def _class_colour(name: str) -> tuple[int, int, int]:
    r, g, b = CLASSES[CLASS_IDS[name]].color
    return (r, g, b) if r + g + b > 120 else (255, 255, 255)


def draw_boxes_2d(im: Image.Image, objects: list[dict], k: int) -> None:
    d = ImageDraw.Draw(im)
    for o in objects:
        x0, y0, x1, y1 = (v * k for v in o["bbox2d"])
        col = _class_colour(o["class"])
        d.rectangle([x0, y0, x1 - 1, y1 - 1], outline=col, width=2)
        if o["visible_px"] * k * k > 400:
            d.text((x0 + 2, max(y0 - 11, 0)), f"{o['class']} {o['distance_m']:.0f}m", fill=col)


def draw_boxes_3d(im: Image.Image, r: Render, objects: list[dict], k: int) -> None:
    d = ImageDraw.Draw(im)
    for o in objects:
        corners = np.asarray(o["bbox3d_cam"]["corners"])
        if corners[:, 2].min() <= r.config.near:
            continue
        uv = (project_points(r, corners) + 0.5) * k
        col = _class_colour(o["class"])
        for a, b in EDGES:
            d.line([tuple(uv[a]), tuple(uv[b])], fill=col, width=2)


def camera_row(r: Render, objects: list[dict], title: str) -> Image.Image:
    """Four panels side by side under a title line."""
    k = _scale(r)
    boxes2d = _upscale(r.rgb, k, smooth=True)
    draw_boxes_2d(boxes2d, objects, k)
    boxes3d = _upscale(r.rgb, k, smooth=True)
    draw_boxes_3d(boxes3d, r, objects, k)
    panels = [boxes2d, _upscale(seg_overlay(r), k), _upscale(depth_colour(r), k), boxes3d]
    names = ["RGB + 2D boxes", "semantic overlay", "depth (near = warm)", "3D boxes"]
    w, h = panels[0].size
    row = Image.new("RGB", (4 * w + 15, h + HEADER_PX), (24, 24, 28))
    d = ImageDraw.Draw(row)
    d.text((6, 5), title, fill=(235, 235, 235), font=ImageFont.load_default())
    for i, (p, name) in enumerate(zip(panels, names)):
        row.paste(p, (i * (w + 5), HEADER_PX))
        d.text((i * (w + 5) + 6, HEADER_PX + 4), name, fill=(255, 255, 255))
    return row


def legend(width: int) -> Image.Image:
    im = Image.new("RGB", (width, 24), (24, 24, 28))
    d = ImageDraw.Draw(im)
    x = 6
    for c in CLASSES:
        d.rectangle([x, 6, x + 12, 18], fill=c.color)
        d.text((x + 16, 6), c.name, fill=(230, 230, 230))
        x += 22 + 7 * len(c.name)
    return im


def compose(rows: list[Image.Image]) -> Image.Image:
    """Stack rows and a legend into one picture."""
    width = max(r.width for r in rows)
    foot = legend(width)
    out = Image.new("RGB", (width, sum(r.height + 4 for r in rows) + foot.height), (24, 24, 28))
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + 4
    out.paste(foot, (0, y))
    return out
