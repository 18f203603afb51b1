"""Realistic, schema-valid samples and metadata for the datagen tests (built from arrays)."""

from __future__ import annotations

import math

import numpy as np

from datagen.captions import generate_captions
from datagen.sample import INSTANCE_ENCODING, Sample, depth_encoding
from datagen.schema import ENUMS
from sim.classes import CLASS_IDS, class_table

OBJECT_CLASSES = ("vehicle", "pedestrian", "barrier", "pole", "building")
EVENT_TYPES = ("crash", "skid", "thunder", "overtake", "gear_shift")


def pick(rng: np.random.Generator, options) -> str:
    options = sorted(options)
    return options[int(rng.integers(len(options)))]


def random_object(rng: np.random.Generator, instance_id: int, box: list[int]) -> dict:
    x, z = float(rng.uniform(-25, 25)), float(rng.uniform(1, 80))
    center = [x, float(rng.uniform(-1, 1)), z]
    size = [4.5, 1.8, 1.5]
    corners = [[x + sx * 2, sy * 0.7, z + sz * 1] for sx in (-1, 1) for sy in (-1, 1)
               for sz in (-1, 1)]  # fmt: skip
    return {
        "instance_id": instance_id,
        "class": pick(rng, OBJECT_CLASSES),
        "bbox2d": box,
        "visible_px": (box[2] - box[0]) * (box[3] - box[1]),
        "bbox3d_world": {"center": [1.0, 2.0, 0.7], "size": size, "yaw": 0.3},
        "bbox3d_cam": {"center": center, "size": size, "corners": corners},
        "distance_m": math.sqrt(x * x + z * z),
    }


def random_events(rng: np.random.Generator) -> list[dict]:
    n = int(rng.integers(0, 3))
    return [{"type": pick(rng, EVENT_TYPES), "time_s": float(rng.uniform(0, 5))} for _ in range(n)]


def random_meta(rng: np.random.Generator, objects: list[dict], width: int = 32,
                height: int = 24, scenario_id: int = 7, frame: int = 3) -> dict:  # fmt: skip
    """Metadata with every field of docs/internals.md, values drawn from ``rng``."""
    shape = pick(rng, ENUMS[("road", "shape")])
    curvature = 0.0 if shape == "straight" else float(rng.uniform(0.001, 0.03))
    return {
        "seed": 11, "dataset_seed": 1, "scenario_id": scenario_id, "split": "train",
        "frame": frame, "time_s": frame * 0.2,
        "weather": {"preset": "custom", "family": pick(rng, ENUMS[("weather", "family")]),
                    "time_of_day": pick(rng, ENUMS[("weather", "time_of_day")]),
                    "visibility_m": float(rng.choice([80.0, 500.0, 5000.0])),
                    "surface": pick(rng, ENUMS[("weather", "surface")]), "fog_density": 0.1},
        "driver": {"style": pick(rng, ENUMS[("driver", "style")]), "policy_id": "ppo-1"},
        "road": {"kind": "circuit", "shape": shape,
                 "curvature_ahead": curvature if shape == "left_curve" else -curvature,
                 "lanes": 2, "lane_index": 0, "lateral_offset_m": 0.1, "speed_limit_mps": 25.0},
        "ego": {"speed_mps": float(rng.choice([0.0, rng.uniform(0, 45)])), "accel_mps2": 0.5,
                "yaw_rate": 0.01, "steer": 0.02, "throttle": 0.4, "brake": 0.0, "gear": 3,
                "rpm": 3000.0, "wheel_slip": {"ratio": [0.0] * 4, "angle": [0.0] * 4},
                "damage": {"front": 0.0, "rear": 0.0, "left": 0.0, "right": 0.0},
                "position": [0.0, 0.0, 0.3], "yaw": 0.0, "surface": "dry"},
        "camera": {"name": "front", "width": width, "height": height, "fx": 20.0, "fy": 20.0,
                   "cx": width / 2, "cy": height / 2, "near": 0.1, "far": 200.0,
                   "fov_deg": 77.3, "T_world_cam": [float(i == j) for i in range(4)
                                                    for j in range(4)],
                   "depth": depth_encoding(200.0), "instances": dict(INSTANCE_ENCODING)},
        "objects": objects,
        "events": random_events(rng),
        "audio": {"sample_rate": 16000, "duration_s": 0.25,
                  "events": [pick(rng, ("engine", "rain", "thunder", "tire_squeal"))]},
        "captions": [],
        "classes": class_table(),
    }  # fmt: skip


def make_sample(seed: int = 0, height: int = 24, width: int = 32, n_objects: int = 2,
                frame: int = 3) -> Sample:  # fmt: skip
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, 5, size=(height, width), dtype=np.uint8)
    inst = np.zeros((height, width), np.uint16)
    objects = []
    for i in range(n_objects):
        x0, y0 = 2 + 7 * i, 2 + 5 * i
        box = [x0, y0, x0 + 5, y0 + 4]
        obj = random_object(rng, 100 + i, box)
        inst[y0 : y0 + 4, x0 : x0 + 5] = obj["instance_id"]
        seg[y0 : y0 + 4, x0 : x0 + 5] = CLASS_IDS[obj["class"]]
        objects.append(obj)
    meta = random_meta(rng, objects, width, height, frame=frame)
    meta["captions"] = generate_captions(meta, rng)
    t = np.arange(4000) / 16000
    audio = (0.5 * np.sin(2 * np.pi * 440 * t) * rng.uniform(0.5, 1)).astype(np.float32)
    return Sample(
        key=f"00000007_front_{frame:05d}",
        rgb=rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8),
        depth=np.where(rng.random((height, width)) < 0.2, 0.0,
                       rng.uniform(0.1, 200.0, (height, width))).astype(np.float32),
        seg=seg,
        inst=inst,
        audio=audio,
        txt=meta["captions"][0]["text"],
        meta=meta,
    )
