"""ONNX Runtime sessions for the towers of a bundle, with threads limited like a board."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.runtime.bundle import Bundle


@dataclass(frozen=True)
class SessionConfig:
    threads: int = 1
    optimization: str = "all"

    def __post_init__(self) -> None:
        if not isinstance(self.threads, int) or not 1 <= self.threads <= 256:
            raise ValueError(
                f"SessionConfig.threads must be an int in [1, 256], got {self.threads!r}"
            )
        if self.optimization not in _LEVELS:
            raise ValueError(
                f"SessionConfig.optimization must be one of {sorted(_LEVELS)}, "
                f"got {self.optimization!r}"
            )


_LEVELS = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def open_session(model: Path, cfg: SessionConfig) -> ort.InferenceSession:
    """A CPU session using ``cfg.threads`` intra-op threads and no inter-op parallelism."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cfg.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = _LEVELS[cfg.optimization]
    opts.log_severity_level = 3
    return ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class Tower:
    """One tower of a bundle (image, audio or text) in one variant."""

    def __init__(self, bundle: Bundle, tower: str, variant: str, cfg: SessionConfig) -> None:
        self.name, self.variant = tower, variant
        self.path = bundle.tower_path(tower, variant)
        entry = bundle.manifest["towers"][tower]["variants"][variant]
        level = entry.get("ort_optimization", cfg.optimization)
        self.session = open_session(self.path, replace(cfg, optimization=level))
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.float16 if inp.type == "tensor(float16)" else None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Raw tower input batch -> L2-normalised float32 embeddings [B, D]."""
        if self.input_dtype is not None and batch.dtype.kind == "f":
            batch = batch.astype(self.input_dtype)
        (out,) = self.session.run(None, {self.input_name: batch})
        return l2_normalize(out)
