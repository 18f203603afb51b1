"""What a training run shows in TensorBoard besides its training scalars (``RUN/tensorboard``):

- ``val/loss`` and ``val/<pair>``: the contrastive loss on the ``--val`` shards (batches of
  the training batch size, no modality dropout or augmentation), and ``val/retrieval/...``,
  ``val/zero_shot/<task>/<source>/accuracy`` from :func:`multimodal.evaluate.evaluate`;
  logged after every epoch but the last (one process) and at the end of the run;
- the run's hyper-parameters with its final metrics (the HPARAMS tab, sub-run ``hparams``);
- a few samples of the data (RGB frame, the audio clip, every caption), read with the
  project's reader (:func:`datagen.reader.open_shards`).

Open it with ``tensorboard --logdir RUN_DIR/tensorboard``.
"""

from __future__ import annotations

import math

import torch

from multimodal.loss import TriModalLoss

SAMPLES_SHOWN = 4


def flat_scalars(metrics: dict, prefix: str = "") -> dict[str, float]:
    """The finite numbers of a nested metrics dict as ``{"a/b/c": value}`` (lists such as
    confusion matrices and label names are left out)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_scalars(value, f"{name}/"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                out[name] = float(value)
    return out


@torch.no_grad()
def validation_loss(model, tokenizer, loader, cfg, device: torch.device) -> dict[str, float]:
    """Mean contrastive loss over the batches of ``loader`` (an
    :func:`multimodal.data.eval_loader`), with every modality present: ``{"loss": total,
    PAIR: value, ...}`` as training logs it. One process: the loss gathers nothing across
    ranks."""
    was_training = model.training
    model.eval()
    loss_fn = TriModalLoss(cfg.active_weights())
    totals: dict[str, float] = {}
    count = 0
    for batch in loader:
        n = len(batch["text"])
        if n < 2:  # a contrastive loss needs negatives
            continue
        pixels = batch["video"] if cfg.clip_frames else batch["image"]
        images = pixels.to(device) if "image" in cfg.modalities else None
        mel = model.audio_mel(batch["audio"].to(device)) if cfg.uses_audio else None
        feats = model(images, tokenizer(batch["text"]).to(device), mel)
        total, parts = loss_fn(feats, feats["scales"])
        for name, value in {"loss": total, **parts}.items():
            totals[name] = totals.get(name, 0.0) + float(value) * n
        count += n
    model.train(was_training)
    return {k: v / count for k, v in totals.items()} if count else {}


def log_validation(writer, metrics: dict, step: int) -> None:
    for name, value in flat_scalars(metrics).items():
        if name not in ("gallery_size", "skipped"):
            writer.add_scalar(f"val/{name}", value, step)
    writer.flush()


def hparams_of(cfg_json: dict) -> dict:
    """The run settings TensorBoard's HPARAMS tab can show (numbers, strings, booleans;
    lists joined by commas; nested settings flattened)."""
    out: dict = {}
    for key, value in cfg_json.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in hparams_of(value).items()})
        elif isinstance(value, list | tuple):
            out[key] = ",".join(str(v) for v in value)
        elif value is None:
            out[key] = "none"
        elif isinstance(value, bool | int | float | str):
            out[key] = value
    return out


def log_hparams(writer, cfg_json: dict, summary: dict) -> None:
    """The run's settings with its final metrics (final loss, validation metrics)."""
    metrics = {"hparam/final_loss": summary.get("final_loss")}
    for name, value in flat_scalars(summary.get("val") or {}).items():
        if name.endswith("accuracy") or "R@" in name or name.startswith("loss"):
            metrics[f"hparam/val/{name}"] = value
    metrics = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    writer.add_hparams(hparams_of(cfg_json), metrics, run_name="hparams")


def log_samples(writer, urls: str, step: int, n: int = SAMPLES_SHOWN) -> int:
    """The first ``n`` samples of ``urls``: frame, clip and captions; returns how many."""
    from datagen.reader import open_shards
    from multimodal.data import expand_urls

    shown = 0
    for sample in open_shards(expand_urls(urls)):
        rgb = next((sample[k] for k in ("rgb.png", "rgb.jpg") if k in sample), None)
        meta = sample.get("json") or {}
        tag = f"samples/{shown}_{sample['__key__']}"
        if rgb is not None:
            writer.add_image(f"{tag}/rgb", rgb, step, dataformats="HWC")
        audio = sample.get("audio.flac")
        if audio is not None:
            rate = int((meta.get("audio") or {}).get("sample_rate", 16000))
            writer.add_audio(f"{tag}/audio", torch.as_tensor(audio).reshape(1, -1), step,
                             sample_rate=rate)  # fmt: skip
        captions = meta.get("captions") or [{"family": "primary", "text": sample.get("txt", "")}]
        writer.add_text(f"{tag}/captions", "\n\n".join(
            f"**{c.get('family', '')}**: {c.get('text', '')}" for c in captions), step)
        shown += 1
        if shown >= n:
            break
    writer.flush()
    return shown
