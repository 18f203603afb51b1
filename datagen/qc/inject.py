"""Fault injection: copy a data set, break a known subset of samples, measure QC on it.

Each fault mimics a real failure (a black or blown-out frame, a camera inside a wall, a
flipped car, a car off the road, empty or inconsistent labels, silent or clipped audio, a
NaN in the metadata, sensor noise). :func:`evaluate_qc` injects them into a copy and reports
QC's precision and recall against the injected truth, overall and per fault.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datagen.qc.report import precision_recall, run_qc, sample_id, shard_paths
from datagen.qc.shardio import RawSample, iter_raw, write_raw
from datagen.sample import DEPTH_DTYPE, DEPTH_FILE, decode_npy, encode_npy
from sim.seeding import rng_for

Fault = Callable[[RawSample, np.random.Generator], None]


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _read_png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im).copy()


def _replace(raw: RawSample, ext: str, data: bytes) -> None:
    info, _ = raw.files[ext]
    raw.files[ext] = (info, data)


def _edit_rgb(raw: RawSample, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    _replace(raw, "rgb.png", _png(fn(_read_png(raw.files["rgb.png"][1])).astype(np.uint8)))


def _edit_json(raw: RawSample, fn: Callable[[dict], None]) -> None:
    meta = json.loads(raw.files["json"][1])
    fn(meta)
    _replace(raw, "json", json.dumps(meta).encode())


def _edit_audio(raw: RawSample, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    import soundfile

    wave, sr = soundfile.read(io.BytesIO(raw.files["audio.flac"][1]), dtype="float32")
    buf = io.BytesIO()
    soundfile.write(buf, np.clip(fn(wave), -1.0, 1.0), sr, format="FLAC", subtype="PCM_16")
    _replace(raw, "audio.flac", buf.getvalue())


def black(raw: RawSample, rng: np.random.Generator) -> None:
    _edit_rgb(raw, lambda a: np.minimum(a, rng.integers(0, 4)))


def saturated(raw: RawSample, rng: np.random.Generator) -> None:
    _edit_rgb(raw, lambda a: np.maximum(a, 253))


def noise(raw: RawSample, rng: np.random.Generator) -> None:
    _edit_rgb(raw, lambda a: np.clip(a + rng.normal(0, 70, a.shape), 0, 255))


def inside_geometry(raw: RawSample, rng: np.random.Generator) -> None:
    d = decode_npy(raw.key, DEPTH_FILE, raw.files[DEPTH_FILE][1], DEPTH_DTYPE)  # metres
    _replace(raw, DEPTH_FILE, encode_npy(rng.integers(20, 250, d.shape) / 1000.0, DEPTH_DTYPE))


def flipped(raw: RawSample, rng: np.random.Generator) -> None:
    def flip(m: dict) -> None:  # roll the camera 180 degrees: negate its x and y axes
        t = m["camera"]["T_world_cam"]
        for r in range(3):
            t[4 * r], t[4 * r + 1] = -t[4 * r], -t[4 * r + 1]
    _edit_json(raw, flip)


def off_road(raw: RawSample, rng: np.random.Generator) -> None:
    def move(m: dict) -> None:
        m.setdefault("road", {})["lateral_offset_m"] = float(rng.uniform(20, 60))
    _edit_json(raw, move)


def empty_labels(raw: RawSample, rng: np.random.Generator) -> None:
    seg = _read_png(raw.files["seg.png"][1])
    _replace(raw, "seg.png", _png(np.zeros_like(seg)))


def inconsistent_labels(raw: RawSample, rng: np.random.Generator) -> None:
    def ghost(m: dict) -> None:
        m.setdefault("objects", []).append(
            {"instance_id": 65000, "class": "vehicle", "bbox2d": [0, 0, 4, 4], "visible_px": 16})
    _edit_json(raw, ghost)


def silent(raw: RawSample, rng: np.random.Generator) -> None:
    _edit_audio(raw, lambda w: np.zeros_like(w))


def clipped(raw: RawSample, rng: np.random.Generator) -> None:
    _edit_audio(raw, lambda w: w / (np.abs(w).max() + 1e-9) * 4.0)


def nan(raw: RawSample, rng: np.random.Generator) -> None:
    _edit_json(raw, lambda m: m.setdefault("ego", {}).__setitem__("speed_mps", float("nan")))


FAULTS: dict[str, Fault] = {
    "black": black, "saturated": saturated, "noise": noise, "inside_geometry": inside_geometry,
    "flipped": flipped, "off_road": off_road, "empty_labels": empty_labels,
    "inconsistent_labels": inconsistent_labels, "silent": silent, "clipped": clipped,
    "nan": nan,
}


def inject_faults(src: Path, dst: Path, fraction: float, seed: int) -> dict[str, str]:
    """Copy ``src``'s shards to ``dst`` breaking ``fraction`` of samples; sample id
    (:func:`datagen.qc.report.sample_id`) -> fault name."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = rng_for(seed, "qc_inject")
    dst.mkdir(parents=True, exist_ok=False)
    names = list(FAULTS)
    truth: dict[str, str] = {}
    for path in shard_paths(src):
        samples = list(iter_raw(path))
        for raw in samples:
            if rng.random() < fraction:
                name = names[len(truth) % len(names)]
                FAULTS[name](raw, rng)
                truth[sample_id(path.name, raw.key)] = name
        write_raw(dst / path.name, samples)
    if (src / "manifest.json").is_file():
        shutil.copy2(src / "manifest.json", dst / "manifest.json")
    return truth


def evaluate_qc(src: Path, work: Path, fraction: float = 0.1, seed: int = 0) -> dict:
    """Inject faults into a copy of ``src`` under ``work``; QC's precision/recall on them."""
    truth = inject_faults(src, work, fraction, seed)
    report = run_qc(work)
    result = precision_recall(report.flagged, set(truth))
    per_fault: dict[str, list[int]] = {}
    for key, fault in truth.items():
        per_fault.setdefault(fault, [0, 0])[0] += key in report.flagged
        per_fault[fault][1] += 1
    result["recall_by_fault"] = {f: hit / n for f, (hit, n) in sorted(per_fault.items())}
    result["false_alarms"] = sorted(report.flagged - set(truth))
    return result
