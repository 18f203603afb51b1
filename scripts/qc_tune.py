"""Tune QC on its own tuning faults (datagen.qc.inject) and on clean data: never on the
held-out faults of scripts/qc_heldout.py.

    python scripts/qc_tune.py clean DIR [--json OUT]
        QC on a clean data set: flagged share per weather preset and the checks that fired.
    python scripts/qc_tune.py inject DIR WORK [--faults optics|all] [--fraction F] [--seed S]
        copy DIR to WORK with tuning faults; recall per fault, and the clean samples' flags
        per preset.

Make the clean data with seeds other than the held-out measurement's (2020, 3030, 4040), e.g.
``drivesynth generate --out /tmp/qctune --scenarios 650 --frames 4 --image-size 64 --seed 555``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datagen.qc.inject import FAULTS, OPTICS_FAULTS, inject_faults  # noqa: E402
from datagen.qc.report import QCReport, run_qc, sample_id, shard_paths  # noqa: E402
from datagen.qc.shardio import iter_raw  # noqa: E402


def presets(root: Path) -> dict[str, str]:
    out = {}
    for path in shard_paths(root):
        for raw in iter_raw(path):
            meta = json.loads(raw.data("json") or b"{}")
            out[sample_id(path.name, raw.key)] = str(meta.get("weather", {}).get("preset"))
    return out


def per_preset(report: QCReport, preset_of: dict[str, str], skip: set[str]) -> dict:
    total = Counter(p for k, p in preset_of.items() if k not in skip)
    flagged: dict[str, set[str]] = defaultdict(set)
    checks: dict[str, Counter] = defaultdict(Counter)
    for f in report.findings:
        if f.sample in skip or f.sample not in preset_of:
            continue
        p = preset_of[f.sample]
        flagged[p].add(f.sample)
        checks[p][f.check] += 1
    return {p: {"n": n, "flagged": len(flagged[p]), "rate": len(flagged[p]) / n,
                "checks": dict(checks[p])} for p, n in sorted(total.items())}


def show_presets(rows: dict) -> None:
    n = sum(r["n"] for r in rows.values())
    k = sum(r["flagged"] for r in rows.values())
    print(f"clean samples {n}, flagged {k} ({k / max(n, 1):.2%})")
    for p, r in rows.items():
        mark = "  <-- above 1 %" if r["rate"] > 0.01 else ""
        print(f"  {p:20s} {r['flagged']:3d}/{r['n']:4d} {r['rate']:6.2%} {r['checks']}{mark}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clean")
    c.add_argument("dir", type=Path)
    c.add_argument("--json", type=Path)
    i = sub.add_parser("inject")
    i.add_argument("dir", type=Path)
    i.add_argument("work", type=Path)
    i.add_argument("--faults", choices=("optics", "all"), default="optics")
    i.add_argument("--fraction", type=float, default=0.1)
    i.add_argument("--seed", type=int, default=7)
    i.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    t0 = time.time()
    if a.cmd == "clean":
        report = run_qc(a.dir)
        rows = per_preset(report, presets(a.dir), set())
        show_presets(rows)
        for f in report.findings:
            print(f"    {f.sample} {f.check}: {f.reason}")
        if a.json:
            a.json.write_text(json.dumps({"presets": rows, **report.to_json()}, indent=1))
    else:
        faults = OPTICS_FAULTS if a.faults == "optics" else FAULTS
        truth = inject_faults(a.dir, a.work, a.fraction, a.seed, faults)
        report = run_qc(a.work)
        flagged = report.flagged
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for key, fault in truth.items():
            hits[fault][0] += key in flagged
            hits[fault][1] += 1
        tp = len(flagged & set(truth))
        print(f"faults {len(truth)}, recall {tp / max(len(truth), 1):.3f}, precision "
              f"{tp / max(len(flagged), 1):.3f}")
        for fault, (h, n) in sorted(hits.items()):
            print(f"  {fault:24s} {h:3d}/{n:3d} {h / n:.2f}")
        by_fault_check: dict[str, Counter] = defaultdict(Counter)
        for f in report.findings:
            if f.sample in truth:
                by_fault_check[truth[f.sample]][f.check] += 1
        for fault, cnt in sorted(by_fault_check.items()):
            print(f"    {fault}: {dict(cnt)}")
        show_presets(per_preset(report, presets(a.work), set(truth)))
        if a.json:
            a.json.write_text(json.dumps({"truth": truth, **report.to_json()}, indent=1))
    print(f"{time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
