"""Planning the factory's next data from the boards' feedback (``drivesynth edge plan``).

Feedback says which inputs a board found hard, in the model's own label space: a model that
never learned "night" cannot say that its hard inputs are night frames (docs/loop.md). The
factory can: it generates labelled **probe** samples itself (``drivesynth generate``, every
preset drawn uniformly, a seed of its own), embeds them and the boards' hard inputs with the
same bundle, and looks at each hard input's ``k`` nearest probes (cosine of the image
embeddings). A night frame is dark, so it lies near night probes even when the model calls
it dusk.

What a hard input adds, per weather task (``weather_family``, ``time_of_day``) the bundle
classifies: each of its ``k`` neighbours votes ``1/k`` for its own (true) label, and the vote
counts only when the model's top-1 label for the input is not that label: the mass is the
input's expected mistake under the labels of its neighbourhood. An input whose neighbours
are night probes and which the model calls dusk adds 1 to night's ``mistakes``; a day frame
called day adds nothing, however unsure the model was. Every vote, mistake or not, adds to
the label's ``votes``. A label's ``hard_mass`` is its mistakes times its mistake rate
(mistakes / votes): a condition the model cannot name is wrong every time (rate 1) and keeps
all its mistakes, while a label the model mostly gets right (a day frame now and then called
night) keeps only a fraction of them. ``hard_mass`` is read by ``drivesynth generate --focus
PLAN.json`` (datagen/focus.py) exactly as it reads the masses of feedback shards.

The plan is a pure function of its inputs (no clock, sorted keys): it records the method,
``k``, the bundle (id, version, variant), the sha256 of every feedback shard and of the probe
set's manifest and shards, the probe labels' counts, and per hard input its key, the model's
labels and the neighbours' label counts, so every unit of mass can be traced to its input.

A clip bundle (``train --clip-frames``) embeds clips, not images: the feedback samples'
``frames.npy.gz`` (the frames the board read) and the probes' (``generate --clip-frames``),
taken by the bundle's sampling rule (:func:`edge.runtime.video.sample_indices`); samples or
probes without frames are not used (counted as ``without_image``).

Only numpy, Pillow, onnxruntime (through :class:`~edge.runtime.classify.EdgeModel`) and the
standard library: no torch, nothing of the other packages.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge.runtime.bundle import sha256_file
from edge.runtime.classify import EdgeModel, retrieve
from edge.runtime.feedback import FRAMES_FILE, SAMPLE_FORMAT, SHARD, decode_frames
from edge.runtime.identity import describe
from edge.runtime.preprocess import preprocess_image
from edge.runtime.video import sample_indices

PLAN_FORMAT = "drivesynth-focus-plan/1"
METHOD = "knn-cosine-mistakes-times-rate"
# the sample json fields of the two weather tasks (docs/internals.md, the shard schema)
TASK_FIELDS: dict[str, tuple[str, str]] = {"weather_family": ("weather", "family"),
                                           "time_of_day": ("weather", "time_of_day")}  # fmt: skip
IMAGE_SUFFIXES = ("rgb.png", "rgb.jpg", "rgb.jpeg")
MAX_MEMBER = 16 << 20  # a larger tar member is refused
MAX_SAMPLES = 200_000  # feedback inputs or probes
ROUND = 6


@dataclass(frozen=True)
class PlanConfig:
    """``k`` nearest probes per hard input; ``batch`` images per tower call."""

    k: int = 5
    batch: int = 64

    def __post_init__(self) -> None:
        for name in ("k", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class Labelled:
    """One image (for a clip bundle: the ``frames.npy.gz`` of a clip) with its key and either
    its feedback record or its true labels."""

    key: str
    image: bytes
    meta: dict[str, Any]


# ---- reading -------------------------------------------------------------------------------


def tar_samples(path: Path, name: str) -> dict[str, dict[str, bytes]]:
    """``{key: {suffix: bytes}}`` of a WebDataset tar (key: the name up to the first dot)."""
    samples: dict[str, dict[str, bytes]] = {}
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                if not member.isfile() or "." not in member.name:
                    continue
                if member.size > MAX_MEMBER:
                    raise ValueError(f"{name}: {member.name} is larger than {MAX_MEMBER} bytes")
                key, suffix = member.name.split(".", 1)
                if suffix in IMAGE_SUFFIXES or suffix in ("json", FRAMES_FILE):
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    samples.setdefault(key, {})[suffix] = data
    except (tarfile.TarError, EOFError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "truncated"
        raise ValueError(f"{name} is not a readable tar ({type(exc).__name__}: {detail})"
                         ) from None  # fmt: skip
    return samples


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{where} is not JSON") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where} is not a JSON object")
    return record


def _image(files: dict[str, bytes], clip: bool = False) -> bytes | None:
    """The visual input a bundle embeds: the image, or for a clip bundle the frames."""
    if clip:
        return files.get(FRAMES_FILE)
    return next((files[s] for s in IMAGE_SUFFIXES if s in files), None)


def _tars(folder: Path, option: str, pattern: re.Pattern[str] | None) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{option} {folder}: no such folder")
    found = sorted(p for p in folder.glob("*.tar") if pattern is None or pattern.match(p.name))
    if not found:
        what = "feedback shards (feedback-NNNNNN.tar)" if pattern else "shards (*.tar)"
        raise ValueError(f"{option} {folder}: no {what} in it")
    return found


def read_feedback_inputs(folder: Path, clip: bool = False
                         ) -> tuple[list[Labelled], dict[str, Any]]:  # fmt: skip
    """The feedback samples of ``folder`` that hold an image (``clip``: a clip's frames), and
    a record of what was read (shards with sha256, samples, those without one)."""
    inputs, files, without_image = [], [], 0
    for path in _tars(folder, "--feedback", SHARD):
        for key, parts in tar_samples(path, f"--feedback {path.name}").items():
            if "json" not in parts:
                continue
            record = _json(parts["json"], f"--feedback {path.name}: {key}.json")
            if record.get("format") != SAMPLE_FORMAT:
                raise ValueError(f"--feedback {path.name}: {key}.json is not a "
                                 f"{SAMPLE_FORMAT} record")  # fmt: skip
            image = _image(parts, clip)
            if image is None:
                without_image += 1
            else:
                inputs.append(Labelled(key, image, record))
        files.append([path.name, sha256_file(path)])
        if len(inputs) > MAX_SAMPLES:
            raise ValueError(f"--feedback {folder}: more than {MAX_SAMPLES} samples")
    if not inputs:
        what = f"a clip ({FRAMES_FILE}; the bundle is a clip bundle)" if clip else "an image"
        raise ValueError(f"--feedback {folder}: no feedback sample holds {what}")
    return inputs, {"files": files, "samples": len(inputs) + without_image,
                    "without_image": without_image}  # fmt: skip


def _labels(meta: dict[str, Any], where: str) -> dict[str, str]:
    out = {}
    for task, (group, field) in TASK_FIELDS.items():
        value = meta.get(group, {}).get(field) if isinstance(meta.get(group), dict) else None
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where} has no {group}.{field} label")
        out[task] = value
    return out


def _probe_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise ValueError(f"--probes {folder}: no manifest.json (give a folder that "
                         "`drivesynth generate` wrote)")  # fmt: skip
    manifest = _json(path.read_bytes(), f"--probes {folder}: manifest.json")
    config = manifest.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"--probes {folder}: manifest.json has no config")
    if config.get("weather") != "random" or config.get("weather_weights"):
        raise ValueError(f"--probes {folder}: the probes must be drawn uniformly over the "
                         "weather presets (generate --weather random, without --focus)")
    return {"manifest_sha256": sha256_file(path), "seed": config.get("seed"),
            "split": config.get("split"), "scenarios": config.get("scenarios"),
            "presets": config.get("weather_presets")}  # fmt: skip


def read_probes(folder: Path, clip: bool = False) -> tuple[list[Labelled], dict[str, Any]]:
    """The labelled probe images (``clip``: clips) of a generated data set, and a record of
    it (its manifest's sha256 and config essentials, shards with sha256, label counts)."""
    record = _probe_manifest(folder)
    probes, files = [], []
    for path in _tars(folder, "--probes", None):
        for key, parts in sorted(tar_samples(path, f"--probes {path.name}").items()):
            image = _image(parts, clip)
            if image is None or "json" not in parts:
                continue
            where = f"--probes {path.name}: {key}.json"
            meta = _json(parts["json"], where)
            probes.append(Labelled(key, image, _labels(meta, where)))
        files.append([path.name, sha256_file(path)])
        if len(probes) > MAX_SAMPLES:
            raise ValueError(f"--probes {folder}: more than {MAX_SAMPLES} samples")
    if not probes:
        if clip:
            raise ValueError(f"--probes {folder}: no sample with a clip ({FRAMES_FILE}) and "
                             "labels; the bundle is a clip bundle: generate the probes with "
                             "--clip-frames")  # fmt: skip
        raise ValueError(f"--probes {folder}: no sample with an image and labels")
    counts = {t: dict(sorted(Counter(p.meta[t] for p in probes).items())) for t in TASK_FIELDS}
    return probes, {**record, "files": files, "samples": len(probes), "labels": counts}


# ---- planning ------------------------------------------------------------------------------


def clip_pixels(model: EdgeModel, item: Labelled) -> np.ndarray:
    """A clip's frames (``frames.npy.gz``) as the clip tower's input ``[T, 3, S, S]``: the
    bundle's ``T`` taken by its sampling rule, each preprocessed as an image."""
    assert model.clip is not None
    frames = decode_frames(item.image, f"{item.key}.{FRAMES_FILE}")
    try:
        chosen = sample_indices(len(frames), model.clip.frames)
    except ValueError as exc:
        raise ValueError(f"{item.key}.{FRAMES_FILE}: {exc}") from None
    return np.stack([preprocess_image(Image.fromarray(frames[i]), model.image_cfg)
                     for i in chosen])  # fmt: skip


def embed(model: EdgeModel, items: list[Labelled], batch: int) -> np.ndarray:
    """L2-normalised image (clip bundles: clip) embeddings of ``items``, ``batch`` at a
    time."""
    if model.clip is not None:
        rows = [model.tower("image")(np.stack([clip_pixels(model, it)
                                               for it in items[i:i + batch]]))
                for i in range(0, len(items), batch)]  # fmt: skip
    else:
        rows = [model.embed_images([it.image for it in items[i:i + batch]])
                for i in range(0, len(items), batch)]  # fmt: skip
    out = np.concatenate(rows)
    if not np.isfinite(out).all():
        raise ValueError("the image tower produced non-finite embeddings")
    return out


def check_bundle(inputs: list[Labelled], bundle_id: str) -> None:
    """Refuse feedback another bundle logged: its hard inputs are another model's."""
    for item in inputs:
        logged = item.meta.get("bundle")
        other = logged.get("id") if isinstance(logged, dict) else None
        if other is not None and other != bundle_id:
            raise ValueError(f"--feedback: {item.key} was logged by bundle {other}, not by "
                             f"--bundle's {bundle_id}; plan with the bundle the board ran")


def input_masses(top1: str | None, neighbours: list[str], k: int) -> dict[str, float]:
    """One hard input's mass per label: ``1/k`` per neighbour whose label the model did not
    give the input (nothing when the model gave it)."""
    out: dict[str, float] = {}
    for label in neighbours:
        if label != top1:
            out[label] = out.get(label, 0.0) + 1.0 / k
    return out


def weighted(mistakes: dict[str, float], votes: dict[str, float]) -> dict[str, float]:
    """``hard_mass`` of a task: each label's mistakes times its mistake rate (mistakes over
    neighbour votes), so that a label the model gets wrong nearly always outweighs one where
    it errs now and then over many inputs."""
    return {lab: round(m * m / votes[lab], ROUND) for lab, m in sorted(mistakes.items())
            if votes.get(lab, 0.0) > 0 and m > 0}  # fmt: skip


def plan_masses(model: EdgeModel, inputs: list[Labelled], queries: np.ndarray,
                probes: list[Labelled], gallery: np.ndarray, k: int) -> dict[str, Any]:
    """Per task: the neighbour ``votes`` and ``mistakes`` per label over the hard inputs,
    the ``hard_mass``; the per-input ``trace``; the tasks the bundle does not classify
    (``tasks_without_mass``: its mistakes cannot be told)."""
    order, _ = retrieve(queries, gallery, k)
    predictions = model.classify(queries, "image")
    tasks = [t for t in TASK_FIELDS if t in model.bundle.tasks]
    votes: dict[str, Counter[str]] = {t: Counter() for t in tasks}
    mistakes: dict[str, Counter[str]] = {t: Counter() for t in tasks}
    trace = []
    for item, row, preds in zip(inputs, order, predictions):
        top1 = {p.task: p.label for p in preds}
        entry: dict[str, Any] = {"key": item.key, "model": {}, "neighbours": {}}
        for task in tasks:
            labels = [probes[int(j)].meta[task] for j in row]
            votes[task].update({lab: n / k for lab, n in Counter(labels).items()})
            mistakes[task].update(input_masses(top1.get(task), labels, k))
            entry["model"][task] = top1.get(task)
            entry["neighbours"][task] = dict(sorted(Counter(labels).items()))
        trace.append(entry)

    def table(counts: dict[str, Counter[str]]) -> dict[str, dict[str, float]]:
        return {t: {lab: round(v, ROUND) for lab, v in sorted(c.items()) if v > 0}
                for t, c in counts.items()}  # fmt: skip

    return {"votes": table(votes), "mistakes": table(mistakes),
            "hard_mass": {t: weighted(mistakes[t], votes[t]) for t in tasks},
            "inputs": trace, "tasks_without_mass": [t for t in TASK_FIELDS if t not in tasks]}


def make_plan(model: EdgeModel, feedback: Path, probes_dir: Path, cfg: PlanConfig
              ) -> dict[str, Any]:  # fmt: skip
    """The plan (a JSON object) for the feedback under ``feedback``, labelled by the probes
    of ``probes_dir`` in the embedding space of ``model``."""
    clip = model.clip is not None
    inputs, fb_record = read_feedback_inputs(feedback, clip)
    probes, probe_record = read_probes(probes_dir, clip)
    if cfg.k > len(probes):
        raise ValueError(f"--k {cfg.k} is more than the {len(probes)} probes")
    identity = describe(model.bundle.manifest)
    check_bundle(inputs, identity["id"])
    queries = embed(model, inputs, cfg.batch)
    gallery = embed(model, probes, cfg.batch)
    masses = plan_masses(model, inputs, queries, probes, gallery, cfg.k)
    return {"format": PLAN_FORMAT, "method": METHOD, "k": cfg.k, "metric": "cosine",
            "bundle": {"id": identity["id"], "version": identity["version"],
                       "variant": model.variant},
            "feedback": fb_record, "probes": probe_record, **masses}  # fmt: skip
