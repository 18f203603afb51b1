"""Pick the fastest bundle variant whose zero-shot accuracy stays within a budget of fp32.

Accuracy is measured on the bundle's own label embeddings with fp32's predictions as the
reference labels (agreement, in points), on deterministic inputs derived from the seed; the
choice is written into the manifest atomically (``update_manifest``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.runtime.bundle import load_bundle, update_manifest
from edge.runtime.classify import EdgeModel


@dataclass(frozen=True)
class SelectConfig:
    budget: float = 1.0
    threads: int = 1
    samples: int = 32
    repeats: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.budget <= 100.0:
            raise ValueError(f"SelectConfig.budget must be in [0, 100] points, got {self.budget}")
        for name in ("threads", "samples", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"SelectConfig.{name} must be >= 1, got {getattr(self, name)}")


def _inputs(model: EdgeModel, cfg: SelectConfig) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7]))
    size = model.image_cfg.size
    return rng.standard_normal((cfg.samples, 3, size, size)).astype(np.float32)


def _measure(model: EdgeModel, batch: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    tower = model.tower("image")
    emb = tower(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tower(batch[:1])
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3, emb


def select_variant(bundle_path: Path, cfg: SelectConfig) -> dict[str, Any]:
    bundle = load_bundle(bundle_path)
    results: dict[str, dict[str, float]] = {}
    reference: dict[str, np.ndarray] = {}
    for variant in bundle.variants("image"):
        model = EdgeModel(bundle, variant=variant, threads=cfg.threads)
        latency, emb = _measure(model, _inputs(model, cfg), cfg.repeats)
        preds = {t: (emb @ e.T).argmax(1) for t, e in bundle.label_embeddings.items()}
        if variant == "fp32":
            reference = preds
        results[variant] = {"latency_ms_p50": latency, "preds": preds}
    for entry in results.values():
        agree = [float((entry["preds"][t] == reference[t]).mean()) for t in reference]
        entry["accuracy_drop_points"] = 100.0 * (1.0 - float(np.mean(agree)))
        del entry["preds"]
    ok = {v: r for v, r in results.items() if r["accuracy_drop_points"] <= cfg.budget}
    best = min(ok, key=lambda v: ok[v]["latency_ms_p50"])
    selected = {"variant": best, "budget_points": cfg.budget, "threads": cfg.threads,
                "measured": results}  # fmt: skip
    update_manifest(bundle_path, {"selected": selected})
    return selected
