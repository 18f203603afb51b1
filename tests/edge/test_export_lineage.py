"""Export stamps a bundle version and lineage (issue 23), signs with --sign-key, and the board
installs the result: real checkpoint and shards (the session fixtures of conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge.cli import main
from edge.runtime.bundle import load_bundle, sha256_file
from edge.runtime.identity import bundle_id, identity

pytestmark = pytest.mark.slow


def _manifest(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def test_export_stamps_version_one_and_its_lineage(bundle: Path, checkpoint: Path) -> None:
    manifest = _manifest(bundle)
    section = manifest["bundle"]
    assert section["version"] == 1 and section["parent"] is None
    assert section["id"] == bundle_id(manifest) == identity(manifest)["id"]
    lineage = section["lineage"]
    assert lineage["checkpoint_sha256"] == sha256_file(checkpoint)
    assert lineage["ancestors"] == [] and lineage["data"] == []  # no data manifest beside them


def test_child_export_names_parent_and_data_is_signed_and_installs(
    bundle: Path, checkpoint: Path, shards: dict[str, str], tmp_path: Path, capsys
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shard = Path(shutil.copy(shards["val"], data / "val-000000.tar"))
    (data / "manifest.json").write_text(json.dumps(
        {"format": "drivesynth-shards/1", "seed": 5, "split": "val",
         "totals": {"samples": 24, "shards": 1}}))  # fmt: skip
    given = tmp_path / "train" / "manifest.json"
    given.parent.mkdir()
    given.write_text(json.dumps({"format": "drivesynth-shards/1", "seed": 9, "split": "train"}))
    key = tmp_path / "factory.pem"
    assert main(["edge", "keygen", "--out", str(key)]) == 0
    capsys.readouterr()
    out = tmp_path / "child"
    common = ["export", "--checkpoint", str(checkpoint), "--quantize", "none", "--data",
              str(shard), "--heldout", "4", "--calib-samples", "4", "--parent", str(bundle)]

    # refused before any work: a version not above the parent's, a key that is not one
    assert main([*common, "--out", str(out), "--bundle-version", "1"]) == 2
    assert "greater than the parent's version 1" in capsys.readouterr().err
    assert main([*common, "--out", str(out), "--sign-key", str(given)]) == 2
    assert "not a usable PEM private key" in capsys.readouterr().err
    assert not out.exists()

    assert main([*common, "--out", str(out), "--data-manifest", str(given), "--sign-key",
                 str(key)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    child = _manifest(out)
    section = child["bundle"]
    assert f"version 2, id {section['id'][:12]} (signed)" in printed
    parent_id = _manifest(bundle)["bundle"]["id"]
    assert section["version"] == 2 and section["parent"] == {"id": parent_id, "version": 1}
    assert section["lineage"]["ancestors"] == [parent_id]
    entries = {e["role"]: e for e in section["lineage"]["data"]}
    assert set(entries) == {"given", "heldout"}  # --calib defaults to --data: one entry
    assert entries["given"]["sha256"] == sha256_file(given) and entries["given"]["seed"] == 9
    assert entries["heldout"] == {"role": "heldout", "path": str((data / "manifest.json")
                                                                 .resolve()),
                                  "sha256": sha256_file(data / "manifest.json"),
                                  "format": "drivesynth-shards/1", "seed": 5, "split": "val",
                                  "samples": 24}  # fmt: skip
    assert identity(child)["id"] == section["id"]
    load_bundle(out)

    code = main(["edge", "verify", "--bundle", str(out), "--public-key", f"{key}.pub"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["signature_verified"] and report["parent"]["id"] == parent_id

    board = tmp_path / "board"
    assert main(["edge", "update", "--bundle", str(bundle), "--into", str(board)]) == 0
    assert main(["edge", "update", "--bundle", str(out), "--into", str(board), "--public-key",
                 f"{key}.pub"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["edge", "update", "--status", "--into", str(board)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["current"]["version"] == 2 and status["previous"]["id"] == parent_id
