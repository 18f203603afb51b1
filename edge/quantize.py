"""fp16 and int8 variants of an fp32 ONNX tower.

int8 schemes (``Int8Config.scheme``), all ONNX Runtime quantization:

- ``dynamic`` (default): weights int8 (S8) stored, activations quantized to uint8 at run
  time per call (U8S8; ORT fuses it into ``DynamicQuantizeMatMul``). U8S8 is ORT's fast path
  on AVX2 CPUs without VNNI (``vpmaddubsw``); no calibration range can be wrong.
- ``qdq`` / ``qoperator``: static quantization calibrated (MinMax) on real inputs,
  activations ``u8`` or ``s8``, weights S8 per-channel or per-tensor.

``reduce_range`` (7-bit weights) is on by default: without VNNI, ``vpmaddubsw`` adds pairs of
u8*s8 products into int16 and saturates with full-range weights, which is what cost the U8S8
schemes accuracy. The patch-embedding ``Conv`` stays float (``quantize_conv=False``:
``ConvInteger`` is slower than float Conv in ORT and the layer is tiny); the last
MatMul/Gemm, the projection into the embedding space, stays float (``exclude_last``); the text
tower's token-embedding ``Gather`` is quantized (``quantize_gather``), which shrinks it.

Measured (``small`` preset 96 px / 384 wide, random init, real shard inputs, ORT 1.31, AMD
EPYC with AVX2 and no VNNI, 2 busy shared cores; batch 1, 1 thread, variants timed
round-robin; cosine to fp32 mean/min over 32 held-out samples; size = int8 file / fp32 file):

                                    image                     audio
scheme                         size   speed-up cosine      size   speed-up cosine
fp32 (87 ms / 14 ms)           1.000  1.00x  1            1.000  1.00x  1
dynamic U8S8 pt, rr, Conv fp   0.270  1.72x  .9999/.9999  0.261  1.87x  .9999/.9999 <- default
dynamic U8S8 pt, rr            0.268  1.68x  .9999/.9999  0.256  1.68x  .9999/.9999
dynamic U8S8 per-tensor        0.268  1.70x  .9884/.9861  0.256  1.82x  .9956/.9949
dynamic U8S8 per-channel       0.270  1.67x  .9880/.9860  0.259  1.88x  .9954/.9946
QDQ S8S8 per-channel (old)     0.272  1.54x  .9881/.9865  0.259  1.69x  .9850/.9763
QDQ U8S8 per-channel           0.272  1.53x  .9830/.9674  0.259  1.65x  .9811/.9709
QOperator U8S8 per-channel     0.270  1.53x  .9830/.9674  0.259  1.71x  .9811/.9709
QOperator U8S8 pt, rr          0.268  1.55x  .9998/.9998  0.257  1.71x  .9998/.9998
(pt = per-tensor weights, rr = reduce_range)

Text tower (Gather quantized): dynamic 0.259x size, 1.75x, cosine .9993; QDQ S8S8 1.14x.
On the tiny preset (64 px, 128 wide) every scheme is only 1.1-1.7x faster: the GEMMs are
too small for int8 to pay. Why the image tower stops short of 2x: an ORT profile shows its
GEMMs 2.14x faster (82.6 -> 38.6 ms), while LayerNorm, GELU (Erf), Softmax, Transpose and
the attention's activation x activation MatMuls (~17 % of fp32 time) stay float.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

QUANT_OPS = ("MatMul", "Gemm")
SCHEMES = ("dynamic", "qdq", "qoperator")
ACTIVATIONS = ("u8", "s8")


@dataclass(frozen=True)
class Int8Config:
    """How a tower is quantized to int8 (see the module docstring for the measured choice)."""

    scheme: str = "dynamic"
    activations: str = "u8"
    per_channel: bool = False
    reduce_range: bool = True
    quantize_gather: bool = True
    quantize_conv: bool = False
    exclude_last: bool = True
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"Int8Config.scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.activations not in ACTIVATIONS:
            raise ValueError(
                f"Int8Config.activations must be one of {ACTIVATIONS}, got {self.activations!r}"
            )
        if self.scheme == "dynamic" and self.activations != "u8":
            raise ValueError(
                f"Int8Config.activations must be 'u8' for the dynamic scheme, "
                f"got {self.activations!r}"
            )
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"Int8Config.batch_size must be an int >= 1, got {self.batch_size!r}")

    def describe(self) -> str:
        chan = "per-channel" if self.per_channel else "per-tensor"
        calib = "" if self.scheme == "dynamic" else " MinMax static"
        rr = " reduce-range" if self.reduce_range else ""
        conv = "" if self.quantize_conv else ", Conv float"
        return f"{self.scheme} {self.activations.upper()}S8 {chan}{rr}{calib}{conv}"


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


def _op_types(cfg: Int8Config) -> list[str]:
    extra = [op for op, on in (("Conv", cfg.quantize_conv), ("Gather", cfg.quantize_gather)) if on]
    return [*QUANT_OPS, *extra]


def _quantize_static(
    pre: Path, out_path: Path, calib_inputs: np.ndarray, excluded: list[str], cfg: Int8Config
) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    input_name = onnx.load(str(pre), load_external_data=False).graph.input[0].name
    act = QuantType.QUInt8 if cfg.activations == "u8" else QuantType.QInt8
    fmt = QuantFormat.QDQ if cfg.scheme == "qdq" else QuantFormat.QOperator
    quantize_static(
        str(pre),
        str(out_path),
        ArrayCalibrationReader(input_name, calib_inputs, cfg.batch_size),
        quant_format=fmt,
        op_types_to_quantize=_op_types(cfg),
        per_channel=cfg.per_channel,
        reduce_range=cfg.reduce_range,
        activation_type=act,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=excluded,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": cfg.activations == "s8", "WeightSymmetric": True},
    )


def _quantize_dynamic(pre: Path, out_path: Path, excluded: list[str], cfg: Int8Config) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(pre),
        str(out_path),
        op_types_to_quantize=_op_types(cfg),
        per_channel=cfg.per_channel,
        reduce_range=cfg.reduce_range,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=excluded,
        extra_options={"WeightSymmetric": True},
    )


def quantize_int8(
    fp32_path: Path, out_path: Path, calib_inputs: np.ndarray, cfg: Int8Config
) -> list[str]:
    """Write the int8 model; returns the names of the nodes kept in float.

    ``calib_inputs`` (real tower inputs) are used by the static schemes only.
    """
    with tempfile.TemporaryDirectory(prefix="drivesynth-quant-") as tmp:
        pre = _preprocessed(fp32_path, Path(tmp))
        excluded = sensitive_nodes(pre) if cfg.exclude_last else []
        if cfg.scheme == "dynamic":
            _quantize_dynamic(pre, out_path, excluded, cfg)
        else:
            _quantize_static(pre, out_path, calib_inputs, excluded, cfg)
    _strip_value_info(out_path)
    return excluded


# Ops left in float32 by the fp16 conversion, besides onnxruntime's default block list.
# Transpose: an fp16 Transpose feeding an fp16 MatMul makes ORT 1.31's NchwcTransformer
# (ORT_ENABLE_ALL, the default level) segfault while building the session; every tower has
# that pattern (attention). Minimal reproduction: x[b,4,8] fp16 -> Transpose(1,0,2) ->
# MatMul(w fp16 [8,8]) crashes InferenceSession(path) on the CPU provider.
FP16_KEEP_FLOAT = ("Transpose",)


def _subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs (If/Loop/Scan bodies) read from the enclosing scope."""
    names: set[str] = set()
    for attr in node.attribute:
        graphs = [attr.g] if attr.HasField("g") else list(attr.graphs)
        for graph in graphs:
            inner = {i.name for i in graph.input} | {i.name for i in graph.initializer}
            for sub in graph.node:
                inner.update(sub.output)
            for sub in graph.node:
                names.update(n for n in [*sub.input, *_subgraph_inputs(sub)] if n not in inner)
    return names


def topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder ``graph.node`` so every node comes after the producers of its inputs (stable:
    nodes already in order keep their order). ``ValueError`` on a cycle or a dangling input.
    """
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    available |= {i.name for i in graph.sparse_initializer}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = []
        for node in pending:
            if all(n in available for n in [*node.input, *_subgraph_inputs(node)]):
                ordered.append(node)
                available.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            missing = sorted({n for node in rest for n in node.input if n not in available})
            raise ValueError(f"ONNX graph cannot be sorted: {rest[0].name or rest[0].op_type} "
                             f"needs {missing[:3]} which no node produces")  # fmt: skip
        pending = rest
    nodes = [onnx.NodeProto() for _ in ordered]
    for copy, node in zip(nodes, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(nodes)


def convert_fp16(fp32_path: Path, out_path: Path) -> None:
    """fp16 weights and compute, float32 inputs and outputs (keep_io_types).

    onnxruntime's converter inserts the input casts at the end of the node list (the graph is
    then not topologically sorted, which ``onnx.checker`` rejects): the nodes are sorted
    again, and the result must pass the full checker before it is written.
    """
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(fp32_path))
    blocked = [*DEFAULT_OP_BLOCK_LIST, *FP16_KEEP_FLOAT]
    half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False,
                                    op_block_list=blocked)  # fmt: skip
    topological_sort(half.graph)
    onnx.save(half, str(out_path))
    try:
        onnx.checker.check_model(str(out_path), full_check=True)  # by path: no 2 GiB limit
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        out_path.unlink(missing_ok=True)
        msg = (str(exc).strip().splitlines() or ["invalid"])[0][:200]
        raise ValueError(f"the fp16 conversion of {fp32_path.name} is not a valid ONNX model "
                         f"({msg}): not shipping fp16") from None  # fmt: skip
