"""``drivesynth edge run|select``: torch-free inference on a board, variant selection."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="torch-free inference with a bundle / pick its variant",
                       description="Board-side commands: they need only numpy, Pillow, "
                                   "soundfile and onnxruntime.")  # fmt: skip
    edge_sub = p.add_subparsers(dest="edge_command", metavar="EDGE_COMMAND")
    edge_sub.required = True
    r = edge_sub.add_parser(
        "run", help="verify a bundle, embed and classify images/audio clips",
        description="Verify every checksum of BUNDLE, preprocess the inputs as training did "
                    "(numpy log-mel), embed them and print zero-shot predictions as JSON.",
    )  # fmt: skip
    r.add_argument("--bundle", required=True, type=Path, help="bundle folder")
    r.add_argument("--image", action="append", default=[], help="image file (repeatable)")
    r.add_argument("--audio", action="append", default=[],
                   help="FLAC/WAV file, any rate from 4 to 384 kHz (repeatable)")  # fmt: skip
    r.add_argument("--text", action="append", default=[], metavar="QUERY",
                   help="text query, embedded with the training tokenizer (repeatable)")
    r.add_argument(
        "--variant",
        choices=("fp32", "fp16", "int8", "int8_qdq"),
        default=None,
        help="model variant (default: the bundle's selected one, else fp32)",
    )
    r.add_argument("--threads", type=int, default=1, help="intra-op threads (board cores)")
    r.set_defaults(func=run_cmd)
    s = edge_sub.add_parser(
        "select", help="benchmark the variants here and record the fastest within budget",
        description="Measure each variant's image-tower latency and its accuracy on the "
                    "bundle's stored labelled held-out set (zero-shot per task and R@1; "
                    "bundles without one: agreement with fp32 on random inputs), and record "
                    "in the manifest (atomically) the fastest variant whose accuracy drop "
                    "vs fp32 is within --budget points.",
    )  # fmt: skip
    s.add_argument("--bundle", required=True, type=Path, help="bundle folder")
    s.add_argument("--budget", type=float, default=1.0, help="accuracy drop allowed (points)")
    s.add_argument("--threads", type=int, default=1, help="intra-op threads")
    s.add_argument("--samples", type=int, default=64, help="held-out samples to score")
    s.set_defaults(func=select_cmd)


def check_inputs(images: list[str], audios: list[str]) -> None:
    """Every input names an existing regular file (not a folder, FIFO or device)."""
    for kind, paths in (("--image", images), ("--audio", audios)):
        for path in paths:
            p = Path(path)
            if not p.exists():
                raise FileNotFoundError(f"no such input file: {path}")
            if not p.is_file():
                raise ValueError(f"{kind} {path} is not a regular file")


def print_json(report: object) -> None:
    """Print strict JSON (no NaN/Infinity literals, which JSON parsers reject)."""
    try:
        text = json.dumps(report, indent=2, allow_nan=False)
    except ValueError:
        raise ValueError("the result holds non-finite numbers (NaN or infinity); "
                         "nothing printed") from None  # fmt: skip
    print(text)


def run_cmd(args: argparse.Namespace) -> int:
    from edge.runtime import EdgeModel, run_inputs

    check_inputs(args.image, args.audio)
    model = EdgeModel(args.bundle, variant=args.variant, threads=args.threads)
    print_json(run_inputs(model, args.image, args.audio, args.text))
    return 0


def select_cmd(args: argparse.Namespace) -> int:
    from edge.runtime.bundle import json_safe
    from edge.select import SelectConfig, select_variant

    cfg = SelectConfig(budget=args.budget, threads=args.threads, samples=args.samples)
    result = select_variant(args.bundle, cfg)
    print_json(json_safe(result))  # accuracy is NaN (null) where a task has no known label
    return 0
