"""The held-out fault injector (tests/datagen/qc_heldout) and the benchmark that measures QC
with it (scripts/qc_heldout.py). These tests check that the faults are injected as
documented; they assert nothing about QC's thresholds (QC is never tuned on these faults)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from qc_heldout import faults as heldout

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real generated shards: 3 presets x 2 scenarios x 3 frames at 48 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("heldout") / "clean"
    root.mkdir()
    for preset in ("clear_noon", "fog_night", "heavy_snow"):
        cfg = GenerateConfig(scenarios=2, frames=3, image_size=48, seed=5, split=preset,
                             weather=preset, weather_presets=weather_presets(),
                             samples_per_shard=6)  # fmt: skip
        for shard in make_plan(cfg):
            build_shard(shard, str(root))
    return root


@pytest.mark.parametrize("name", sorted(heldout.FAULTS))
def test_each_heldout_fault_changes_a_sample(clean: Path, name: str) -> None:
    items = heldout.read_items(clean)
    ctx = heldout.Context(items)
    rng = np.random.default_rng(0)
    applied = 0
    for it in items:
        files = dict(it.files)
        desc = heldout.FAULTS[name][1](files, it, ctx, rng)
        if desc is not None:
            assert files != it.files, (name, desc)
            applied += 1
    assert applied >= 1, f"{name} applied to no sample"


def test_inject_is_deterministic_and_balanced(clean: Path, tmp_path: Path) -> None:
    a = heldout.inject(clean, tmp_path / "a", 0.5, seed=3)
    b = heldout.inject(clean, tmp_path / "b", 0.5, seed=3)
    assert a == b and len(a) >= 5
    assert set(v["class"] for v in a.values()) == set(heldout.CLASSES)
    changed = {f"{p.name}/{k}" for p in sorted((tmp_path / "a").glob("*.tar"))
               for k in _changed_keys(clean / p.name, p)}  # fmt: skip
    assert changed == set(a)


def _changed_keys(src: Path, dst: Path) -> set[str]:
    from datagen.qc.shardio import iter_raw

    before = {r.key: {e: d for e, (_, d) in r.files.items()} for r in iter_raw(src)}
    return {r.key for r in iter_raw(dst)
            if {e: d for e, (_, d) in r.files.items()} != before[r.key]}  # fmt: skip


@pytest.mark.slow
def test_benchmark_reports_per_class_and_per_preset(clean: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("qc_heldout_script",
                                                  ROOT / "scripts" / "qc_heldout.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules["qc_heldout_script"] = script
    spec.loader.exec_module(script)
    out = tmp_path / "bench"
    out.mkdir()
    (out / "clean").symlink_to(clean, target_is_directory=True)
    result = script.measure(out, fraction=0.3, seed=1)
    assert set(result["by_class"]) == set(heldout.CLASSES)
    assert set(result["clean"]["per_preset"]) == {"clear_noon", "fog_night", "heavy_snow"}
    assert result["samples"] == 18 and result["faulted"]["faults"] >= 3
    for v in result["by_class"].values():
        assert v["recall"] is None or 0.0 <= v["recall"] <= 1.0
    text = script.table(result)
    assert "overall: precision" in text and "fog_night" in text
    json.dumps(result, default=str)
