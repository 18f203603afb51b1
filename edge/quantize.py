"""fp16 and int8 variants of an fp32 ONNX tower.

int8 is ONNX Runtime static quantization: QDQ format, per-channel weights, signed int8
activations and weights (S8S8), calibrated (MinMax) on real held-out inputs. The nodes most
sensitive to quantization — the final projection into the embedding space (last MatMul) —
is kept in float via ``nodes_to_exclude``; the shape annotations added for calibration are
dropped from the saved file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

QUANT_OPS = ("Conv", "MatMul", "Gemm")


@dataclass(frozen=True)
class Int8Config:
    batch_size: int = 8
    per_channel: bool = True
    exclude_edges: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"Int8Config.batch_size must be an int >= 1, got {self.batch_size!r}")


class ArrayCalibrationReader:
    """ONNX Runtime CalibrationDataReader over an in-memory array, in fixed batches."""

    def __init__(self, input_name: str, inputs: np.ndarray, batch_size: int) -> None:
        if len(inputs) == 0:
            raise ValueError("calibration needs at least one sample, got 0")
        self.input_name = input_name
        self.inputs = inputs
        self.batch_size = batch_size
        self._iter: Iterator[dict[str, np.ndarray]] | None = None

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, len(self.inputs), self.batch_size):
            yield {self.input_name: self.inputs[start : start + self.batch_size]}

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iter is None:
            self._iter = self._batches()
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = None


def sensitive_nodes(model_path: Path) -> list[str]:
    """Name of the last MatMul/Gemm: the output projection into the embedding space."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    matmuls = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm")]
    return matmuls[-1:]


def _strip_value_info(path: Path) -> None:
    model = onnx.load(str(path))
    del model.graph.value_info[:]
    onnx.save(model, str(path))


def _preprocessed(src: Path, workdir: Path) -> Path:
    """Shape inference and graph clean-up that ORT recommends before quantizing."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = workdir / f"{src.stem}.pre.onnx"
    try:
        quant_pre_process(str(src), str(out), skip_symbolic_shape=False)
    except Exception:  # symbolic shape inference can fail on exotic graphs: plain ONNX then
        quant_pre_process(str(src), str(out), skip_symbolic_shape=True)
    return out


def quantize_int8(
    fp32_path: Path, out_path: Path, calib_inputs: np.ndarray, cfg: Int8Config
) -> list[str]:
    """Write the int8 QDQ model; returns the names of the nodes kept in float."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    with tempfile.TemporaryDirectory(prefix="drivesynth-quant-") as tmp:
        pre = _preprocessed(fp32_path, Path(tmp))
        input_name = onnx.load(str(pre), load_external_data=False).graph.input[0].name
        excluded = sensitive_nodes(pre) if cfg.exclude_edges else []
        quantize_static(
            str(pre),
            str(out_path),
            ArrayCalibrationReader(input_name, calib_inputs, cfg.batch_size),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANT_OPS),
            per_channel=cfg.per_channel,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
        )
    _strip_value_info(out_path)
    return excluded


def convert_fp16(fp32_path: Path, out_path: Path) -> None:
    """fp16 weights and compute, float32 inputs and outputs (keep_io_types)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    onnx.save(half, str(out_path))
