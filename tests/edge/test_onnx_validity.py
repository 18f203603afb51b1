"""Every ONNX file a bundle ships passes onnx.checker and runs in a default InferenceSession
(issue 19: fp16 towers were not topologically sorted and crashed onnxruntime)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.export import check_models
from edge.quantize import convert_fp16, topological_sort

DEFAULT_SESSION = (
    "import sys, numpy as np, onnxruntime as ort; "
    "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider']); "
    "s.run(None, {s.get_inputs()[0].name: np.ones((2, 4, 8), np.float32)})"
)


def attention_like(path: Path, dtype: int = TensorProto.FLOAT) -> Path:
    """x [b, 4, 8] -> LayerNorm -> Transpose -> MatMul -> Add: the pattern of every tower."""
    np_type = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np_type), "w"),
             numpy_helper.from_array(np.ones(8, np_type), "scale"),
             numpy_helper.from_array(np.zeros(8, np_type), "bias")]  # fmt: skip
    nodes = [helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["ln"], axis=-1),
             helper.make_node("Transpose", ["ln"], ["t"], perm=[1, 0, 2]),
             helper.make_node("MatMul", ["t", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "bias"], ["y"])]  # fmt: skip
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", dtype, ["b", 4, 8])],
        [helper.make_tensor_value_info("y", dtype, [4, "b", 8])], inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def test_fp16_conversion_is_valid_and_runs_in_a_default_session(tmp_path: Path) -> None:
    fp32 = attention_like(tmp_path / "t.fp32.onnx")
    fp16 = tmp_path / "t.fp16.onnx"
    convert_fp16(fp32, fp16)
    onnx.checker.check_model(str(fp16), full_check=True)
    assert any(i.data_type == TensorProto.FLOAT16 for i in onnx.load(str(fp16)).graph.initializer)
    proc = subprocess.run([sys.executable, "-c", DEFAULT_SESSION, str(fp16)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-500:])
    check_models([fp32, fp16], np.ones((2, 4, 8), np.float32))


def test_topological_sort_orders_nodes_and_detects_dangling_inputs() -> None:
    nodes = [helper.make_node("Relu", ["a"], ["b"]), helper.make_node("Neg", ["x"], ["a"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [1])],
                              [helper.make_tensor_value_info("b", 1, [1])])  # fmt: skip
    topological_sort(graph)
    assert [n.op_type for n in graph.node] == ["Neg", "Relu"]
    graph.node.append(helper.make_node("Abs", ["nowhere"], ["c"]))
    with pytest.raises(ValueError, match="nowhere"):
        topological_sort(graph)


def test_a_model_that_crashes_onnxruntime_is_not_shipped(tmp_path: Path) -> None:
    """check_models runs the session in a child: a segfault there is one ValueError here."""
    model = attention_like(tmp_path / "crash.onnx", TensorProto.FLOAT16)
    probe = subprocess.run([sys.executable, "-c", DEFAULT_SESSION.replace("float32", "float16"),
                            str(model)], capture_output=True, timeout=120)  # fmt: skip
    if probe.returncode >= 0:
        pytest.skip("this onnxruntime no longer crashes on fp16 Transpose->MatMul")
    with pytest.raises(ValueError, match=r"crash.onnx fails the ONNX check \(onnxruntime crashed"):
        check_models([model], np.ones((2, 4, 8), np.float16))


def test_a_model_that_fails_the_checker_is_not_shipped(tmp_path: Path) -> None:
    path = attention_like(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    nodes = list(model.graph.node)[::-1]  # not topologically sorted any more
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="m.onnx fails the ONNX check.*topologically sorted"):
        check_models([path], np.ones((2, 4, 8), np.float32))


@pytest.mark.slow
def test_every_model_of_an_exported_bundle_is_valid(bundle: Path) -> None:
    """The real export (fp32, fp16, int8, int8_qdq towers) ships only checked models."""
    import json

    manifest = json.loads((bundle / "manifest.json").read_text())
    for tower, spec in manifest["towers"].items():
        assert spec["variants"]["fp16"]["ort_optimization"] == "all"
        shape = [2 if d == "batch" else d for d in spec["input_shape"]]
        batch = np.zeros(shape, np.int64 if tower == "text" else np.float32)
        check_models([bundle / v["file"] for v in spec["variants"].values()], batch)
