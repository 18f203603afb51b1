"""``drivesynth qc``: find broken samples (cross-modal agreement, rules, statistics of similar
samples, optionally a trained model); list or drop. The checks are datagen's
(:mod:`datagen.qc`); the command lives here because ``--model`` needs the model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datagen.qc.report import LearnedCheck

DESCRIPTION = """\
Check every sample of the shards in DIR, and above all that its parts agree:
- per sample: black/saturated/noisy frames, stuck pixels and dead lines, camera inside
  geometry or upside down, car off the road, silent or clipped audio, NaN, undecodable files;
- geometry: intrinsics vs image size and field of view; ground depth vs the road plane seen
  through the recorded intrinsics and pose; sky vs no-hit depth; each instance mask inside its
  projected 3D box, its depth within the box's depth, bbox2d tight; world vs camera boxes;
- image edges vs label boundaries; captions, statement by statement, vs the json; engine tone
  vs rpm, sound events vs weather, crash vs damage; rpm vs speed and gear;
- per scenario: speed vs displacement, yaw rate vs heading, camera rig vs the car, repeated
  frames, weather and intrinsics equal in every frame;
- image and audio statistics vs samples of other scenarios whose json says the same;
- with --model CKPT, a trained drivesynth checkpoint scores image-text, audio-text and
  image-audio agreement; with --anomaly, an anomaly model on the data set's own statistics.
Every finding names its check, the measured value and the threshold. Prints a summary;
--list/--json write the findings; --drop rewrites the shards atomically without the flagged
samples. --inject-eval measures QC by breaking a copy of the data with its tuning faults
(held-out measurement: scripts/qc_heldout.py)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qc", help="find broken samples; report, list or drop them",
                       description=DESCRIPTION)
    p.add_argument("dir", type=Path, help="data set folder (shards *.tar, manifest.json)")
    p.add_argument("--drop", action="store_true", help="rewrite shards without flagged samples")
    p.add_argument("--list", type=Path, default=None, metavar="FILE",
                   help="write 'shard<TAB>key' of each flagged sample")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write the full report as JSON")
    p.add_argument("--inject-eval", type=Path, default=None, metavar="WORK_DIR",
                   help="copy the data to WORK_DIR with injected faults; print precision/recall")
    p.add_argument("--card", action="store_true", help="(re)write the dataset card DIR/card/")
    p.add_argument("--model", type=Path, default=None, metavar="CKPT",
                   help="a trained drivesynth checkpoint: also flag samples whose image, audio "
                        "and caption the model finds not to belong together")
    p.add_argument("--device", default="cpu", help="device for --model (cpu, cuda)")
    p.add_argument("--rank-threshold", type=float, default=None, metavar="T",
                   help="for --model: flag a modality whose mean rank share against other "
                        "samples' partners exceeds T, in (0, 1) (default: "
                        "multimodal.agreement.ModelCheckConfig's; calibrate it per checkpoint "
                        "on clean data: scripts/qc_model_calibrate.py)")
    p.add_argument("--gallery", type=int, default=None, metavar="N",
                   help="for --model: other samples each sample is ranked against (>= 8)")
    p.add_argument("--anomaly", action="store_true",
                   help="also run the statistics-only anomaly model (robust z + IsolationForest)")
    p.add_argument("--force", action="store_true", help="replace existing --json/--list files")
    p.set_defaults(func=handle)


def check_outputs(args: argparse.Namespace) -> None:
    """Output files are files (never a folder), not replaced without --force; the
    --inject-eval folder is new. Checked before any work."""
    for option, path in (("--json", args.json), ("--list", args.list)):
        if path is None:
            continue
        if path.is_dir():
            raise ValueError(f"{option} {path} is a folder; give a file name")
        if path.exists() and not args.force:
            raise FileExistsError(f"{option} {path} exists (use --force to replace it)")
    if args.inject_eval is not None and args.inject_eval.exists():
        raise FileExistsError(f"--inject-eval {args.inject_eval} exists; give a new folder")


def learned_check(args: argparse.Namespace) -> LearnedCheck | None:
    """``--model`` and its options as the callable run_qc takes; options checked before
    any work (the checkpoint itself loads when QC reaches the check)."""
    for option, value in (("--rank-threshold", args.rank_threshold), ("--gallery", args.gallery)):
        if value is not None and args.model is None:
            raise ValueError(f"{option} is an option of --model CKPT; give --model")
    if args.model is None:
        return None
    if not args.model.is_file():
        raise ValueError(f"--model {args.model}: no such checkpoint")
    from multimodal.agreement import ModelCheckConfig, check

    given = {"rank_threshold": args.rank_threshold, "gallery": args.gallery}
    model_cfg = ModelCheckConfig(device=args.device,
                                 **{k: v for k, v in given.items() if v is not None})

    def learned(root: Path) -> list:
        return check(root, args.model, model_cfg)

    return learned


def handle(args: argparse.Namespace) -> int:
    import json

    from datagen.qc.report import drop_flagged, run_qc, write_json, write_list

    if not args.dir.is_dir():
        raise ValueError(f"{args.dir} is not a directory")
    if not any(args.dir.glob("*.tar")):  # nothing to check is an error, not a clean report
        raise FileNotFoundError(f"{args.dir} holds no shards *.tar")
    check_outputs(args)
    learned = learned_check(args)
    if args.inject_eval is not None:
        from datagen.qc.inject import evaluate_qc

        print(json.dumps(evaluate_qc(args.dir, args.inject_eval, learned=learned), indent=2))
        return 0
    anomaly_cfg = None
    if args.anomaly:
        from datagen.qc.anomaly import AnomalyConfig

        anomaly_cfg = AnomalyConfig()
    report = run_qc(args.dir, anomaly_cfg=anomaly_cfg, learned=learned)
    summary = report.to_json()
    print(f"{summary['samples']} samples in {summary['shards']} shards, "
          f"{summary['flagged']} flagged: {summary['by_check']}")
    if args.list:
        write_list(args.list, report)
    if args.json:
        write_json(args.json, report)
    if args.drop:
        print(f"dropped {drop_flagged(args.dir, report)} samples")
    if args.card:
        from datagen.card import write_card

        write_card(args.dir)
    return 0
