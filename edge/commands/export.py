"""``drivesynth export``: a trained checkpoint -> an edge bundle (ONNX towers + manifest)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.arguments import comma_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a checkpoint to an edge bundle (ONNX fp32/fp16/int8, label embeddings)",
        description=(
            "Export the image, audio (log-mel input) and text towers of CKPT to ONNX with a "
            "dynamic batch axis, check parity with PyTorch on held-out shard samples "
            "(cosine >= 0.999), add fp16/int8 variants (int8: static QDQ S8S8 per-channel, "
            "calibrated on --calib shards) and the zero-shot label embeddings, and write the "
            "checksummed bundle folder OUT atomically. A clip model (train --clip-frames T) "
            "exports its temporal tower (input [batch, T, 3, S, S]) as the image tower: give "
            "clip shards (generate --clip-frames T) as --data/--calib."
        ),
    )
    p.add_argument("--checkpoint", required=True, type=Path, help="training checkpoint (.pt)")
    p.add_argument("--out", required=True, type=Path, help="bundle folder to create")
    p.add_argument("--quantize", default="int8", choices=("none", "fp16", "int8", "all"),
                   help="variants besides fp32 (default: int8)")  # fmt: skip
    p.add_argument("--data", required=True, help="held-out shard URLs for parity (brace ok)")
    p.add_argument("--calib", default=None, help="calibration shard URLs (default: --data)")
    p.add_argument("--heldout", type=int, default=64, help="held-out samples for parity")
    p.add_argument("--calib-samples", type=int, default=64, help="calibration samples")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.add_argument("--parent", type=Path, default=None, metavar="BUNDLE",
                   help="the bundle this one succeeds: its id goes in the lineage and the "
                        "version becomes its version + 1 (default: no parent, version 1)")
    p.add_argument("--bundle-version", type=int, default=None, metavar="N",
                   help="bundle version (an int > the parent's; default: parent's + 1, or 1)")
    p.add_argument("--data-manifest", type=comma_list(Path, "path"), default=None,
                   metavar="FILES",
                   help="comma-separated data set manifests (generate's manifest.json) that "
                        "trained the checkpoint, recorded in the lineage besides those found "
                        "beside the checkpoint's training shards and --data/--calib "
                        "(default: none)")
    p.add_argument("--sign-key", type=Path, default=None, metavar="KEY",
                   help="Ed25519 private key (PEM, 'drivesynth edge keygen') to sign the "
                        "bundle with (default: unsigned)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint at {args.checkpoint}")
    if args.out.exists() and not args.overwrite:  # before torch is imported (seconds)
        raise FileExistsError(f"bundle {args.out} already exists (use --overwrite)")
    from edge.export import ExportConfig, export_checkpoint

    cfg = ExportConfig(quantize=args.quantize, heldout=args.heldout, calib=args.calib_samples)
    manifest = export_checkpoint(args.checkpoint, args.out, args.data, args.calib, cfg,
                                 overwrite=args.overwrite, parent=args.parent,
                                 version=args.bundle_version,
                                 data_manifests=args.data_manifest or (),
                                 sign_key=args.sign_key)  # fmt: skip
    for tower, spec in manifest["towers"].items():
        parts = [f"{v}: cos {e['cosine_to_fp32_mean']:.4f}" for v, e in spec["variants"].items()]
        print(f"{tower:5s} ({spec['exporter']}) " + ", ".join(parts))
    ident = manifest["bundle"]
    signed = " (signed)" if args.sign_key else ""
    print(f"bundle written to {args.out}: version {ident['version']}, "
          f"id {ident['id'][:12]}{signed}")
    return 0
