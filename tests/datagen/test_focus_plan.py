"""``drivesynth generate --focus PLAN.json`` (issue "loop"): the masses of a plan file that
``drivesynth edge plan`` wrote become the weather weights, deterministically, recorded in the
manifest with the plan's sha256; ``--resume`` refuses another plan; a bad plan is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datagen.builder import weather_presets
from datagen.focus import PLAN_FORMAT, focus_from_feedback, preset_labels
from datagen.shards import sha256_of
from edge.cli import main

PRESETS = weather_presets()
TINY = ["--scenarios", "4", "--frames", "1", "--image-size", "32", "--workers", "0",
        "--no-progress", "--no-card"]  # fmt: skip


def write_plan(path: Path, night: float = 19.0, day: float = 6.6) -> Path:
    """A plan as edge/runtime/plan.py writes it (the fields focus reads, and some others)."""
    plan = {"format": PLAN_FORMAT, "method": "knn-cosine-mistakes-times-rate", "k": 5,
            "feedback": {"samples": 96, "files": [["feedback-000000.tar", "0" * 64]]},
            "hard_mass": {"time_of_day": {"night": night, "day": day},
                          "weather_family": {"clear": 6.0, "storm": 11.8}},
            "inputs": []}  # fmt: skip
    path.write_text(json.dumps(plan, sort_keys=True))
    return path


def test_the_format_is_the_one_edge_plan_writes() -> None:
    from edge.runtime.plan import PLAN_FORMAT as WRITTEN

    assert PLAN_FORMAT == WRITTEN


def test_a_plans_masses_aim_the_weights(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan.json")
    weights, record = focus_from_feedback(plan, PRESETS, 0.7)
    again, _ = focus_from_feedback(plan, PRESETS, 0.7)
    assert weights == again  # a pure function of the file
    assert record.files == (("plan.json", sha256_of(plan)),) and record.samples == 96
    assert dict(record.time_of_day)["night"] == 19.0
    night = [p for p, t in preset_labels(PRESETS)["time_of_day"].items() if t == "night"]
    share = sum(w for p, w in weights if p in night)
    assert share > 2 * len(night) / len(PRESETS)  # far above uniform
    # less night mass, less night weight
    fewer, _ = focus_from_feedback(write_plan(tmp_path / "b.json", night=1.0), PRESETS, 0.7)
    assert sum(w for p, w in fewer if p in night) < share


def test_generate_focus_plan_records_resumes_and_refuses_another(tmp_path: Path,
                                                                 capsys) -> None:  # fmt: skip
    plan = write_plan(tmp_path / "plan.json")
    out = tmp_path / "data"
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(plan)]) == 0
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["weather_focus"]["files"] == [["plan.json", sha256_of(plan)]]
    assert dict(config["weather_focus"]["time_of_day"])["night"] == 19.0
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(plan), "--resume"]) == 0
    other = write_plan(tmp_path / "other.json", night=2.0)
    capsys.readouterr()
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(other), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "weather_" in err and "--force" in err and err.count("\n") == 1
    # the same options elsewhere give the same shards
    again = tmp_path / "again"
    assert main(["generate", "--out", str(again), *TINY, "--focus", str(plan)]) == 0
    for shard in sorted(out.glob("*.tar")):
        assert (again / shard.name).read_bytes() == shard.read_bytes()


@pytest.mark.parametrize("content, needle", [
    (b"\xff\xfe not json", "neither a feedback folder nor a JSON plan"),
    (json.dumps({"format": "other"}).encode(), "not a drivesynth-focus-plan/1"),
    (json.dumps({"format": PLAN_FORMAT, "feedback": {"samples": 1},
                 "hard_mass": {"time_of_day": {"noon": 1.0}}}).encode(), "time_of_day.noon"),
    (json.dumps({"format": PLAN_FORMAT, "feedback": {"samples": 1},
                 "hard_mass": {"time_of_day": {"night": -1}}}).encode(), "not a mass"),
    (json.dumps({"format": PLAN_FORMAT, "feedback": {"samples": 1},
                 "hard_mass": {"driver_style": {}}}).encode(), "hard_mass.driver_style"),
    (json.dumps({"format": PLAN_FORMAT, "feedback": {"samples": 1},
                 "hard_mass": {"time_of_day": {"night": 0}}}).encode(), "nothing to focus on"),
    (json.dumps({"format": PLAN_FORMAT, "hard_mass": {}}).encode(), "feedback.samples"),
])  # fmt: skip
def test_a_bad_plan_is_one_line_and_writes_nothing(tmp_path: Path, capsys, content: bytes,
                                                   needle: str) -> None:  # fmt: skip
    plan = tmp_path / "plan.json"
    plan.write_bytes(content)
    out = tmp_path / "data"
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(plan)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not out.exists()
