"""Bundle integrity: tampered, incomplete or padded bundles are refused; select is atomic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge.runtime.bundle import BundleError, load_bundle

pytestmark = pytest.mark.slow


@pytest.fixture()
def copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "b"))


def test_intact_bundle_loads(copy: Path) -> None:
    assert load_bundle(copy).manifest["embed_dim"] > 0


def test_flipped_byte_is_refused(copy: Path) -> None:
    target = copy / "image.int8.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum mismatch for image.int8.onnx"):
        load_bundle(copy)


def test_missing_file_is_refused(copy: Path) -> None:
    (copy / "labels.npz").unlink()
    with pytest.raises(BundleError, match="incomplete: labels.npz is missing"):
        load_bundle(copy)


def test_unlisted_file_is_refused(copy: Path) -> None:
    (copy / "extra.onnx").write_bytes(b"x")
    with pytest.raises(BundleError, match="unlisted file extra.onnx"):
        load_bundle(copy)


def test_missing_manifest_is_refused(copy: Path) -> None:
    (copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(copy)


def test_select_records_choice_and_keeps_bundle_valid(copy: Path) -> None:
    from edge.select import SelectConfig, select_variant

    result = select_variant(copy, SelectConfig(budget=1.0, samples=8, repeats=2))
    assert result["variant"] in {"fp32", "fp16", "int8", "int8_qdq"}
    assert result["measured"][result["variant"]]["accuracy_drop_points"] <= 1.0
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["selected"]["variant"] == result["variant"]
    assert load_bundle(copy).selected_variant == result["variant"]
