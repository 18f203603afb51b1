"""WebDataset loading of drivesynth shards (schema: DESIGN.md) for training and evaluation.

Training streams resample shards deterministically (seeded by seed, epoch, rank, worker),
so every rank and worker always has data, however few shards there are, and the loader
gives exactly ``steps_per_epoch`` batches (``with_epoch`` on the WebLoader). Evaluation
streams read each shard once, split by node and worker. Corrupt samples are skipped and
counted: the count travels with the next good sample, so it survives worker processes.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from multimodal.augment import (
    AugmentConfig,
    audio_gain_shift,
    colour_jitter,
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

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("DataConfig.urls must name at least one shard, got ''")
        for name in ("batch_size", "image_size", "audio_samples", "sample_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DataConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("workers", "shuffle_buffer", "seed", "context_length"):
            if getattr(self, name) < 0:
                raise ValueError(f"DataConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.caption_families is not None and not self.caption_families:
            raise ValueError("DataConfig.caption_families must be None or non-empty, got ()")


def expand_urls(urls: str) -> list[str]:
    """Brace-expanded shard list; several lists may be joined with '::'."""
    import braceexpand

    out = [u for part in urls.split("::") for u in braceexpand.braceexpand(part)]
    if not out:
        raise ValueError(f"no shards in {urls!r}")
    return out


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
    device of ``pixels``, the training GPU: made once by the caller, not per batch)."""
    x = pixels.float() / 255.0
    brightness, contrast = (jitter[:, i].view(-1, 1, 1, 1) for i in (0, 1))
    centre = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x * brightness - centre) * contrast + centre).clamp(0.0, 1.0)
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


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


def decode_sample(raw: dict, cfg: DataConfig, epoch: int, train: bool, tokenizer=None) -> dict:
    """A raw tar sample -> tensors and labels; ``{"corrupt": 1}`` when it cannot be read."""
    try:
        key = raw["__key__"]
        meta = json.loads(raw["json"])
        rng = _sample_rng(cfg, epoch, key) if train else None
        caption = pick_caption(meta, cfg.caption_families, rng)
        if caption is None:
            return {"corrupt": 0, "no_caption": 1}
        image_bytes = raw.get("rgb.png") or raw["rgb.jpg"]
        if cfg.uint8_images:
            image, jitter = decode_image_uint8(image_bytes, cfg, rng)
        else:
            image, jitter = decode_image(image_bytes, cfg, rng), None
        sample = {
            "image": image,
            "text": caption,
            "labels": labels_of(meta),
            "scenario_id": int(meta["scenario_id"]),
            "key": key,
        }
        if jitter is not None:
            sample["jitter"] = jitter
        if cfg.audio:
            sample["audio"] = decode_audio(raw["audio.flac"], cfg, rng)
        if tokenizer is not None:
            sample["tokens"] = tokenizer(caption)[0]
        return sample
    except Exception as exc:  # noqa: BLE001 - any broken field makes the sample corrupt
        warnings.warn(f"skipping corrupt sample {raw.get('__key__')!r}: {exc}", stacklevel=2)
        return {"corrupt": 1}


def count_skipped(samples):
    """Drop corrupt / caption-less samples; attach their count to the next good sample."""
    pending = 0
    for sample in samples:
        if "image" not in sample:
            pending += 1
            continue
        sample["skipped"] = pending
        pending = 0
        yield sample


class TarErrorCounter:
    """A webdataset handler that warns, counts and continues on unreadable tar members."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, exc: Exception) -> bool:
        self.count += 1
        warnings.warn(f"skipping unreadable tar data: {exc!r}", stacklevel=2)
        return True


def collate(samples: list[dict]) -> dict:
    batch = {
        "image": torch.stack([s["image"] for s in samples]),
        "text": [s["text"] for s in samples],
        "labels": {t: [s["labels"][t] for s in samples] for t in LABEL_FIELDS},
        "scenario_id": torch.tensor([s["scenario_id"] for s in samples]),
        "key": [s["key"] for s in samples],
        "skipped": sum(s["skipped"] for s in samples),
    }
    for name in ("audio", "tokens", "jitter"):
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


def train_loader(cfg: DataConfig, epoch: int, steps: int) -> torch.utils.data.DataLoader:
    """Exactly ``steps`` batches of ``cfg.batch_size`` for this rank, resampling shards."""
    import webdataset as wds

    if steps <= 0:
        raise ValueError(f"steps per epoch must be > 0, got {steps}")
    handler = TarErrorCounter()
    pipeline = wds.DataPipeline(
        wds.ResampledShards(
            expand_urls(cfg.urls), seed=cfg.seed * 100003 + epoch, deterministic=True
        ),  # fmt: skip
        wds.tarfile_to_samples(handler=handler),
        wds.shuffle(cfg.shuffle_buffer, initial=min(cfg.shuffle_buffer, 64), seed=cfg.seed + epoch),
        _decoder(cfg, epoch, train=True),
        count_skipped,
        wds.batched(cfg.batch_size, collation_fn=collate, partial=False),
    )
    loader = wds.WebLoader(pipeline, batch_size=None, num_workers=cfg.workers,
                           persistent_workers=False, pin_memory=cfg.pin_memory)  # fmt: skip
    return loader.with_epoch(steps)


def eval_loader(cfg: DataConfig) -> torch.utils.data.DataLoader:
    """Every sample once (this rank's share), in shard order, without augmentation."""
    import webdataset as wds

    urls = expand_urls(cfg.urls)
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.split_by_node,
        wds.split_by_worker,
        wds.tarfile_to_samples(handler=TarErrorCounter()),
        _decoder(cfg, 0, train=False),
        count_skipped,
        wds.batched(cfg.batch_size, collation_fn=collate, partial=True),
    )
    workers = min(cfg.workers, len(urls))
    return wds.WebLoader(pipeline, batch_size=None, num_workers=workers)
