"""drivesynth bench datagen: real loops (bare, complete, Dask) give consistent numbers."""

from __future__ import annotations

import argparse
import json

import pytest

from datagen.bench import DatagenBenchConfig, add_arguments, run


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    "field,kwargs", [("scenarios", {"scenarios": 1}), ("frames", {"frames": 2}),
                     ("workers", {"workers": (0,)}), ("workers", {"workers": ()})],
)  # fmt: skip
def test_config_rejects_bad_values_naming_the_field(field: str, kwargs: dict) -> None:
    with pytest.raises(ValueError, match=f"DatagenBenchConfig.{field}"):
        DatagenBenchConfig(**kwargs)


def test_plan_puts_one_scenario_in_each_task() -> None:
    plan = DatagenBenchConfig(scenarios=3, frames=4).plan()
    assert [len(s.scenarios) for s in plan] == [1, 1, 1]


@pytest.mark.slow
def test_bench_measures_every_loop_on_the_same_samples(capsys: pytest.CaptureFixture) -> None:
    result = run(_args("--scenarios", "2", "--frames", "3", "--image-size", "32",
                       "--workers", "1"))  # fmt: skip
    json.dumps(result)  # JSON-serialisable
    samples = result["bare"]["samples"]
    assert samples == 2 * 3
    assert result["complete"]["samples"] == samples
    assert result["dask"]["1"]["samples"] == samples
    # a ratio of rates measured side by side (no bound on it: timing is the benchmark's job)
    assert 0 < result["complete_vs_bare_ratio"] < float("inf")
    assert result["dask"]["1"]["task_overhead_s"] >= 0
    assert all(0 <= share <= 1 for share in result["stages"].values())
    assert result["stages"]["simulate + render + labels"] > 0
    sizes = result["bytes_per_sample"]
    files = sum(v for k, v in sizes.items() if k != "total (tar)")
    assert sizes["rgb.png"] > 0 and sizes["audio.flac"] > 0
    # tar adds only headers and padding: per member a 512-byte header and < 512 bytes of
    # padding; per shard (at most one per scenario) two end blocks and the 10240-byte record
    members = len(sizes) - 1
    per_shard = 2 * 512 + 10240
    bound = files + members * (512 + 511) + 2 * per_shard / samples
    assert files < sizes["total (tar)"] < bound
    table = capsys.readouterr().out
    assert "bare sim+render" in table and "where a complete sample's time goes" in table
