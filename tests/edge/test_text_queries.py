"""Text queries on the board: the bundle ships the tokenizer's vocabulary, `edge run --text`
embeds queries torch-free and agrees with the PyTorch model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main
from edge.runtime import EdgeModel
from edge.runtime.bundle import MANIFEST, BundleError, load_bundle

pytestmark = pytest.mark.slow

QUERIES = ["a snowy road at night", "driving in foggy weather", "an aggressive driver"]


def test_text_embeddings_match_the_torch_model(bundle: Path, checkpoint: Path) -> None:
    import torch

    from multimodal.checkpoint import load_checkpoint

    model, _, tokenizer = load_checkpoint(checkpoint)
    with torch.no_grad():
        reference = model.encode_text(tokenizer(QUERIES)).numpy()
    board = EdgeModel(bundle, variant="fp32").embed_text(QUERIES)
    cos = (board * reference).sum(1) / np.linalg.norm(board, axis=1) / np.linalg.norm(
        reference, axis=1)
    assert cos.min() > 0.999, cos


def test_edge_run_text_queries(bundle: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "a.png")
    args = ["edge", "run", "--bundle", str(bundle), "--image", str(tmp_path / "a.png")]
    for q in QUERIES[:2]:
        args += ["--text", q]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    tasks = set(json.loads((bundle / MANIFEST).read_text())["labels"]["tasks"])
    assert len(report["text"]) == 2 and set(report["text"][0]) == tasks
    assert np.array(report["text_image_cosine"]).shape == (2, 1)


def test_vocabulary_is_checksummed_and_inside(bundle: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(bundle, tmp_path / "b"))
    manifest = json.loads((copy / MANIFEST).read_text())
    vocab = manifest["preprocess"]["text"]["vocab"]
    assert vocab in manifest["files"]
    (copy / vocab).write_bytes(b"tampered")
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(copy)
    shutil.copyfile(bundle / vocab, copy / vocab)
    manifest["preprocess"]["text"]["vocab"] = "../outside.txt.gz"
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError):
        load_bundle(copy)
