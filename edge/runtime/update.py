"""Installing bundles on a board: atomic, verified, with the previous one kept.

An install folder ``DIR``::

    DIR/versions/v<version>-<id12>/   complete bundles, each verified before it got this name
    DIR/current  -> versions/...      the bundle in use (a relative symbolic link)
    DIR/previous -> versions/...      the one before it (what --rollback restores)
    DIR/trusted-key.pem               the public key bundles must be signed with, once given
    DIR/history.json                  installs and rollbacks, newest last
    DIR/.lock                         one update at a time (flock)

``install`` verifies the new bundle where it is, copies it into ``DIR/.staging-*`` and
verifies the copy again, since the copy is what gets installed (every checksum, no unlisted
file, the manifest's structure, its stamped id, the signature when a key is configured, and
a smoke run of each tower), renames it to ``versions/<name>`` and only then swaps the links,
each with a symbolic link made beside it and renamed over it (``rename(2)`` is atomic). So
``DIR/current`` always names a complete, verified bundle: an update killed at any point
leaves the old one in use (and a staging folder that the next update deletes).
Bundles older than the previous one are deleted after the swap (``keep``).

Rules: a bundle with a lower version than the current one, or the same version with another
id, is refused unless ``allow_downgrade`` (``--rollback`` is the way back); installing the
current bundle again changes nothing. Once a public key is given for ``DIR`` it is kept
there and every later install or rollback into ``DIR`` must carry a valid signature by it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge.runtime.bundle import (
    MANIFEST,
    SIGNATURE,
    Bundle,
    BundleError,
    _read_manifest,
    default_mode,
    load_bundle,
    member_path,
    write_json_atomic,
)
from edge.runtime.classify import EdgeModel
from edge.runtime.identity import SHORT_ID, IdentityError, identity
from edge.runtime.locking import LOCK, folder_lock, fsync_dir
from edge.runtime.session import SessionConfig, Tower

VERSIONS = "versions"
CURRENT = "current"
PREVIOUS = "previous"
TRUSTED_KEY = "trusted-key.pem"
HISTORY = "history.json"
STAGING = ".staging-"
TRASH = ".trash-"
LINK_TMP = ".link-"
HISTORY_LENGTH = 100
_NAME = re.compile(r"^v\d+-[0-9a-f]{12}$")
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
           "tensor(int64)": np.int64, "tensor(int32)": np.int32}  # fmt: skip


@dataclass(frozen=True)
class UpdateConfig:
    keep: int = 2
    allow_downgrade: bool = False
    smoke: bool = True
    threads: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.keep, bool) or not isinstance(self.keep, int) or self.keep < 2:
            raise ValueError(f"UpdateConfig.keep must be an int >= 2 (current and previous), "
                             f"got {self.keep!r}")  # fmt: skip


def version_name(ident: dict[str, Any]) -> str:
    return f"v{ident['version']}-{ident['id'][:SHORT_ID]}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def link_target(into: Path, link: str) -> str | None:
    """The version name ``DIR/<link>`` points to, or None when the link does not exist."""
    path = into / link
    if not path.is_symlink():
        if path.exists():
            raise ValueError(f"{path} is not a symbolic link: {into} is not an install folder "
                             "made by 'drivesynth edge update'")  # fmt: skip
        return None
    target = os.readlink(path)
    parts = target.split("/")
    if len(parts) != 2 or parts[0] != VERSIONS or not _NAME.match(parts[1]):
        raise ValueError(f"{path} points to {target!r}, not to {VERSIONS}/v<version>-<id>: "
                         "refusing to touch it")  # fmt: skip
    return parts[1]


def _point(into: Path, link: str, name: str) -> None:
    """Make ``DIR/<link>`` point to ``versions/<name>`` atomically (link beside, rename)."""
    tmp = into / f"{LINK_TMP}{link}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(f"{VERSIONS}/{name}", tmp)
    os.replace(tmp, into / link)


def _copy_file(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    os.chmod(dst, default_mode())


def _clean(into: Path) -> list[str]:
    """Delete what a killed update left: staging and trash folders, link temporaries."""
    removed = []
    for path in into.iterdir():
        if path.name.startswith((STAGING, TRASH)) and not path.is_symlink() and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        elif path.name.startswith((LINK_TMP, f".{HISTORY}.", f".{TRUSTED_KEY}.")):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def _trash(into: Path, path: Path) -> None:
    """Remove a folder: renamed out of the way first, so no half-deleted bundle keeps a name."""
    tmp = Path(tempfile.mkdtemp(prefix=TRASH, dir=into))
    os.replace(path, tmp / path.name)
    shutil.rmtree(tmp, ignore_errors=True)


def _public_key(into: Path, public_key: str | os.PathLike[str] | None) -> Any:
    from edge.runtime.signing import load_public_key

    if public_key is not None:
        return load_public_key(public_key)
    pinned = into / TRUSTED_KEY
    return load_public_key(pinned) if pinned.exists() else None


def _pin(into: Path, key: Any) -> None:
    from edge.runtime.signing import public_pem

    data = public_pem(key)
    path = into / TRUSTED_KEY
    if path.is_file() and path.read_bytes() == data:
        return
    tmp = into / f".{TRUSTED_KEY}.{os.getpid()}"
    tmp.write_bytes(data)
    os.replace(tmp, path)


def smoke_test(bundle: Bundle, threads: int = 1) -> dict[str, str]:
    """Open every tower of the variant ``edge run`` uses by default and run it on one zero
    input: a bundle the board's onnxruntime cannot run (a newer opset, a bad graph) is
    refused here, not at the next ``edge run``. Returns the variant run per tower."""
    model = EdgeModel(bundle, threads=threads)  # also checks the preprocessing section
    ran = {}
    for tower in bundle.manifest["towers"]:
        variant = model.variant if model.variant in bundle.variants(tower) else "fp32"
        if variant not in bundle.variants(tower):
            variant = bundle.variants(tower)[0]
        t = Tower(bundle, tower, variant, SessionConfig(threads=threads))
        spec = t.session.get_inputs()[0]
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.shape]
        dtype = _DTYPES.get(spec.type)
        if dtype is None:
            raise BundleError(f"bundle {bundle.root}: the {tower} tower takes {spec.type}")
        out = t(np.zeros(shape, dtype))
        if not np.isfinite(out).all():
            raise BundleError(f"bundle {bundle.root}: the {tower} tower ({variant}) gives "
                              "non-finite embeddings on a zero input")  # fmt: skip
        ran[tower] = variant
    return ran


def verify_installable(folder: Path, key: Any, cfg: UpdateConfig) -> tuple[Bundle, dict]:
    """Everything ``install`` checks of a bundle folder; returns it and its identity."""
    bundle = load_bundle(folder)
    try:
        ident = identity(bundle.manifest)
    except IdentityError as exc:
        raise BundleError(f"bundle {folder}: {exc}") from None
    if key is not None:
        from edge.runtime.signing import verify_signature

        verify_signature(folder, bundle.manifest, key)
    if cfg.smoke:
        smoke_test(bundle, cfg.threads)
    return bundle, ident


def _source_identity(folder: Path) -> dict[str, Any]:
    """The source bundle verified in place (checksums, no unlisted file, structure) and its
    identity: a bad bundle is refused before anything is copied."""
    manifest = load_bundle(folder).manifest
    try:
        return identity(manifest)
    except IdentityError as exc:
        raise BundleError(f"bundle {folder}: {exc}") from None


def _installed_identity(into: Path, name: str | None) -> dict[str, Any] | None:
    if name is None:
        return None
    try:
        return identity(_read_manifest(into / VERSIONS / name), strict=False)
    except (BundleError, IdentityError, OSError):
        return None  # a broken current install: the update repairs it


def _history(into: Path, event: dict[str, Any]) -> None:
    path = into / HISTORY
    try:
        events = json.loads(path.read_text(encoding="utf-8")).get("events", [])
        events = events if isinstance(events, list) else []
    except (OSError, ValueError, AttributeError):
        events = []
    events.append(event)
    write_json_atomic(path, {"events": events[-HISTORY_LENGTH:]})


def _copy_bundle(src: Path, staging: Path) -> int:
    """Copy the manifest, the signature and every listed file of ``src`` into ``staging``."""
    manifest = _read_manifest(src)
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        raise BundleError(f"bundle {src}: manifest lists no files")
    names = [MANIFEST, *([SIGNATURE] if (src / SIGNATURE).is_file() else []), *sorted(listed)]
    total = 0
    for rel in names:
        source = member_path(src, rel, "files entry")
        if not source.is_file():
            raise BundleError(f"bundle {src} is incomplete: {rel} is missing")
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        _copy_file(source, dest)
        total += dest.stat().st_size
    for folder in {(staging / rel).parent for rel in names}:
        fsync_dir(folder)
    return total


def _need_space(src: Path, into: Path) -> None:
    manifest = _read_manifest(src)
    need = sum((member_path(src, rel, "files entry").stat().st_size
                for rel in manifest.get("files", {}) if (src / rel).is_file()), 0)
    free = shutil.disk_usage(into).free
    if need > free:
        raise ValueError(f"not enough space in {into} for {src}: {need / 1e6:.1f} MB needed, "
                         f"{free / 1e6:.1f} MB free")  # fmt: skip


def _prune(into: Path, keep: int) -> list[str]:
    """Delete versions beyond the ``keep`` newest, never the current or previous one."""
    protected = {link_target(into, CURRENT), link_target(into, PREVIOUS)}
    versions = sorted((p for p in (into / VERSIONS).iterdir() if p.name not in protected),
                      key=lambda p: p.stat().st_mtime, reverse=True)  # fmt: skip
    removed = []
    for path in versions[max(keep - len(protected - {None}), 0):]:
        _trash(into, path)
        removed.append(path.name)
    return removed


def _prepare(into: Path) -> None:
    if into.exists() and not into.is_dir():
        raise ValueError(f"--into {into} is not a folder")
    into.mkdir(parents=True, exist_ok=True)
    unknown = sorted(p.name for p in into.iterdir()
                     if p.name not in {VERSIONS, CURRENT, PREVIOUS, TRUSTED_KEY, HISTORY, LOCK}
                     and not p.name.startswith((STAGING, TRASH, LINK_TMP, ".")))  # fmt: skip
    if unknown:
        raise ValueError(f"--into {into} holds files that are not an install's "
                         f"({unknown[0]}, ...): give an empty folder or one made by "
                         "'drivesynth edge update'")  # fmt: skip
    (into / VERSIONS).mkdir(exist_ok=True)


def install(
    src: str | os.PathLike[str],
    into: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | None = None,
    cfg: UpdateConfig | None = None,
) -> dict[str, Any]:
    """Install the bundle ``src`` into the install folder ``into``; see the module doc.

    A refused first install leaves nothing behind: the folders it made are removed."""
    made = None  # the topmost folder of ``into`` that does not exist yet
    for path in (Path(into), *Path(into).parents):
        if os.path.lexists(path):
            break
        made = path
    try:
        return _install(src, into, public_key, cfg)
    except BaseException:
        if made is not None and made.is_dir() and not made.is_symlink():
            shutil.rmtree(made, ignore_errors=True)
        raise


def _install(
    src: str | os.PathLike[str],
    into: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | None = None,
    cfg: UpdateConfig | None = None,
) -> dict[str, Any]:
    cfg = cfg or UpdateConfig()
    src, into = Path(src), Path(into)
    if not src.is_dir():
        raise FileNotFoundError(f"no bundle folder at {src}")
    _prepare(into)
    with folder_lock(into, "install folder"):
        cleaned = _clean(into)
        key = _public_key(into, public_key)
        current = link_target(into, CURRENT)
        now = _installed_identity(into, current)
        new = _source_identity(src)  # early refusals before copying anything
        name = version_name(new)
        if now is not None and now["id"] == new["id"] and current == name:
            return {"status": "unchanged", "current": current, "id": new["id"],
                    "version": new["version"], "cleaned": cleaned}  # fmt: skip
        if now is not None and not cfg.allow_downgrade:
            if new["version"] < now["version"]:
                raise ValueError(f"bundle {src} has version {new['version']}, older than the "
                                 f"installed {now['version']}: refusing a downgrade (use "
                                 "--rollback, or --allow-downgrade)")  # fmt: skip
            if new["version"] == now["version"]:
                raise ValueError(f"bundle {src} has version {new['version']} like the installed "
                                 f"one but another id ({new['id'][:SHORT_ID]}… vs "
                                 f"{now['id'][:SHORT_ID]}…): refusing (use --allow-downgrade)")
        dest = into / VERSIONS / name
        reused = False
        if dest.is_dir() and not dest.is_symlink():
            try:
                _, ident = verify_installable(dest, key, cfg)
                reused = ident["id"] == new["id"]
            except (BundleError, ValueError):
                reused = False
            if not reused:
                _trash(into, dest)
        if not reused:
            _need_space(src, into)
            staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=into))
            try:
                os.chmod(staging, default_mode(directory=True))
                _copy_bundle(src, staging)
                _, ident = verify_installable(staging, key, cfg)  # the copy is what counts
                if ident["id"] != new["id"]:
                    raise BundleError(f"bundle {src} changed while it was being copied: "
                                      "refusing")  # fmt: skip
                os.replace(staging, dest)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            fsync_dir(into / VERSIONS)
        if current is not None and current != name:
            _point(into, PREVIOUS, current)
        _point(into, CURRENT, name)
        fsync_dir(into)
        if key is not None:
            _pin(into, key)
        pruned = _prune(into, cfg.keep)
        event = {"action": "install", "at": _now(), "current": name,
                 "previous": link_target(into, PREVIOUS), "id": new["id"],
                 "version": new["version"], "source": str(src.resolve()),
                 "signed_by": _fingerprint(key)}  # fmt: skip
        _history(into, event)
        return {"status": "installed", **{k: v for k, v in event.items() if k != "action"},
                "reused": reused, "pruned": pruned, "cleaned": cleaned}  # fmt: skip


def _fingerprint(key: Any) -> str | None:
    if key is None:
        return None
    from edge.runtime.signing import fingerprint

    return fingerprint(key)


def rollback(
    into: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | None = None,
    cfg: UpdateConfig | None = None,
) -> dict[str, Any]:
    """Make the previous bundle current again (and the current one previous), after
    verifying it as ``install`` would."""
    cfg = cfg or UpdateConfig()
    into = Path(into)
    if not (into / VERSIONS).is_dir():
        raise FileNotFoundError(f"no install at {into} (nothing to roll back)")
    with folder_lock(into, "install folder"):
        cleaned = _clean(into)
        key = _public_key(into, public_key)
        current, previous = link_target(into, CURRENT), link_target(into, PREVIOUS)
        if previous is None or previous == current:
            raise ValueError(f"{into} has no previous bundle to roll back to")
        target = into / VERSIONS / previous
        if not target.is_dir():
            raise ValueError(f"the previous bundle {previous} is gone from {into}: cannot roll "
                             "back")  # fmt: skip
        _, ident = verify_installable(target, key, cfg)
        if current is not None:
            _point(into, PREVIOUS, current)
        _point(into, CURRENT, previous)
        fsync_dir(into)
        event = {"action": "rollback", "at": _now(), "current": previous, "previous": current,
                 "id": ident["id"], "version": ident["version"],
                 "signed_by": _fingerprint(key)}  # fmt: skip
        _history(into, event)
        return {"status": "rolled_back", **{k: v for k, v in event.items() if k != "action"},
                "cleaned": cleaned}  # fmt: skip


def status(into: str | os.PathLike[str]) -> dict[str, Any]:
    """What is installed (read only: no lock, no verification of the files)."""
    into = Path(into)
    if not (into / VERSIONS).is_dir():
        raise FileNotFoundError(f"no install at {into}")
    out: dict[str, Any] = {"into": str(into)}
    for link in (CURRENT, PREVIOUS):
        name = link_target(into, link)
        ident = _installed_identity(into, name)
        out[link] = None if name is None else {
            "name": name, "id": ident["id"] if ident else None,
            "version": ident["version"] if ident else None}  # fmt: skip
    out["versions"] = sorted(p.name for p in (into / VERSIONS).iterdir())
    key = into / TRUSTED_KEY
    out["trusted_key_sha256"] = _fingerprint(_public_key(into, None)) if key.exists() else None
    try:
        out["history"] = json.loads((into / HISTORY).read_text(encoding="utf-8"))["events"][-5:]
    except (OSError, ValueError, KeyError, TypeError):
        out["history"] = []
    return out


def resolve_bundle(path: str | os.PathLike[str]) -> Path:
    """The bundle folder to load for ``--bundle PATH``: an install folder means its current
    bundle, and a symbolic link is resolved once, so a running process keeps the version it
    verified even if an update swaps the link meanwhile."""
    path = Path(path)
    if not (path / MANIFEST).exists() and (path / CURRENT).is_symlink():
        path = path / CURRENT
    if path.is_symlink():
        resolved = path.resolve()
        if not resolved.is_dir():
            raise BundleError(f"bundle {path} points to {resolved}, which is not a folder")
        return resolved
    return path
