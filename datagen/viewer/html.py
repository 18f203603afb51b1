"""``drivesynth view DIR --html OUT``: a static site over a data set, opened from disk.

Layout of OUT::

    index.html              filters (split, weather, time of day, style, events, QC) + grid
    sample.html#N           one sample: RGB with overlays, depth, audio, captions, json
    viewer/                 the pages' scripts, style and colour bars
    data/index.js           one record per sample (loaded with <script>: file:// has no fetch)
    data/nav.js             the few fields the sample page steps through samples with
    data/state.json         per shard its sha256 and records: unchanged shards are not redone
    samples/SHARD/KEY/      rgb.png sem.png inst.png depth.png spec.png audio.flac thumb.jpg
                            sample.js (the sample's labels, scales and full json)

Samples are decoded with :func:`datagen.sample.decode_sample`. Assets of a shard are made
once: a later run over the same data set only redoes shards whose sha256 changed (and
rewrites the index, e.g. with a new QC report). Shards are processed in parallel with
``workers`` processes.
"""

from __future__ import annotations

import json
import logging
import shutil
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np

from datagen.shards import sha256_of
from datagen.viewer import assets
from datagen.viewer.records import FACETS, attach_qc, facet_counts, find_qc_report, load_qc

log = logging.getLogger(__name__)

STATE_FORMAT = "drivesynth-viewer/1"
STATIC_FILES = ("viewer.css", "common.js", "index.js", "sample.js")
PAGES = ("index.html", "sample.html")
SAMPLE_FILES = ("rgb.png", "sem.png", "inst.png", "depth.png", "spec.png", "audio.flac",
                "thumb.jpg", "sample.js")  # fmt: skip
DEFAULT_THUMB_PX = 128
DEFAULT_PAGE_SIZE = 120


def js_call(fn: str, payload: object) -> str:
    """``fn(<json>);`` — how data files hand their content to the pages (file:// pages
    cannot fetch, but can load scripts)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return f"{fn}({text});\n"


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def sample_payload(sample, shard: str, scales: dict) -> dict:
    meta = sample.meta
    return {
        "key": sample.key, "shard": shard, "txt": sample.txt,
        "width": int(sample.rgb.shape[1]), "height": int(sample.rgb.shape[0]),
        "objects": assets.objects_view(meta), **scales,
        "captions": meta.get("captions") or [{"text": sample.txt, "family": "primary"}],
        "events": meta.get("events") or [], "meta": meta,
    }  # fmt: skip


def write_sample(sample, shard: str, folder: Path, thumb_px: int) -> None:
    """Every asset of one sample under ``folder``."""
    meta = sample.meta
    classes = meta.get("classes") or []
    write_bytes(folder / "rgb.png", assets.png_bytes(sample.rgb))
    write_bytes(folder / "sem.png", assets.png_bytes(assets.semantic_overlay(sample.seg, classes)))
    inst_rgba, inst_legend = assets.instance_overlay(sample.inst)
    write_bytes(folder / "inst.png", assets.png_bytes(inst_rgba))
    depth_rgb, depth_scale = assets.depth_image(sample.depth)
    write_bytes(folder / "depth.png", assets.png_bytes(depth_rgb))
    rate = int((meta.get("audio") or {}).get("sample_rate", 16000))
    spec_rgb, spec_info = assets.spectrogram(sample.audio, rate, float(meta.get("time_s", 0.0)))
    write_bytes(folder / "spec.png", assets.png_bytes(spec_rgb))
    write_bytes(folder / "audio.flac", assets.flac_bytes(sample.audio, rate))
    write_bytes(folder / "thumb.jpg", assets.jpeg_bytes(assets.thumbnail(sample.rgb, thumb_px)))
    present = np.bincount(sample.seg.ravel(), minlength=256)
    seg_legend = [{"id": c["id"], "name": c["name"], "color": c["color"],
                   "px": int(present[int(c["id"]) & 0xFF])}
                  for c in classes if present[int(c["id"]) & 0xFF]]  # fmt: skip
    scales = {"depth": depth_scale, "spectrogram": spec_info, "classes_present": seg_legend,
              "instances_present": inst_legend}  # fmt: skip
    text = js_call("DS.sample", sample_payload(sample, shard, scales))
    write_bytes(folder / "sample.js", text.encode("utf-8"))


def error_record(shard: str, key: str, folder: str, message: str) -> dict:
    return {"shard": shard, "key": key, "dir": folder, "error": message, "split":
            shard.rsplit("-", 1)[0], "scenario": -1, "camera": "", "frame": -1, "time_s": 0.0,
            "preset": "", "family": "", "tod": "", "style": "", "events": [], "speed": 0.0,
            "objects": 0, "caption": "", "w": 0, "h": 0}  # fmt: skip


def build_shard(path: str, out: str, thumb_px: int) -> list[dict]:
    """Write the assets of every sample of one shard; return their records (in tar order).
    An undecodable sample or shard gives a record with ``error`` instead of assets."""
    from datagen.sample import SampleError, decode_sample
    from datagen.shards import ShardError, iter_files
    from datagen.viewer.records import record_of

    shard = Path(path).name
    base = Path(out) / "samples" / Path(shard).stem
    if base.exists():
        shutil.rmtree(base)
    records = []
    try:
        for files in iter_files(path):
            key = str(files.get("__key__"))
            rel = f"samples/{Path(shard).stem}/{key}"
            try:
                sample = decode_sample(files)
            except SampleError as exc:
                records.append(error_record(shard, key, rel, str(exc)))
                continue
            write_sample(sample, shard, Path(out) / rel, thumb_px)
            records.append(record_of(shard, key, sample.meta, sample.txt, rel))
    except ShardError as exc:
        records.append(error_record(shard, "", "", str(exc)))
    return records


def read_state(out: Path) -> dict:
    try:
        state = json.loads((out / "data" / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if state.get("format") == STATE_FORMAT else {}


def intact(out: Path, records: list[dict]) -> bool:
    return all(r.get("error") or all((out / r["dir"] / f).is_file() for f in SAMPLE_FILES)
               for r in records)  # fmt: skip


def check_output(out: Path, force: bool) -> None:
    """OUT is new, empty, or a viewer site already (updated in place); else --force."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    if not out.is_dir() or not any(out.iterdir()) or read_state(out):
        return
    if not force:
        raise ValueError(f"{out} is not empty and holds no viewer site: pass --force to "
                         "replace it, or choose another folder")  # fmt: skip
    shutil.rmtree(out)


def copy_static(out: Path) -> None:
    static = resources.files("datagen.viewer") / "static"
    for name in STATIC_FILES:
        write_bytes(out / "viewer" / name, (static / name).read_bytes())
    for name in PAGES:
        write_bytes(out / name, (static / name).read_bytes())
    write_bytes(out / "viewer" / "depth_bar.png", assets.png_bytes(assets.colour_bar("turbo")))
    db_bar = assets.colour_bar("magma", vertical=True)
    write_bytes(out / "viewer" / "db_bar.png", assets.png_bytes(db_bar))


def index_payload(root: Path | list[Path], records: list[dict], qc_path: Path | list | None,
                  page_size: int) -> dict:  # fmt: skip
    for i, r in enumerate(records):
        r["i"] = i
    roots = [root] if isinstance(root, Path | str) else list(root)
    reports = [qc_path] if isinstance(qc_path, Path | str) else list(qc_path or [])
    return {"dataset": " + ".join(Path(r).resolve().name for r in roots),
            "samples": len(records), "facets": FACETS, "counts": facet_counts(records),
            "qc_report": ", ".join(str(q) for q in reports) or None,
            "page_size": page_size, "records": records}  # fmt: skip


def dataset_shards(roots: list[Path]) -> list[Path]:
    """The shards of every folder; shard names must not repeat across folders (the split
    prefix tells them apart: one folder per split is the usual layout)."""
    shards: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"{root} is not a directory")
        found = sorted(root.glob("*.tar"))
        if not found:
            raise ValueError(f"{root} holds no shards (*.tar)")
        shards += found
    names = [p.name for p in shards]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"shard names repeat across the folders: {', '.join(repeated)}")
    return shards


def qc_findings(roots: list[Path], qc: Path | None
                ) -> tuple[list[Path], dict | None, set[str] | None]:  # fmt: skip
    """The QC reports used (``qc`` for every folder, else each folder's qc.json), their
    findings, and the shards they cover (None: all)."""
    if qc is not None:
        return [qc], load_qc(qc), None
    reports, findings, checked = [], {}, set()
    for root in roots:
        report = find_qc_report(root)
        if report is None:
            continue
        reports.append(report)
        checked |= {p.name for p in root.glob("*.tar")}
        for where, found in load_qc(report).items():
            findings.setdefault(where, []).extend(found)
    return (reports, findings, checked) if reports else ([], None, None)


NAV_FIELDS = ("i", "shard", "key", "dir", "scenario", "camera", "frame", "time_s", "error",
              "qc_detail")  # fmt: skip


def write_index(out: Path, payload: dict) -> None:
    """``data/index.js`` (every record, for the index page) and ``data/nav.js`` (what the
    sample page needs to step through samples and scenarios: a fraction of the size)."""
    write_bytes(out / "data" / "index.js", js_call("DS.index", payload).encode("utf-8"))
    nav = [{k: r[k] for k in NAV_FIELDS if r.get(k) not in (None, [], "")} | {"dir": r["dir"]}
           for r in payload["records"]]
    small = {"samples": payload["samples"], "qc_report": payload["qc_report"], "records": nav}
    write_bytes(out / "data" / "nav.js", js_call("DS.nav", small).encode("utf-8"))


def build_site(root: Path | list[Path], out: Path, qc: Path | None = None, workers: int = 1,
               thumb_px: int = DEFAULT_THUMB_PX, page_size: int = DEFAULT_PAGE_SIZE,
               force: bool = False) -> dict:  # fmt: skip
    """Write (or update) the site over one data set folder or several (e.g. one per split);
    return ``{samples, shards, rebuilt, kept, errors, seconds}``."""
    import time

    start = time.perf_counter()
    roots = [Path(root)] if isinstance(root, Path | str) else [Path(r) for r in root]
    out = Path(out)
    if workers < 1 or thumb_px < 16 or page_size < 1:
        raise ValueError("workers must be >= 1, thumb-px >= 16 and page-size >= 1, got "
                         f"{workers}, {thumb_px}, {page_size}")  # fmt: skip
    shards = dataset_shards(roots)
    qc_paths, findings, checked = qc_findings(roots, qc)
    check_output(out, force)
    out.mkdir(parents=True, exist_ok=True)
    state = read_state(out)
    old = state.get("shards", {}) if state.get("thumb_px") == thumb_px else {}
    shas = {p.name: sha256_of(p) for p in shards}
    keep = {n: old[n]["records"] for n, sha in shas.items()
            if n in old and old[n].get("sha256") == sha and intact(out, old[n]["records"])}
    todo = [p for p in shards if p.name not in keep]
    results: dict[str, list[dict]] = dict(keep)
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            futures = {p.name: pool.submit(build_shard, str(p), str(out), thumb_px) for p in todo}
            results.update({n: f.result() for n, f in futures.items()})
    else:
        results.update({p.name: build_shard(str(p), str(out), thumb_px) for p in todo})
    for name in set(old) - set(shas):  # shards no longer in the data set
        shutil.rmtree(out / "samples" / Path(name).stem, ignore_errors=True)
    records = [dict(r) for p in shards for r in results[p.name]]
    attach_qc(records, findings, checked)
    copy_static(out)
    write_index(out, index_payload(roots, records, qc_paths, page_size))
    new_state = {"format": STATE_FORMAT, "thumb_px": thumb_px,
                 "shards": {n: {"sha256": shas[n], "records": results[n]} for n in shas}}
    write_bytes(out / "data" / "state.json", json.dumps(new_state).encode("utf-8"))
    errors = sum(1 for r in records if r.get("error"))
    if errors:
        log.warning("%d samples or shards could not be decoded (shown as errors)", errors)
    return {"samples": len(records), "shards": len(shards), "rebuilt": len(todo),
            "kept": len(keep), "errors": errors,
            "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
