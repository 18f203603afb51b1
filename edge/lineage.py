"""A bundle's version and lineage, stamped by ``drivesynth export`` (docs/bundle.md).

``manifest["bundle"]``: ``version`` (an int: the parent's + 1, or 1, or ``--bundle-version``),
``created_at``, ``parent`` (id and version of ``--parent``, or null) and ``lineage``:
``ancestors`` (ids, oldest first), ``checkpoint_sha256``, ``checkpoint_ancestors`` (the
sha256 of the checkpoints the checkpoint was continued from with ``train --init``, oldest
first), and ``data``: one entry per data set manifest known to have fed the bundle (the
folders of the checkpoint's training and ``--replay`` shards, of ``--data``/``--calib`` and
every ``--data-manifest``) with its path, sha256, seed, split and sample count. ``bundle.id``
is stamped when the manifest is written (:func:`edge.runtime.identity.stamp_id`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.runtime.bundle import load_bundle, sha256_file
from edge.runtime.identity import IdentityError, identity

DATA_MANIFEST = "manifest.json"
MAX_ANCESTORS = 1000


def shard_folders(urls: str | None) -> list[Path]:
    """The local folders holding the shards of ``urls`` (brace lists, '::'-joined)."""
    if not urls:
        return []
    from multimodal.data import expand_urls, local_path

    folders: list[Path] = []
    for url in expand_urls(urls):
        path = local_path(url)
        if path is not None and path.parent not in folders:
            folders.append(path.parent)
    return folders


def data_manifest_entry(path: Path, role: str) -> dict[str, Any]:
    """What the lineage records of one data set manifest (``generate``'s manifest.json)."""
    if not path.is_file():
        raise FileNotFoundError(f"no data manifest at {path}")
    entry: dict[str, Any] = {"role": role, "path": str(path.resolve()),
                             "sha256": sha256_file(path)}  # fmt: skip
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ValueError(f"data manifest {path} is not valid JSON") from None
    if isinstance(data, dict):
        totals = data.get("totals") if isinstance(data.get("totals"), dict) else {}
        for key, value in (("format", data.get("format")), ("id", data.get("id")),
                           ("seed", data.get("seed")), ("split", data.get("split")),
                           ("samples", totals.get("samples"))):  # fmt: skip
            if isinstance(value, str | int) and not isinstance(value, bool):
                entry[key] = value
    return entry


def training_urls(checkpoint: Path, field: str = "train") -> str | None:
    """The training shard URLs a checkpoint records (``train_config.train``, or with
    ``field="replay"`` its ``--replay`` shards), if any."""
    from multimodal.checkpoint import load_state

    state = load_state(checkpoint, mmap=True)
    config = state.get("train_config")
    train = config.get(field) if isinstance(config, dict) else None
    return train if isinstance(train, str) and train else None


def checkpoint_ancestors(checkpoint: Path) -> list[str]:
    """The sha256 of the checkpoints ``checkpoint``'s run was continued from (``train
    --init``, recorded in its ``lineage``), oldest first; [] for a run from scratch."""
    from multimodal.checkpoint import load_state

    lineage = load_state(checkpoint, mmap=True).get("lineage")
    found = lineage.get("ancestors") if isinstance(lineage, dict) else None
    return [a for a in found if isinstance(a, str)] if isinstance(found, list) else []


def data_lineage(
    checkpoint: Path | None,
    heldout_urls: str | None,
    calib_urls: str | None,
    manifests: list[Path] | tuple[Path, ...] = (),
) -> list[dict[str, Any]]:
    """One entry per data manifest, given (role "given") or found beside the shards of the
    checkpoint's training run ("train") and its replayed shards ("replay"), ``--data``
    ("heldout") and ``--calib`` ("calib")."""
    found: list[tuple[Path, str]] = [(Path(p), "given") for p in manifests]
    train = training_urls(checkpoint) if checkpoint is not None else None
    replay = training_urls(checkpoint, "replay") if checkpoint is not None else None
    for urls, role in ((train, "train"), (replay, "replay"), (heldout_urls, "heldout"),
                       (calib_urls, "calib")):  # fmt: skip
        for folder in shard_folders(urls):
            if (folder / DATA_MANIFEST).is_file():
                found.append((folder / DATA_MANIFEST, role))
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path, role in found:
        key = str(path.resolve())
        if key not in seen:
            seen.add(key)
            entries.append(data_manifest_entry(path, role))
    return entries


def bundle_section(
    parent: Path | None = None,
    version: int | None = None,
    checkpoint_sha256: str | None = None,
    data: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``manifest["bundle"]`` without its id (stamped when the manifest is written)."""
    parent_ref, ancestors = None, []
    if parent is not None:
        bundle = load_bundle(parent)
        try:
            ident = identity(bundle.manifest)
        except IdentityError as exc:
            raise ValueError(f"--parent {parent}: {exc}") from None
        parent_ref = {"id": ident["id"], "version": ident["version"]}
        section = bundle.manifest.get("bundle") or {}
        old = section.get("lineage", {}).get("ancestors", []) if isinstance(section, dict) else []
        ancestors = [a for a in old if isinstance(a, str)][-(MAX_ANCESTORS - 1):] + [ident["id"]]
    if version is None:
        version = parent_ref["version"] + 1 if parent_ref else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"--bundle-version must be an int >= 1, got {version!r}")
    if parent_ref and version <= parent_ref["version"]:
        raise ValueError(f"--bundle-version {version} must be greater than the parent's "
                         f"version {parent_ref['version']}")  # fmt: skip
    return {"version": version, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parent": parent_ref,
            "lineage": {"ancestors": ancestors, "checkpoint_sha256": checkpoint_sha256,
                        "data": data or []}}  # fmt: skip
