"""Helpers for the board-loop tests: versioned tiny bundles (no torch) and input folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tinybundle import make_bundle, read_manifest


def versioned_bundle(out: Path, version: int, seed: int = 0, parent: dict | None = None) -> Path:
    """A tiny bundle stamped as export stamps one: version, parent, lineage, id."""
    from edge.runtime.bundle import MANIFEST, write_json_atomic
    from edge.runtime.identity import stamp_id

    make_bundle(out, seed=seed)
    manifest = read_manifest(out)
    manifest["bundle"] = {"version": version, "created_at": "2025-01-01T00:00:00Z",
                          "parent": parent, "lineage": {"ancestors": [], "data": [],
                                                        "checkpoint_sha256": None}}  # fmt: skip
    stamp_id(manifest)
    write_json_atomic(out / MANIFEST, manifest)
    return out


def bundle_id(path: Path) -> str:
    from edge.runtime.identity import bundle_id as compute

    return compute(read_manifest(path))


def write_inputs(folder: Path, n: int, seed: int = 0, audio: bool = True,
                 size: tuple[int, int] = (24, 32)) -> list[str]:  # fmt: skip
    """``n`` samples ``sNNN.png`` (+ ``sNNN.flac``) of random pictures and noise."""
    import soundfile as sf
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        name = f"s{i:03d}"
        pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
        if audio:
            wave = (0.2 * rng.standard_normal(16000)).astype(np.float32)
            sf.write(folder / f"{name}.flac", wave, 16000, subtype="PCM_16")
        names.append(name)
    return names


def restamp(bundle: Path) -> Path:
    """Recompute the checksums and the id after a deliberate change (a legitimate rebuild)."""
    from edge.runtime.bundle import MANIFEST, checksum_folder, write_json_atomic
    from edge.runtime.identity import stamp_id

    manifest = read_manifest(bundle)
    manifest["files"] = checksum_folder(bundle)
    stamp_id(manifest)
    write_json_atomic(bundle / MANIFEST, manifest)
    return bundle
