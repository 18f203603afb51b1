"""Fit QC's json-vs-sensors model (datagen.qc.metadata_sensors) on clean shards.

    drivesynth generate --out runs/qcfit_clean --scenarios 300 --frames 4 --image-size 64 \\
        --seed 9191 --workers 2 --samples-per-shard 64
    python scripts/fit_metadata_sensors.py runs/qcfit_clean

writes datagen/qc/metadata_sensors_fit.json (or --out). Fit on a seed QC is not measured on.
The fit is deterministic: the same shards give the same file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from datagen.qc.metadata_sensors import FIT_FILE, fit
    from datagen.qc.report import shard_paths
    from datagen.qc.shardio import iter_decoded

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="folder of clean shards")
    ap.add_argument("--out", type=Path, default=FIT_FILE)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fitted = fit(iter_decoded(shard_paths(args.data)))
    args.out.write_text(json.dumps(fitted, indent=1, sort_keys=True) + "\n")
    logging.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
