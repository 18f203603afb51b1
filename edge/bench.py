"""``drivesynth bench edge``: every tower and variant of a bundle side by side, in one run.

Per tower (image, audio, text) and variant (fp32, fp16, int8 ONNX, plus PyTorch eager fp32
from the checkpoint as the baseline): file size, p50/p99 latency at batch 1 for each thread
count, throughput at ``--batch``, and held-out accuracy (zero-shot per task from image and
audio with the bundle's label embeddings; R@1 image->text and audio->text against the
captions embedded by the same variant's text tower). Variants are timed round-robin, so
machine noise hits them alike. Also reports the CPU and its int8 instruction flags.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.runtime.bundle import TOWERS, VARIANTS, Bundle, load_bundle
from edge.runtime.heldout import HeldOut, accuracy_report, label_indices
from edge.runtime.session import SessionConfig, Tower
from sim.atomic import atomic_write_json

INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "amx_tile")
TORCH = "torch"

Embed = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BenchConfig:
    threads: tuple[int, ...] = (1, 2, 4)
    samples: int = 64
    repeats: int = 20
    batch: int = 32

    def __post_init__(self) -> None:
        if not self.threads or min(self.threads) < 1:
            raise ValueError(f"BenchConfig.threads must be ints >= 1, got {self.threads}")
        for name in ("samples", "repeats", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"BenchConfig.{name} must be >= 1, got {getattr(self, name)}")


def _thread_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--threads must be like 1,2,4, got {text!r}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bundle",
        type=Path,
        default=None,
        help="bundle folder (default: export one from --checkpoint to a temp dir)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="training checkpoint: the PyTorch eager fp32 baseline column",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="held-out shard URLs (default: the bundle's stored held-out set)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG plot here")
    parser.add_argument(
        "--threads",
        type=_thread_list,
        default=(1, 2, 4),
        help="intra-op thread counts for batch-1 latency (default 1,2,4)",
    )
    parser.add_argument("--samples", type=int, default=64, help="held-out samples (default 64)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=20,
        help="timed runs per variant and thread count (default 20)",
    )
    parser.add_argument("--batch", type=int, default=32, help="throughput batch size")  # fmt: skip


def cpu_info(path: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """CPU model name and which int8-relevant instruction flags it has."""
    text = path.read_text() if path.is_file() else ""
    fields: dict[str, str] = {}
    for line in text.splitlines():  # one socket: every processor lists the same fields
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name", "unknown"),
            "int8_flags": {f: f in flags for f in INT8_FLAGS}}  # fmt: skip


def heldout_from_shards(bundle: Bundle, urls: str, samples: int) -> HeldOut:
    """Labelled held-out tower inputs read from shards with the bundle's preprocessing."""
    from edge.export import read_samples
    from edge.runtime.preprocess import AudioConfig, ImageConfig
    from multimodal.data import LABEL_FIELDS
    from multimodal.tokenizer import Tokenizer

    pre = bundle.manifest["preprocess"]
    read = read_samples(urls, samples, ImageConfig.from_dict(pre["image"]),
                        AudioConfig.from_dict(pre["audio"]), LABEL_FIELDS,
                        bundle.clip.frames if bundle.clip is not None else 0)  # fmt: skip
    tokens = Tokenizer(pre["text"]["context_length"])(read.captions).numpy()
    labels = {t: label_indices(read.labels[t], bundle.tasks[t]["labels"])
              for t in read.labels if t in bundle.tasks}  # fmt: skip
    return HeldOut(images=read.images, mels=read.mels, tokens=tokens, labels=labels)


def torch_towers(checkpoint: Path) -> dict[str, Embed]:
    """PyTorch eager fp32 tower functions (numpy in, L2-normalised numpy out)."""
    import torch

    from multimodal.checkpoint import load_checkpoint

    model, _, _ = load_checkpoint(checkpoint)
    # encode_visual: single images (encode_image) or, for a clip model, clips (encode_video)
    methods = {"image": model.encode_visual, "audio": model.encode_audio_mel,
               "text": model.encode_text}  # fmt: skip

    def wrap(fn: Callable[[Any], Any]) -> Embed:
        def embed(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = fn(torch.from_numpy(x)).float().numpy()
            return out / np.linalg.norm(out, axis=1, keepdims=True)

        return embed

    return {tower: wrap(fn) for tower, fn in methods.items()}


def _set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def variant_functions(
    bundle: Bundle, threads: int, torch_fns: dict[str, Embed] | None
) -> dict[str, dict[str, Embed]]:
    """{variant: {tower: embed}} with ONNX sessions limited to ``threads``."""
    cfg = SessionConfig(threads=threads)
    fns: dict[str, dict[str, Embed]] = {}
    if torch_fns is not None:
        fns[TORCH] = torch_fns
    for variant in (v for v in VARIANTS if v in bundle.variants("image")):
        fns[variant] = {t: Tower(bundle, t, variant, cfg) for t in TOWERS}
    return fns


def time_round_robin(fns: dict[str, Embed], x: np.ndarray, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each function, interleaved so noise hits all alike."""
    for fn in fns.values():
        fn(x)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - start)
    return times


def _file_sizes(bundle: Bundle) -> dict[str, dict[str, int]]:
    return {v: {t: bundle.tower_path(t, v).stat().st_size for t in TOWERS}
            for v in bundle.variants("image")}  # fmt: skip


def tower_timings(
    by_variant: dict[str, Embed], x: np.ndarray, with_throughput: bool, cfg: BenchConfig
) -> dict[str, dict[str, float]]:
    """Batch-1 p50/p99 latency (ms) per variant and, if asked, batch throughput (inputs/s)."""
    lat = time_round_robin(by_variant, x[:1], cfg.repeats)
    out = {v: {"p50_ms": 1e3 * float(np.percentile(t, 50)),
               "p99_ms": 1e3 * float(np.percentile(t, 99))} for v, t in lat.items()}  # fmt: skip
    if with_throughput:
        batch = np.resize(x, (cfg.batch, *x.shape[1:]))
        thr = time_round_robin(by_variant, batch, max(2, cfg.repeats // 8))
        for variant, times in thr.items():
            out[variant]["throughput_per_s"] = cfg.batch / float(np.median(times))
    return out


def measure(
    bundle: Bundle, held: HeldOut, torch_fns: dict[str, Embed] | None, cfg: BenchConfig
) -> dict[str, Any]:
    """All numbers of the benchmark: results["towers"][tower][variant], results["accuracy"]."""
    sizes = _file_sizes(bundle)
    results: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TOWERS}
    accuracy: dict[str, dict[str, float]] = {}
    for threads in cfg.threads:
        if torch_fns is not None:
            _set_torch_threads(threads)
        fns = variant_functions(bundle, threads, torch_fns)
        for tower in TOWERS:
            by_variant = {v: f[tower] for v, f in fns.items()}
            timings = tower_timings(by_variant, held.inputs(tower),
                                    threads == max(cfg.threads), cfg)  # fmt: skip
            for variant, timing in timings.items():
                entry = results[tower].setdefault(
                    variant, {"size_bytes": sizes.get(variant, {}).get(tower), "threads": {}}
                )
                entry["threads"][str(threads)] = timing
        if threads == cfg.threads[0]:
            for variant, f in fns.items():
                emb = {t: f[t](held.inputs(t)) for t in TOWERS}
                accuracy[variant] = accuracy_report(emb, bundle.label_embeddings, held)
    return {"towers": results, "accuracy": accuracy}


def add_ratios(results: dict[str, Any]) -> None:
    """int8/fp16 size over fp32, speed-up vs fp32 ONNX, accuracy drop in points."""
    for by_variant in results["towers"].values():
        base = by_variant["fp32"]
        for entry in by_variant.values():
            if entry["size_bytes"] is not None:
                entry["size_vs_fp32"] = entry["size_bytes"] / base["size_bytes"]
            for t, lat in entry["threads"].items():
                lat["speedup_vs_fp32"] = base["threads"][t]["p50_ms"] / lat["p50_ms"]
    ref = results["accuracy"]["fp32"]["mean"]
    for acc in results["accuracy"].values():
        acc["drop_points_vs_fp32"] = ref - acc["mean"]


def format_table(results: dict[str, Any], threads: tuple[int, ...]) -> str:
    head = f"{'tower':6} {'variant':7} {'MB':>7} {'size/fp32':>9}"
    head += "".join(f" {f'p50@{t}ms':>9} {f'p99@{t}':>7} {f'x@{t}':>6}" for t in threads)
    head += f" {f'thr/s@{max(threads)}':>8}"
    lines = [head, "-" * len(head)]
    for tower, by_variant in results["towers"].items():
        for variant, e in by_variant.items():
            mb = f"{e['size_bytes'] / 1e6:7.2f}" if e["size_bytes"] else f"{'-':>7}"
            ratio = f"{e['size_vs_fp32']:9.3f}" if "size_vs_fp32" in e else f"{'-':>9}"
            row = f"{tower:6} {variant:7} {mb} {ratio}"
            for t in threads:
                lat = e["threads"][str(t)]
                row += f" {lat['p50_ms']:9.2f} {lat['p99_ms']:7.2f} {lat['speedup_vs_fp32']:6.2f}"
            row += f" {e['threads'][str(max(threads))]['throughput_per_s']:8.1f}"
            lines.append(row)
    lines.append("")
    keys = [k for k in results["accuracy"]["fp32"] if k != "drop_points_vs_fp32"]
    lines.append(f"{'accuracy %':24}" + "".join(f"{v:>9}" for v in results["accuracy"]))
    for key in keys:
        vals = "".join(f"{acc[key]:9.1f}" for acc in results["accuracy"].values())
        lines.append(f"{key:24}{vals}")
    drops = "".join(f"{a['drop_points_vs_fp32']:9.2f}" for a in results["accuracy"].values())
    lines.append(f"{'drop vs fp32 (points)':24}{drops}")
    return "\n".join(lines)


def write_plot(results: dict[str, Any], threads: tuple[int, ...], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    towers = list(results["towers"])
    fig, axes = plt.subplots(1, len(towers) + 1, figsize=(5 * (len(towers) + 1), 4))
    for ax, tower in zip(axes, towers):
        by_variant = results["towers"][tower]
        width = 0.8 / len(by_variant)
        for i, (variant, e) in enumerate(by_variant.items()):
            ys = [e["threads"][str(t)]["p50_ms"] for t in threads]
            ax.bar(np.arange(len(threads)) + i * width, ys, width, label=variant)
        ax.set_xticks(np.arange(len(threads)) + 0.4 - width / 2, [f"{t} thr" for t in threads])
        ax.set_title(f"{tower} tower: p50 latency, batch 1")
        ax.set_yscale("log")
        ax.set_ylabel("ms (log)")
        ax.legend()
    acc = results["accuracy"]
    axes[-1].bar(list(acc), [a["mean"] for a in acc.values()], color="tab:gray")
    axes[-1].set_title("held-out accuracy, mean of tasks and R@1")
    axes[-1].set_ylabel("%")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _bundle_heldout(bundle: Bundle, samples: int) -> HeldOut:
    from edge.runtime.heldout import load_heldout
    from edge.runtime.preprocess import ImageConfig

    entry = bundle.manifest.get("heldout")
    if not entry:
        raise ValueError(f"bundle {bundle.root} stores no held-out set: give --data")
    image_cfg = ImageConfig.from_dict(bundle.manifest["preprocess"]["image"])
    frames = bundle.clip.frames if bundle.clip is not None else 0
    return load_heldout(bundle.root / entry["file"], image_cfg, frames).head(samples)


def bench_bundle(bundle_path: Path, args: argparse.Namespace, cfg: BenchConfig) -> dict[str, Any]:
    bundle = load_bundle(bundle_path)
    if args.data:
        held = heldout_from_shards(bundle, args.data, cfg.samples)
    else:
        held = _bundle_heldout(bundle, cfg.samples)
    torch_fns = torch_towers(args.checkpoint) if args.checkpoint else None
    results = measure(bundle, held, torch_fns, cfg)
    add_ratios(results)
    results.update(cpu=cpu_info(), samples=len(held), config=asdict(cfg),
                   bundle=str(bundle_path),
                   int8_scheme=bundle.manifest["towers"]["image"]["variants"]
                   .get("int8", {}).get("scheme"))  # fmt: skip
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = BenchConfig(threads=tuple(args.threads), samples=args.samples, repeats=args.repeats,
                      batch=args.batch)  # fmt: skip
    if args.bundle is None and (args.checkpoint is None or args.data is None):
        raise ValueError("give --bundle, or --checkpoint and --data to export one")
    if args.plot and Path(args.plot).exists() and not getattr(args, "force", False):
        raise FileExistsError(f"--plot {args.plot} exists (use --force to replace it)")
    with tempfile.TemporaryDirectory(prefix="drivesynth-bench-edge-") as tmp:
        bundle_path = args.bundle
        if bundle_path is None:
            from edge.export import ExportConfig, export_checkpoint

            bundle_path = Path(tmp) / "bundle"
            export_checkpoint(args.checkpoint, bundle_path, args.data, None,
                              ExportConfig(quantize="all", heldout=cfg.samples,
                                           calib=cfg.samples))  # fmt: skip
        results = bench_bundle(bundle_path, args, cfg)
    cpu = results["cpu"]
    flags = ", ".join(f for f, on in cpu["int8_flags"].items() if on) or "none"
    print(f"CPU: {cpu['model']} (int8 flags: {flags}); int8 = {results['int8_scheme']}")
    print(format_table(results, cfg.threads))
    if args.plot:
        results["plot"] = str(write_plot(results, cfg.threads, args.plot))
    if args.json:
        atomic_write_json(args.json, results)
    return results
