#!/usr/bin/env python3
"""The whole drivesynth pipeline in one command (``make demo``).

Each step runs the same ``drivesynth`` command a user would type, prints it, and times it:
preview -> generate train/val/test shards on a local Dask cluster -> quality check ->
train a small tri-modal model on the CPU -> evaluate on held-out scenarios -> export int8
-> run the torch-free edge runtime on held-out samples -> summary table. Everything lands
in the report folder (``--out``, default ``report/``). Running it again replaces the previous
run's outputs there (every step is given ``--force``/``--overwrite``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

BIN = [sys.executable, "-m", "edge.cli"]
# Caption template families: train on five, evaluate retrieval on two never seen in training.
TRAIN_FAMILIES = "descriptive,terse,dashcam_log,question_answer,narrative"
HELDOUT_FAMILIES = "tagline,radio"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("report"), help="report folder")
    p.add_argument("--seed", type=int, default=7, help="dataset seed")
    p.add_argument("--train-scenarios", type=int, default=48)
    p.add_argument("--eval-scenarios", type=int, default=12)
    p.add_argument("--frames", type=int, default=8, help="frames per scenario")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--steps", type=int, default=120, help="training steps per epoch")
    p.add_argument("--quick", action="store_true", help="a much smaller run (smoke test)")
    return p.parse_args(argv)


class Pipeline:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.timings: list[tuple[str, float]] = []
        self.step_no = 0

    def run(self, title: str, args: list[str]) -> None:
        self.step_no += 1
        cmd = "drivesynth " + " ".join(shlex.quote(a) for a in args)
        print(f"\n=== step {self.step_no}: {title}\n$ {cmd}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([*BIN, *args])
        dt = time.perf_counter() - t0
        self.timings.append((title, dt))
        if proc.returncode != 0:
            raise SystemExit(f"demo: step '{title}' failed (exit {proc.returncode}): {cmd}")
        print(f"--- {title}: {dt:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.quick:
        a.train_scenarios, a.eval_scenarios, a.frames, a.epochs, a.steps = 8, 4, 4, 1, 20
    out = a.out
    data = out / "data"
    out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(out)
    t_start = time.perf_counter()
    size = str(a.image_size)
    pipe.run("preview a few scenarios", ["preview", "--seed", str(a.seed), "--seeds", "3",
                                          "--out", str(out / "preview.png"), "--force"])
    for split, n in (("train", a.train_scenarios), ("val", a.eval_scenarios),
                     ("test", a.eval_scenarios)):
        pipe.run(f"generate {split} split ({n} scenarios x {a.frames} frames, Dask)",
                 ["generate", "--out", str(data / split), "--split", split,
                  "--scenarios", str(n), "--frames", str(a.frames), "--seed", str(a.seed),
                  "--workers", str(a.workers), "--image-size", size, "--force"])
    pipe.run("quality check the training split",
             ["qc", str(data / "train"), "--json", str(out / "qc.json"), "--force"])
    train_urls = str(data / "train" / "train-{000000..%06d}.tar")
    shards = sorted((data / "train").glob("train-*.tar"))
    train_urls = train_urls % (len(shards) - 1)
    val = _urls(data / "val", "val")
    test = _urls(data / "test", "test")
    run_dir = out / "run"
    pipe.run("train a tiny tri-modal model on the CPU",
             ["train", "--train", train_urls, "--val", val, "--out", str(run_dir),
              "--model", "tiny", "--epochs", str(a.epochs), "--device", "cpu",
              "--steps-per-epoch", str(a.steps), "--batch-size", "32", "--workers", "1",
              "--train-caption-families", TRAIN_FAMILIES, "--force"])
    ckpt = run_dir / "checkpoint.pt"
    pipe.run("evaluate on held-out scenarios and caption families",
             ["eval", "--checkpoint", str(ckpt), "--data", test,
              "--json", str(out / "eval.json"), "--plots", str(out / "eval"),
              "--caption-families", HELDOUT_FAMILIES, "--force"])
    bundle = out / "bundle"
    pipe.run("export ONNX fp32/fp16/int8 (int8 calibrated on validation shards)",
             ["export", "--checkpoint", str(ckpt), "--out", str(bundle), "--quantize", "all",
              "--data", test, "--calib", val, "--overwrite"])
    inputs = _extract_inputs(data / "test", out / "edge_inputs", n=3)
    edge_args = ["edge", "run", "--bundle", str(bundle), "--variant", "int8", "--threads", "1"]
    for image, audio in inputs:
        edge_args += ["--image", str(image), "--audio", str(audio)]
    pipe.run("torch-free edge runtime (int8, 1 thread) on held-out samples", edge_args)
    pipe.run("benchmark edge variants on held-out data",
             ["bench", "edge", "--bundle", str(bundle), "--checkpoint", str(ckpt),
              "--data", test, "--threads", "1,2", "--samples", "32",
              "--json", str(out / "edge_bench.json"), "--plot", str(out / "edge_bench.png"),
              "--force"])
    _summary(out, pipe, time.perf_counter() - t_start)
    return 0


def _extract_inputs(folder: Path, dest: Path, n: int) -> list[tuple[Path, Path]]:
    """The first ``n`` held-out samples' rgb.png and audio.flac, as files a board would get."""
    import tarfile

    dest.mkdir(parents=True, exist_ok=True)
    shard = sorted(folder.glob("*.tar"))[0]
    pairs: list[tuple[Path, Path]] = []
    with tarfile.open(shard) as tar:
        members = {m.name: m for m in tar.getmembers()}
        keys = sorted({name.split(".", 1)[0] for name in members})[:n]
        for key in keys:
            files = []
            for ext in ("rgb.png", "audio.flac"):
                target = dest / f"{key}.{ext}"
                target.write_bytes(tar.extractfile(members[f"{key}.{ext}"]).read())
                files.append(target)
            pairs.append((files[0], files[1]))
    return pairs


def _urls(folder: Path, split: str) -> str:
    n = len(sorted(folder.glob(f"{split}-*.tar")))
    return str(folder / (f"{split}-{{000000..{n - 1:06d}}}.tar"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _summary(out: Path, pipe: Pipeline, total: float) -> None:
    lines = ["# drivesynth demo summary", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {title} | {dt:.1f} |" for title, dt in pipe.timings]
    lines += [f"| **total** | {total:.1f} |", ""]
    ev = _load(out / "eval.json")
    if ev:
        lines += [f"Held-out evaluation: {ev.get('gallery_size')} test scenarios (one frame "
                  f"each), caption families {ev.get('caption_families')}.", "",
                  "| zero-shot task | image | audio | fused | chance |", "|---|---|---|---|---|"]
        for task, by in ev.get("zero_shot", {}).items():
            acc = [f"{by.get(m, {}).get('accuracy', float('nan')):.2f}"
                   for m in ("image", "audio", "fused")]
            lines.append(f"| {task} | {' | '.join(acc)} | {by['image'].get('chance', 0):.2f} |")
        lines += ["", "| retrieval | R@1 | R@5 |", "|---|---|---|"]
        for pair, r in ev.get("retrieval", {}).items():
            lines.append(f"| {pair} | {r.get('R@1', 0):.2f} | {r.get('R@5', 0):.2f} |")
    bench = _load(out / "edge_bench.json")
    if bench.get("towers"):
        lines += ["", "| edge, 1 thread | variant | size vs fp32 | speed-up vs fp32 ONNX | "
                  "accuracy drop (points) |", "|---|---|---|---|---|"]
        for tower, by in sorted(bench["towers"].items()):
            for variant in ("fp16", "int8", "int8_qdq"):
                if variant not in by:
                    continue
                v = by[variant]
                drop = bench.get("accuracy", {}).get(variant, {}).get("drop_points_vs_fp32")
                lines.append(f"| {tower} | {variant} | {v['size_vs_fp32']:.2f} | "
                             f"{v['threads']['1']['speedup_vs_fp32']:.2f} | {drop} |")
    lines += ["", "Pictures: preview.png, data/train/card/, run/training_curve.png, eval/*.png, "
              "edge_bench.png"]
    text = "\n".join(lines) + "\n"
    (out / "SUMMARY.md").write_text(text)
    print("\n" + text)
    print(f"report folder: {out}/")


if __name__ == "__main__":
    sys.exit(main())
