"""Observing inputs on the board: folders of files grouped into samples, predictions with
their margins, and what goes back as feedback (:mod:`edge.runtime.feedback`).

A sample is an image (for a clip bundle: a video, :mod:`edge.runtime.video`), a sound or
both. In a folder, files are grouped by their name up to
the first dot, as WebDataset groups a sample's files: ``cam1_0042.png`` and
``cam1_0042.flac`` (or ``0042.rgb.png`` and ``0042.audio.flac``) are one sample whose two
towers can then be compared. Hidden files (a leading dot) are skipped, and so are files
modified less than ``settle_s`` seconds ago (a camera may still be writing them).

For a clip bundle (:func:`group_clip_folder`) a sample's visual input is a video: a
subfolder of frames (``clip1/0001.png ...``, its sample name the folder's) or an animated
GIF/APNG/WebP file (MP4 etc. with PyAV), with an optional sound file named alike
(``clip1.flac``). Files that can only be single images (JPEG, BMP, TIFF, PPM) do not belong
in such a folder: ``edge run --inputs`` refuses the folder, ``edge watch`` skips them.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.runtime.classify import EdgeModel
from edge.runtime.feedback import (
    FRAMES_FILE,
    MAX_LOGGED_FILE,
    FeedbackConfig,
    FeedbackLog,
    FeedbackSample,
    encode_frames,
    flag,
    sample_key,
)
from edge.runtime.identity import describe
from edge.runtime.mel import log_mel
from edge.runtime.preprocess import load_waveform, preprocess_image
from edge.runtime.video import ANIMATED_EXTS, PYAV_EXTS, ClipFrames, frame_files, read_clip

IMAGE_EXTS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".bmp": "bmp", ".gif": "gif",
              ".tif": "tiff", ".tiff": "tiff", ".webp": "webp", ".ppm": "ppm"}  # fmt: skip
AUDIO_EXTS = {".flac": "flac", ".wav": "wav", ".ogg": "ogg", ".aiff": "aiff", ".aif": "aiff",
              ".mp3": "mp3"}  # fmt: skip
CLIP_FILE_EXTS = {ext: ext[1:] for ext in (*ANIMATED_EXTS, *PYAV_EXTS)}  # videos as one file
STILL_EXTS = tuple(sorted(set(IMAGE_EXTS) - set(CLIP_FILE_EXTS)))  # single images only
ROUND = 6
log = logging.getLogger(__name__)
PNG_COMPRESS_LEVEL = 3  # a video file's key frame in feedback (as the shard schema's rgb.png)


@dataclass(frozen=True)
class InputSample:
    """One sample to observe: its name and its image (or video) and/or sound file."""

    name: str
    image: Path | None = None
    audio: Path | None = None
    video: Path | None = None  # clip bundles: a frame folder or an animated file

    def signature(self) -> tuple:
        """Changes when a file of the sample is replaced or rewritten."""
        out = []
        for path in (self.image, self.video, self.audio):
            if path is not None:
                for item in frame_files(path) if path.is_dir() else [path]:
                    st = item.stat()
                    out.append((str(item), st.st_size, st.st_mtime_ns))
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
    clip: dict[str, Any] | None = None  # a clip's frame count, rate and frame size

    @property
    def image_audio_cosine(self) -> float | None:
        if "image" in self.embeddings and "audio" in self.embeddings:
            return float(self.embeddings["image"] @ self.embeddings["audio"])
        return None

    def report(self, reasons: list[str] | None = None, status: str | None = None
               ) -> dict[str, Any]:  # fmt: skip
        out: dict[str, Any] = {"sample": self.sample.name, "inputs": {
            m: str(p) for m, p in (("image", self.sample.image), ("video", self.sample.video),
                                   ("audio", self.sample.audio)) if p is not None}}  # fmt: skip
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


def input_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder`` as a Path; FileNotFoundError / ValueError (one line) when it is missing or
    not a folder."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no such input folder: {folder}")
    if not folder.is_dir():
        raise ValueError(f"--inputs {folder} is not a folder")
    return folder


def group_folder(folder: str | os.PathLike[str], settle_s: float = 0.0,
                 now: float | None = None) -> tuple[list[InputSample], list[str]]:  # fmt: skip
    """The samples of a folder (sorted by name) and the names of files skipped, with why."""
    folder = input_folder(folder)
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


def _newest_mtime(path: Path) -> float:
    """A file's mtime; a frame folder's newest (its own or a frame's)."""
    if not path.is_dir():
        return path.stat().st_mtime
    return max([path.stat().st_mtime] + [f.stat().st_mtime for f in frame_files(path)])


def group_clip_folder(folder: str | os.PathLike[str], settle_s: float = 0.0,
                      now: float | None = None
                      ) -> tuple[list[InputSample], list[str], list[str]]:  # fmt: skip
    """The clip samples of a folder (sorted by name), the names of entries skipped with why,
    and the single images found (which a clip bundle cannot read: the caller refuses or
    skips them)."""
    folder = input_folder(folder)
    now = time.time() if now is None else now
    groups: dict[str, dict[str, list[Path]]] = {}
    skipped, stills = [], []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith("."):
            continue
        ext = path.suffix.lower()
        try:
            if path.is_dir():
                kind = "video"
            elif ext in AUDIO_EXTS:
                kind = "audio"
            elif ext in CLIP_FILE_EXTS:
                kind = "video"
            elif ext in IMAGE_EXTS:
                stills.append(name)
                continue
            else:
                continue
            if not path.is_dir() and not path.is_file():
                skipped.append(f"{name}: not a regular file or a folder of frames")
                continue
            mtime = _newest_mtime(path)
        except (FileNotFoundError, ValueError) as exc:
            if not isinstance(exc, FileNotFoundError):
                skipped.append(f"{name}: {str(exc).splitlines()[0]}")
            continue
        group = groups.setdefault(name.split(".")[0], {})
        group.setdefault("unsettled" if now - mtime < settle_s else kind, []).append(path)
    samples = []
    for key in sorted(groups):
        group = groups[key]
        if "unsettled" in group:
            continue  # wait until every file of the sample has settled
        videos, audios = group.get("video", []), group.get("audio", [])
        if len(videos) > 1 or len(audios) > 1:
            many = videos if len(videos) > 1 else audios
            skipped.append(f"{key}: {len(many)} {'video' if many is videos else 'audio'} "
                           f"inputs ({many[0].name}, {many[1].name}); keep one")  # fmt: skip
            continue
        samples.append(InputSample(key, audio=audios[0] if audios else None,
                                   video=videos[0] if videos else None))  # fmt: skip
    return samples, skipped, stills


def refuse_stills(folder: Path, stills: list[str], option: str = "--inputs") -> None:
    """One line for a clip bundle's input folder that holds single images."""
    if stills:
        raise ValueError(f"{option} {folder} holds single images ({stills[0]}"
                         f"{f' and {len(stills) - 1} more' if len(stills) > 1 else ''}): the "
                         "bundle is a clip bundle and reads clips (folders of frames, "
                         "animated GIF/APNG/WebP) with their sounds; do not mix kinds in "
                         "one folder")  # fmt: skip


def pair_inputs(images: list[str], audios: list[str],
                videos: list[str] | tuple[str, ...] = ()) -> list[InputSample]:  # fmt: skip
    """``edge run --image ... --audio ...``: as many images as sounds are paired in order;
    otherwise each file is a sample of its own. Videos (clip bundles) likewise, given
    instead of images."""
    if videos:
        if len(videos) == len(audios):
            return [InputSample(Path(v).name, audio=Path(a), video=Path(v))
                    for v, a in zip(videos, audios)]  # fmt: skip
        return ([InputSample(Path(v).name, video=Path(v)) for v in videos]
                + [InputSample(Path(a).name, audio=Path(a)) for a in audios])  # fmt: skip
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


def _clip_files(model: EdgeModel, clip: ClipFrames, obs: Observation) -> None:
    """What feedback logs of a clip: ``frames.npy.gz`` (the frames the bundle read, before
    resizing and normalisation) and its key (last) frame as ``rgb.<ext>``: a frame folder's
    key frame file byte for byte, else the decoded key frame as a PNG."""
    assert model.clip is not None
    first = clip.images[0]
    if len(clip.images) * first.size[0] * first.size[1] * 3 > 4 * MAX_LOGGED_FILE:
        obs.too_large = True  # classified, not logged: not even worth compressing
        return
    array = clip.array()
    frames = encode_frames(array)
    if clip.key_file is not None:
        key, ext = _read(clip.key_file), IMAGE_EXTS.get(clip.key_file.suffix.lower(), "bin")
    else:
        buf = io.BytesIO()
        clip.images[-1].save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL,
                             optimize=False)  # fmt: skip
        key, ext = buf.getvalue(), "png"
    if key is None or len(frames) > MAX_LOGGED_FILE or len(key) > MAX_LOGGED_FILE:
        obs.too_large = True
        return
    obs.files += [(f"rgb.{ext}", key), (FRAMES_FILE, frames)]
    obs.clip = {"frames": int(array.shape[0]), "rate_hz": model.clip.rate_hz,
                "window_s": model.clip.window_s, "sampling": model.clip.sampling,
                "key_frame": int(array.shape[0]) - 1, "height": int(array.shape[1]),
                "width": int(array.shape[2]), "file": FRAMES_FILE, "dtype": "uint8",
                "layout": "THWC"}  # fmt: skip


def _prepare(model: EdgeModel, sample: InputSample, obs: Observation) -> dict[str, np.ndarray]:
    """Read and preprocess the sample's files (the bytes read are those classified)."""
    inputs = {}
    if sample.video is not None:
        if model.clip is None:
            model.check_visual(video=True)  # raises: a single-frame bundle takes images
        assert model.clip is not None
        clip = read_clip(sample.video, model.image_cfg, model.clip)
        inputs["image"] = clip.pixels(model.image_cfg)  # the clip tower is the image tower
        try:
            _clip_files(model, clip, obs)
        except ValueError as exc:
            raise ValueError(f"video {sample.video}: {str(exc).splitlines()[0]}"[:400]) from None
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
    sources = {m: p.name for m, p in (("image", obs.sample.image), ("video", obs.sample.video),
                                      ("audio", obs.sample.audio)) if p is not None}  # fmt: skip
    record = {"sample": obs.sample.name, "sources": sources, "predictions": predictions,
              "reasons": reasons,
              "image_audio_cosine": None if cosine is None else round(cosine, ROUND)}  # fmt: skip
    if obs.clip is not None:
        record["clip"] = obs.clip
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
    visual = "image" if model.clip is None else "video"  # as run_inputs names a clip's
    for modality, n in (("image", n_images), ("audio", n_audio)):
        rows = [o for o in observations if modality in o.embeddings][:n]
        if not rows:
            continue
        name = visual if modality == "image" else modality
        embedded[name] = np.stack([o.embeddings[modality] for o in rows])
        report[name] = [{t: {"label": p["label"], "score": round(p["score"], 4)}
                         for t, p in o.predictions[modality].items()} for o in rows]
    if texts:
        emb = model.embed_text(list(texts))
        if not np.isfinite(emb).all():
            raise ValueError(f"the text tower of {model.variant} produced non-finite "
                             "embeddings (NaN or infinity) for these inputs")  # fmt: skip
        embedded["text"] = emb
        report["text"] = [{p.task: {"label": p.label, "score": round(p.score, 4)} for p in preds}
                          for preds in model.classify(emb, "text")]  # fmt: skip
    for a, b in (("image", "audio"), ("video", "audio"), ("text", "image"), ("text", "video"),
                 ("text", "audio")):  # fmt: skip
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
    warned: set[str] = field(default_factory=set)  # single images a clip bundle skips

    def reload_if_moved(self) -> str | None:
        """Reload the model when the bundle path now points elsewhere (``edge update``)."""
        target = self.bundle_target()
        if self.model is not None and target == self.target:
            return None
        self.model, self.target = self.load(), target
        return str(target)

    def poll(self) -> list[dict[str, Any]]:
        """Observe the new or changed settled samples once; returns their reports."""
        assert self.model is not None
        if self.model.clip is None:
            samples, _ = group_folder(self.folder, self.settle_s)
        else:
            samples, _, stills = group_clip_folder(self.folder, self.settle_s)
            for name in sorted(set(stills) - self.warned):
                log.warning("skipping %s: a single image; the bundle is a clip bundle", name)
            self.warned = set(stills)
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
