"""The dataset card DIR/card/: README.md with distribution plots and a grid of samples.

``write_card(DIR)`` reads the shards (and the manifest when present) and draws, with
matplotlib's Agg backend, bar charts of weather presets, times of day, driver styles, object
classes, object counts per frame and events, a histogram of ego speeds, and a grid of
sample frames with their segmentation overlay and boxes, the clip's spectrogram and the
primary caption. The README's YAML front matter holds the Hugging Face ``datasets`` features
of the shards (``dataset_info.features``, read by ``datagen.reader.hf_features``), so that
``load_dataset("webdataset", ...)`` gives depth and instances as exact arrays.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.manifest import MANIFEST
from datagen.qc.shardio import Decoded, iter_decoded
from sim.atomic import atomic_write_bytes
from sim.classes import palette

CARD_DIR = "card"
GRID_SAMPLES = 6
GRID_FRAME = 5  # the grid shows each scenario's frame 5 (1.2 s in at 5 Hz) or its last


@dataclass
class CardStats:
    """What the card plots, gathered in one pass over the shards."""

    samples: int = 0
    counters: dict[str, Counter] = field(default_factory=lambda: {
        k: Counter() for k in ("weather preset", "time of day", "driver style",
                               "object class", "objects per frame", "event")})
    speeds: list[float] = field(default_factory=list)
    grid: list[Decoded] = field(default_factory=list)

    def add(self, s: Decoded) -> None:
        self.samples += 1
        m = s.meta or {}
        c = self.counters
        c["weather preset"][str(m.get("weather", {}).get("preset"))] += 1
        c["time of day"][str(m.get("weather", {}).get("time_of_day"))] += 1
        c["driver style"][str(m.get("driver", {}).get("style"))] += 1
        objects = m.get("objects", [])
        c["object class"].update(str(o.get("class")) for o in objects)
        c["objects per frame"][len(objects)] += 1
        c["event"].update(str(e.get("type")) for e in m.get("events", []))
        speed = m.get("ego", {}).get("speed_mps")
        if isinstance(speed, int | float):
            self.speeds.append(float(speed))


def gather(root: Path) -> CardStats:
    stats = CardStats()
    shards = sorted(root.glob("*.tar"))
    if not shards:
        raise FileNotFoundError(f"{root} holds no shards (*.tar)")
    picked: dict[object, Decoded] = {}  # one frame per scenario, a second or so in
    for s in iter_decoded(shards):
        stats.add(s)
        if s.rgb is None:
            continue
        sid, frame = (s.meta or {}).get("scenario_id"), (s.meta or {}).get("frame", 0)
        if sid in picked:
            if frame <= GRID_FRAME and frame > (picked[sid].meta or {}).get("frame", 0):
                picked[sid] = s
        elif len(picked) < GRID_SAMPLES:
            picked[sid] = s
    stats.grid = list(picked.values())
    return stats


def _save(fig: object, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})  # type: ignore[attr-defined]
    atomic_write_bytes(path, buf.getvalue())


def plot_distributions(stats: CardStats, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    names = []
    for title, counter in stats.counters.items():
        fig, ax = plt.subplots(figsize=(6, 3))
        labels = sorted(counter, key=lambda k: (-counter[k], str(k)))
        ax.bar([str(k) for k in labels], [counter[k] for k in labels], color="#4472c4")
        ax.set_title(f"{title} ({sum(counter.values())})")
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        fig.tight_layout()
        name = title.replace(" ", "_") + ".png"
        _save(fig, out / name)
        plt.close(fig)
        names.append(name)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(stats.speeds or [0.0], bins=20, color="#ed7d31")
    ax.set_title("ego speed (m/s)")
    fig.tight_layout()
    _save(fig, out / "speed.png")
    plt.close(fig)
    return [*names, "speed.png"]


def overlay(s: Decoded) -> np.ndarray:
    """The frame blended with its segmentation colours (boxes are drawn by the caller)."""
    rgb = s.rgb[..., :3].astype(np.float32)
    if s.seg is None:
        return rgb.astype(np.uint8)
    colors = np.array(palette(), dtype=np.float32)
    seg = np.clip(s.seg, 0, len(colors) - 1)
    return (0.6 * rgb + 0.4 * colors[seg]).astype(np.uint8)


def plot_grid(stats: CardStats, out: Path) -> str:
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = max(1, len(stats.grid))
    fig, axes = plt.subplots(n, 3, figsize=(11, 2.6 * n), squeeze=False)
    for row, s in zip(axes, stats.grid):
        row[0].imshow(s.rgb)
        row[0].set_title(s.key, fontsize=7)
        row[1].imshow(overlay(s))
        for o in (s.meta or {}).get("objects", []):
            x0, y0, x1, y1 = o["bbox2d"]
            row[1].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                       edgecolor="yellow", linewidth=1))
        if s.audio is not None and s.audio.size > 256:
            with np.errstate(divide="ignore"):  # silent stretches have zero power: -inf dB
                row[2].specgram(s.audio, NFFT=256, Fs=s.sample_rate or 16000, noverlap=128)
        row[2].set_title("\n".join(textwrap.wrap(s.text, 60)[:3]), fontsize=6)
        for ax in row[:2]:
            ax.axis("off")
    fig.tight_layout()
    _save(fig, out / "samples.png")
    plt.close(fig)
    return "samples.png"


CARD_LICENSE = "apache-2.0"  # the generator's licence; the data's owner may choose another


def split_sizes(root: Path) -> dict[str, dict[str, int]]:
    """Per split (the shard name's prefix) ``{num_examples, num_bytes}``: samples from the
    manifest, else by counting the shards' json members; bytes of the shard files."""
    import tarfile

    sizes: dict[str, dict[str, int]] = {}
    manifest = root / MANIFEST
    shards = json.loads(manifest.read_text()).get("shards", []) if manifest.is_file() else []
    counts = {s["name"]: int(s["samples"]) for s in shards if "name" in s and "samples" in s}
    for path in sorted(root.glob("*.tar")):
        if path.name not in counts:
            with tarfile.open(path) as tar:
                counts[path.name] = sum(m.name.endswith(".json") for m in tar)
        split = sizes.setdefault(path.name.rsplit("-", 1)[0], {"num_examples": 0, "num_bytes": 0})
        split["num_examples"] += counts[path.name]
        split["num_bytes"] += path.stat().st_size
    return sizes


def front_matter(root: Path) -> str:
    """The card's YAML front matter (Hugging Face hub conventions): the features of the first
    shard's samples and the splits with their sizes (``dataset_info``), the data files of each
    split (``configs``, paths relative to DIR), licence, name and tags."""
    import yaml

    from datagen.reader import shard_features

    first = sorted(root.glob("*.tar"))[0]
    sizes = split_sizes(root)
    info = {"features": shard_features(first),
            "splits": [{"name": k, **n} for k, n in sizes.items()]}
    body = yaml.safe_dump({
        "dataset_info": info,
        "configs": [{"config_name": "default", "data_files": [
            {"split": k, "path": f"{k}-*.tar"} for k in sizes]}],
        "license": CARD_LICENSE,
        "pretty_name": f"drivesynth {root.resolve().name}",
        "tags": ["synthetic", "driving", "multimodal", "webdataset"],
    }, sort_keys=False)  # fmt: skip
    return f"---\n{body}---\n"


def readme(root: Path, stats: CardStats, plots: list[str], grid: str) -> str:
    manifest = json.loads((root / MANIFEST).read_text()) if (root / MANIFEST).is_file() else {}
    cfg = manifest.get("config", {})
    lines = [front_matter(root) + f"# Dataset card: {root.name}", "",
             f"{stats.samples} samples in {len(list(root.glob('*.tar')))} shards.", ""]
    if cfg:
        lines += ["## Configuration", "", "| option | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(cfg.items()) if k != "weather_presets"]
        lines += ["", "## Versions", ""]
        lines += [f"- {k} {v}" for k, v in sorted(manifest.get("versions", {}).items())]
    lines += ["", "## Reading", "",
              "`from datagen.reader import open_shards; ds = open_shards(DIR)` (webdataset), or",
              "`datagen.reader.load_hf(DIR, split)` (Hugging Face `datasets`, with the features",
              "above). `depth.npy.gz`: float32 metres, 0 = no hit; `inst.npy.gz`: uint16 ids.",
              "", "## Distributions", ""]
    lines += [f"![{p[:-4]}]({p})" for p in plots]
    lines += ["", "## Samples (frame; segmentation and boxes; spectrogram and caption)", "",
              f"![samples]({grid})", ""]
    return "\n".join(lines)


def write_card(root: Path | str) -> Path:
    """Write ``root/card/README.md`` and its plots; returns the README's path."""
    import matplotlib

    matplotlib.use("Agg")
    root = Path(root)
    stats = gather(root)
    out = root / CARD_DIR
    out.mkdir(exist_ok=True)
    plots = plot_distributions(stats, out)
    grid = plot_grid(stats, out)
    path = out / "README.md"
    atomic_write_bytes(path, readme(root, stats, plots, grid).encode())
    return path
