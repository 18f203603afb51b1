"""scripts/loop_levers.py's choice among the loop's candidates (docs/loop.md): a candidate
qualifies only when every rest task stays within ``max_drop`` on validation, not when the
rest mean does; the fall-backs when none qualifies."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import loop_levers  # noqa: E402


def _score(gap: float | None, **changes: float) -> dict:
    return {"gap_closed": gap, "rest_change": sum(changes.values()) / len(changes),
            "rest_task_changes": changes}  # fmt: skip


def test_mean_gain_does_not_hide_one_task_dropping_two_points():
    scores = {
        # better mean (+0.04) and the full gap, but weather family drops 2 points
        "mean_winner": _score(1.0, time_of_day=0.10, weather_family=-0.02),
        # a smaller mean gain, every task within 1 point
        "every_task": _score(0.9, time_of_day=0.01, weather_family=-0.01),
    }
    chosen, rule = loop_levers.choose(scores, max_drop=0.01, min_gap=0.5)
    assert chosen == "every_task"
    assert "every rest task" in rule
    assert not loop_levers.qualifies(scores["mean_winner"], 0.01)
    assert loop_levers.qualifies(scores["every_task"], 0.01)  # a drop of exactly 0.01 is kept


def test_most_gap_among_qualifying_then_smallest_worst_drop():
    scores = {"a": _score(0.8, time_of_day=0.05, weather_family=0.0),
              "b": _score(1.0, time_of_day=0.0, weather_family=-0.005),
              "c": _score(1.0, time_of_day=0.0, weather_family=0.004),
              "d": _score(1.0, time_of_day=0.3, weather_family=-0.03)}  # fmt: skip
    assert loop_levers.choose(scores, 0.01, 0.5)[0] == "c"


def test_fallback_is_smallest_worst_task_drop_among_those_closing_the_gap():
    scores = {"mean_best": _score(1.0, time_of_day=0.20, weather_family=-0.08),
              "worst_best": _score(0.6, time_of_day=0.0, weather_family=-0.03),
              "no_gap": _score(0.1, time_of_day=0.0, weather_family=0.0)}  # fmt: skip
    chosen, rule = loop_levers.choose(scores, 0.01, 0.5)
    assert chosen == "worst_best" and rule.startswith("no candidate closing >= 0.5")


def test_nothing_closes_the_gap_most_gap_wins():
    scores = {"x": _score(0.2, time_of_day=-0.1, weather_family=-0.1),
              "y": _score(None, time_of_day=0.0, weather_family=0.0)}  # fmt: skip
    chosen, rule = loop_levers.choose(scores, 0.01, 0.5)
    assert chosen == "x" and rule.startswith("no candidate closed")


def test_worst_change_falls_back_to_the_mean_and_skips_missing_tasks():
    assert loop_levers.worst_rest_change({"rest_change": -0.03}) == -0.03
    score = {"rest_change": 0.0, "rest_task_changes": {"a": None, "b": -0.02}}
    assert loop_levers.worst_rest_change(score) == -0.02
