"""Embedding, zero-shot classification and retrieval on the board (no torch)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.runtime.bundle import Bundle, BundleError, load_bundle
from edge.runtime.preprocess import (
    AudioConfig,
    AudioSource,
    ImageConfig,
    ImageSource,
    audio_batch,
    images_batch,
)
from edge.runtime.session import SessionConfig, Tower
from edge.runtime.tokenizer import BoardTokenizer
from edge.runtime.video import videos_batch


@dataclass(frozen=True)
class Prediction:
    """Zero-shot result of one task for one input."""

    task: str
    label: str
    score: float
    probabilities: dict[str, float]


def zero_shot(embeddings: np.ndarray, label_embeddings: np.ndarray, scale: float) -> np.ndarray:
    """Softmax over labels of ``scale * cosine``: [B, D] x [L, D] -> [B, L] probabilities."""
    logits = scale * embeddings @ label_embeddings.T
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def retrieve(queries: np.ndarray, gallery: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` gallery indices and cosine scores for each query (stable order on ties)."""
    if not 1 <= k <= gallery.shape[0]:
        raise ValueError(f"k must be in [1, {gallery.shape[0]}], got {k}")
    sims = queries @ gallery.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


class EdgeModel:
    """A verified bundle with sessions for the image and audio towers of one variant."""

    def __init__(
        self,
        bundle: str | os.PathLike[str] | Bundle,
        variant: str | None = None,
        threads: int = 1,
    ) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.variant = variant or self.bundle.selected_variant or "fp32"
        self.session_cfg = SessionConfig(threads=threads)
        pre = self.bundle.manifest["preprocess"]
        try:
            self.image_cfg = ImageConfig.from_dict(pre["image"])
            self.audio_cfg = AudioConfig.from_dict(pre["audio"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            what = f"lacks {exc}" if isinstance(exc, KeyError) else f"is invalid ({exc})"
            raise BundleError(f"bundle {self.bundle.root}: manifest 'preprocess' {what}"[:400]
                              ) from None  # fmt: skip
        self.clip = self.bundle.clip  # clip bundles: the image tower takes videos
        self.logit_scale = float(self.bundle.manifest["labels"].get("logit_scale", 100.0))
        self._towers: dict[str, Tower] = {}
        self._tokenizer: BoardTokenizer | None = None

    def tower(self, name: str) -> Tower:
        if name not in self._towers:
            self._towers[name] = Tower(self.bundle, name, self.variant, self.session_cfg)
        return self._towers[name]

    def check_visual(self, video: bool) -> None:
        """``ValueError`` (one line) when images go to a clip bundle or videos to a
        single-frame one."""
        if self.clip is not None and not video:
            raise ValueError(f"bundle {self.bundle.root} is a clip bundle ({self.clip.frames} "
                             f"frames at {self.clip.rate_hz:g} Hz): give videos (--video), "
                             "not single images")  # fmt: skip
        if self.clip is None and video:
            raise ValueError(f"bundle {self.bundle.root} takes single images (not a clip "
                             "bundle): give --image, not --video")  # fmt: skip

    def embed_images(self, sources: list[ImageSource]) -> np.ndarray:
        self.check_visual(video=False)
        return self.tower("image")(images_batch(sources, self.image_cfg))

    def embed_videos(self, sources: list[str | os.PathLike[str]]) -> np.ndarray:
        """Videos (frame folders, animated GIF/APNG/WebP; :mod:`edge.runtime.video`) through
        a clip bundle's image tower -> ``[B, D]``."""
        self.check_visual(video=True)
        assert self.clip is not None
        return self.tower("image")(videos_batch(sources, self.image_cfg, self.clip))

    def embed_audio(self, sources: list[AudioSource]) -> np.ndarray:
        return self.tower("audio")(audio_batch(sources, self.audio_cfg))

    def embed_text(self, queries: list[str]) -> np.ndarray:
        """Text queries through the training tokenizer (torch-free) and the text tower."""
        if self._tokenizer is None:
            vocab = self.bundle.text_vocab()
            if vocab is None:
                raise BundleError(f"bundle {self.bundle.root} ships no tokenizer vocabulary "
                                  "(export it again to embed text on the board)")  # fmt: skip
            length = self.bundle.manifest["preprocess"].get("text", {}).get("context_length")
            if not isinstance(length, int) or isinstance(length, bool):
                raise BundleError(f"bundle {self.bundle.root}: manifest preprocess.text."
                                  f"context_length must be an int, got {length!r}")  # fmt: skip
            self._tokenizer = BoardTokenizer(vocab, length)
        return self.tower("text")(self._tokenizer(queries))

    def classify(self, embeddings: np.ndarray, modality: str) -> list[list[Prediction]]:
        """Zero-shot predictions of every task whose modality matches, per input row."""
        results: list[list[Prediction]] = [[] for _ in range(embeddings.shape[0])]
        for task, spec in self.bundle.tasks.items():
            if modality != "text" and modality not in spec.get("modalities", ("image", "audio")):
                continue
            probs = zero_shot(embeddings, self.bundle.label_embeddings[task], self.logit_scale)
            for row, p in enumerate(probs):
                best = int(p.argmax())
                results[row].append(
                    Prediction(
                        task=task,
                        label=spec["labels"][best],
                        score=float(p[best]),
                        probabilities={lab: float(v) for lab, v in zip(spec["labels"], p)},
                    )
                )
        return results


def run_inputs(
    model: EdgeModel, images: list[ImageSource], audios: list[AudioSource],
    texts: tuple[str, ...] | list[str] = (), videos: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Embed and classify the given files and text queries; the cosine between every two
    modalities given (``image_audio_cosine``, ``text_image_cosine``, ``text_audio_cosine``;
    a clip bundle's videos are reported as ``video``, ``video_audio_cosine`` ...)."""
    if not images and not audios and not texts and not videos:
        raise ValueError("give at least one --image, --video, --audio or --text")
    if images or videos:
        model.check_visual(video=bool(videos) and not images)
    report: dict[str, Any] = {"variant": model.variant}
    embedded: dict[str, np.ndarray] = {}
    for modality, sources, embed in (
        ("image", images, model.embed_images),
        ("video", list(videos), model.embed_videos),
        ("audio", audios, model.embed_audio),
        ("text", list(texts), model.embed_text),
    ):
        if not sources:
            continue
        emb = embed(sources)
        tower = "image" if modality == "video" else modality  # a clip bundle's image tower
        if not np.isfinite(emb).all():
            raise ValueError(f"the {tower} tower of {model.variant} produced non-finite "
                             "embeddings (NaN or infinity) for these inputs")  # fmt: skip
        embedded[modality] = emb
        report[modality] = [
            {p.task: {"label": p.label, "score": round(p.score, 4)} for p in preds}
            for preds in model.classify(emb, tower)
        ]
    pairs = (("image", "audio"), ("video", "audio"), ("text", "image"), ("text", "video"),
             ("text", "audio"))  # fmt: skip
    for a, b in pairs:
        if a in embedded and b in embedded:
            cosine = (embedded[a] @ embedded[b].T).astype(np.float64)
            report[f"{a}_{b}_cosine"] = cosine.round(4).tolist()
    return report
