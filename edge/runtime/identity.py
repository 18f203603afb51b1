"""A bundle's identity: its id (a content hash of the manifest), version and lineage.

``manifest["bundle"]`` (stamped by ``drivesynth export``; see docs/bundle.md)::

    {"id": "<sha256 hex>", "version": 3, "created_at": "2025-01-31T12:00:00Z",
     "parent": {"id": "...", "version": 2} | null,
     "lineage": {"ancestors": [...], "checkpoint_sha256": "...", "data": [...]}}

The id is the sha256 of the manifest's canonical JSON (keys sorted, no spaces, ASCII) with
``bundle.id`` itself and the board-local keys (:data:`LOCAL_KEYS`: ``selected``, which
``edge select`` writes on the board) left out. The manifest lists the sha256 of every other
file, so the id names the whole bundle: towers, labels, vocabulary, preprocessing. A
signature signs the same canonical bytes with ``bundle.id`` kept (:func:`signed_payload`).

Bundles made before versioning have no ``bundle`` section: their id is computed the same
way and their version is 0.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

LOCAL_KEYS = ("selected",)
ID_LENGTH = 64
SHORT_ID = 12


class IdentityError(ValueError):
    """A manifest whose stamped identity is malformed or does not match its content."""


def canonical_json(obj: Any) -> bytes:
    """The one byte string of a JSON value: sorted keys, no whitespace, ASCII, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")  # fmt: skip


def normalized(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` as a reader of its JSON file sees it (tuples become lists, ...)."""
    return json.loads(json.dumps(manifest, allow_nan=False))


def _without_local(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in LOCAL_KEYS}


def bundle_id(manifest: dict[str, Any]) -> str:
    """sha256 hex of the canonical manifest without ``bundle.id`` and the board-local keys."""
    body = copy.deepcopy(_without_local(normalized(manifest)))
    if isinstance(body.get("bundle"), dict):
        body["bundle"].pop("id", None)
    return hashlib.sha256(canonical_json(body)).hexdigest()


def signed_payload(manifest: dict[str, Any]) -> bytes:
    """The bytes a bundle signature covers: the canonical manifest without board-local keys."""
    return canonical_json(_without_local(normalized(manifest)))


def stamp_id(manifest: dict[str, Any]) -> dict[str, Any]:
    """Set ``manifest["bundle"]["id"]`` (when the manifest has a ``bundle`` section)."""
    section = manifest.get("bundle")
    if isinstance(section, dict):
        section["id"] = bundle_id(manifest)
    return manifest


def version_of(manifest: dict[str, Any]) -> int:
    """The bundle version (an int >= 1), or 0 for a bundle made before versioning."""
    section = manifest.get("bundle")
    if section is None:
        return 0
    if not isinstance(section, dict):
        raise IdentityError(f"manifest 'bundle' must be an object, got {type(section).__name__}")
    version = section.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise IdentityError(f"manifest bundle.version must be an int >= 1, got {version!r}")
    return version


def identity(manifest: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    """``{"id", "version", "stamped"}`` of a manifest.

    ``strict``: a stamped id that differs from the content's id raises :class:`IdentityError`
    (the manifest was edited after export; ``selected`` excepted).
    """
    computed = bundle_id(manifest)
    version = version_of(manifest)
    section = manifest.get("bundle")
    stamped = section.get("id") if isinstance(section, dict) else None
    if section is not None and strict:
        if not isinstance(stamped, str) or len(stamped) != ID_LENGTH:
            raise IdentityError(f"manifest bundle.id must be a {ID_LENGTH}-digit sha256 hex, "
                                f"got {stamped!r}"[:200])  # fmt: skip
        if stamped != computed:
            raise IdentityError(f"manifest bundle.id {stamped[:SHORT_ID]}… does not match its "
                                f"content ({computed[:SHORT_ID]}…): the manifest was changed "
                                "after export")  # fmt: skip
    return {"id": computed, "version": version, "stamped": section is not None}


def describe(manifest: dict[str, Any]) -> dict[str, Any]:
    """Id, version, parent and creation time, for reports (never raises on odd values)."""
    section = manifest.get("bundle") if isinstance(manifest.get("bundle"), dict) else {}
    try:
        version = version_of(manifest)
    except IdentityError:
        version = None
    return {"id": bundle_id(manifest), "version": version,
            "parent": section.get("parent"), "created_at": section.get("created_at")}  # fmt: skip
