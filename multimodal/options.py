"""The ``drivesynth train`` options: plain argparse, importable without torch."""

from __future__ import annotations

import argparse

PRECISIONS = ("fp32", "bf16")
GRAD_REDUCE = ("fp32", "bf16")
MODALITY_SETS = ("image,audio,text", "image,text", "audio,text")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``drivesynth train`` options."""
    a = parser.add_argument
    a("--train", required=True, help="training shard URLs (brace notation; join lists with ::)")
    a("--val", default=None, help="validation shard URLs, evaluated after training")
    a("--out", required=True, help="run directory: checkpoint.pt, metrics, logs, plots")
    a("--model", default="tiny", choices=("tiny", "small", "base"), help="model size preset")
    a("--epochs", type=int, default=1, help="passes of --steps-per-epoch steps")
    a("--batch-size", type=int, default=32, help="per-process batch size")
    a("--steps-per-epoch", type=int, default=100, help="optimizer steps per epoch (exact)")
    a("--lr", type=float, default=5e-4, help="peak learning rate (AdamW)")
    a("--weight-decay", type=float, default=0.1, help="AdamW weight decay (not on norms/biases)")
    a("--warmup-steps", type=int, default=10, help="linear warm-up steps before the cosine decay")
    a("--accum", type=int, default=1, help="gradient accumulation micro-batches per step")
    a("--workers", type=int, default=2, help="data-loader worker processes per rank")
    a("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, cuda:N")
    a("--precision", default="fp32", choices=PRECISIONS, help="bf16 = autocast")
    a("--compile", action="store_true", help="torch.compile the model")
    a("--cuda-graph", action="store_true",
      help="capture the whole step (forward, backward, all-reduce, optimizer) as one CUDA "
           "graph after a few eager warm-up steps and replay it: for models small enough that "
           "launching ~2 500 kernels per step costs as much host time as the GPU work "
           "(GPU only, --accum 1)")  # fmt: skip
    a("--grad-reduce", default="fp32", choices=GRAD_REDUCE,
      help="dtype of DDP's gradient all-reduce: bf16 halves the bytes, for GPUs linked by PCIe "
           "or a network; over NVLink it cost more than it saved (2x H200, 14 loader workers "
           "per rank: 4085 vs 4579 samples/s)")  # fmt: skip
    a("--resume", default=None, help="checkpoint to resume from, or 'auto' (RUN_DIR's latest)")
    a("--resume-override", default=None, metavar="FIELDS",
      help="comma list of run settings --resume may change from the checkpoint's (e.g. "
           "lr,epochs; without it a differing --lr, --batch-size, --seed, --epochs ... is "
           "refused); the change is recorded in the checkpoint")  # fmt: skip
    a("--force", action="store_true",
      help="start afresh in an --out folder holding a previous run (its outputs are removed)")
    a("--seed", type=int, default=0, help="seed of every random draw of the run")
    a("--save-every", type=int, default=0, help="also checkpoint every N steps (0: per epoch)")
    a("--log-every", type=int, default=10, help="log and TensorBoard scalars every N steps")
    a("--nproc", type=int, default=1, help="spawn N local DDP processes (gloo on CPU)")
    a("--train-caption-families", default=None,
      help="comma list of caption families to train on (others held out)")  # fmt: skip
    a("--eval-caption-families", default=None, help="comma list of caption families to evaluate")
    a("--init-openclip", default=None, help="local open_clip checkpoint to initialise towers")
    a("--modality-dropout", type=float, default=0.3, help="fusion training: drop image or audio")
    a("--loss-weights", default=None, help="e.g. image_text=1,audio_text=1,image_audio=0.5")
    a("--modalities", default="image,audio,text", choices=MODALITY_SETS,
      help="towers to train: image,text skips the audio tower and audio decoding")  # fmt: skip
    a("--no-augment", action="store_true", help="no image jitter or SpecAugment")
    a("--no-progress", action="store_true", help="no progress bar")
