"""``drivesynth edge plan``: the factory's focus plan from the boards' feedback.

Labels the feedback's hard inputs by their nearest labelled probes in the bundle's own
embedding space and writes the per-label masses of the model's mistakes as a plan file that
``drivesynth generate --focus PLAN.json`` reads (edge/runtime/plan.py, docs/loop.md).
Torch-free: it needs the ``edge`` extra only.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_parser(edge_sub: argparse._SubParsersAction) -> None:
    """``edge plan`` among the ``edge`` sub-commands."""
    p = edge_sub.add_parser(
        "plan", help="label the boards' hard inputs by labelled probes; a generate --focus plan",
        description="Embed the images of the feedback shards in FB_DIR and of the labelled "
                    "probe samples in PROBE_DIR (a data set `drivesynth generate --weather "
                    "random` wrote, its own seed) with BUNDLE, find each hard input's K "
                    "nearest probes (cosine) and add 1/K to a probe's weather family and time "
                    "of day whenever the model's label for the input is not the probe's. The "
                    "masses, K, the bundle, the sha256 of every file read and a per-input "
                    "trace go to PLAN.json, for `drivesynth generate --focus PLAN.json`.",
    )  # fmt: skip
    p.add_argument("--feedback", required=True, type=Path, metavar="FB_DIR",
                   help="feedback folder a board wrote (edge run/watch --feedback)")
    p.add_argument("--bundle", required=True, type=Path,
                   help="the bundle the board ran (bundle or install folder)")
    p.add_argument("--probes", required=True, type=Path, metavar="PROBE_DIR",
                   help="labelled probe shards (drivesynth generate, every preset, own seed)")
    p.add_argument("--out", required=True, type=Path, metavar="PLAN.json", help="plan file")
    p.add_argument("--k", type=int, default=5, help="nearest probes per hard input")
    p.add_argument("--variant", choices=("fp32", "fp16", "int8", "int8_qdq"), default=None,
                   help="model variant (default: the bundle's selected one, else fp32)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads")
    p.add_argument("--force", action="store_true", help="replace an existing PLAN.json")
    p.set_defaults(func=plan_cmd)


def plan_cmd(args: argparse.Namespace) -> int:
    from edge.runtime import EdgeModel
    from edge.runtime.bundle import write_json_atomic
    from edge.runtime.plan import PlanConfig, make_plan
    from edge.runtime.update import resolve_bundle

    cfg = PlanConfig(k=args.k)
    out: Path = args.out
    if out.exists() and (not args.force or not out.is_file()):
        raise FileExistsError(f"--out {out} already exists"
                              + (" (use --force to replace it)" if out.is_file() else ""))
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: no folder {out.parent}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    model = EdgeModel(resolve_bundle(args.bundle), variant=args.variant, threads=args.threads)
    plan = make_plan(model, args.feedback, args.probes, cfg)
    write_json_atomic(out, plan)
    log.info("plan of %d hard inputs written to %s", len(plan["inputs"]), out)
    print(json.dumps({"plan": str(out), "hard_mass": plan["hard_mass"],
                      "inputs": len(plan["inputs"]),
                      "tasks_without_mass": plan["tasks_without_mass"]}, indent=2))
    return 0
