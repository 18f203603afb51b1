"""Ed25519 signatures of bundles (``cryptography``, part of the ``edge`` extra).

A bundle's signature lives in ``BUNDLE/signature.json`` (the one file besides the manifest
that the manifest does not list)::

    {"format": "drivesynth-bundle-signature", "format_version": 1, "algorithm": "ed25519",
     "bundle_id": "<sha256 hex>", "public_key_sha256": "<sha256 hex of the raw 32-byte key>",
     "payload_sha256": "<sha256 hex of the signed bytes>", "signature": "<base64, 64 bytes>"}

It signs :func:`edge.runtime.identity.signed_payload`: the manifest's canonical JSON without
the board-local ``selected`` key. The manifest holds the sha256 of every other file, so the
signature covers the whole bundle once :func:`edge.runtime.bundle.verify` has checked them.

Keys are PEM files: PKCS#8 private keys (``edge keygen`` writes them with mode 0600,
unencrypted unless ``DRIVESYNTH_KEY_PASSPHRASE`` is set) and SubjectPublicKeyInfo public
keys. Errors are one-line :class:`SignatureError`s (a ``BundleError``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.runtime.bundle import SIGNATURE, BundleError, load_bundle, write_json_atomic
from edge.runtime.identity import identity, signed_payload

FORMAT = "drivesynth-bundle-signature"
FORMAT_VERSION = 1
ALGORITHM = "ed25519"
MAX_KEY_BYTES = 16 << 10
MAX_SIGNATURE_BYTES = 64 << 10
PASSPHRASE_ENV = "DRIVESYNTH_KEY_PASSPHRASE"


class SignatureError(BundleError):
    """A signature that is missing, malformed, by another key or not valid for the bundle."""


def _crypto() -> Any:
    """The ``cryptography`` ed25519 and serialization modules, or a one-line error."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise SignatureError("bundle signatures need the Python package 'cryptography': "
                             "pip install 'drivesynth[edge]'") from None  # fmt: skip
    return ed25519, serialization


def _read_small(path: Path, limit: int, what: str) -> bytes:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {what} at {path}")
    if not path.is_file():
        raise ValueError(f"{what} {path} is not a regular file")
    if path.stat().st_size > limit:
        raise ValueError(f"{what} {path} is larger than {limit >> 10} KiB: not a key")
    return path.read_bytes()


def raw_public(public_key: Any) -> bytes:
    _, serialization = _crypto()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key: Any) -> str:
    """sha256 hex of the raw 32-byte public key: how reports and signatures name a key."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()


def load_public_key(path: str | os.PathLike[str]) -> Any:
    """An Ed25519 public key from a PEM file; ``ValueError`` when it is anything else."""
    ed25519, serialization = _crypto()
    data = _read_small(Path(path), MAX_KEY_BYTES, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"public key {path} is not a PEM public key "
                         f"({str(exc).splitlines()[0][:120] if str(exc) else 'unreadable'})"
                         ) from None  # fmt: skip
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError(f"public key {path} is not an Ed25519 key ({type(key).__name__})")
    return key


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """An Ed25519 private key from a PKCS#8 PEM file (passphrase from the environment)."""
    ed25519, serialization = _crypto()
    data = _read_small(Path(path), MAX_KEY_BYTES, "private key")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(
            data, password=passphrase.encode() if passphrase else None)
    except TypeError:
        raise ValueError(f"private key {path} is encrypted: set {PASSPHRASE_ENV}") from None
    except ValueError as exc:
        raise ValueError(f"private key {path} is not a usable PEM private key "
                         f"({str(exc).splitlines()[0][:120] if str(exc) else 'unreadable'})"
                         ) from None  # fmt: skip
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"private key {path} is not an Ed25519 key ({type(key).__name__})")
    return key


def public_pem(public_key: Any) -> bytes:
    _, serialization = _crypto()
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip


def generate_keypair(out: str | os.PathLike[str], overwrite: bool = False) -> dict[str, str]:
    """Write a new private key at ``out`` (mode 0600) and its public key at ``out.pub``."""
    ed25519, serialization = _crypto()
    out = Path(out)
    pub = out.with_name(out.name + ".pub")
    for path in (out, pub):
        if (path.exists() or path.is_symlink()) and not overwrite:
            raise FileExistsError(f"{path} already exists (use --overwrite)")
    key = ed25519.Ed25519PrivateKey.generate()
    passphrase = os.environ.get(PASSPHRASE_ENV)
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())  # fmt: skip
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                encryption)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    tmp_pub = pub.with_name(f".{pub.name}.tmp-{os.getpid()}")
    try:
        tmp_pub.write_bytes(public_pem(key.public_key()))
        os.replace(tmp_pub, pub)
    finally:
        tmp_pub.unlink(missing_ok=True)
    return {"private_key": str(out), "public_key": str(pub),
            "public_key_sha256": fingerprint(key.public_key())}  # fmt: skip


def signature_record(manifest: dict[str, Any], private_key: Any) -> dict[str, Any]:
    """The ``signature.json`` content signing ``manifest`` with ``private_key``."""
    payload = signed_payload(manifest)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "algorithm": ALGORITHM,
        "bundle_id": identity(manifest)["id"],
        "public_key_sha256": fingerprint(private_key.public_key()),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "signature": base64.b64encode(private_key.sign(payload)).decode("ascii"),
        "signed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip


def write_signature(folder: Path, manifest: dict[str, Any], private_key: Any) -> dict[str, Any]:
    """Sign ``manifest`` and write ``folder/signature.json`` atomically."""
    record = signature_record(manifest, private_key)
    write_json_atomic(Path(folder) / SIGNATURE, record)
    return record


def sign_bundle(folder: str | os.PathLike[str], key_path: str | os.PathLike[str]
                ) -> dict[str, Any]:  # fmt: skip
    """Verify the bundle at ``folder`` (checksums, structure, stamped id), then sign it."""
    key = load_private_key(key_path)
    bundle = load_bundle(folder)
    identity(bundle.manifest)  # a manifest edited after export is not signed
    return write_signature(bundle.root, bundle.manifest, key)


def read_signature(folder: Path) -> dict[str, Any] | None:
    """``folder/signature.json`` parsed and type-checked, or None when there is none."""
    path = Path(folder) / SIGNATURE
    if path.is_symlink():
        raise SignatureError(f"bundle {folder}: {SIGNATURE} is a symbolic link: refusing")
    if not path.exists():
        return None
    if not path.is_file() or path.stat().st_size > MAX_SIGNATURE_BYTES:
        raise SignatureError(f"bundle {folder}: {SIGNATURE} is not a small regular file")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise SignatureError(f"bundle {folder}: {SIGNATURE} is not valid JSON") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise SignatureError(f"bundle {folder}: {SIGNATURE} is not a {FORMAT}")
    if record.get("format_version") != FORMAT_VERSION or record.get("algorithm") != ALGORITHM:
        raise SignatureError(f"bundle {folder}: {SIGNATURE} has an unsupported format_version "
                             f"{record.get('format_version')!r} or algorithm "
                             f"{record.get('algorithm')!r} (expected {FORMAT_VERSION}, "
                             f"{ALGORITHM})")  # fmt: skip
    return record


def verify_signature(folder: Path, manifest: dict[str, Any], public_key: Any) -> dict[str, Any]:
    """Raise :class:`SignatureError` unless ``folder`` holds a valid signature of
    ``manifest`` by ``public_key``; returns the signature record.

    Call after the bundle's checksums are verified (``load_bundle``): the signature covers the
    files through their sha256 in the manifest.
    """
    ed25519, _ = _crypto()
    record = read_signature(folder)
    want = fingerprint(public_key)
    if record is None:
        raise SignatureError(f"bundle {folder} is not signed ({SIGNATURE} missing) and a "
                             f"public key is configured ({want[:12]}…): refusing")  # fmt: skip
    if record.get("public_key_sha256") != want:
        got = str(record.get("public_key_sha256"))[:12]
        raise SignatureError(f"bundle {folder} is signed by another key ({got}…, expected "
                             f"{want[:12]}…): refusing")  # fmt: skip
    try:
        signature = base64.b64decode(str(record.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"bundle {folder}: {SIGNATURE} holds no base64 signature") from None
    payload = signed_payload(manifest)
    try:
        public_key.verify(signature, payload)
    except Exception:  # noqa: BLE001 - cryptography raises InvalidSignature
        raise SignatureError(f"bundle {folder}: bad signature (the manifest or a file changed "
                             f"after signing, or it was not signed by {want[:12]}…): "
                             "refusing") from None  # fmt: skip
    if record.get("bundle_id") != identity(manifest, strict=False)["id"]:
        raise SignatureError(f"bundle {folder}: {SIGNATURE} names another bundle id: refusing")
    return record


__all__ = ["SIGNATURE", "SignatureError", "fingerprint", "generate_keypair", "load_private_key",
           "load_public_key", "sign_bundle", "verify_signature", "write_signature"]  # fmt: skip
