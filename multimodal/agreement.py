"""The learned cross-modal check: a trained drivesynth checkpoint judges whether a sample's
image, audio and caption belong together (``drivesynth qc DIR --model CKPT``).

The contrastive model maps the three modalities into one space, trained so that the parts of
one sample lie closer together than parts of different samples. For each sample and each
pair of modalities (image-text, audio-text, image-audio) QC measures how many *other*
samples' partners (from other scenarios) fit at least as well as the sample's own: a rank
share between 0 (its own partner fits best) and 1 (every other fits better); a partner from
another sample ranks anywhere, 0.5 on average. A modality is flagged when the mean share of
the two pairs it takes part in exceeds ``rank_threshold``, e.g. "audio fits its text worse
than 81 % and its image worse than 47 % of 64 other samples' (mean 64 %, allowed 30 %)",
which names the modality that disagrees with the other two.

This module imports ``multimodal`` (and torch) only when a model is given: the rule checks
need neither. Checkpoints load with the project's loader (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datagen.qc.flag import Flag

PAIRS = (("image", "text"), ("audio", "text"), ("image", "audio"))


@dataclass(frozen=True)
class ModelCheckConfig:
    gallery: int = 64  # other samples (from other scenarios) each sample is ranked against
    rank_threshold: float = 0.3
    batch_size: int = 64
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.gallery < 8:
            raise ValueError(f"ModelCheckConfig.gallery must be >= 8, got {self.gallery}")
        if not 0 < self.rank_threshold < 1:
            raise ValueError(f"ModelCheckConfig.rank_threshold must be in (0, 1), got "
                             f"{self.rank_threshold}")  # fmt: skip


def embed(root: Path, checkpoint: Path, cfg: ModelCheckConfig) -> dict:
    """Image, audio and text embeddings of every sample of ``root`` with the checkpoint's
    towers and preprocessing: ``{"ids": [(key, shard, scenario)], "image": [N, D], ...}``."""
    import json

    import torch

    from datagen.qc.report import shard_paths
    from datagen.qc.shardio import iter_raw
    from multimodal.checkpoint import load_checkpoint
    from multimodal.data import DataConfig, decode_audio, decode_image

    model, mcfg, tokenizer = load_checkpoint(checkpoint, cfg.device)
    data = DataConfig(urls=str(root), image_size=mcfg.image_size, image_mean=mcfg.image_mean,
                      image_std=mcfg.image_std, audio_samples=mcfg.audio_samples,
                      sample_rate=mcfg.mel.sample_rate)  # fmt: skip
    out: dict = {"ids": [], "image": [], "audio": [], "text": []}
    batch: dict[str, list] = {"image": [], "audio": [], "text": []}

    def flush() -> None:
        if not batch["image"]:
            return
        with torch.no_grad():
            dev = torch.device(cfg.device)
            out["image"].append(model.encode_image(torch.stack(batch["image"]).to(dev)).cpu())
            out["audio"].append(model.encode_audio(torch.stack(batch["audio"]).to(dev)).cpu())
            out["text"].append(model.encode_text(tokenizer(batch["text"]).to(dev)).cpu())
        for v in batch.values():
            v.clear()

    for path in shard_paths(root):
        for raw in iter_raw(path):
            try:
                meta = json.loads(raw.data("json") or b"{}")
                rgb = raw.data("rgb.png") or raw.data("rgb.jpg")
                image, audio = decode_image(rgb, data, None), decode_audio(
                    raw.data("audio.flac"), data, None)  # fmt: skip
                text = (raw.data("txt") or b"").decode("utf-8", "replace")
            except Exception:  # noqa: BLE001 - an undecodable sample is the rules' finding
                continue
            scenario = (str(meta.get("split", "")), str(meta.get("scenario_id", raw.key)))
            out["ids"].append((raw.key, path.name, scenario))
            batch["image"].append(image)
            batch["audio"].append(audio)
            batch["text"].append(text)
            if len(batch["image"]) >= cfg.batch_size:
                flush()
    flush()
    for name in ("image", "audio", "text"):
        out[name] = torch.cat(out[name]).numpy() if out[name] else np.zeros((0, 1))
    return out


def rank_shares(embs: dict, cfg: ModelCheckConfig) -> dict[tuple[str, str], np.ndarray]:
    """Per pair (a, b), per sample: the share of gallery samples j (other scenarios) with
    sim(a_i, b_j) >= sim(a_i, b_i), averaged with the same from b's side."""
    n = len(embs["ids"])
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 20]))
    scen = np.array([hash(s) for _, _, s in embs["ids"]])
    gallery = []
    for i in range(n):
        others = np.flatnonzero(scen != scen[i])
        k = min(cfg.gallery, others.size)
        gallery.append(rng.choice(others, size=k, replace=False) if k else others)
    out = {}
    for a, b in PAIRS:
        A, B = embs[a], embs[b]
        own = np.einsum("nd,nd->n", A, B)
        share = np.full(n, np.nan)
        for i in range(n):
            g = gallery[i]
            if g.size == 0:
                continue
            ab = (B[g] @ A[i] >= own[i]).mean()
            ba = (A[g] @ B[i] >= own[i]).mean()
            share[i] = 0.5 * (ab + ba)
        out[(a, b)] = share
    return out


def judge(embs: dict, cfg: ModelCheckConfig) -> list[tuple[str, str, Flag]]:
    shares = rank_shares(embs, cfg)
    t = cfg.rank_threshold
    found = []
    blame = {"image": (("image", "text"), ("image", "audio")),
             "audio": (("audio", "text"), ("image", "audio")),
             "text": (("image", "text"), ("audio", "text"))}  # fmt: skip
    for i, (key, shard, _) in enumerate(embs["ids"]):
        worst = None
        for modality, (p, q) in blame.items():
            sp, sq = shares[p][i], shares[q][i]
            mean = 0.5 * (sp + sq)
            if np.isfinite(mean) and mean > t and (worst is None or mean > worst[0]):
                worst = (mean, modality, p, q, sp, sq)
        if worst is None:
            continue
        mean, modality, p, q, sp, sq = worst
        op, oq = (pair[1] if pair[0] == modality else pair[0] for pair in (p, q))
        g = min(cfg.gallery, len(embs["ids"]) - 1)
        found.append((key, shard, Flag(
            "model_agreement", f"{modality} fits its {op} worse than {sp:.0%} and its {oq} "
            f"worse than {sq:.0%} of {g} other samples' (mean rank share {mean:.0%}, allowed "
            f"{t:.0%})", float(mean), f"mean rank share <= {t:.0%}")))  # fmt: skip
    return found


def check(root: Path, checkpoint: Path, cfg: ModelCheckConfig | None = None,
          ) -> list[tuple[str, str, Flag]]:  # fmt: skip
    cfg = cfg or ModelCheckConfig()
    embs = embed(root, checkpoint, cfg)
    if len(embs["ids"]) < 2:
        return []
    return judge(embs, cfg)
