"""``drivesynth bench all``: every benchmark through one registry, one report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.bench_registry import BENCHMARKS
from edge.cli import main


def test_bench_all_help() -> None:
    out = subprocess.run([sys.executable, "-m", "edge.cli", "bench", "all", "--help"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "--only" in out.stdout and "--quick" in out.stdout


@pytest.mark.slow
def test_bench_all_only_quick_writes_one_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    code = main(["bench", "all", "--only", "audio,vehicle,train", "--quick",
                 "--out", str(out), "--demo", str(tmp_path / "no_demo")])  # fmt: skip
    assert code == 0
    report = json.loads((out / "bench.json").read_text())
    assert set(report["results"]) == {"audio", "vehicle"}
    assert report["errors"]["train"].startswith("skipped: no training shards")
    # every benchmark that ran contributes its ratios, and they are the results' own values
    vehicle = report["results"]["vehicle"]["results"]
    assert report["ratios"]["vehicle"]["results[1].cost_ratio_vs_first"] == pytest.approx(
        vehicle[1]["cost_ratio_vs_first"])
    assert [r["cars"] for r in vehicle] == [1, 2]
    md = (out / "BENCHMARKS.md").read_text()
    assert "| vehicle |" in md and "| train | FAILED | skipped" in md
    assert (out / "ratios.png").stat().st_size > 1000


def test_bench_all_unknown_name_is_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "all", "--only", "audio,warp", "--out", str(tmp_path / "r")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "warp" in err[0] and ",".join(BENCHMARKS) in err[0]
    assert not (tmp_path / "r").exists()


def test_bench_json_is_not_replaced_without_force(tmp_path: Path, capsys) -> None:
    old = tmp_path / "old.json"
    old.write_text("keep")
    argv = ["bench", "audio", "--duration", "2", "--repeats", "1", "--json", str(old)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--force" in err[0]
    assert old.read_text() == "keep"
    assert main([*argv, "--force"]) == 0
    assert json.loads(old.read_text())
