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


def _generate_args(*argv: str) -> argparse.Namespace:
    from datagen import generate_bench

    parser = argparse.ArgumentParser()
    generate_bench.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.slow
def test_generate_bench_measures_both_loops_per_camera_count(capsys) -> None:
    from datagen import generate_bench

    args = _generate_args("--scenarios", "2", "--frames", "2", "--image-size", "32",
                          "--samples-per-shard", "2", "--camera-counts", "1,2")  # fmt: skip
    result = generate_bench.run(args)
    json.dumps(result)
    assert set(result["by_camera_count"]) == {"1", "2"}
    for k, row in result["by_camera_count"].items():
        cams = int(k)
        assert row["cameras"] == list(generate_bench.SURROUND_RIG[:cams])
        # a sample is one camera frame in both loops, on the same scenarios
        assert row["end_to_end"]["samples"] == row["raw_pybullet"]["samples"] == 2 * 2 * cams
        assert 0 < row["ratio"] < float("inf")
        stages = row["stages"]
        assert abs(sum(s["share"] for s in stages.values()) - 1) < 1e-9
        for stage in ("set-up", "physics", "vehicle model", "render", "labels", "weather",
                      "audio", "encoding", "writing"):  # fmt: skip
            assert stages[stage]["ms_per_sample"] > 0, stage
    assert result["ratio"] == result["by_camera_count"]["1"]["ratio"]
    out = capsys.readouterr().out
    assert "raw PyBullet" in out and "where the end-to-end time goes" in out


def test_generate_bench_refuses_rigs_it_does_not_have() -> None:
    from datagen import generate_bench

    with pytest.raises(ValueError, match="--camera-counts"):
        generate_bench.run(_generate_args("--camera-counts", "7"))
