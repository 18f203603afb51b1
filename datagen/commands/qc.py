"""``drivesynth qc``: find broken samples (rules + a learned anomaly model); list or drop."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Check every sample of the shards in DIR: rule checks (black or saturated frames, camera
inside geometry, car flipped or off the road, empty or inconsistent labels, silent or
clipped audio, NaN, undecodable files, unreadable shards) and an anomaly model fitted on the
data set's own statistics (robust z-scores and an IsolationForest). Prints a summary;
--list/--json write the findings; --drop rewrites the shards atomically without the flagged
samples. --inject-eval measures QC by breaking a copy of the data with known faults."""


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
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import json

    from datagen.qc.report import drop_flagged, run_qc, write_json, write_list

    if not args.dir.is_dir():
        raise ValueError(f"{args.dir} is not a directory")
    if args.inject_eval is not None:
        from datagen.qc.inject import evaluate_qc

        print(json.dumps(evaluate_qc(args.dir, args.inject_eval), indent=2))
        return 0
    report = run_qc(args.dir)
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
