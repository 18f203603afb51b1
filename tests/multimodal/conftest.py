"""Controlled test shards following the docs/design.md schema exactly.

Written with webdataset.TarWriter so that each label has a known, strong signal (image
colour by weather, brightness by time of day, audio pitch by weather, loudness by style):
the learning, DDP-equivalence and resume tests need a task a few CPU steps can learn.
Training and evaluation on shards from the real generator are tested in
``test_real_shards.py``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

WEATHER_RGB = {"clear": (70, 140, 230), "rain": (90, 90, 110), "snow": (235, 235, 245),
               "fog": (170, 180, 160)}  # fmt: skip
WEATHER_HZ = {"clear": 180.0, "rain": 420.0, "snow": 900.0, "fog": 1800.0}
TIME_GAIN = {"day": 1.0, "night": 0.3}
STYLES = ("aggressive", "cautious")
FAMILIES = ("template", "descriptive", "question")


@dataclass(frozen=True)
class ShardSet:
    urls: str
    n_scenarios: int
    frames: int
    paths: tuple[Path, ...]


def scenario_labels(scenario: int) -> tuple[str, str, str]:
    weathers = list(WEATHER_RGB)
    return (weathers[scenario % 4], ("day", "night")[(scenario // 4) % 2],
            STYLES[(scenario // 8) % 2])  # fmt: skip


def make_image(weather: str, tod: str, rng: np.random.Generator, size: int = 64) -> bytes:
    base = np.array(WEATHER_RGB[weather], dtype=np.float32) * TIME_GAIN[tod]
    img = np.tile(base, (size, size, 1))
    img[size // 2 :] *= 0.5  # road in the lower half
    img += rng.normal(0, 8, img.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def make_audio(weather: str, style: str, rng: np.random.Generator) -> bytes:
    t = np.arange(16000) / 16000.0
    amp = 0.5 if style == "aggressive" else 0.1
    wave = amp * np.sin(2 * np.pi * WEATHER_HZ[weather] * t) + rng.normal(0, 0.01, t.shape)
    buf = io.BytesIO()
    soundfile.write(buf, wave.astype(np.float32), 16000, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def captions(weather: str, tod: str, style: str) -> list[dict]:
    return [
        {"text": f"driving in {weather} weather at {tod}, {style} driver", "family": "template"},
        {"text": f"a {style} driver on a {weather} road during the {tod}", "family": "descriptive"},
        {"text": f"is it {weather} at {tod} with a {style} driver?", "family": "question"},
    ]


def sample(scenario: int, frame: int, seed: int) -> dict:
    weather, tod, style = scenario_labels(scenario)
    rng = np.random.default_rng([seed, scenario, frame])
    caps = captions(weather, tod, style)
    meta = {
        "seed": seed + scenario, "dataset_seed": seed, "scenario_id": scenario, "split": "test",
        "frame": frame, "time_s": frame / 5.0,
        "weather": {"preset": weather, "family": weather, "time_of_day": tod,
                    "visibility_m": 500.0, "surface": "dry"},
        "driver": {"style": style, "policy_id": f"{style}-0"},
        "audio": {"sample_rate": 16000, "duration_s": 1.0, "events": []},
        "captions": caps, "objects": [], "classes": [],
    }  # fmt: skip
    return {
        "__key__": f"{scenario:08d}_front_{frame:05d}",
        "rgb.png": make_image(weather, tod, rng),
        "audio.flac": make_audio(weather, style, rng),
        "txt": caps[0]["text"],
        "json": json.dumps(meta).encode(),
    }


def write_shards(out: Path, prefix: str, scenarios: range, frames: int, n_shards: int,
                 seed: int = 0) -> ShardSet:  # fmt: skip
    import webdataset as wds

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{prefix}-{i:06d}.tar" for i in range(n_shards)]
    writers = [wds.TarWriter(str(p)) for p in paths]
    for index, scenario in enumerate(scenarios):
        for frame in range(frames):
            writers[index % n_shards].write(sample(scenario, frame, seed))
    for w in writers:
        w.close()
    urls = str(out / f"{prefix}-{{000000..{n_shards - 1:06d}}}.tar")
    return ShardSet(urls, len(scenarios), frames, tuple(paths))


@pytest.fixture(scope="session")
def shard_set(tmp_path_factory) -> dict[str, ShardSet]:
    """Train (scenarios 0-31) and held-out val (32-47) shards."""
    root = tmp_path_factory.mktemp("shards")
    return {
        "train": write_shards(root, "train", range(0, 32), frames=4, n_shards=3),
        "val": write_shards(root, "val", range(32, 48), frames=2, n_shards=1),
    }
