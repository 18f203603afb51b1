"""Edge bundle: a folder of ONNX towers, label embeddings and a checksummed manifest.

Layout::

    BUNDLE/manifest.json          format, versions, preprocessing, towers, labels, sha256s
    BUNDLE/<tower>.<variant>.onnx image / audio / text towers, variants fp32, fp16, int8
    BUNDLE/labels.npz             precomputed text embeddings of the zero-shot prompts
    BUNDLE/signature.json         optional ed25519 signature of the manifest (signing.py)

``manifest["files"]`` maps every other file of the folder to its sha256; :func:`load_bundle`
refuses a bundle where a listed file is missing, altered, or an unlisted file is present
(the manifest and ``signature.json`` excepted). The full format, with its versioning rules,
is documented in docs/bundle.md.
Every path the manifest names (``files`` keys, tower files, labels, held-out set) must be a
plain relative name that resolves inside the folder, without symbolic links, and the towers,
labels and held-out files must be among the checksummed ``files``; a bundle holding a link, a
device or a FIFO is refused, and so is a manifest with missing sections or wrong types.
Bundles are written to a sibling temporary folder and renamed into place, and the manifest is
rewritten through a temporary file and ``os.replace``, so a reader never sees half a bundle;
both get the permissions the user's umask gives a new folder or file. A manifest with a
``bundle`` section gets its id stamped there (:mod:`edge.runtime.identity`) when written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from edge.runtime.identity import stamp_id
from edge.runtime.video import ClipConfig

FORMAT = "drivesynth-edge-bundle"
FORMAT_VERSION = 1  # single-frame bundles
CLIP_FORMAT_VERSION = 2  # clip bundles (``preprocess.clip``): the image tower takes clips
FORMAT_VERSIONS = (FORMAT_VERSION, CLIP_FORMAT_VERSION)
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"  # not listed in the manifest: it signs the manifest
UNLISTED = (MANIFEST, SIGNATURE)
TOWERS = ("image", "audio", "text")
VARIANTS = ("fp32", "fp16", "int8", "int8_qdq")
OPTIMIZATION_LEVELS = ("none", "basic", "extended", "all")
MAX_MANIFEST_BYTES = 16 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    """sha256 of every regular file under ``folder`` except the manifest and signature
    (sorted POSIX paths)."""
    sums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel not in UNLISTED:
            sums[rel] = sha256_file(path)
    return sums


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then restore it at once
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """The mode ``open``/``mkdir`` would give a new file or folder under the current umask
    (``mkstemp``/``mkdtemp`` use 0600/0700 whatever the umask)."""
    return (0o777 if directory else 0o666) & ~current_umask()


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by ``None`` (JSON has no such numbers)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON next to ``path`` and rename it over ``path`` (atomic on POSIX).

    The file keeps the mode of the file it replaces, or gets the umask's default mode.
    """
    text = json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def staging_dir(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` (same file system, so rename is atomic),
    with the umask's default folder mode (the mode the bundle keeps)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, default_mode(directory=True))
    return tmp


def finalize(
    staging: Path,
    manifest: dict[str, Any],
    out: Path,
    overwrite: bool,
    sign: Callable[[Path, dict[str, Any]], Any] | None = None,
) -> Path:
    """Checksum ``staging``, write its manifest (its ``bundle.id`` stamped when it has a
    ``bundle`` section), call ``sign(staging, manifest)`` if given (it writes the signature
    before anyone can see the bundle) and rename it to ``out``."""
    manifest = dict(manifest, format=FORMAT, format_version=format_version(manifest))
    manifest["files"] = checksum_folder(staging)
    if isinstance(manifest.get("bundle"), dict):
        manifest = stamp_id(json_safe(manifest))  # the id of the JSON a reader will see
    write_json_atomic(staging / MANIFEST, manifest)
    if sign is not None:
        sign(staging, json.loads((staging / MANIFEST).read_text(encoding="utf-8")))
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


def format_version(manifest: dict[str, Any]) -> int:
    """The format version a manifest is written with: 2 for a clip bundle (its image tower
    takes ``[batch, frames, 3, S, S]``, which a version-1 runtime would feed single images),
    1 otherwise (single-frame bundles are unchanged)."""
    pre = manifest.get("preprocess")
    return CLIP_FORMAT_VERSION if isinstance(pre, dict) and "clip" in pre else FORMAT_VERSION


def _fail(folder: Path, problem: str) -> BundleError:
    return BundleError(f"bundle {folder}: {problem}")


def _read_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise BundleError(f"bundle {folder} is not a folder")
    path = folder / MANIFEST
    if path.is_symlink():
        raise _fail(folder, f"{MANIFEST} is a symbolic link: refusing")
    if not path.is_file():
        raise BundleError(f"bundle {folder} is incomplete: no {MANIFEST}")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise _fail(folder, f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(folder, f"{MANIFEST} is not valid JSON ({msg})") from None
    if not isinstance(manifest, dict):
        raise _fail(folder, f"{MANIFEST} must hold a JSON object, got {type(manifest).__name__}")
    if manifest.get("format") != FORMAT:
        raise BundleError(f"bundle {folder}: not a {FORMAT} (format={manifest.get('format')!r})")
    version = manifest.get("format_version")
    if isinstance(version, bool) or version not in FORMAT_VERSIONS:
        raise BundleError(
            f"bundle {folder}: format_version {version!r} unsupported (expected one of "
            f"{', '.join(map(str, FORMAT_VERSIONS))})"
        )
    return manifest


def member_path(folder: Path, rel: object, what: str) -> Path:
    """``folder / rel`` for a name from the manifest, refusing any escape from the folder.

    ``rel`` must be a non-empty relative POSIX path without ``.``/``..`` parts, backslashes
    or NUL, no part of it may be a symbolic link, and it must resolve inside ``folder``.
    """
    if not isinstance(rel, str) or not rel:
        raise _fail(folder, f"{what} must be a file name, got {rel!r}")
    parts = rel.split("/")
    if (PurePosixPath(rel).is_absolute() or "\\" in rel or "\0" in rel
            or any(part in ("", ".", "..") for part in parts)):  # fmt: skip
        raise _fail(folder, f"{what} {rel!r} is not a plain relative path inside the bundle: "
                            "refusing")  # fmt: skip
    path = folder
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise _fail(folder, f"{what} {rel!r} goes through a symbolic link: refusing")
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise _fail(folder, f"{what} {rel!r} resolves outside the bundle: refusing") from None
    return path


def _present_files(folder: Path) -> set[str]:
    """Relative paths of the regular files under ``folder``; links and special files refused."""
    present = set()

    def _raise(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise, followlinks=False):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise _fail(folder, f"{rel} is a symbolic link: refusing")
            if name in filenames and not stat.S_ISREG(mode):
                raise _fail(folder, f"{rel} is not a regular file: refusing")
            if name in filenames:
                present.add(rel)
    return present


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Raise :class:`BundleError` unless the folder holds exactly the files listed, unaltered."""
    listed = manifest.get("files")
    if not listed:
        raise BundleError(f"bundle {folder}: manifest lists no files")
    if not isinstance(listed, dict):
        raise _fail(folder, f"manifest 'files' must map names to sha256, "
                            f"got {type(listed).__name__}")  # fmt: skip
    present = _present_files(folder)
    for rel, expected in sorted(listed.items()):
        path = member_path(folder, rel, "files entry")
        if rel in UNLISTED:
            raise _fail(folder, f"files entry {rel!r} names the manifest or its signature: "
                                "refusing")  # fmt: skip
        if not isinstance(expected, str) or not _SHA256.match(expected):
            raise _fail(folder, f"files entry {rel!r} has no sha256 hex digest ({expected!r})")
        if rel not in present:
            if path.exists():
                raise _fail(folder, f"{rel} is not a regular file: refusing")
            raise BundleError(f"bundle {folder} is incomplete: {rel} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"bundle {folder}: checksum mismatch for {rel} "
                f"(expected {expected[:12]}…, got {actual[:12]}…): refusing a tampered bundle"
            )
    extra = sorted(present - set(listed) - set(UNLISTED))
    if extra:
        raise BundleError(f"bundle {folder}: unlisted file {extra[0]}: refusing a tampered bundle")


def _mapping(folder: Path, value: Any, what: str, empty_ok: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict) or (not value and not empty_ok):
        got = type(value).__name__ if value is not None else "nothing"
        raise _fail(folder, f"manifest {what} must be a non-empty object, got {got}")
    return value


def _covered(folder: Path, manifest: dict[str, Any], rel: Any, what: str) -> str:
    member_path(folder, rel, what)
    if rel not in manifest["files"]:
        raise _fail(folder, f"{what} {rel!r} is not covered by the manifest's checksums: "
                            "refusing")  # fmt: skip
    return rel


def check_structure(folder: Path, manifest: dict[str, Any]) -> None:
    """Types and paths of the sections the runtime reads: towers, labels, held-out set."""
    towers = _mapping(folder, manifest.get("towers"), "'towers'")
    for tower, spec in towers.items():
        if tower not in TOWERS:
            raise _fail(folder, f"manifest names an unknown tower {tower!r} (known: {TOWERS})")
        spec = _mapping(folder, spec, f"towers.{tower}")
        variants = _mapping(folder, spec.get("variants"), f"towers.{tower}.variants")
        for variant, entry in variants.items():
            where = f"towers.{tower}.variants.{variant}"
            if variant not in VARIANTS:
                raise _fail(folder, f"manifest {where}: unknown variant (known: {VARIANTS})")
            entry = _mapping(folder, entry, where)
            _covered(folder, manifest, entry.get("file"), f"{where}.file")
            level = entry.get("ort_optimization", "all")
            if level not in OPTIMIZATION_LEVELS:
                raise _fail(folder, f"manifest {where}.ort_optimization must be one of "
                                    f"{OPTIMIZATION_LEVELS}, got {level!r}")  # fmt: skip
    labels = _mapping(folder, manifest.get("labels"), "'labels'")
    _covered(folder, manifest, labels.get("file"), "labels.file")
    scale = labels.get("logit_scale", 100.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        raise _fail(folder, f"manifest labels.logit_scale must be a finite number, got {scale!r}")
    tasks = _mapping(folder, labels.get("tasks"), "labels.tasks", empty_ok=True)
    for task, spec in tasks.items():
        spec = _mapping(folder, spec, f"labels.tasks.{task}")
        names = spec.get("labels")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise _fail(folder, f"manifest labels.tasks.{task}.labels must be a non-empty list "
                                f"of strings, got {names!r}"[:300])  # fmt: skip
        modalities = spec.get("modalities", ["image", "audio"])
        if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
            raise _fail(folder, f"manifest labels.tasks.{task}.modalities must be a list of "
                                f"strings, got {modalities!r}"[:300])  # fmt: skip
    heldout = manifest.get("heldout")
    if heldout is not None:
        _covered(folder, manifest, _mapping(folder, heldout, "'heldout'").get("file"),
                 "heldout.file")  # fmt: skip
    selected = manifest.get("selected")
    if selected is not None:
        variant = _mapping(folder, selected, "'selected'").get("variant")
        if variant not in VARIANTS:
            raise _fail(folder, f"manifest selected.variant must be one of {VARIANTS}, "
                                f"got {variant!r}")  # fmt: skip
    if not isinstance(manifest.get("preprocess"), dict):
        raise _fail(folder, "manifest 'preprocess' must be an object")
    text = manifest["preprocess"].get("text")
    if isinstance(text, dict) and "vocab" in text:
        _covered(folder, manifest, text["vocab"], "preprocess.text.vocab")
    _check_clip(folder, manifest)


def _check_clip(folder: Path, manifest: dict[str, Any]) -> None:
    """A clip section exactly when the format version says so, and a valid one."""
    clip = manifest["preprocess"].get("clip")
    if (clip is not None) != (manifest.get("format_version") == CLIP_FORMAT_VERSION):
        raise _fail(folder, f"manifest format_version {manifest.get('format_version')} "
                            f"{'with' if clip is not None else 'without'} preprocess.clip: "
                            f"clip bundles are format_version {CLIP_FORMAT_VERSION}, others "
                            f"{FORMAT_VERSION}")  # fmt: skip
    if clip is not None:
        clip = _mapping(folder, clip, "preprocess.clip")
        try:
            ClipConfig.from_dict(clip)
        except (KeyError, TypeError, ValueError) as exc:
            what = f"lacks {exc}" if isinstance(exc, KeyError) else f"is invalid ({exc})"
            raise _fail(folder, f"manifest preprocess.clip {what}"[:300]) from None


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
        rel = _covered(self.root, self.manifest, variants[variant]["file"],
                       f"towers.{tower}.variants.{variant}.file")  # fmt: skip
        return self.root / rel

    def text_vocab(self) -> Path | None:
        """The tokenizer's BPE vocabulary the bundle ships (bundles made before it: None)."""
        text = self.manifest["preprocess"].get("text")
        if not isinstance(text, dict) or "vocab" not in text:
            return None
        return self.root / _covered(self.root, self.manifest, text["vocab"],
                                    "preprocess.text.vocab")  # fmt: skip

    def variants(self, tower: str) -> list[str]:
        return sorted(self.manifest["towers"].get(tower, {}).get("variants", {}))

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.manifest["labels"]["tasks"]

    @property
    def clip(self) -> ClipConfig | None:
        """The :class:`edge.runtime.video.ClipConfig` of a clip bundle, None otherwise."""
        clip = self.manifest["preprocess"].get("clip")
        return None if clip is None else ClipConfig.from_dict(clip)

    @property
    def selected_variant(self) -> str | None:
        selected = self.manifest.get("selected")
        return selected.get("variant") if selected else None


def _label_embeddings(root: Path, manifest: dict[str, Any]) -> dict[str, np.ndarray]:
    labels_file = manifest["labels"]["file"]
    try:
        with np.load(root / labels_file, allow_pickle=False) as npz:
            embeddings = {name: np.asarray(npz[name]) for name in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(root, f"{labels_file} is not a readable .npz of label embeddings "
                          f"({msg})") from None  # fmt: skip
    dim = manifest.get("embed_dim")
    for task, spec in manifest["labels"]["tasks"].items():
        if task not in embeddings:
            raise _fail(root, f"{labels_file} lacks embeddings for task {task}")
        emb = embeddings[task]
        n = len(spec["labels"])
        if emb.dtype.kind != "f" or emb.ndim != 2 or emb.shape[0] != n or emb.shape[1] < 1:
            raise _fail(root, f"{labels_file}: embeddings of task {task} must be float "
                              f"[{n}, D], got {emb.dtype} {list(emb.shape)}")  # fmt: skip
        if isinstance(dim, int) and emb.shape[1] != dim:
            raise _fail(root, f"{labels_file}: embeddings of task {task} have {emb.shape[1]} "
                              f"dimensions, the manifest's embed_dim is {dim}")  # fmt: skip
        if not np.isfinite(emb).all():
            raise _fail(root, f"{labels_file}: embeddings of task {task} are not all finite")
    return {name: emb.astype(np.float32) for name, emb in embeddings.items()}


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read and verify a bundle; raises :class:`BundleError` naming what is wrong."""
    root = Path(path)
    manifest = _read_manifest(root)
    verify(root, manifest)
    check_structure(root, manifest)
    embeddings = _label_embeddings(root, manifest)
    return Bundle(root=root, manifest=manifest, label_embeddings=embeddings)


def update_manifest(bundle_root: Path, changes: dict[str, Any]) -> dict[str, Any]:
    """Verify the bundle, merge ``changes`` into its manifest and rewrite it atomically."""
    manifest = _read_manifest(bundle_root)
    verify(bundle_root, manifest)
    check_structure(bundle_root, manifest)
    manifest.update(changes)
    write_json_atomic(bundle_root / MANIFEST, manifest)
    return manifest
