"""Repack drivesynth shards for open_clip's own trainer (``open_clip_train.main``).

Its WebDataset loader wants an image under ``png`` (or ``jpg``) and the caption under
``txt``; drivesynth shards hold ``rgb.png``, ``txt`` (the primary caption) and ``json`` with
every caption alternative. Each output sample keeps the key and the RGB image, with one
caption of the allowed families picked deterministically from (seed, key), as the
drivesynth trainer does. Only the standard library is used, so the repacked bytes do not
depend on the webdataset version; tar members are written in input order with fixed
metadata, so the output is byte-identical from run to run.

    python scripts/openclip_shards.py --src 'data/train-{000000..000009}.tar' --out oc/
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = ("rgb.png", "rgb.jpg")


@dataclass(frozen=True)
class RepackConfig:
    src: tuple[str, ...]
    out: str
    families: tuple[str, ...] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.src:
            raise ValueError("RepackConfig.src must name at least one shard, got ()")
        missing = [p for p in self.src if not Path(p).is_file()]
        if missing:
            raise ValueError(f"RepackConfig.src: no such shard {missing[0]!r}")
        if self.families is not None and not self.families:
            raise ValueError("RepackConfig.families must be None or non-empty, got ()")
        if self.seed < 0:
            raise ValueError(f"RepackConfig.seed must be >= 0, got {self.seed}")


def expand(urls: str) -> tuple[str, ...]:
    """Brace-expanded shard paths; several lists may be joined with '::'."""
    import braceexpand

    return tuple(u for part in urls.split("::") for u in braceexpand.braceexpand(part))


def read_samples(path: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {suffix: bytes})`` for each sample of a tar, grouped by key in tar order."""
    key, files = None, {}
    with tarfile.open(path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.rsplit("/", 1)[-1]
            stem, _, suffix = name.partition(".")
            if stem != key and files:
                yield key, files
                files = {}
            key = stem
            files[suffix] = tar.extractfile(member).read()
    if files:
        yield key, files


def pick_caption(files: dict[str, bytes], families: tuple[str, ...] | None, seed: int,
                 key: str) -> str | None:  # fmt: skip
    """A caption of the allowed families (deterministic in seed and key), or None."""
    from sim.seeding import rng_for  # numpy only

    if families is None and "json" not in files:
        return files["txt"].decode("utf-8") if "txt" in files else None
    meta = json.loads(files["json"])
    options = [c["text"] for c in meta.get("captions", [])
               if families is None or c["family"] in families]  # fmt: skip
    if not options:
        return None
    return options[int(rng_for(seed, "openclip", key).integers(len(options)))]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def repack_shard(src: str, dst: Path, cfg: RepackConfig) -> dict[str, int]:
    """One drivesynth shard -> one ``png``/``txt`` shard; returns written/skipped counts."""
    counts = {"written": 0, "skipped": 0}
    tmp = dst.with_name(dst.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for key, files in read_samples(src):
            image = next((files[s] for s in IMAGE_SUFFIXES if s in files), None)
            caption = pick_caption(files, cfg.families, cfg.seed, key)
            if image is None or caption is None:
                counts["skipped"] += 1
                continue
            ext = "png" if "rgb.png" in files else "jpg"
            _add(tar, f"{key}.{ext}", image)
            _add(tar, f"{key}.txt", caption.encode("utf-8"))
            counts["written"] += 1
    tmp.replace(dst)
    return counts


def repack(cfg: RepackConfig) -> dict:
    """Repack every shard of ``cfg.src`` into ``cfg.out``; returns counts and the URL list."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    totals = {"written": 0, "skipped": 0}
    for index, src in enumerate(cfg.src):
        counts = repack_shard(src, out / f"oc-{index:06d}.tar", cfg)
        for name, value in counts.items():
            totals[name] += value
    urls = str(out / f"oc-{{000000..{len(cfg.src) - 1:06d}}}.tar")
    return {"shards": len(cfg.src), **totals, "urls": urls}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", required=True, help="drivesynth shard URLs (brace notation)")
    parser.add_argument("--out", required=True, help="folder for oc-000000.tar ...")
    parser.add_argument(
        "--families",
        default=None,
        help="comma list of caption families to draw from (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="caption choice seed")
    args = parser.parse_args(argv)
    families = tuple(f for f in (args.families or "").split(",") if f) or None
    try:
        result = repack(RepackConfig(expand(args.src), args.out, families, args.seed))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
