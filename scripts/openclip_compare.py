"""Side-by-side throughput of the drivesynth trainer and open_clip's own trainer.

Subcommands:

- ``config``: write an open_clip model config JSON equal to a drivesynth preset's vision
  and text towers (same widths, depths, heads, patch, image size, context length, embed dim);
- ``train``: register that config folder with open_clip and run ``open_clip_train.main``
  with the remaining arguments (use it under ``torchrun``; needs webdataset <= 0.2.86);
- ``compare``: samples/s from open_clip's log lines (``… 1234.5/s, 617.2/s/gpu …``, after
  the first ``--skip`` fraction of them) against ``samples_per_s`` in the drivesynth
  trainer's summary.json; prints a table and writes JSON with the ratio ours / open_clip.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

RATE = re.compile(r"Batch \(t\): [0-9.]+, ([0-9.eE+]+)/s, ([0-9.eE+]+)/s/gpu")


def openclip_config(model: str) -> dict:
    """The open_clip CLIP config matching the drivesynth preset's image and text towers."""
    from multimodal.configs import preset

    cfg = preset(model)
    return {
        "embed_dim": cfg.embed_dim,
        "vision_cfg": {"image_size": cfg.image_size, "layers": cfg.vision_layers,
                       "width": cfg.vision_width, "patch_size": cfg.vision_patch,
                       "head_width": cfg.head_width, "mlp_ratio": 4.0},
        "text_cfg": {"context_length": cfg.context_length, "vocab_size": 49408,
                     "width": cfg.text_width, "heads": cfg.text_width // cfg.head_width,
                     "layers": cfg.text_layers},
    }  # fmt: skip


def write_config(model: str, name: str, out: str | Path) -> Path:
    path = Path(out) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openclip_config(model), indent=2))
    return path


def run_openclip(config_dir: str, argv: list[str]) -> int:
    """``open_clip_train.main`` with our config folder registered (nothing is written into
    the installed package)."""
    import open_clip
    from open_clip_train.main import main as openclip_main

    open_clip.add_model_config(config_dir)
    result = openclip_main(argv)
    return 0 if result is None else int(result)


def openclip_rate(log_text: str, skip: float = 0.3) -> dict:
    """Mean samples/s (all GPUs) and per GPU over open_clip's logged steps after warm-up."""
    rows = [(float(a), float(b)) for a, b in RATE.findall(log_text)]
    if not rows:
        raise ValueError("no 'Batch (t): …/s, …/s/gpu' lines in the open_clip log")
    kept = rows[min(int(len(rows) * skip), len(rows) - 1) :]
    return {
        "samples_per_s": sum(r[0] for r in kept) / len(kept),
        "samples_per_s_per_gpu": sum(r[1] for r in kept) / len(kept),
        "log_lines": len(rows), "used_lines": len(kept),
    }  # fmt: skip


def compare(ours_summary: str | Path, openclip_log: str | Path, skip: float) -> dict:
    ours = json.loads(Path(ours_summary).read_text())
    if not ours.get("samples_per_s"):
        raise ValueError(f"{ours_summary} has no samples_per_s")
    theirs = openclip_rate(Path(openclip_log).read_text(errors="replace"), skip)
    result = {
        "ours_samples_per_s": ours["samples_per_s"],
        "openclip_samples_per_s": theirs["samples_per_s"],
        "ratio_ours_over_openclip": ours["samples_per_s"] / theirs["samples_per_s"],
        "world_size": ours.get("world_size"), "global_batch": ours.get("global_batch"),
        "ours_stall_fraction": ours.get("stall_fraction"),
        "ours_steady_stall_fraction_per_rank": ours.get("steady_stall_fraction_per_rank"),
        "openclip": theirs,
    }  # fmt: skip
    print(f"{'trainer':>10} {'samples/s':>10}")
    print(f"{'drivesynth':>10} {result['ours_samples_per_s']:>10.1f}")
    print(f"{'open_clip':>10} {result['openclip_samples_per_s']:>10.1f}")
    print(f"ratio drivesynth / open_clip = {result['ratio_ours_over_openclip']:.2f}x")
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("config", help="write the open_clip model config JSON")
    c.add_argument("--model", default="small", help="drivesynth preset")
    c.add_argument("--name", default="drivesynth-small", help="open_clip model name")
    c.add_argument("--out", required=True, help="config folder")
    t = sub.add_parser("train", help="run open_clip_train.main with the config registered")
    t.add_argument("--config-dir", required=True)
    t.add_argument("rest", nargs=argparse.REMAINDER, help="open_clip_train arguments after --")
    m = sub.add_parser("compare", help="samples/s ratio drivesynth / open_clip")
    m.add_argument("--ours", required=True, help="drivesynth RUN_DIR/summary.json")
    m.add_argument("--openclip-log", required=True, help="open_clip's out.log")
    m.add_argument("--skip", type=float, default=0.3, help="warm-up fraction of log lines")
    m.add_argument("--json", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "config":
            print(write_config(args.model, args.name, args.out))
            return 0
        if args.cmd == "train":
            rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
            return run_openclip(args.config_dir, rest)
        result = compare(args.ours, args.openclip_log, args.skip)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
