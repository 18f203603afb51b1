"""``drivesynth train``: contrastive training on WebDataset shards."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from multimodal.options import add_arguments

    parser = sub.add_parser(
        "train",
        help="train the tri-modal (image, audio, text) contrastive model",
        description=(
            "Train the contrastive vision-audio-text model on drivesynth shards. Runs on one "
            "CPU/GPU, under torchrun (DDP, NCCL on GPUs, gloo on CPU) or with --nproc N "
            "local processes. Writes RUN_DIR/checkpoint.pt (atomic; --resume), TensorBoard "
            "logs, training_curve.png, summary.json, config.json (the run's options, which "
            "--config loads back) and, with --val, val_metrics.json."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import json

    from multimodal.options import config_from_args
    from multimodal.train import launch

    summary = launch(config_from_args(args))
    keys = ("steps", "first_loss", "final_loss", "samples_skipped")
    print(json.dumps({k: summary.get(k) for k in keys}))
    return 0
