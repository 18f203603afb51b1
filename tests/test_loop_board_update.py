"""scripts/loop_experiment.py's board update (issue 23): a board folder gets the base bundle,
then its successor through ``drivesynth edge update``, keeps the base as previous, and is
measured from its own ``edge run`` predictions on a labelled stream; the held-out groups'
scenario seeds (evaluation, validation, board evaluation) are refused when shared.
Tiny torch-free bundles (tests/edge/boardkit.py) and factory shards: no PyBullet, no export."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from shard_factory import LabelCycle, write_shards

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests" / "edge")]

import loop_experiment as loop  # noqa: E402
from boardkit import bundle_id, versioned_bundle  # noqa: E402

TASKS = ("time_of_day",)  # the tiny bundle's tasks: time_of_day, weather


def _stream(root: Path) -> list[Path]:
    """A condition set (night) and a rest set (day), one frame per scenario."""
    sets = [(root / "board_eval_condition", ("night",)), (root / "board_eval_rest", ("day",))]
    for folder, times in sets:
        write_shards(folder, "board", range(6), frames=1, n_shards=1, seed=3, size=(24, 32),
                     labels=LabelCycle(times=times, styles=("normal",)))  # fmt: skip
    return [folder for folder, _ in sets]


def test_board_keeps_base_and_is_measured_from_its_own_predictions(tmp_path):
    folders = _stream(tmp_path / "data")
    v1 = versioned_bundle(tmp_path / "v1", version=1, seed=1)
    v2 = versioned_bundle(tmp_path / "v2", version=2, seed=2,
                          parent={"id": bundle_id(v1), "version": 1})  # fmt: skip
    board, inputs = tmp_path / "board", tmp_path / "inputs"
    truth = loop.board_inputs(folders, inputs)
    assert len(truth) == 12 and sorted(p.suffix for p in inputs.iterdir()) == [".png"] * 12

    base = loop.install(v1, board, tmp_path / "logs" / "base.log")
    before = loop.board_measure(board, inputs, truth, "time_of_day", "night",
                                tmp_path / "logs" / "before.log", TASKS)  # fmt: skip
    update = loop.install(v2, board, tmp_path / "logs" / "update.log")
    after = loop.board_measure(board, inputs, truth, "time_of_day", "night",
                               tmp_path / "logs" / "after.log", TASKS)  # fmt: skip

    status = update["status"]
    assert base["status"]["current"]["id"] == bundle_id(v1)
    assert (status["current"]["id"], status["previous"]["id"]) == (bundle_id(v2), bundle_id(v1))
    assert (before["bundle"]["version"], after["bundle"]["version"]) == (1, 2)
    for result, bundle in ((before, v1), (after, v2)):
        assert (result["n_condition"], result["n_rest"], result["unscored"]) == (6, 6, 0)
        # the score is the installed bundle's own answers against the shards' labels
        run = loop.edge_json([sys.executable, "-m", "edge.cli", "edge", "run", "--bundle",
                              str(bundle), "--inputs", str(inputs)],
                             tmp_path / "logs" / "direct.log")  # fmt: skip
        said = {s["sample"]: s["predictions"]["image"]["time_of_day"]["label"]
                for s in run["samples"]}  # fmt: skip
        night = [said[k] == "night" for k in truth if k.startswith("board_eval_condition")]
        assert result["condition"] == pytest.approx(sum(night) / 6)
        assert result["rest_called_condition"] == pytest.approx(
            sum(said[k] == "night" for k in truth if k.startswith("board_eval_rest")) / 6)


@pytest.mark.parametrize("clash", ["field", "eval_rest", "val_condition"])
def test_board_evaluation_seeds_must_be_disjoint(clash):
    data = {name: {"dir": "/nonexistent", "scenario_seeds": [i * 10, i * 10 + 1]}
            for i, name in enumerate(("base_raw", "field", "eval_condition", "eval_rest",
                                      "val_condition", "val_rest", "board_eval_condition",
                                      "board_eval_rest"))}  # fmt: skip
    assert loop.seeds_of(data, "board_eval") == {60, 61, 70, 71}
    assert {60, 70} & loop.seeds_of(data, None) == set()
    data["board_eval_rest"]["scenario_seeds"].append(data[clash]["scenario_seeds"][0])
    with pytest.raises(SystemExit, match="overlap"):
        loop.check_disjoint(data, "time_of_day", "night")
