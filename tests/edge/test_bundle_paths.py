"""Every path a bundle manifest names stays inside the bundle and under its checksums; a
manifest of the wrong shape is one line; bundles keep the user's umask (issue 19)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from tinybundle import add_checksummed, make_bundle, read_manifest, write_manifest

from edge.cli import main
from edge.runtime.bundle import BundleError, load_bundle, update_manifest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("tiny") / "bundle")


@pytest.fixture()
def bundle(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "b"))


@pytest.fixture()
def outside(tmp_path: Path, pristine: Path) -> Path:
    """A valid model outside the bundle (what an attacker would have loaded unverified)."""
    path = tmp_path / "evil.onnx"
    shutil.copy(pristine / "image.fp32.onnx", path)
    return path


def _point_tower_at(bundle: Path, rel: str, listed_as: str | None, target: Path) -> None:
    manifest = add_checksummed(bundle, listed_as, target) if listed_as else read_manifest(bundle)
    manifest["towers"]["image"]["variants"]["fp32"]["file"] = rel
    write_manifest(bundle, manifest)


def test_tiny_bundle_loads(bundle: Path) -> None:
    assert load_bundle(bundle).manifest["embed_dim"] == 8


def test_absolute_tower_path_is_refused(bundle: Path, outside: Path) -> None:
    _point_tower_at(bundle, str(outside), None, outside)
    with pytest.raises(BundleError, match="not a plain relative path"):
        load_bundle(bundle)


def test_absolute_tower_path_listed_with_its_checksum_is_refused(bundle, outside) -> None:
    _point_tower_at(bundle, str(outside), str(outside), outside)
    with pytest.raises(BundleError, match="not a plain relative path"):
        load_bundle(bundle)


def test_dotdot_tower_path_is_refused(bundle: Path, outside: Path) -> None:
    _point_tower_at(bundle, "../evil.onnx", "../evil.onnx", outside)
    with pytest.raises(BundleError, match="not a plain relative path"):
        load_bundle(bundle)


def test_files_entry_outside_the_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    secret = tmp_path / "hostname"
    secret.write_text("box\n")
    write_manifest(bundle, add_checksummed(bundle, "../../" + secret.name, secret))
    with pytest.raises(BundleError, match="not a plain relative path"):
        load_bundle(bundle)


def test_labels_outside_the_bundle_are_refused(bundle: Path, tmp_path: Path) -> None:
    shutil.copy(bundle / "labels.npz", tmp_path / "labels.npz")
    manifest = add_checksummed(bundle, "../labels.npz", tmp_path / "labels.npz")
    manifest["labels"]["file"] = "../labels.npz"
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match="labels.file|not a plain relative path"):
        load_bundle(bundle)


def test_tower_file_not_covered_by_checksums_is_refused(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    del manifest["files"]["image.fp32.onnx"]
    (bundle / "image.fp32.onnx").rename(bundle / "sub.onnx")
    manifest["towers"]["image"]["variants"]["fp32"]["file"] = "sub.onnx"
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match="unlisted file sub.onnx|not covered"):
        load_bundle(bundle)


def test_heldout_outside_or_unlisted_is_refused(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    manifest["heldout"] = {"file": "heldout.npz"}
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match="heldout.file 'heldout.npz' is not covered"):
        load_bundle(bundle)


def test_symlink_out_of_the_bundle_is_refused(bundle: Path, outside: Path) -> None:
    (bundle / "link.onnx").symlink_to(outside)
    manifest = add_checksummed(bundle, "link.onnx", outside)
    manifest["towers"]["image"]["variants"]["fp32"]["file"] = "link.onnx"
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match="symbolic link"):
        load_bundle(bundle)


def test_symlinked_manifest_is_refused(bundle: Path, tmp_path: Path) -> None:
    shutil.move(bundle / "manifest.json", tmp_path / "m.json")
    (bundle / "manifest.json").symlink_to(tmp_path / "m.json")
    with pytest.raises(BundleError, match="symbolic link"):
        load_bundle(bundle)


def test_fifo_in_the_bundle_is_refused_without_hanging(bundle: Path) -> None:
    os.mkfifo(bundle / "pipe.onnx")
    with pytest.raises(BundleError, match="not a regular file"):
        load_bundle(bundle)


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda m: m.pop("towers"), "'towers' must be a non-empty object"),
        (lambda m: m.pop("labels"), "'labels' must be a non-empty object"),
        (lambda m: m.update(towers=["image"]), "'towers' must be a non-empty object"),
        (lambda m: m.update(labels="labels.npz"), "'labels' must be a non-empty object"),
        (lambda m: m["towers"].update(image=5), "towers.image must be"),
        (lambda m: m["towers"]["image"].update(variants={"fp32": {"file": 7}}), "file name"),
        (lambda m: m["labels"].update(tasks={"weather": {"labels": "clear"}}), "list of strings"),
        (lambda m: m["labels"].update(logit_scale="big"), "logit_scale"),
        (lambda m: m["labels"].update(logit_scale=float("inf")), "logit_scale"),
        (lambda m: m.update(files=["labels.npz"]), "'files' must map"),
        (lambda m: m["files"].update({"labels.npz": 5}), "sha256"),
        (lambda m: m["towers"].update(lidar={"variants": {}}), "unknown tower"),
        (lambda m: m.update(preprocess={"image": {"size": "big"}}), "preprocess"),
        (lambda m: m["towers"]["image"]["variants"]["fp32"].update(ort_optimization="max"),
         "ort_optimization"),
    ],
)  # fmt: skip
def test_malformed_manifest_is_one_line_exit_2(bundle: Path, tmp_path: Path, capsys,
                                               mutate, needle) -> None:  # fmt: skip
    from PIL import Image

    manifest = read_manifest(bundle)
    mutate(manifest)
    write_manifest(bundle, manifest)
    image = tmp_path / "a.png"
    Image.new("RGB", (20, 20)).save(image)
    assert main(["edge", "run", "--bundle", str(bundle), "--image", str(image)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


@pytest.mark.parametrize("content", [b"", b"\x00\xff" * 10, b"[1, 2]", b'"text"', b"{" * 5000])
def test_unreadable_manifest_is_one_line(bundle: Path, tmp_path: Path, capsys, content) -> None:
    (bundle / "manifest.json").write_bytes(content)
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    assert main(["edge", "run", "--bundle", str(bundle), "--image", str(image)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.json" in err[0], err


def test_garbage_tower_with_a_matching_checksum_is_one_line(bundle: Path, tmp_path: Path,
                                                            capsys) -> None:  # fmt: skip
    from PIL import Image

    (bundle / "image.fp32.onnx").write_bytes(b"not an onnx model")
    manifest = add_checksummed(bundle, "image.fp32.onnx", bundle / "image.fp32.onnx")
    write_manifest(bundle, manifest)
    image = tmp_path / "a.png"
    Image.new("RGB", (20, 20)).save(image)
    assert main(["edge", "run", "--bundle", str(bundle), "--image", str(image)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "image.fp32.onnx is not a usable ONNX model" in err[0], err


def test_label_embeddings_of_the_wrong_shape_are_refused(bundle: Path) -> None:
    import numpy as np

    np.savez(bundle / "labels.npz", weather=np.ones((2, 8), np.float32),
             time_of_day=np.ones((2, 8), np.float32))  # fmt: skip
    write_manifest(bundle, add_checksummed(bundle, "labels.npz", bundle / "labels.npz"))
    with pytest.raises(BundleError, match="embeddings of task weather must be float"):
        load_bundle(bundle)


@pytest.mark.parametrize("umask,dir_mode,file_mode", [(0o022, 0o755, 0o644),
                                                      (0o077, 0o700, 0o600),
                                                      (0o002, 0o775, 0o664)])  # fmt: skip
def test_bundle_and_manifest_modes_follow_the_umask(tmp_path: Path, umask: int, dir_mode: int,
                                                    file_mode: int) -> None:  # fmt: skip
    old = os.umask(umask)
    try:
        bundle = make_bundle(tmp_path / "b")
        update_manifest(bundle, {"selected": {"variant": "fp32"}})
    finally:
        os.umask(old)
    assert stat.S_IMODE(bundle.stat().st_mode) == dir_mode
    for path in bundle.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == file_mode, path.name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary left"


def test_manifest_rewrite_keeps_an_existing_mode(bundle: Path) -> None:
    os.chmod(bundle / "manifest.json", 0o640)
    update_manifest(bundle, {"selected": {"variant": "fp32"}})
    assert stat.S_IMODE((bundle / "manifest.json").stat().st_mode) == 0o640
    assert json.loads((bundle / "manifest.json").read_text())["selected"]["variant"] == "fp32"
