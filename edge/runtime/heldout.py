"""The bundle's stored held-out set and the accuracy measures computed on it (no torch).

``heldout.npz`` holds real labelled samples exactly as the towers take them, so a board can
measure accuracy without the shards, the tokenizer or torch:

    image   uint8 [N, S, S, 3]  resized RGB (normalised on load with the bundle's mean/std);
            uint8 [N, T, S, S, 3] in a clip bundle (T frames a clip)
    audio   float32 [N, n_mels, frames]  log-mel
    text    int64 [N, context]  caption tokens
    label_<task>  int64 [N]     index into the task's labels, -1 where not a known label
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.runtime.bundle import BundleError
from edge.runtime.preprocess import ImageConfig

FILE = "heldout.npz"


@dataclass(frozen=True)
class HeldOut:
    """Labelled held-out tower inputs: normalised images, log-mels, caption tokens."""

    images: np.ndarray
    mels: np.ndarray
    tokens: np.ndarray
    labels: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        sizes = {len(self.images), len(self.mels), len(self.tokens),
                 *(len(v) for v in self.labels.values())}  # fmt: skip
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError(f"HeldOut arrays must share one non-zero length, got {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.tokens)

    def inputs(self, tower: str) -> np.ndarray:
        return {"image": self.images, "audio": self.mels, "text": self.tokens}[tower]

    def head(self, n: int) -> HeldOut:
        return HeldOut(self.images[:n], self.mels[:n], self.tokens[:n],
                       {t: v[:n] for t, v in self.labels.items()})  # fmt: skip


def normalise_images(rgb: np.ndarray, cfg: ImageConfig) -> np.ndarray:
    """uint8 [..., S, S, 3] -> float32 [..., 3, S, S], as preprocess.preprocess_image does
    (images [N, S, S, 3] or clips [N, T, S, S, 3])."""
    arr = rgb.astype(np.float32) / 255.0
    arr = (arr - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
    return np.ascontiguousarray(np.moveaxis(arr, -1, -3))


def label_indices(values: list[str], labels: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.asarray([index.get(v, -1) for v in values], dtype=np.int64)


def save_heldout(path: Path, rgb: np.ndarray, mels: np.ndarray, tokens: np.ndarray,
                 labels: dict[str, np.ndarray]) -> None:  # fmt: skip
    arrays = {"image": rgb.astype(np.uint8), "audio": mels.astype(np.float32),
              "text": tokens.astype(np.int64)}  # fmt: skip
    arrays.update({f"label_{task}": idx.astype(np.int64) for task, idx in labels.items()})
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_heldout(path: Path, image_cfg: ImageConfig, frames: int = 0) -> HeldOut:
    """The stored held-out set (clips of ``frames`` frames when > 0);
    :class:`BundleError` naming the file when it is unusable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            labels = {k[len("label_") :]: npz[k] for k in npz.files if k.startswith("label_")}
            rgb, mels, tokens = npz["image"], npz["audio"], npz["text"]
        size = image_cfg.size
        shape = (frames, size, size, 3) if frames else (size, size, 3)
        if rgb.dtype != np.uint8 or rgb.shape[1:] != shape:
            raise ValueError(f"image must be uint8 [N, {', '.join(map(str, shape))}], "
                             f"got {rgb.dtype} {list(rgb.shape)}")  # fmt: skip
        return HeldOut(images=normalise_images(rgb, image_cfg), mels=mels, tokens=tokens,
                       labels=labels)  # fmt: skip
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise BundleError(f"held-out set {path} is unusable ({msg})") from None


def zero_shot_accuracy(emb: np.ndarray, label_emb: np.ndarray, truth: np.ndarray) -> float:
    """Percent of rows with a known label whose nearest label embedding is that label."""
    known = truth >= 0
    if not known.any():
        return float("nan")
    pred = (emb[known] @ label_emb.T).argmax(axis=1)
    return 100.0 * float((pred == truth[known]).mean())


def recall_at_1(queries: np.ndarray, gallery: np.ndarray, tokens: np.ndarray) -> float:
    """Percent of queries whose top gallery caption is their own caption text.

    Identical captions count as the same caption (shards repeat captions across frames).
    """
    top = (queries @ gallery.T).argmax(axis=1)
    same = (tokens[top] == tokens).all(axis=1)
    return 100.0 * float(same.mean())


def accuracy_report(
    emb: dict[str, np.ndarray], label_embeddings: dict[str, np.ndarray], held: HeldOut
) -> dict[str, float]:
    """Zero-shot accuracy per modality and task, R@1 image/audio->text, and their mean."""
    out: dict[str, float] = {}
    for modality in ("image", "audio"):
        for task, truth in sorted(held.labels.items()):
            if task in label_embeddings:
                acc = zero_shot_accuracy(emb[modality], label_embeddings[task], truth)
                out[f"{modality}/{task}"] = acc
        if "text" in emb:
            out[f"R@1 {modality}->text"] = recall_at_1(emb[modality], emb["text"], held.tokens)
    values = [v for v in out.values() if not np.isnan(v)]
    out["mean"] = float(np.mean(values)) if values else float("nan")
    return out


def denormalise_images(images: np.ndarray, cfg: ImageConfig) -> np.ndarray:
    """Inverse of :func:`normalise_images` (exact for images that came from uint8 pixels)."""
    arr = np.moveaxis(images, -3, -1) * np.asarray(cfg.std, np.float32)
    arr = (arr + np.asarray(cfg.mean, np.float32)) * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
