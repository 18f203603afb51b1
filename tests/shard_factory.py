"""The one test factory for samples and shards: the real schema, written by the real writer.

Every synthetic sample here is a :class:`datagen.sample.Sample` whose json is complete
(every field of ``datagen.schema.REQUIRED_JSON``, enum values from ``sim.vocabulary``, the
camera's depth/instance encodings, ``sim.classes.class_table()``, captions), and every
shard is written by :func:`datagen.shards.write_shard` with validation on: a sample the
schema refuses fails the test that makes it. Nothing here needs PyBullet; arrays come from
numpy, so a sample costs a few milliseconds.

Two kinds of sample:

- :func:`make_sample`: realistic labels for the datagen tests (schema, captions, QC,
  readers): random objects with tight instance masks, random weather, road, events, and
  captions from ``datagen.captions``.
- :func:`labelled_sample`: a learnable signal for the multimodal and edge tests (training,
  loaders, export): image colour by weather, brightness by time of day, audio pitch by
  weather, loudness by driver style, captions naming the three labels. :func:`write_shards`
  writes sets of them; which labels a scenario gets is a :class:`LabelCycle`.

Tests of failure paths make their broken bytes themselves (from ``encode_sample`` of a
sample made here) and say so; nothing here is invalid on purpose.

Importable from every test folder as ``shard_factory`` (``tests/`` is on ``sys.path``: pytest
puts the folder of the root ``tests/conftest.py`` there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datagen.captions import generate_captions
from datagen.sample import INSTANCE_ENCODING, Sample, depth_encoding
from datagen.schema import ENUMS
from datagen.shards import write_shard
from sim.classes import CLASS_IDS, class_table

CAMERA = "front"
FAR_M = 200.0
SAMPLE_RATE = 16000

# ---- the metadata (json) of every sample -----------------------------------------------------


def sample_meta(*, width: int, height: int, scenario_id: int, frame: int, weather: str = "clear",
                time_of_day: str = "day", style: str = "normal", surface: str = "dry",
                visibility_m: float = 500.0, preset: str | None = None,
                policy_id: str | None = None, road_shape: str = "straight",
                curvature_ahead: float = 0.0, speed_mps: float = 10.0,
                objects: Sequence[dict] = (), events: Sequence[dict] = (),
                audio_events: Sequence[str] = (), duration_s: float = 1.0,
                sample_rate: int = SAMPLE_RATE, captions: Sequence[dict] = (),
                split: str = "train", seed: int = 0, dataset_seed: int = 0) -> dict:  # fmt: skip
    """A json with every field of docs/internals.md (and a few extras the generator writes).

    Captions may be left empty for a caller that generates them from this meta; a sample
    needs at least one (``json.captions[0].text`` is its ``txt``)."""
    return {
        "seed": seed, "dataset_seed": dataset_seed, "scenario_id": scenario_id, "split": split,
        "frame": frame, "time_s": frame * 0.2,
        "weather": {"preset": weather if preset is None else preset, "family": weather,
                    "time_of_day": time_of_day, "visibility_m": visibility_m,
                    "surface": surface, "fog_density": 0.1},
        "driver": {"style": style, "policy_id": f"{style}-0" if policy_id is None else policy_id},
        "road": {"kind": "circuit", "shape": road_shape, "curvature_ahead": curvature_ahead,
                 "lanes": 2, "lane_index": 0, "lateral_offset_m": 0.1, "speed_limit_mps": 25.0},
        "ego": {"speed_mps": speed_mps, "accel_mps2": 0.5, "yaw_rate": 0.01, "steer": 0.02,
                "throttle": 0.4, "brake": 0.0, "gear": 3, "rpm": 3000.0,
                "wheel_slip": {"ratio": [0.0] * 4, "angle": [0.0] * 4},
                "damage": {"front": 0.0, "rear": 0.0, "left": 0.0, "right": 0.0},
                "position": [0.0, 0.0, 0.3], "yaw": 0.0, "surface": "dry"},
        "camera": {"name": CAMERA, "width": width, "height": height, "fx": 20.0, "fy": 20.0,
                   "cx": width / 2, "cy": height / 2, "near": 0.1, "far": FAR_M,
                   "fov_deg": 77.3, "T_world_cam": [float(i == j) for i in range(4)
                                                    for j in range(4)],
                   "depth": depth_encoding(FAR_M), "instances": dict(INSTANCE_ENCODING)},
        "objects": list(objects),
        "events": list(events),
        "audio": {"sample_rate": sample_rate, "duration_s": duration_s,
                  "events": list(audio_events)},
        "captions": list(captions),
        "classes": class_table(),
    }  # fmt: skip


def sample_key(scenario_id: int, frame: int) -> str:
    """``{scenario:08d}_{camera}_{frame:05d}``, as the schema wants it."""
    return f"{scenario_id:08d}_{CAMERA}_{frame:05d}"


# ---- realistic samples (datagen tests) -------------------------------------------------------

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
    """:func:`sample_meta` with weather, road, speed and events drawn from ``rng`` (captions
    left empty: :func:`make_sample` generates them from this meta)."""
    shape = pick(rng, ENUMS[("road", "shape")])
    curvature = 0.0 if shape == "straight" else float(rng.uniform(0.001, 0.03))
    weather = pick(rng, ENUMS[("weather", "family")])
    time_of_day = pick(rng, ENUMS[("weather", "time_of_day")])
    visibility_m = float(rng.choice([80.0, 500.0, 5000.0]))
    surface = pick(rng, ENUMS[("weather", "surface")])
    style = pick(rng, ENUMS[("driver", "style")])
    speed_mps = float(rng.choice([0.0, rng.uniform(0, 45)]))
    events = random_events(rng)
    audio_events = [pick(rng, ("engine", "rain", "thunder", "tire_squeal"))]
    return sample_meta(
        width=width, height=height, scenario_id=scenario_id, frame=frame, weather=weather,
        time_of_day=time_of_day, style=style, surface=surface, visibility_m=visibility_m,
        preset="custom", policy_id="ppo-1", road_shape=shape,
        curvature_ahead=curvature if shape == "left_curve" else -curvature,
        speed_mps=speed_mps, objects=objects, events=events, audio_events=audio_events,
        duration_s=0.25, split="train", seed=11, dataset_seed=1,
    )  # fmt: skip


def make_sample(seed: int = 0, height: int = 24, width: int = 32, n_objects: int = 2,
                frame: int = 3) -> Sample:  # fmt: skip
    """A valid sample of scenario 7 with ``n_objects`` objects (tight masks, consistent
    classes), random images and depth, a 0.25 s tone and generated captions."""
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
    t = np.arange(4000) / SAMPLE_RATE
    audio = (0.5 * np.sin(2 * np.pi * 440 * t) * rng.uniform(0.5, 1)).astype(np.float32)
    return Sample(
        key=sample_key(meta["scenario_id"], frame),
        rgb=rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8),
        depth=np.where(
            rng.random((height, width)) < 0.2, 0.0, rng.uniform(0.1, FAR_M, (height, width))
        ).astype(np.float32),
        seg=seg,
        inst=inst,
        audio=audio,
        txt=meta["captions"][0]["text"],
        meta=meta,
    )


# ---- learnable samples and shard sets (multimodal and edge tests) ----------------------------

# One value per entry of sim.vocabulary, so that any label the schema allows has a signal.
WEATHER_RGB = {"clear": (70, 140, 230), "rain": (90, 90, 110), "snow": (235, 235, 245),
               "fog": (170, 180, 160), "cloudy": (150, 155, 165), "storm": (45, 50, 70),
               "dust": (200, 160, 100)}  # fmt: skip
WEATHER_HZ = {"clear": 180.0, "rain": 420.0, "snow": 900.0, "fog": 1800.0, "cloudy": 260.0,
              "storm": 600.0, "dust": 1300.0}  # fmt: skip
WEATHER_SURFACE = {"rain": "wet", "storm": "wet", "snow": "snow"}  # else dry
TIME_GAIN = {"day": 1.0, "night": 0.3, "dawn": 0.7, "dusk": 0.55}
STYLE_AMPLITUDE = {"aggressive": 0.5, "cautious": 0.1, "normal": 0.3, "erratic": 0.4}
IMAGE_NOISE, AUDIO_NOISE = 8.0, 0.01


@dataclass(frozen=True)
class LabelCycle:
    """The labels of scenario ``s``: weather ``s % W``, then time of day, then style (each
    advancing once the previous ones have gone round)."""

    weathers: tuple[str, ...] = ("clear", "rain", "snow", "fog")
    times: tuple[str, ...] = ("day", "night")
    styles: tuple[str, ...] = ("aggressive", "cautious")

    def __call__(self, scenario: int) -> tuple[str, str, str]:
        w, t = len(self.weathers), len(self.times)
        return (self.weathers[scenario % w], self.times[(scenario // w) % t],
                self.styles[(scenario // (w * t)) % len(self.styles)])  # fmt: skip


DEFAULT_LABELS = LabelCycle()


def label_captions(weather: str, time_of_day: str, style: str) -> list[dict]:
    """Three captions (families ``template``, ``descriptive``, ``question``) naming the
    labels."""
    w, t, s = weather, time_of_day, style
    return [
        {"text": f"driving in {w} weather at {t}, {s} driver", "family": "template"},
        {"text": f"a {s} driver on a {w} road during the {t}", "family": "descriptive"},
        {"text": f"is it {w} at {t} with a {s} driver?", "family": "question"},
    ]


def signal_image(weather: str, time_of_day: str, rng: np.random.Generator,
                 height: int, width: int) -> np.ndarray:  # fmt: skip
    """Colour by weather, brightness by time of day, a darker road in the lower half."""
    base = np.array(WEATHER_RGB[weather], dtype=np.float32) * TIME_GAIN[time_of_day]
    img = np.tile(base, (height, width, 1))
    img[height // 2 :] *= 0.5
    img += rng.normal(0, IMAGE_NOISE, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def signal_audio(weather: str, style: str, rng: np.random.Generator, n: int,
                 sample_rate: int) -> np.ndarray:  # fmt: skip
    """A tone: pitch by weather, loudness by driver style, a little noise."""
    t = np.arange(n) / sample_rate
    wave = STYLE_AMPLITUDE[style] * np.sin(2 * np.pi * WEATHER_HZ[weather] * t)
    wave = wave + rng.normal(0, AUDIO_NOISE, t.shape)
    return np.clip(wave, -1.0, 1.0).astype(np.float32)


def road_labels(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth, seg and instances of an empty road: sky (no hit) above, road below, nearer
    towards the bottom; no objects."""
    depth = np.zeros((height, width), np.float32)
    seg = np.full((height, width), CLASS_IDS["sky"], np.uint8)
    rows = np.arange(height - height // 2, dtype=np.float32)
    depth[height // 2 :] = (60.0 / (1.0 + rows))[:, None]
    seg[height // 2 :] = CLASS_IDS["road"]
    return depth, seg, np.zeros((height, width), np.uint16)


def labelled_sample(scenario: int, frame: int, seed: int = 0, *,
                    size: int | tuple[int, int] = 64, labels: LabelCycle = DEFAULT_LABELS,
                    captions: Callable[[str, str, str], list[dict]] = label_captions,
                    duration_s: float = 1.0, sample_rate: int = SAMPLE_RATE,
                    split: str = "train") -> Sample:  # fmt: skip
    """Frame ``frame`` of scenario ``scenario``, its labels from ``labels``; ``size`` is the
    image side or ``(height, width)``; ``captions(weather, time_of_day, style)`` gives the
    captions (the first is the ``txt``). Deterministic in (seed, scenario, frame)."""
    height, width = (size, size) if isinstance(size, int) else size
    weather, time_of_day, style = labels(scenario)
    rng = np.random.default_rng([seed, scenario, frame])
    rgb = signal_image(weather, time_of_day, rng, height, width)
    audio = signal_audio(weather, style, rng, round(duration_s * sample_rate), sample_rate)
    depth, seg, inst = road_labels(height, width)
    caps = captions(weather, time_of_day, style)
    meta = sample_meta(
        width=width, height=height, scenario_id=scenario, frame=frame, weather=weather,
        time_of_day=time_of_day, style=style, surface=WEATHER_SURFACE.get(weather, "dry"),
        captions=caps, duration_s=duration_s, sample_rate=sample_rate, split=split,
        seed=seed + scenario, dataset_seed=seed,
    )  # fmt: skip
    txt = caps[0]["text"] if caps else ""
    return Sample(sample_key(scenario, frame), rgb, depth, seg, inst, audio, txt, meta)


@dataclass(frozen=True)
class ShardSet:
    urls: str  # webdataset brace notation over all the shards
    n_scenarios: int
    frames: int
    paths: tuple[Path, ...]


def write_shards(out: Path, prefix: str, scenarios: Sequence[int], frames: int, n_shards: int,
                 seed: int = 0, **options) -> ShardSet:  # fmt: skip
    """Shards ``out/PREFIX-000000.tar``... of :func:`labelled_sample` s (``options`` go to it;
    ``json.split`` is ``prefix``): scenario ``i`` of ``scenarios`` goes to shard
    ``i % n_shards``, all its frames in order. Written by ``datagen.shards.write_shard`` with
    validation on."""
    out.mkdir(parents=True, exist_ok=True)
    per_shard: list[list[Sample]] = [[] for _ in range(n_shards)]
    for index, scenario in enumerate(scenarios):
        per_shard[index % n_shards] += [
            labelled_sample(scenario, frame, seed, split=prefix, **options)
            for frame in range(frames)
        ]
    paths = []
    for i, samples in enumerate(per_shard):
        info = write_shard(out / f"{prefix}-{i:06d}.tar", samples, validate=True)
        paths.append(out / info.name)
    urls = str(out / f"{prefix}-{{000000..{n_shards - 1:06d}}}.tar")
    return ShardSet(urls, len(scenarios), frames, tuple(paths))
