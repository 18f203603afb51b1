"""Pick the fastest bundle variant whose held-out accuracy stays within a budget of fp32.

Accuracy: when the bundle stores a labelled held-out set (``heldout.npz``, written by
``drivesynth export``), each variant's zero-shot accuracy (image and audio, every task, the
bundle's label embeddings) and R@1 image/audio->text are measured on it against the true
labels; the drop is fp32's mean minus the variant's, in points. Older bundles without one
fall back to agreement with fp32's predictions on deterministic random images. Latency is
the image tower's median at batch 1. The choice is written into the manifest atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.runtime.bundle import Bundle, load_bundle, update_manifest
from edge.runtime.classify import EdgeModel
from edge.runtime.heldout import HeldOut, accuracy_report, load_heldout


@dataclass(frozen=True)
class SelectConfig:
    budget: float = 1.0
    threads: int = 1
    samples: int = 64
    repeats: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.budget <= 100.0:
            raise ValueError(f"SelectConfig.budget must be in [0, 100] points, got {self.budget}")
        for name in ("threads", "samples", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"SelectConfig.{name} must be >= 1, got {getattr(self, name)}")


def bundle_heldout(bundle: Bundle, model: EdgeModel, samples: int) -> HeldOut | None:
    """The bundle's stored held-out set (first ``samples``), or None if it has none."""
    entry = bundle.manifest.get("heldout")
    if not entry:
        return None
    frames = bundle.clip.frames if bundle.clip is not None else 0
    return load_heldout(bundle.root / entry["file"], model.image_cfg, frames).head(samples)


def _random_images(model: EdgeModel, cfg: SelectConfig) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7]))
    size, clip = model.image_cfg.size, model.bundle.clip
    frames = (clip.frames,) if clip is not None else ()  # a clip bundle's tower takes clips
    return rng.standard_normal((cfg.samples, *frames, 3, size, size)).astype(np.float32)


def latency_ms(model: EdgeModel, batch: np.ndarray, repeats: int) -> float:
    tower = model.tower("image")
    tower(batch[:1])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tower(batch[:1])
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def _heldout_scores(model: EdgeModel, held: HeldOut) -> dict[str, float]:
    emb = {t: model.tower(t)(held.inputs(t)) for t in ("image", "audio", "text")}
    return accuracy_report(emb, model.bundle.label_embeddings, held)


def _agreement_preds(model: EdgeModel, images: np.ndarray) -> dict[str, np.ndarray]:
    emb = model.tower("image")(images)
    return {t: (emb @ e.T).argmax(1) for t, e in model.bundle.label_embeddings.items()}


def _agreement_drops(preds: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    ref = preds["fp32"]
    return {v: 100.0 * (1.0 - float(np.mean([(p[t] == ref[t]).mean() for t in ref])))
            for v, p in preds.items()}  # fmt: skip


def measure_variants(bundle_path: Path, cfg: SelectConfig) -> tuple[str, dict[str, Any]]:
    """Per variant: image latency and accuracy drop vs fp32; returns (method, results)."""
    bundle = load_bundle(bundle_path)
    models = {v: EdgeModel(bundle, variant=v, threads=cfg.threads)
              for v in bundle.variants("image")}  # fmt: skip
    held = bundle_heldout(bundle, models["fp32"], cfg.samples)
    images = held.images if held is not None else _random_images(models["fp32"], cfg)
    results: dict[str, dict[str, Any]] = {
        v: {"latency_ms_p50": latency_ms(m, images, cfg.repeats)} for v, m in models.items()
    }
    if held is None:
        drops = _agreement_drops({v: _agreement_preds(m, images) for v, m in models.items()})
        for variant, drop in drops.items():
            results[variant]["accuracy_drop_points"] = drop
        return "agreement_with_fp32_on_random_inputs", results
    scores = {v: _heldout_scores(m, held) for v, m in models.items()}
    for variant, score in scores.items():
        results[variant]["accuracy"] = score
        results[variant]["accuracy_drop_points"] = scores["fp32"]["mean"] - score["mean"]
    return f"heldout_accuracy_{len(held)}_samples", results


def select_variant(bundle_path: Path, cfg: SelectConfig) -> dict[str, Any]:
    method, results = measure_variants(bundle_path, cfg)
    ok = {v: r for v, r in results.items() if r["accuracy_drop_points"] <= cfg.budget}
    best = min(ok, key=lambda v: ok[v]["latency_ms_p50"])
    selected = {"variant": best, "budget_points": cfg.budget, "threads": cfg.threads,
                "accuracy_method": method, "measured": results}  # fmt: skip
    update_manifest(bundle_path, {"selected": selected})
    return selected
