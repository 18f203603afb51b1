"""Observing inputs on the board: folders of files grouped into samples, predictions with
their margins, and what goes back as feedback (:mod:`edge.runtime.feedback`).

A sample is an image, a sound or both. In a folder, files are grouped by their name up to
the first dot, as WebDataset groups a sample's files: ``cam1_0042.png`` and
``cam1_0042.flac`` (or ``0042.rgb.png`` and ``0042.audio.flac``) are one sample whose two
towers can then be compared. Hidden files (a leading dot) are skipped, and so are files
modified less than ``settle_s`` seconds ago (a camera may still be writing them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.runtime.classify import EdgeModel
from edge.runtime.feedback import (
    MAX_LOGGED_FILE,
    FeedbackConfig,
    FeedbackLog,
    FeedbackSample,
    flag,
    sample_key,
)
from edge.runtime.identity import describe
from edge.runtime.mel import log_mel
from edge.runtime.preprocess import load_waveform, preprocess_image

IMAGE_EXTS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".bmp": "bmp", ".gif": "gif",
              ".tif": "tiff", ".tiff": "tiff", ".webp": "webp", ".ppm": "ppm"}  # fmt: skip
AUDIO_EXTS = {".flac": "flac", ".wav": "wav", ".ogg": "ogg", ".aiff": "aiff", ".aif": "aiff",
              ".mp3": "mp3"}  # fmt: skip
ROUND = 6


@dataclass(frozen=True)
class InputSample:
    """One sample to observe: its name and its image and/or sound file."""

    name: str
    image: Path | None = None
    audio: Path | None = None

    def signature(self) -> tuple:
        """Changes when a file of the sample is replaced or rewritten."""
        out = []
        for path in (self.image, self.audio):
            if path is not None:
                st = path.stat()
                out.append((str(path), st.st_size, st.st_mtime_ns))
        return tuple(out)


@dataclass
class Observation:
    """The predictions for one sample, with what feedback needs."""

    sample: InputSample
    predictions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (member suffix, bytes)
    too_large: bool = False
    error: str | None = None

    @property
    def image_audio_cosine(self) -> float | None:
        if "image" in self.embeddings and "audio" in self.embeddings:
            return float(self.embeddings["image"] @ self.embeddings["audio"])
        return None

    def report(self, reasons: list[str] | None = None, status: str | None = None
               ) -> dict[str, Any]:  # fmt: skip
        out: dict[str, Any] = {"sample": self.sample.name, "inputs": {
            m: str(p) for m, p in (("image", self.sample.image), ("audio", self.sample.audio))
            if p is not None}}  # fmt: skip
        if self.error is not None:
            out["error"] = self.error
            return out
        out["predictions"] = {
            m: {t: {"label": p["label"], "score": round(p["score"], 4),
                    "margin": round(p["margin"], 4)} for t, p in tasks.items()}
            for m, tasks in self.predictions.items()}  # fmt: skip
        if self.image_audio_cosine is not None:
            out["image_audio_cosine"] = round(self.image_audio_cosine, 4)
        if reasons is not None:
            out["feedback"] = {"reasons": reasons, "status": status}
        return out


def group_folder(folder: str | os.PathLike[str], settle_s: float = 0.0,
                 now: float | None = None) -> tuple[list[InputSample], list[str]]:  # fmt: skip
    """The samples of a folder (sorted by name) and the names of files skipped, with why."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no such input folder: {folder}")
    if not folder.is_dir():
        raise ValueError(f"--inputs {folder} is not a folder")
    now = time.time() if now is None else now
    groups: dict[str, dict[str, list[Path]]] = {}
    skipped = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith("."):
            continue
        ext = path.suffix.lower()
        kind = "image" if ext in IMAGE_EXTS else "audio" if ext in AUDIO_EXTS else None
        if kind is None:
            continue
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if not path.is_file():
            skipped.append(f"{name}: not a regular file")
            continue
        if now - st.st_mtime < settle_s:
            groups.setdefault(name.split(".")[0], {}).setdefault("unsettled", []).append(path)
            continue
        groups.setdefault(name.split(".")[0], {}).setdefault(kind, []).append(path)
    samples = []
    for key in sorted(groups):
        group = groups[key]
        if "unsettled" in group:
            continue  # wait until every file of the sample has settled
        chosen: dict[str, Path | None] = {}
        for kind, role in (("image", "rgb"), ("audio", "audio")):
            paths = group.get(kind, [])
            if len(paths) > 1:  # 0042.rgb.png beside 0042.seg.png: the rgb one is the input
                paths = [p for p in paths if p.name.split(".")[1:2] == [role]] or paths
            if len(paths) > 1:
                skipped.append(f"{key}: {len(paths)} {kind} files ({paths[0].name}, "
                               f"{paths[1].name}); name one {key}.{role}.*")  # fmt: skip
                chosen = {}
                break
            chosen[kind] = paths[0] if paths else None
        if chosen and (chosen["image"] or chosen["audio"]):
            samples.append(InputSample(key, chosen["image"], chosen["audio"]))
    return samples, skipped


def pair_inputs(images: list[str], audios: list[str]) -> list[InputSample]:
    """``edge run --image ... --audio ...``: as many images as sounds are paired in order;
    otherwise each file is a sample of its own."""
    if len(images) == len(audios):
        return [InputSample(Path(i).name, Path(i), Path(a)) for i, a in zip(images, audios)]
    return ([InputSample(Path(i).name, image=Path(i)) for i in images]
            + [InputSample(Path(a).name, audio=Path(a)) for a in audios])  # fmt: skip


def _read(path: Path) -> bytes | None:
    """The file's bytes, or None when it is larger than what feedback logs (read by path)."""
    if path.stat().st_size > MAX_LOGGED_FILE:
        return None
    with open(path, "rb") as fh:
        return fh.read(MAX_LOGGED_FILE + 1)


def _named(exc: ValueError, path: Path) -> str:
    return str(exc).replace("<bytes>", str(path)).splitlines()[0]


def _prepare(model: EdgeModel, sample: InputSample, obs: Observation) -> dict[str, np.ndarray]:
    """Read and preprocess the sample's files (the bytes read are those classified)."""
    inputs = {}
    for modality, path, exts in (("image", sample.image, IMAGE_EXTS),
                                 ("audio", sample.audio, AUDIO_EXTS)):  # fmt: skip
        if path is None:
            continue
        if not path.is_file():
            raise (FileNotFoundError if not path.exists() else ValueError)(
                f"{modality} input {path} is missing or not a regular file")
        data = _read(path)
        source = data if data is not None else path
        try:
            if modality == "image":
                inputs["image"] = preprocess_image(source, model.image_cfg)
            else:
                inputs["audio"] = load_waveform(source, model.audio_cfg)
        except ValueError as exc:
            raise ValueError(_named(exc, path)) from None
        if data is None:
            obs.too_large = True
        else:
            role = "rgb" if modality == "image" else "audio"
            obs.files.append((f"{role}.{exts.get(path.suffix.lower(), 'bin')}", data))
    return inputs


def _margin(probabilities: dict[str, float]) -> float:
    top = sorted(probabilities.values(), reverse=True)
    return top[0] - (top[1] if len(top) > 1 else 0.0)


def observe(model: EdgeModel, samples: list[InputSample], strict: bool = False
            ) -> list[Observation]:  # fmt: skip
    """Predictions for every sample, embedded in one batch per modality.

    ``strict``: the first unusable input raises its one-line ``ValueError``; otherwise it
    becomes an observation with ``error`` set and the others go on.
    """
    observations = [Observation(sample) for sample in samples]
    prepared: dict[str, list[tuple[Observation, np.ndarray]]] = {"image": [], "audio": []}
    for obs in observations:
        try:
            for modality, array in _prepare(model, obs.sample, obs).items():
                prepared[modality].append((obs, array))
        except (ValueError, FileNotFoundError) as exc:
            if strict:
                raise
            obs.error = str(exc).splitlines()[0]
            obs.files.clear()
    for modality in ("image", "audio"):
        rows = [(o, a) for o, a in prepared[modality] if o.error is None]
        if not rows:
            continue
        batch = np.stack([a for _, a in rows])
        if modality == "image":
            emb = model.tower("image")(batch.astype(np.float32))
        else:
            emb = model.tower("audio")(log_mel(batch, model.audio_cfg.mel))
        if not np.isfinite(emb).all():
            raise ValueError(f"the {modality} tower of {model.variant} produced non-finite "
                             "embeddings (NaN or infinity) for these inputs")  # fmt: skip
        for (obs, _), row, preds in zip(rows, emb, model.classify(emb, modality)):
            obs.embeddings[modality] = row
            obs.predictions[modality] = {
                p.task: {"label": p.label, "score": p.score, "margin": _margin(p.probabilities),
                         "probabilities": p.probabilities} for p in preds}  # fmt: skip
    return observations


def bundle_record(model: EdgeModel) -> dict[str, Any]:
    """``{"id", "version", "variant"}`` of the model's bundle (recorded with feedback)."""
    info = describe(model.bundle.manifest)
    return {"id": info["id"], "version": info["version"], "variant": model.variant}


def feedback_sample(obs: Observation, cfg: FeedbackConfig) -> FeedbackSample | None:
    """What goes back for ``obs`` when a criterion flags it (None otherwise)."""
    cosine = obs.image_audio_cosine
    reasons = flag(obs.predictions, cosine, cfg)
    if not reasons or obs.error is not None:
        return None
    predictions = {
        m: {t: {"label": p["label"], "score": round(p["score"], ROUND),
                "margin": round(p["margin"], ROUND),
                "probabilities": {k: round(v, ROUND) for k, v in p["probabilities"].items()}}
            for t, p in tasks.items()}
        for m, tasks in obs.predictions.items()}  # fmt: skip
    sources = {m: p.name for m, p in (("image", obs.sample.image), ("audio", obs.sample.audio))
               if p is not None}  # fmt: skip
    record = {"sample": obs.sample.name, "sources": sources, "predictions": predictions,
              "reasons": reasons,
              "image_audio_cosine": None if cosine is None else round(cosine, ROUND)}  # fmt: skip
    margins = [p["margin"] for tasks in obs.predictions.values() for p in tasks.values()]
    return FeedbackSample(key=sample_key(obs.sample.name, obs.files), files=tuple(obs.files),
                          record=record, reasons=tuple(reasons),
                          least_margin=min(margins, default=1.0))  # fmt: skip


def log_observations(log: FeedbackLog | None, observations: list[Observation],
                     cfg: FeedbackConfig | None) -> list[dict[str, Any]]:  # fmt: skip
    """The report of each observation, its feedback reasons and status added when logging."""
    reports = []
    for obs in observations:
        if log is None or cfg is None or obs.error is not None:
            reports.append(obs.report())
            continue
        sample = feedback_sample(obs, cfg)
        status = log.add(sample, too_large=obs.too_large)
        report = obs.report(list(sample.reasons) if sample else [], status)
        if sample is not None:
            report["feedback"]["key"] = sample.key
        reports.append(report)
    return reports


def settle_outcomes(log: FeedbackLog, reports: list[dict[str, Any]]) -> None:
    """Replace the ``pending`` status of reports by where each sample went once the log has
    been flushed: ``logged`` (with its ``shard``) or ``dropped_budget``."""
    for report in reports:
        fb = report.get("feedback")
        if fb and fb.get("status") == "pending" and fb.get("key") in log.outcomes:
            outcome = log.outcomes[fb["key"]]
            if outcome == "dropped_budget":
                fb["status"] = outcome
            else:
                fb["status"], fb["shard"] = "logged", outcome


def plain_report(model: EdgeModel, observations: list[Observation], n_images: int,
                 n_audio: int, texts: list[str]) -> dict[str, Any]:  # fmt: skip
    """The report ``edge run --image/--audio/--text`` prints (as ``run_inputs`` does), made
    from observations so that logging feedback costs no second inference."""
    report: dict[str, Any] = {"variant": model.variant}
    embedded: dict[str, np.ndarray] = {}
    for modality, n in (("image", n_images), ("audio", n_audio)):
        rows = [o for o in observations if modality in o.embeddings][:n]
        if not rows:
            continue
        embedded[modality] = np.stack([o.embeddings[modality] for o in rows])
        report[modality] = [{t: {"label": p["label"], "score": round(p["score"], 4)}
                             for t, p in o.predictions[modality].items()} for o in rows]
    if texts:
        emb = model.embed_text(list(texts))
        if not np.isfinite(emb).all():
            raise ValueError(f"the text tower of {model.variant} produced non-finite "
                             "embeddings (NaN or infinity) for these inputs")  # fmt: skip
        embedded["text"] = emb
        report["text"] = [{p.task: {"label": p.label, "score": round(p.score, 4)} for p in preds}
                          for preds in model.classify(emb, "text")]  # fmt: skip
    for a, b in (("image", "audio"), ("text", "image"), ("text", "audio")):
        if a in embedded and b in embedded:
            cosine = (embedded[a] @ embedded[b].T).astype(np.float64)
            report[f"{a}_{b}_cosine"] = cosine.round(4).tolist()
    return report


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class Watcher:
    """``edge watch``: observe the samples that appear in a folder, as they settle."""

    folder: Path
    load: Callable[[], EdgeModel]  # (re)loads the model; called again when the bundle moves
    bundle_target: Callable[[], Path]  # where the bundle path points now
    log: FeedbackLog | None = None
    cfg: FeedbackConfig | None = None
    settle_s: float = 1.0
    flush_s: float = 60.0
    batch: int = 16
    seen: dict[str, tuple] = field(default_factory=dict)
    model: EdgeModel | None = None
    target: Path | None = None

    def reload_if_moved(self) -> str | None:
        """Reload the model when the bundle path now points elsewhere (``edge update``)."""
        target = self.bundle_target()
        if self.model is not None and target == self.target:
            return None
        self.model, self.target = self.load(), target
        return str(target)

    def poll(self) -> list[dict[str, Any]]:
        """Observe the new or changed settled samples once; returns their reports."""
        samples, _ = group_folder(self.folder, self.settle_s)
        present = {s.name for s in samples}
        self.seen = {k: v for k, v in self.seen.items() if k in present}
        fresh = []
        for sample in samples:
            try:
                signature = sample.signature()
            except FileNotFoundError:
                continue
            if self.seen.get(sample.name) != signature:
                fresh.append((sample, signature))
        reports = []
        for chunk in chunks(fresh, self.batch):
            assert self.model is not None
            observations = observe(self.model, [s for s, _ in chunk])
            reports += log_observations(self.log, observations, self.cfg)
            for sample, signature in chunk:
                self.seen[sample.name] = signature
        if self.log is not None and self.log.pending_since is not None \
                and time.monotonic() - self.log.pending_since >= self.flush_s:  # fmt: skip
            self.log.flush()
        return reports
