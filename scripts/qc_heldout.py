"""Measure ``drivesynth qc`` on held-out faults it was not tuned to (issue 20).

    python scripts/qc_heldout.py --out runs/qc_heldout --scenarios 650 --frames 4 --workers 2

1. Generates clean shards with the real simulator (PyBullet, weather, audio, captions), the
   weather drawn per scenario from every preset (night, fog and snow included), as
   ``drivesynth generate`` does by default;
2. runs QC on the clean shards: the share of clean samples flagged, per weather preset;
3. copies the shards breaking ``--fraction`` of the samples with the held-out injector
   (``tests/datagen/qc_heldout/faults.py``, written before QC's cross-modal checks and never
   used to tune them; ``--fault-set v2``, ``v3``, ``v4`` for the later blind sets), runs QC
   again and reports precision and recall overall and per fault class (and per fault).

Per-class precision is the precision QC would have at the same fault rate if every fault
were of that class: ``TP_c / (TP_c + FPR x clean_c)``, with FPR the clean run's false-positive
rate and ``clean_c = n_c (1 - f) / f`` clean samples per ``n_c`` faults. Writes
``OUT/report_v1.json`` (``_v2`` ... ``_v10`` with ``--fault-set v2`` ... ``v10``)
and prints a table. Generated shards are reused when ``OUT/clean`` exists.
``--model CKPT`` adds QC's learned check (``qc --model``; ``--rank-threshold``, ``--gallery``
as qc's).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "datagen"))

TARGET_RECALL, TARGET_PRECISION, TARGET_FPR = 0.95, 0.9, 0.01


def _build(args: tuple) -> str:
    shard, out = args
    from datagen.generate import build_shard

    build_shard(shard, out)
    return shard.name


def generate(out: Path, scenarios: int, frames: int, seed: int, image_size: int,
             workers: int, split: str = "qc") -> None:  # fmt: skip
    from datagen.builder import weather_presets
    from datagen.plan import GenerateConfig, make_plan

    cfg = GenerateConfig(scenarios=scenarios, frames=frames, image_size=image_size, seed=seed,
                         split=split, weather_presets=weather_presets(),
                         samples_per_shard=64)  # fmt: skip
    plan = make_plan(cfg)
    tmp = out.with_name(out.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    todo = [(s, str(tmp)) for s in plan if not (tmp / s.name).is_file()]
    t0 = time.time()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for i, name in enumerate(pool.map(_build, todo), 1):
                print(f"  shard {name} ({i}/{len(todo)}, {time.time() - t0:.0f} s)", flush=True)
    else:
        for i, item in enumerate(todo, 1):
            print(f"  shard {_build(item)} ({i}/{len(todo)}, {time.time() - t0:.0f} s)",
                  flush=True)  # fmt: skip
    tmp.rename(out)


def presets_of(root: Path) -> dict[str, str]:
    """sample id -> json.weather.preset."""
    from datagen.qc.report import sample_id, shard_paths
    from datagen.qc.shardio import iter_raw

    out = {}
    for path in shard_paths(root):
        for raw in iter_raw(path):
            meta = json.loads(raw.data("json") or b"{}")
            out[sample_id(path.name, raw.key)] = meta.get("weather", {}).get("preset", "?")
    return out


FAULT_SETS = tuple(f"v{n}" for n in range(1, 11))  # v1: faults.py, vN: faults_vN.py


def held_out_injector(fault_set: str):
    """(CLASSES, inject(src, dst, fraction, seed) -> {sample id: {"class", "fault"}}) of a
    held-out fault set: v1 (faults.py), v2 (faults_v2.py, written later by someone who had
    not read QC's rules), v3 (faults_v3.py, likewise blind, other faults), v4 (faults_v4.py,
    likewise blind, faults unlike v1-v3's), v5 (faults_v5.py, likewise, unlike v1-v4's), v6
    (faults_v6.py, likewise, unlike v1-v5's), v7 (faults_v7.py, likewise, unlike v1-v6's) or
    v8 ... v10 (faults_v8.py ... faults_v10.py, likewise, each unlike the sets before it)."""
    if fault_set == "v1":
        from qc_heldout.faults import CLASSES, inject

        return CLASSES, inject
    module = importlib.import_module(f"qc_heldout.faults_{fault_set}")
    inject_set = module.inject

    def inject(src: Path, dst: Path, fraction: float, seed: int) -> dict:
        return inject_set(src, dst, fraction, seed)["faults"]

    return module.CLASSES, inject


def measure(out: Path, fraction: float, seed: int, model: Path | None = None,
            fault_set: str = "v1", model_options: dict | None = None) -> dict:  # fmt: skip
    from datagen.qc.report import run_qc

    CLASSES, inject = held_out_injector(fault_set)

    clean = out / "clean"
    preset = presets_of(clean)
    t0 = time.time()
    learned = None
    if model is not None:
        from multimodal.agreement import ModelCheckConfig, check

        model_cfg = ModelCheckConfig(**(model_options or {}))

        def learned(root: Path) -> list:
            return check(root, model, model_cfg)

    clean_report = run_qc(clean, learned=learned)
    clean_s = time.time() - t0
    per_preset: dict[str, list[int]] = {}
    for sid, p in preset.items():
        per_preset.setdefault(p, [0, 0])[1] += 1
        per_preset[p][0] += sid in clean_report.flagged
    fpr = len(clean_report.flagged) / max(1, clean_report.samples)
    clean_model = learned_only(clean_report)
    faulted = out / f"faulted_{fault_set}"
    if faulted.exists():
        shutil.rmtree(faulted)
    truth = inject(clean, faulted, fraction, seed)
    t0 = time.time()
    report = run_qc(faulted, learned=learned)
    faulted_s = time.time() - t0
    flagged, faults = report.flagged, set(truth)
    tp = len(flagged & faults)
    false_alarms = sorted(flagged - faults)
    model_hit, model_only = learned_only(report)
    by_class: dict[str, dict] = {}
    for cls in CLASSES:
        ids = [k for k, v in truth.items() if v["class"] == cls]
        hit = sum(k in flagged for k in ids)
        n = len(ids)
        clean_c = n * (1 - fraction) / fraction
        prec = hit / (hit + fpr * clean_c) if hit + fpr * clean_c > 0 else 1.0
        by_class[cls] = {"faults": n, "caught": hit, "recall": hit / n if n else None,
                         "precision_alone": prec,
                         "learned_caught": sum(k in model_hit for k in ids),
                         "learned_only": sum(k in model_only for k in ids)}  # fmt: skip
    by_fault: dict[str, list[int]] = {}
    for k, v in truth.items():
        by_fault.setdefault(v["fault"], [0, 0])[1] += 1
        by_fault[v["fault"]][0] += k in flagged
    missed = [{"sample": k, **v} for k, v in sorted(truth.items()) if k not in flagged]
    checks_on_faults = Counter(f.check for f in report.findings if f.sample in faults)
    checks_on_clean = Counter(f.check for f in clean_report.findings)
    return {
        "samples": clean_report.samples, "fraction": fraction,
        "clean": {"flagged": len(clean_report.flagged), "false_positive_rate": fpr,
                  "per_preset": {p: {"samples": n, "flagged": k, "rate": k / n}
                                 for p, (k, n) in sorted(per_preset.items())},
                  "by_check": dict(checks_on_clean.most_common()),
                  "learned_flagged": len(clean_model[0]), "learned_only": len(clean_model[1]),
                  "learned_only_per_preset": dict(Counter(preset[k] for k in clean_model[1])),
                  "findings": [f.__dict__ for f in clean_report.findings], "qc_s": clean_s},
        "faulted": {"faults": len(faults), "flagged": len(flagged), "true_positives": tp,
                    "precision": tp / len(flagged) if flagged else 1.0,
                    "recall": tp / len(faults) if faults else 1.0,
                    "false_alarms": false_alarms, "qc_s": faulted_s,
                    "by_check_on_faults": dict(checks_on_faults.most_common())},
        "by_class": by_class,
        "by_fault": {f: {"faults": n, "caught": h, "recall": h / n}
                     for f, (h, n) in sorted(by_fault.items())},
        "missed": missed,
    }  # fmt: skip


def learned_only(report) -> tuple[set[str], set[str]]:
    """Samples the learned check (``model_agreement``) flags, and those no other finding
    flags (an unresolved two-frame finding kept because of it counts as another)."""
    hit = {f.sample for f in report.findings if f.check == "model_agreement"}
    other = {f.sample for f in report.findings if f.check != "model_agreement"}
    return hit, hit - other


def table(r: dict) -> str:
    f, c = r["faulted"], r["clean"]
    lines = [f"{r['samples']} clean samples; held-out faults in {f['faults']} of a copy "
             f"(fraction {r['fraction']})",
             f"overall: precision {f['precision']:.3f} recall {f['recall']:.3f} "
             f"(target >= {TARGET_PRECISION} / >= {TARGET_RECALL})",
             f"clean samples flagged: {c['flagged']} ({c['false_positive_rate']:.2%})",
             "", f"{'class':24s} {'faults':>6s} {'recall':>7s} {'precision*':>10s}"]
    for cls, v in r["by_class"].items():
        rec = "-" if v["recall"] is None else f"{v['recall']:.3f}"
        lines.append(f"{cls:24s} {v['faults']:6d} {rec:>7s} {v['precision_alone']:10.3f}")
    lines += ["  * precision at the same fault rate if all faults were of this class", "",
              f"{'fault':24s} {'faults':>6s} {'recall':>7s}"]
    lines += [f"{k:24s} {v['faults']:6d} {v['recall']:7.3f}" for k, v in r["by_fault"].items()]
    lines += ["", f"{'weather preset':24s} {'clean':>6s} {'flagged':>7s} {'rate':>7s}"]
    for p, v in c["per_preset"].items():
        mark = "" if v["rate"] <= TARGET_FPR else "  > 1 %"
        lines.append(f"{p:24s} {v['samples']:6d} {v['flagged']:7d} {v['rate']:7.2%}{mark}")
    lines += ["", f"clean findings by check: {c['by_check']}"]
    if r.get("model"):
        lines += ["", f"learned check (--model): clean flagged {c['learned_flagged']}, by it "
                  f"alone {c['learned_only']} {c['learned_only_per_preset']}",
                  f"{'class':24s} {'faults':>6s} {'learned':>7s} {'alone':>6s}"]
        lines += [f"{k:24s} {v['faults']:6d} {v['learned_caught']:7d} {v['learned_only']:6d}"
                  for k, v in r["by_class"].items()]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--scenarios", type=int, default=650)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=2020, help="data seed (not QC's tuning seeds)")
    ap.add_argument("--fault-seed", type=int, default=7)
    ap.add_argument("--fraction", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--fault-set",
                    choices=FAULT_SETS, default="v1",
                    help="held-out faults: v1 (faults.py), vN (faults_vN.py) for N = 2 ... "
                         f"{FAULT_SETS[-1][1:]}")
    ap.add_argument("--model", type=Path, default=None, metavar="CKPT",
                    help="also run QC's learned check with this drivesynth checkpoint")
    ap.add_argument("--rank-threshold", type=float, default=None, metavar="T",
                    help="--model's rank_threshold (qc --rank-threshold; default: the check's)")
    ap.add_argument("--gallery", type=int, default=None, metavar="N",
                    help="--model's gallery (qc --gallery; default: the check's)")
    args = ap.parse_args(argv)
    model_options = {k: v for k, v in (("rank_threshold", args.rank_threshold),
                                       ("gallery", args.gallery)) if v is not None}
    clean = args.out / "clean"
    if not clean.is_dir():
        print(f"generating {args.scenarios} scenarios x {args.frames} frames ...", flush=True)
        generate(clean, args.scenarios, args.frames, args.seed, args.image_size, args.workers)
    result = measure(args.out, args.fraction, args.fault_seed, args.model, args.fault_set,
                     model_options)  # fmt: skip
    result["model"] = str(args.model) if args.model else None
    result["model_options"] = model_options
    result["fault_set"] = args.fault_set
    report = args.out / f"report_{args.fault_set}.json"
    report.write_text(json.dumps(result, indent=1, default=str))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
