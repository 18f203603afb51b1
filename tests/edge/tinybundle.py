"""A tiny, valid edge bundle built without torch (hand-made ONNX towers), in milliseconds.

The towers are linear maps of pooled inputs (image: mean over pixels, audio: mean over mel
frames, text: the token ids), so a bundle can be made, altered and run in any test. With
``clip_frames`` it is a clip bundle (format version 2): the image tower takes
``[batch, T, 3, S, S]`` and weighs each frame's mean colour by its own matrix, so the
embedding depends on which frames are taken and in what order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SIZE = 16
EMBED_DIM = 8
CONTEXT = 4
TASKS = {"weather": ["clear", "rain", "fog"], "time_of_day": ["day", "night"]}


def _tower(name: str, input_shape: list, dtype: int, weight: np.ndarray, axes: list[int],
           flatten: bool = False):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info(name, dtype, input_shape)
    y = helper.make_tensor_value_info(f"{name}_embedding", TensorProto.FLOAT,
                                      ["batch", weight.shape[1]])  # fmt: skip
    inits = [numpy_helper.from_array(weight.astype(np.float32), "w")]
    nodes = []
    src = name
    if dtype != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [src], ["xf"], to=TensorProto.FLOAT))
        src = "xf"
    if axes:
        inits.append(numpy_helper.from_array(np.asarray(axes, np.int64), "axes"))
        nodes.append(helper.make_node("ReduceMean", [src, "axes"], ["pooled"], keepdims=0))
        src = "pooled"
    if flatten:
        nodes.append(helper.make_node("Flatten", [src], ["flat"], axis=1))
        src = "flat"
    nodes.append(helper.make_node("MatMul", [src, "w"], [f"{name}_embedding"]))
    graph = helper.make_graph(nodes, f"{name}_tower", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    onnx.checker.check_model(model, full_check=True)
    return model


def _image_tower(rng: np.random.Generator, clip_frames: int):
    from onnx import TensorProto

    if not clip_frames:
        return _tower("image", ["batch", 3, IMAGE_SIZE, IMAGE_SIZE], TensorProto.FLOAT,
                      rng.standard_normal((3, EMBED_DIM)), [2, 3])  # fmt: skip
    # mean over pixels -> [batch, T, 3] -> flattened [batch, T * 3] -> MatMul
    return _tower("image", ["batch", clip_frames, 3, IMAGE_SIZE, IMAGE_SIZE],
                  TensorProto.FLOAT, rng.standard_normal((clip_frames * 3, EMBED_DIM)),
                  [3, 4], flatten=True)  # fmt: skip


def make_bundle(out: Path, seed: int = 0, clip_frames: int = 0, clip_rate: float = 4.0) -> Path:
    """Write a verified tiny bundle at ``out`` (with the production writer) and return it;
    a clip bundle of ``clip_frames`` frames at ``clip_rate`` Hz when ``clip_frames`` > 0."""
    import onnx
    from onnx import TensorProto

    from edge.runtime.bundle import finalize, staging_dir
    from edge.runtime.preprocess import AudioConfig, ImageConfig

    rng = np.random.default_rng(seed)
    image_cfg, audio_cfg = ImageConfig(size=IMAGE_SIZE), AudioConfig()
    n_mels, frames = audio_cfg.mel.n_mels, audio_cfg.mel.n_frames(audio_cfg.clip_samples)
    towers = {
        "image": _image_tower(rng, clip_frames),
        "audio": _tower("audio", ["batch", n_mels, frames], TensorProto.FLOAT,
                        rng.standard_normal((n_mels, EMBED_DIM)), [2]),
        "text": _tower("text", ["batch", CONTEXT], TensorProto.INT64,
                       rng.standard_normal((CONTEXT, EMBED_DIM)), []),
    }  # fmt: skip
    tmp = staging_dir(out)
    for name, model in towers.items():
        onnx.save(model, str(tmp / f"{name}.fp32.onnx"))
    embeddings = {}
    for task, labels in TASKS.items():
        emb = rng.standard_normal((len(labels), EMBED_DIM)).astype(np.float32)
        embeddings[task] = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    np.savez(tmp / "labels.npz", **embeddings)
    manifest = {
        "embed_dim": EMBED_DIM,
        "preprocess": {"image": image_cfg.to_dict(), "audio": audio_cfg.to_dict(),
                       "text": {"context_length": CONTEXT}},
        "towers": {name: {"input": name, "variants": {"fp32": {
            "file": f"{name}.fp32.onnx", "ort_optimization": "all"}}} for name in towers},
        "labels": {"file": "labels.npz", "logit_scale": 10.0, "tasks": {
            task: {"labels": labels, "prompts": {lab: [lab] for lab in labels},
                   "modalities": ["image", "audio"]} for task, labels in TASKS.items()}},
    }  # fmt: skip
    if clip_frames:
        manifest["preprocess"]["clip"] = {
            "frames": clip_frames, "rate_hz": clip_rate, "sampling": "even",
            "audio_seconds": audio_cfg.clip_samples / audio_cfg.mel.sample_rate}  # fmt: skip
    finalize(tmp, manifest, out, overwrite=False)
    return out


def read_manifest(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "manifest.json").read_text())


def write_manifest(bundle: Path, manifest: Any) -> None:
    """Replace the manifest as an attacker would (no re-verification)."""
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def add_checksummed(bundle: Path, rel: str, path: Path) -> dict[str, Any]:
    """The manifest with ``rel`` listed under ``files`` with ``path``'s true sha256."""
    from edge.runtime.bundle import sha256_file

    manifest = read_manifest(bundle)
    manifest["files"][rel] = sha256_file(path)
    return manifest
