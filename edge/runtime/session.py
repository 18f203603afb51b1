"""ONNX Runtime sessions for the towers of a bundle, with threads limited like a board."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.runtime.bundle import Bundle, BundleError


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
        try:
            self.session = open_session(self.path, replace(cfg, optimization=level))
            inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors derive from Exception
            raise BundleError(f"bundle {bundle.root}: {self.path.name} is not a usable ONNX "
                              f"model ({_first_line(exc)})") from None  # fmt: skip
        if len(inputs) != 1 or len(outputs) != 1:
            raise BundleError(f"bundle {bundle.root}: {self.path.name} must have one input and "
                              f"one output, has {len(inputs)} and {len(outputs)}")  # fmt: skip
        self.input_name = inputs[0].name
        self.input_dtype = np.float16 if inputs[0].type == "tensor(float16)" else None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Raw tower input batch -> L2-normalised float32 embeddings [B, D]."""
        if self.input_dtype is not None and batch.dtype.kind == "f":
            batch = batch.astype(self.input_dtype)
        try:
            (out,) = self.session.run(None, {self.input_name: batch})
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors derive from Exception
            msg = (f"the {self.name} tower ({self.path.name}) failed on an input of shape "
                   f"{list(batch.shape)}: {_first_line(exc)}")  # fmt: skip
            raise BundleError(msg) from None
        out = np.asarray(out)
        if out.ndim != 2 or out.shape[0] != batch.shape[0]:
            raise BundleError(f"the {self.name} tower ({self.path.name}) returned shape "
                              f"{list(out.shape)}, expected [{batch.shape[0]}, D]")  # fmt: skip
        return l2_normalize(out)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
