"""Choose the threshold of QC's learned cross-modal check (``qc --model CKPT``) on data of its
own, never on a held-out fault set (issue 20).

    python scripts/qc_model_calibrate.py --model CKPT --clean DIR [DIR ...] --work WORK

1. embeds every sample of each clean data set ``DIR`` with the checkpoint and takes its
   score, the largest mean rank share over the three modalities (what
   :func:`multimodal.agreement.judge` compares with ``rank_threshold``), per weather preset;
2. copies each ``DIR`` to ``WORK`` breaking ``--fraction`` of the samples with QC's own
   swap faults (:mod:`datagen.qc.inject`: ``rgb_neighbour``, ``audio_neighbour``,
   ``caption_neighbour``) and scores the copies;
3. for each ``--gallery`` and each threshold of the grid prints the clean samples flagged
   (overall and the worst preset) and the recall per swap fault, with the share of caught
   swaps whose flag names the swapped modality; picks the lowest threshold that keeps every
   preset's clean flags at or below ``--max-preset-rate``.

Writes ``WORK/calibration.json``. Only the model's statistic is measured here, not the rules.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SWAPS = {"rgb_neighbour": "image", "audio_neighbour": "audio", "caption_neighbour": "text"}
GRID = tuple(round(0.30 + 0.025 * i, 3) for i in range(27))  # 0.30 ... 0.95


def presets_of(root: Path) -> dict[str, str]:
    from datagen.qc.report import sample_id, shard_paths
    from datagen.qc.shardio import iter_raw

    out = {}
    for path in shard_paths(root):
        for raw in iter_raw(path):
            meta = json.loads(raw.data("json") or b"{}")
            out[sample_id(path.name, raw.key)] = (meta.get("weather") or {}).get("preset", "?")
    return out


def scores(root: Path, model: Path, gallery: int) -> dict[str, tuple[float, str]]:
    """sample id -> (score, modality the check would name); score 0 when no pair ranks
    another sample's partner at least as high as its own."""
    from datagen.qc.report import sample_id
    from multimodal.agreement import ModelCheckConfig, embed, judge

    cfg = ModelCheckConfig(gallery=gallery, rank_threshold=1e-9)
    embs = embed(root, model, cfg)
    out = {sample_id(sh, k): (0.0, "") for k, sh, _ in embs["ids"]}
    for key, shard, flag in judge(embs, cfg):
        out[sample_id(shard, key)] = (float(flag.value), flag.reason.split(" ", 1)[0])
    return out


def sweep(clean: dict, preset: dict, faulted: dict, truth: dict) -> list[dict]:
    rows = []
    for t in GRID:
        per: dict[str, list[int]] = {}
        for sid, (s, _) in clean.items():
            per.setdefault(preset[sid], [0, 0])[1] += 1
            per[preset[sid]][0] += s > t
        worst = max(per.items(), key=lambda kv: kv[1][0] / kv[1][1])
        fault_rows = {}
        for fault, modality in SWAPS.items():
            ids = [k for k, f in truth.items() if f == fault]
            hit = [k for k in ids if faulted[k][0] > t]
            named = sum(faulted[k][1] == modality for k in hit)
            fault_rows[fault] = {"faults": len(ids), "recall": len(hit) / max(1, len(ids)),
                                 "named_right": named / max(1, len(hit))}  # fmt: skip
        false = sum(faulted[k][0] > t for k in faulted if k not in truth)
        rows.append({"threshold": t, "clean_flagged": sum(v[0] for v in per.values()),
                     "clean_samples": len(clean), "worst_preset": worst[0],
                     "worst_preset_rate": worst[1][0] / worst[1][1],
                     "faulted_copy_false_flags": false, "swaps": fault_rows})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--clean", type=Path, nargs="+", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--gallery", type=int, nargs="+", default=[64])
    ap.add_argument("--fraction", type=float, default=0.2)
    ap.add_argument("--fault-seed", type=int, default=5)
    ap.add_argument("--max-preset-rate", type=float, default=0.005)
    args = ap.parse_args(argv)
    from datagen.qc.inject import FAULTS, inject_faults

    args.work.mkdir(parents=True, exist_ok=True)
    preset, truth, copies = {}, {}, []
    for i, root in enumerate(args.clean):
        dst = args.work / f"swapped_{i}"
        if dst.exists():
            shutil.rmtree(dst)
        faults = {name: FAULTS[name] for name in SWAPS}
        truth.update({f"{i}:{k}": v for k, v in inject_faults(
            root, dst, args.fraction, args.fault_seed + i, faults).items()})  # fmt: skip
        preset.update({f"{i}:{k}": v for k, v in presets_of(root).items()})
        copies.append((i, root, dst))
    result = {"model": str(args.model), "clean": [str(c) for c in args.clean],
              "fraction": args.fraction, "by_gallery": {}}  # fmt: skip
    for g in args.gallery:
        clean, faulted = {}, {}
        for i, root, dst in copies:
            clean.update({f"{i}:{k}": v for k, v in scores(root, args.model, g).items()})
            faulted.update({f"{i}:{k}": v for k, v in scores(dst, args.model, g).items()})
        rows = sweep(clean, preset, faulted, truth)
        ok = [r for r in rows if r["worst_preset_rate"] <= args.max_preset_rate]
        result["by_gallery"][g] = {"rows": rows, "chosen": ok[0]["threshold"] if ok else None}
        print(f"gallery {g}: chosen threshold {result['by_gallery'][g]['chosen']}")
        for r in rows:
            sw = " ".join(f"{f.split('_')[0]} {v['recall']:.2f}/{v['named_right']:.2f}"
                          for f, v in r["swaps"].items())
            print(f"  t {r['threshold']:.3f}: clean {r['clean_flagged']}/{r['clean_samples']}"
                  f" worst {r['worst_preset']} {r['worst_preset_rate']:.1%};"
                  f" copy false {r['faulted_copy_false_flags']}; recall/named {sw}")
    (args.work / "calibration.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
