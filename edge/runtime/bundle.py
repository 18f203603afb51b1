"""Edge bundle: a folder of ONNX towers, label embeddings and a checksummed manifest.

Layout::

    BUNDLE/manifest.json          format, versions, preprocessing, towers, labels, sha256s
    BUNDLE/<tower>.<variant>.onnx image / audio / text towers, variants fp32, fp16, int8
    BUNDLE/labels.npz             precomputed text embeddings of the zero-shot prompts

``manifest["files"]`` maps every other file of the folder to its sha256; :func:`load_bundle`
refuses a bundle where a listed file is missing, altered, or an unlisted file is present.
Bundles are written to a sibling temporary folder and renamed into place, and the manifest is
rewritten through a temporary file and ``os.replace``, so a reader never sees half a bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "drivesynth-edge-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TOWERS = ("image", "audio", "text")
VARIANTS = ("fp32", "fp16", "int8", "int8_qdq")


class BundleError(ValueError):
    """A bundle that cannot be trusted or used: missing, incomplete or tampered with."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def tower_file(tower: str, variant: str) -> str:
    if tower not in TOWERS:
        raise ValueError(f"tower must be one of {TOWERS}, got {tower!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return f"{tower}.{variant}.onnx"


def checksum_folder(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under ``folder`` except the manifest (sorted POSIX paths)."""
    sums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST:
            sums[rel] = sha256_file(path)
    return sums


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON next to ``path`` and rename it over ``path`` (atomic on POSIX)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def staging_dir(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` (same file system, so rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))


def finalize(staging: Path, manifest: dict[str, Any], out: Path, overwrite: bool) -> Path:
    """Checksum ``staging``, write its manifest and rename it to ``out``."""
    manifest = dict(manifest, format=FORMAT, format_version=FORMAT_VERSION)
    manifest["files"] = checksum_folder(staging)
    write_json_atomic(staging / MANIFEST, manifest)
    if out.exists():
        if not overwrite:
            shutil.rmtree(staging)
            raise FileExistsError(f"bundle {out} already exists (use --overwrite)")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old)
    else:
        os.replace(staging, out)
    return out


def _read_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise BundleError(f"bundle {folder} is not a folder")
    path = folder / MANIFEST
    if not path.is_file():
        raise BundleError(f"bundle {folder} is incomplete: no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"bundle {folder}: {MANIFEST} is not valid JSON ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BundleError(f"bundle {folder}: not a {FORMAT} (format={manifest.get('format')!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"bundle {folder}: format_version {manifest.get('format_version')!r} "
            f"unsupported (expected {FORMAT_VERSION})"
        )
    return manifest


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Raise :class:`BundleError` unless the folder holds exactly the files listed, unaltered."""
    listed: dict[str, str] = manifest.get("files") or {}
    if not listed:
        raise BundleError(f"bundle {folder}: manifest lists no files")
    for rel, expected in sorted(listed.items()):
        path = folder / rel
        if not path.is_file():
            raise BundleError(f"bundle {folder} is incomplete: {rel} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"bundle {folder}: checksum mismatch for {rel} "
                f"(expected {expected[:12]}…, got {actual[:12]}…): refusing a tampered bundle"
            )
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    extra = sorted(present - set(listed) - {MANIFEST})
    if extra:
        raise BundleError(f"bundle {folder}: unlisted file {extra[0]}: refusing a tampered bundle")


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its folder, manifest and zero-shot label embeddings."""

    root: Path
    manifest: dict[str, Any]
    label_embeddings: dict[str, np.ndarray]

    def tower_path(self, tower: str, variant: str) -> Path:
        variants = self.manifest["towers"].get(tower, {}).get("variants", {})
        if variant not in variants:
            raise BundleError(
                f"bundle {self.root} has no {variant} variant of the {tower} tower "
                f"(has {sorted(variants)})"
            )
        return self.root / variants[variant]["file"]

    def variants(self, tower: str) -> list[str]:
        return sorted(self.manifest["towers"].get(tower, {}).get("variants", {}))

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.manifest["labels"]["tasks"]

    @property
    def selected_variant(self) -> str | None:
        selected = self.manifest.get("selected")
        return selected.get("variant") if selected else None


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read and verify a bundle; raises :class:`BundleError` naming what is wrong."""
    root = Path(path)
    manifest = _read_manifest(root)
    verify(root, manifest)
    labels_file = manifest["labels"]["file"]
    with np.load(root / labels_file, allow_pickle=False) as npz:
        embeddings = {name: npz[name].astype(np.float32) for name in npz.files}
    missing = sorted(set(manifest["labels"]["tasks"]) - set(embeddings))
    if missing:
        raise BundleError(f"bundle {root}: {labels_file} lacks embeddings for task {missing[0]}")
    return Bundle(root=root, manifest=manifest, label_embeddings=embeddings)


def update_manifest(bundle_root: Path, changes: dict[str, Any]) -> dict[str, Any]:
    """Verify the bundle, merge ``changes`` into its manifest and rewrite it atomically."""
    manifest = _read_manifest(bundle_root)
    verify(bundle_root, manifest)
    manifest.update(changes)
    write_json_atomic(bundle_root / MANIFEST, manifest)
    return manifest
