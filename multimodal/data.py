"""WebDataset loading of drivesynth shards (schema: docs/design.md) for training and evaluation.

Training streams resample shards deterministically (seeded by seed, epoch, rank, worker),
so every rank and worker always has data, however few shards there are, and the loader
gives exactly ``steps_per_epoch`` batches (``with_epoch`` on the WebLoader). Evaluation
streams read each shard once, split by node and worker. Corrupt samples are skipped and
counted: the count travels with the next good sample, so it survives worker processes.

With ``replay_urls`` (``train --replay``) each training pipeline merges two such streams,
the new data and the replayed old data, each resampled and shuffled by its own seeds (the
same for every rank and worker split as the main stream's): a fixed, seed-independent
pattern takes exactly ``replay_fraction`` of every worker's samples from the replay stream
(sample ``n`` is replayed when ``floor((n + 1) f) > floor(n f)``), so every batch holds
``floor`` or ``ceil`` of ``f * batch_size`` replayed samples.
"""

from __future__ import annotations

import functools
import glob
import gzip
import io
import json
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from multimodal.augment import (
    AugmentConfig,
    audio_gain_shift,
    colour_jitter,
    crop_box,
    jitter_factors,
    random_crop,
)

LABEL_FIELDS: dict[str, tuple[str, str]] = {
    "weather_family": ("weather", "family"),
    "time_of_day": ("weather", "time_of_day"),
    "driver_style": ("driver", "style"),
}


@dataclass(frozen=True)
class DataConfig:
    urls: str
    batch_size: int = 32
    workers: int = 2
    image_size: int = 64
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    audio_samples: int = 16000
    sample_rate: int = 16000
    caption_families: tuple[str, ...] | None = None
    augment: AugmentConfig | None = None
    shuffle_buffer: int = 256
    seed: int = 0
    audio: bool = True
    context_length: int = 0  # > 0: tokenize captions in the loader workers
    pin_memory: bool = False
    # images leave the workers as uint8 [3, H, W] plus their jitter factors; the training
    # device finishes them (finish_images): a quarter of the bytes to collate, pin and copy,
    # and no float pixel work in the workers
    uint8_images: bool = False
    # training only: shards of earlier data mixed into the stream, and their share of it
    replay_urls: str | None = None
    replay_fraction: float = 0.0
    # > 0: clip shards (generate --clip-frames T): each sample also gives "video", its T
    # frames [T, 3, S, S] (uint8 with uint8_images, else normalised float; "image" is the
    # last, the key frame); a shard without frames.npy.gz or of another T is refused
    clip_frames: int = 0

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("DataConfig.urls must name at least one shard, got ''")
        if not (isinstance(self.replay_fraction, int | float)
                and 0 <= self.replay_fraction < 1):  # fmt: skip
            raise ValueError(f"DataConfig.replay_fraction must be in [0, 1), got "
                             f"{self.replay_fraction!r}")  # fmt: skip
        if self.replay_fraction > 0 and not self.replay_urls:
            raise ValueError("DataConfig.replay_fraction > 0 needs replay_urls")
        for name in ("batch_size", "image_size", "audio_samples", "sample_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DataConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("workers", "shuffle_buffer", "seed", "context_length", "clip_frames"):
            if getattr(self, name) < 0:
                raise ValueError(f"DataConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.caption_families is not None and not self.caption_families:
            raise ValueError("DataConfig.caption_families must be None or non-empty, got ()")


GLOB_CHARS = "*?["


def _local_shards(url: str) -> list[str]:
    """``url`` itself, or the ``.tar`` files of a local folder (sorted), or the local files a
    glob matches (sorted): ValueError when the folder or the glob gives none."""
    path = local_path(url)
    if path is None:
        return [url]
    if path.is_dir():
        found = sorted(str(p) for p in path.glob("*.tar") if p.is_file())
        if not found:
            raise ValueError(f"folder {url} holds no .tar shards")
        return found
    if any(c in str(path) for c in GLOB_CHARS):
        found = sorted(p for p in glob.glob(str(path)) if Path(p).is_file())
        if not found:
            raise ValueError(f"no shard matches {url}")
        return found
    return [url]


def expand_urls(urls: str) -> list[str]:
    """Brace-expanded shard list; several lists may be joined with '::'. A local folder
    stands for its ``.tar`` shards and a local glob (``*``, ``?``, ``[``) for the files it
    matches, both sorted."""
    import braceexpand

    out = [s for part in urls.split("::") for u in braceexpand.braceexpand(part)
           for s in _local_shards(u)]  # fmt: skip
    if not out:
        raise ValueError(f"no shards in {urls!r}")
    return out


def local_path(url: str) -> Path | None:
    """The file a shard URL names on this machine, or None for remote/pipe URLs."""
    if url.startswith("file://"):
        return Path(url[len("file://") :])
    if url.startswith("file:"):
        return Path(url[len("file:") :])
    if "://" in url or url.startswith("pipe:") or url == "-":
        return None
    return Path(url)


def check_shards(urls: str, option: str) -> list[str]:
    """The expanded shard list, after failing fast (naming the URL) on a local shard that is
    missing, not a file, empty or not a tar file. Remote and ``pipe:`` URLs are left to the
    loader, whose skip bounds stop a run that reads nothing usable from them."""
    import tarfile

    try:
        shards = expand_urls(urls)
    except ValueError as exc:
        raise LoaderError(f"{option}: {(str(exc).splitlines() or [''])[0]}") from None
    for url in shards:
        path = local_path(url)
        if path is None:
            continue
        if not path.exists():
            raise LoaderError(f"{option}: no shard at {url} (the pattern matches no file)")
        if not path.is_file():
            raise LoaderError(f"{option}: {url} is not a file")
        if path.stat().st_size == 0:
            raise LoaderError(f"{option}: shard {url} is empty (0 bytes)")
        try:
            with tarfile.open(path, "r:") as tar:  # reads the first member's header only
                first = tar.next() if tar.firstmember is None else tar.firstmember
        except (tarfile.TarError, OSError) as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise LoaderError(f"{option}: shard {url} is not a readable tar file ({reason})") \
                from None
        if first is None:
            raise LoaderError(f"{option}: shard {url} holds no files")
    return shards


def _sample_rng(cfg: DataConfig, epoch: int, key: str) -> np.random.Generator:
    from sim.seeding import rng_for  # numpy only: no pybullet

    return rng_for(cfg.seed, "sample", epoch, key)


def _crop_resize(data: bytes, cfg: DataConfig, rng: np.random.Generator | None) -> Image.Image:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if rng is not None and cfg.augment is not None:
        image = random_crop(image, cfg.augment.crop_scale_min, rng)
    return image.resize((cfg.image_size, cfg.image_size), Image.BICUBIC)


def decode_image(data: bytes, cfg: DataConfig, rng: np.random.Generator | None) -> torch.Tensor:
    """Normalised float [3, H, W], jittered when augmenting (all of it in this process)."""
    pixels = np.asarray(_crop_resize(data, cfg, rng), dtype=np.float32) / 255.0
    if rng is not None and cfg.augment is not None:
        pixels = colour_jitter(pixels, *jitter_factors(cfg.augment, rng))
    pixels = (pixels - np.asarray(cfg.image_mean, np.float32)) / np.asarray(
        cfg.image_std, np.float32
    )
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32))


def decode_image_uint8(
    data: bytes, cfg: DataConfig, rng: np.random.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cheap half of :func:`decode_image`: the cropped, resized uint8 [3, H, W] and its
    (brightness, contrast) factors (1, 1 when not augmenting); :func:`finish_images` does
    the rest where the batch lands."""
    image = _crop_resize(data, cfg, rng)
    pixels = torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy())
    factors = (1.0, 1.0)
    if rng is not None and cfg.augment is not None:
        factors = jitter_factors(cfg.augment, rng)
    return pixels, torch.tensor(factors, dtype=torch.float32)


def finish_images(
    pixels: torch.Tensor, jitter: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float, brightness/contrast jitter per image (as
    :func:`multimodal.augment.colour_jitter`), normalised by ``mean``/``std`` ([3], on the
    device of ``pixels``, the training GPU: made once by the caller, not per batch).
    Clips, uint8 [B, T, 3, H, W], are finished frame by frame with their clip's factors."""
    if pixels.dim() == 5:
        batch, frames = pixels.shape[:2]
        flat = finish_images(pixels.flatten(0, 1), jitter.repeat_interleave(frames, dim=0),
                             mean, std)  # fmt: skip
        return flat.unflatten(0, (batch, frames))
    x = pixels.float() / 255.0
    brightness, contrast = (jitter[:, i].view(-1, 1, 1, 1) for i in (0, 1))
    centre = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x * brightness - centre) * contrast + centre).clamp(0.0, 1.0)
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def decode_frames(
    data: bytes, cfg: DataConfig, rng: np.random.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A clip's ``frames.npy.gz`` (uint8 [T, H, W, 3]) -> ``([T, 3, S, S], jitter)``: every
    frame cropped by the same box and jittered by the same factors; uint8 with
    ``cfg.uint8_images`` (finished on the device by :func:`finish_images`), else normalised
    float as :func:`decode_image`."""
    frames = np.load(io.BytesIO(gzip.decompress(data)), allow_pickle=False)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames.npy.gz must be uint8 (T, H, W, 3), got {frames.dtype} "
                         f"{frames.shape}")  # fmt: skip
    augment = rng is not None and cfg.augment is not None
    box = crop_box((frames.shape[2], frames.shape[1]), cfg.augment.crop_scale_min, rng) \
        if augment else None
    size = (cfg.image_size, cfg.image_size)
    resized = []
    for frame in frames:
        image = Image.fromarray(frame)
        image = image.crop(box) if box is not None else image
        resized.append(np.asarray(image.resize(size, Image.BICUBIC)))
    pixels = np.stack(resized)  # [T, S, S, 3] uint8
    factors = jitter_factors(cfg.augment, rng) if augment else (1.0, 1.0)
    jitter = torch.tensor(factors, dtype=torch.float32)
    if cfg.uint8_images:
        return torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy()), jitter
    x = pixels.astype(np.float32) / 255.0
    if augment:
        x = np.stack([colour_jitter(f, *factors) for f in x])
    x = (x - np.asarray(cfg.image_mean, np.float32)) / np.asarray(cfg.image_std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)), \
        jitter


def check_clip(raw: dict, meta: dict, cfg: DataConfig) -> None:
    """LoaderError (one line naming the shard and the fix) unless the sample is a clip of
    ``cfg.clip_frames`` frames whose audio lasts what the model reads."""
    where = f"{raw.get('__url__')}: sample {raw.get('__key__')!r}"
    want = cfg.clip_frames
    if "frames.npy.gz" not in raw:
        raise LoaderError(f"{where} has no frames.npy.gz (not a clip shard): train on clip "
                          f"shards (generate --clip-frames {want}) or with --clip-frames 0")
    clip = meta.get("clip") if isinstance(meta.get("clip"), dict) else {}
    frames = clip.get("frames")
    if frames != want:
        raise LoaderError(f"{where} is a clip of {frames} frames, not {want}: train with "
                          f"--clip-frames {frames} or use shards of generate --clip-frames "
                          f"{want}")  # fmt: skip
    seconds = (meta.get("audio") or {}).get("duration_s")
    if cfg.audio and isinstance(seconds, int | float) \
            and round(seconds * cfg.sample_rate) != cfg.audio_samples:  # fmt: skip
        raise LoaderError(f"{where} has {seconds} s of audio, the model reads "
                          f"{cfg.audio_samples / cfg.sample_rate:g} s: train with "
                          f"--audio-seconds {seconds:g}")  # fmt: skip


def decode_audio(data: bytes, cfg: DataConfig, rng: np.random.Generator | None) -> torch.Tensor:
    import soundfile

    wave, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if rate != cfg.sample_rate:
        raise ValueError(f"audio sample rate must be {cfg.sample_rate}, got {rate}")
    wave = wave.mean(axis=1)
    n = cfg.audio_samples
    wave = wave[-n:] if len(wave) >= n else np.pad(wave, (n - len(wave), 0))
    if rng is not None and cfg.augment is not None:
        wave = audio_gain_shift(wave, cfg.sample_rate, cfg.augment, rng)
    return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))


def pick_caption(
    meta: dict, families: tuple[str, ...] | None, rng: np.random.Generator | None
) -> str | None:
    """One caption among the alternatives of the allowed families (first one if no rng)."""
    options = [
        c["text"] for c in meta.get("captions", []) if families is None or c["family"] in families
    ]
    if not options:
        return None
    return options[int(rng.integers(len(options)))] if rng is not None else options[0]


def labels_of(meta: dict) -> dict[str, str]:
    return {task: str(meta[a][b]) for task, (a, b) in LABEL_FIELDS.items()}


def events_of(meta: dict) -> tuple[str, ...]:
    """The event types of the sample's window, as its captions state them
    (datagen.captions.facts.event_types); the json's event types without datagen."""
    try:
        from datagen.captions.facts import event_types
    except ImportError:
        return tuple(sorted({str(e.get("type")) for e in meta.get("events", [])}))
    return tuple(event_types(meta))


def speed_band_of(meta: dict) -> str:
    """The ego's speed band at the sample's (key) frame, as captions state it
    (datagen.captions.facts.SPEED_BANDS_KMH: stopped, slow, moderate, fast, very_fast); ""
    without datagen or without a finite ``json.ego.speed_mps``."""
    try:
        from datagen.captions.facts import SPEED_BANDS_KMH, band
    except ImportError:
        return ""
    speed = meta.get("ego", {}).get("speed_mps") if isinstance(meta.get("ego"), dict) else None
    if not isinstance(speed, int | float) or not math.isfinite(speed):
        return ""
    return band(abs(float(speed)) * 3.6, SPEED_BANDS_KMH)


def decode_sample(raw: dict, cfg: DataConfig, epoch: int, train: bool, tokenizer=None) -> dict:
    """A raw tar sample -> tensors and labels; ``{"corrupt": 1}`` when it cannot be read."""
    try:
        key = raw["__key__"]
        meta = json.loads(raw["json"])
        rng = _sample_rng(cfg, epoch, key) if train else None
        caption = pick_caption(meta, cfg.caption_families, rng)
        if caption is None:
            return {"corrupt": 0, "no_caption": 1, "key": key, "url": raw.get("__url__")}
        image_bytes = raw.get("rgb.png") or raw["rgb.jpg"]
        video = None
        if cfg.clip_frames:
            check_clip(raw, meta, cfg)
            video, jitter = decode_frames(raw["frames.npy.gz"], cfg, rng)
            if video.shape[0] != cfg.clip_frames:
                raise ValueError(f"frames.npy.gz holds {video.shape[0]} frames, its json.clip "
                                 f"says {cfg.clip_frames}")  # fmt: skip
            image = video[-1]  # the key frame, cropped and jittered as the others
            jitter = jitter if cfg.uint8_images else None
        elif cfg.uint8_images:
            image, jitter = decode_image_uint8(image_bytes, cfg, rng)
        else:
            image, jitter = decode_image(image_bytes, cfg, rng), None
        sample = {
            "image": image,
            "text": caption,
            "labels": labels_of(meta),
            "events": events_of(meta),
            "speed_band": speed_band_of(meta),
            "scenario_id": int(meta["scenario_id"]),
            "key": key,
        }
        if jitter is not None:
            sample["jitter"] = jitter
        if video is not None:
            sample["video"] = video
        if cfg.audio:
            sample["audio"] = decode_audio(raw["audio.flac"], cfg, rng)
        if tokenizer is not None:
            sample["tokens"] = tokenizer(caption)[0]
        return sample
    except LoaderError:  # shards of the wrong kind (check_clip): refused, not skipped
        raise
    except Exception as exc:  # noqa: BLE001 - any broken field makes the sample corrupt
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        return {"corrupt": 1, "error": f"{type(exc).__name__}: {reason}",
                "key": raw.get("__key__"), "url": raw.get("__url__")}  # fmt: skip


# Bounds on what training may skip. Past them the run stops with a LoaderError instead of
# spinning forever (the training stream resamples shards without end) on shards that give no
# usable sample, or training on what little of the data can be read.
MAX_SKIPPED_IN_A_ROW = 200  # samples or shard-read errors in a row without a good sample
MAX_UNREADABLE_SHARE = 0.2  # unreadable share of all that training read, checked once ...
MIN_READ_FOR_SHARE = 100  # ... this many samples/shard reads have been counted
MAX_WARNINGS = 5  # warnings per loader process; further skips are only counted


class LoaderError(ValueError):
    """The data cannot give (enough) batches: one line naming the shard or caption family.

    Raised in a DataLoader worker, it comes back to the main process re-built from the
    worker's whole traceback ("Caught LoaderError in DataLoader worker process 0. ..."):
    the constructor recovers the original one-line message from it."""

    def __init__(self, message: str = "") -> None:
        if message.startswith("Caught LoaderError"):
            for line in reversed(message.strip().splitlines()):
                if "LoaderError: " in line:
                    message = line.split("LoaderError: ", 1)[1].strip()
                    break
        super().__init__(message)


class SkippedDataWarning(UserWarning):
    """A sample or shard the loader skipped (at most MAX_WARNINGS + 1 per loader process)."""


class LoaderHealth:
    """What one loader pipeline skipped since its last good sample: corrupt samples,
    shard-read errors and samples with no caption of the allowed families, and the last
    reason. Warns a few times (``warn``), then only counts; with ``bounded`` it raises
    :class:`LoaderError` after ``MAX_SKIPPED_IN_A_ROW`` skips without a good sample."""

    def __init__(self, families: tuple[str, ...] | None = None, bounded: bool = True,
                 warn: bool = True) -> None:  # fmt: skip
        self.families, self.bounded, self.warn = families, bounded, warn
        self.in_a_row = self.no_caption_in_a_row = 0
        self.unreadable = 0  # corrupt samples and shard-read errors since the last good one
        self.tar_errors = 0  # shard-read errors since the last good sample
        self.warned = 0
        self.last = ""

    def good(self) -> tuple[int, int, str]:
        """A good sample: the counts of unreadable samples/shard reads and of shard-read
        errors since the previous one, and the last reason."""
        counted = (self.unreadable, self.tar_errors, self.last if self.in_a_row else "")
        self.in_a_row = self.no_caption_in_a_row = self.unreadable = self.tar_errors = 0
        return counted

    def skipped(self, sample: dict) -> None:
        self.in_a_row += 1
        if sample.get("no_caption"):
            self.no_caption_in_a_row += 1
            self.last = f"{sample.get('url')}: no caption of family {self._families()}"
        else:
            self.unreadable += 1
            self.last = f"{sample.get('url')}: sample {sample.get('key')!r}: {sample.get('error')}"
            self._warn(f"skipping corrupt sample {sample.get('key')!r} of {sample.get('url')}: "
                       f"{sample.get('error')}")  # fmt: skip
        self._check()

    def tar_error(self, exc: BaseException) -> None:
        self.in_a_row += 1
        self.unreadable += 1
        self.tar_errors += 1
        args = [str(a) for a in getattr(exc, "args", ())]
        url = next((a for a in reversed(args) if "/" in a or a.endswith(".tar")), "?")
        reason = (args[0].splitlines() or [""])[0] if args else ""
        self.last = f"{url}: {type(exc).__name__}: {reason}"
        self._warn(f"skipping unreadable tar data: {exc!r}")
        self._check()

    def _families(self) -> str:
        return ",".join(self.families) if self.families else "any"

    def _warn(self, text: str) -> None:
        if not self.warn:
            return
        self.warned += 1
        if self.warned <= MAX_WARNINGS:
            warnings.warn(text, SkippedDataWarning, stacklevel=3)
        elif self.warned == MAX_WARNINGS + 1:
            warnings.warn(f"more unreadable data: further skips in this loader are counted, "
                          f"not shown (after {MAX_WARNINGS} warnings)", SkippedDataWarning,
                          stacklevel=3)  # fmt: skip

    def _check(self) -> None:
        if not self.bounded:
            return
        if self.no_caption_in_a_row > MAX_SKIPPED_IN_A_ROW:
            raise LoaderError(
                f"no sample has a caption of family {self._families()} "
                f"(--train-caption-families): {self.no_caption_in_a_row} samples in a row "
                f"without one, last in {self.last.split(': ')[0]}"
            )
        if self.in_a_row > MAX_SKIPPED_IN_A_ROW:
            raise LoaderError(
                f"{self.in_a_row} samples/shard reads in a row were unreadable or unusable, "
                f"none usable (corrupt or empty shard?); last: {self.last}"
            )


class SkipCounter:
    """Training's running count of samples read and of unreadable ones (from the batches'
    ``unreadable``; every rank and loader worker counts its own): raises LoaderError when
    more than ``MAX_UNREADABLE_SHARE`` of what was read could not be read."""

    def __init__(self) -> None:
        self.read = self.unreadable = 0
        self.last = ""

    def add(self, batch: dict) -> None:
        unreadable = int(batch.get("unreadable", 0))
        self.read += int(batch.get("read", len(batch["text"]) + batch.get("skipped", 0)))
        self.unreadable += unreadable
        self.last = batch.get("skip_reason") or self.last
        if self.read >= MIN_READ_FOR_SHARE and self.unreadable > MAX_UNREADABLE_SHARE * self.read:
            raise LoaderError(
                f"{self.unreadable} of {self.read} samples/shard reads were unreadable (more "
                f"than {MAX_UNREADABLE_SHARE:.0%}); last: {self.last}"
            )


def count_skipped(samples, health: LoaderHealth | None = None):
    """Drop corrupt / caption-less samples; attach their count to the next good sample
    (``skipped``), with the count of unreadable samples and shard reads (``unreadable``) and
    the last reason (``skip_reason``). ``health`` (a fresh bounded one when not given) warns
    and enforces the bound on skips in a row."""
    health = LoaderHealth() if health is None else health
    pending = 0
    for sample in samples:
        if "image" not in sample:
            pending += 1
            health.skipped(sample)
            continue
        sample["unreadable"], tar_errors, sample["skip_reason"] = health.good()
        sample["read"] = 1 + pending + tar_errors  # samples and shard reads this one ends
        sample["skipped"] = pending
        pending = 0
        yield sample


class TarErrorCounter:
    """A webdataset handler that warns (a few times), counts and continues on unreadable
    tar data, within the bounds of its :class:`LoaderHealth`."""

    def __init__(self, health: LoaderHealth | None = None) -> None:
        self.count = 0
        self.health = LoaderHealth(bounded=False) if health is None else health

    def __call__(self, exc: Exception) -> bool:
        self.count += 1
        self.health.tar_error(exc)
        return True


def collate(samples: list[dict]) -> dict:
    batch = {
        "image": torch.stack([s["image"] for s in samples]),
        "text": [s["text"] for s in samples],
        "labels": {t: [s["labels"][t] for s in samples] for t in LABEL_FIELDS},
        "events": [tuple(s.get("events", ())) for s in samples],
        "speed_band": [s.get("speed_band", "") for s in samples],
        "scenario_id": torch.tensor([s["scenario_id"] for s in samples]),
        "key": [s["key"] for s in samples],
        "skipped": sum(s["skipped"] for s in samples),
        "unreadable": sum(s.get("unreadable", 0) for s in samples),
        "read": sum(s.get("read", 1 + s["skipped"]) for s in samples),
        "skip_reason": next((s["skip_reason"] for s in reversed(samples)
                             if s.get("skip_reason")), ""),  # fmt: skip
    }
    if any("replay" in s for s in samples):  # a replay-mixed training stream
        batch["replayed"] = sum(s.get("replay", 0) for s in samples)
    for name in ("audio", "tokens", "jitter", "video"):
        if name in samples[0]:
            batch[name] = torch.stack([s[name] for s in samples])
    return batch


def _decoder(cfg: DataConfig, epoch: int, train: bool):
    def stage(samples):
        tokenizer = None
        if cfg.context_length:  # one tokenizer per worker process, made where it runs
            from multimodal.tokenizer import Tokenizer

            tokenizer = Tokenizer(cfg.context_length)
        for raw in samples:
            yield decode_sample(raw, cfg, epoch, train, tokenizer)

    return stage


def _train_samples(cfg: DataConfig, epoch: int, shard_seed: int, shuffle_seed: int) -> list:
    """The stages of one endless, resampled, shuffled and decoded training sample stream."""
    import webdataset as wds

    # resampling never runs out of shards: the health bounds stop a loader that reads
    # nothing usable (missing, empty or corrupt shards, a caption family no sample has)
    # no warning per skip (training reports the counts: per step in its history, in all in
    # its summary)
    health = LoaderHealth(cfg.caption_families, warn=False)
    return [
        # deterministic: the shard order depends on the seed, epoch, rank and worker
        wds.ResampledShards(expand_urls(cfg.urls), seed=shard_seed, deterministic=True),
        wds.tarfile_to_samples(handler=TarErrorCounter(health)),
        wds.shuffle(cfg.shuffle_buffer, initial=min(cfg.shuffle_buffer, 64), seed=shuffle_seed),
        _decoder(cfg, epoch, train=True),
        functools.partial(count_skipped, health=health),
    ]


def replay_seed(seed: int) -> int:
    """The seed of the replay stream (its shard order, shuffle and augmentation draws)."""
    from sim.seeding import derive_seed  # numpy only

    return derive_seed(seed, "replay")


def is_replayed(n: int, fraction: float) -> bool:
    """Whether sample ``n`` of a worker's mixed stream comes from the replay stream: exactly
    ``floor(N * fraction)`` of any first ``N`` samples do, spread evenly."""
    return math.floor((n + 1) * fraction) > math.floor(n * fraction)


class ReplayMix(torch.utils.data.IterableDataset):
    """The main and the replay sample streams merged (in each loader worker) by
    :func:`is_replayed`; each sample says where it came from (``replay``: 0 or 1)."""

    def __init__(self, main, replay, fraction: float) -> None:
        super().__init__()
        self.main, self.replay, self.fraction = main, replay, fraction

    def __iter__(self):
        main, replay = iter(self.main), iter(self.replay)
        n = 0
        while True:
            from_replay = is_replayed(n, self.fraction)
            try:
                sample = next(replay if from_replay else main)
            except StopIteration:  # resampled streams never end; a broken one may
                return
            sample["replay"] = int(from_replay)
            n += 1
            yield sample


def train_loader(cfg: DataConfig, epoch: int, steps: int) -> torch.utils.data.DataLoader:
    """Exactly ``steps`` batches of ``cfg.batch_size`` for this rank, resampling shards
    (and mixing in ``cfg.replay_urls``' samples at ``cfg.replay_fraction``)."""
    import webdataset as wds

    if steps <= 0:
        raise ValueError(f"steps per epoch must be > 0, got {steps}")
    stages = _train_samples(cfg, epoch, cfg.seed * 100003 + epoch, cfg.seed + epoch)
    if cfg.replay_urls and cfg.replay_fraction > 0:
        seed = replay_seed(cfg.seed)
        old = replace(cfg, urls=cfg.replay_urls, seed=seed, replay_urls=None, replay_fraction=0.0)
        replay = _train_samples(old, epoch, seed * 100003 + epoch, seed + epoch)
        stages = [ReplayMix(wds.DataPipeline(*stages), wds.DataPipeline(*replay),
                            cfg.replay_fraction)]  # fmt: skip
    pipeline = wds.DataPipeline(
        *stages, wds.batched(cfg.batch_size, collation_fn=collate, partial=False)
    )
    loader = wds.WebLoader(pipeline, batch_size=None, num_workers=cfg.workers,
                           persistent_workers=False, pin_memory=cfg.pin_memory)  # fmt: skip
    return loader.with_epoch(steps)


def eval_loader(cfg: DataConfig) -> torch.utils.data.DataLoader:
    """Every sample once (this rank's share), in shard order, without augmentation."""
    import webdataset as wds

    urls = expand_urls(cfg.urls)
    health = LoaderHealth(cfg.caption_families, bounded=False)  # reads each shard once
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.split_by_node,
        wds.split_by_worker,
        wds.tarfile_to_samples(handler=TarErrorCounter(health)),
        _decoder(cfg, 0, train=False),
        functools.partial(count_skipped, health=health),
        wds.batched(cfg.batch_size, collation_fn=collate, partial=True),
    )
    workers = min(cfg.workers, len(urls))
    return wds.WebLoader(pipeline, batch_size=None, num_workers=workers)
