"""``drivesynth edge plan`` (issue "loop"): the boards' hard inputs labelled by the factory's
labelled probes in the bundle's embedding space; masses of the model's mistakes; a plan file
that is a pure function of its inputs; bad inputs refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shard_factory import LabelCycle, write_shards
from tinybundle import make_bundle

from edge.cli import main
from edge.runtime.plan import PLAN_FORMAT, input_masses, weighted

# brightness follows the time of day, colour the weather (tests/shard_factory.py)
LABELS = LabelCycle(weathers=("clear", "rain", "fog", "snow"), times=("day", "night"),
                    styles=("normal",))  # fmt: skip


def _probes(root: Path, **config) -> Path:
    """Labelled probe shards and the manifest a generated data set has."""
    write_shards(root, "probe", range(48), frames=1, n_shards=2, seed=5, size=32,
                 labels=LABELS)  # fmt: skip
    cfg = {"weather": "random", "seed": 5, "split": "probe", "scenarios": 48, **config}
    (root / "manifest.json").write_text(json.dumps({"config": cfg}))
    return root


def _field_inputs(root: Path) -> tuple[Path, dict[str, str]]:
    """A folder of field images (the board's camera) and each one's true time of day."""
    made = write_shards(root / "shards", "field", range(100, 116), frames=1, n_shards=1,
                        seed=9, size=32, labels=LABELS)  # fmt: skip
    import tarfile

    inputs, truth = root / "inputs", {}
    inputs.mkdir()
    with tarfile.open(made.paths[0]) as tar:
        for member in tar:
            key, _, ext = member.name.partition(".")
            if ext == "rgb.png":
                (inputs / f"{key}.png").write_bytes(tar.extractfile(member).read())
            elif ext == "json":
                truth[key] = json.loads(tar.extractfile(member).read())["weather"]["time_of_day"]
    return inputs, truth


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | dict]:
    root = tmp_path_factory.mktemp("plan")
    bundle = make_bundle(root / "bundle")
    inputs, truth = _field_inputs(root / "field")
    feedback = root / "feedback"
    # every input is flagged (a margin below 1 always is), as the base model's were
    assert main(["edge", "run", "--bundle", str(bundle), "--inputs", str(inputs),
                 "--feedback", str(feedback), "--feedback-criteria", "low_margin",
                 "--min-margin", "1"]) == 0  # fmt: skip
    return {"root": root, "bundle": bundle, "feedback": feedback, "truth": truth,
            "probes": _probes(root / "probes")}  # fmt: skip


def _plan(world: dict, out: Path, *extra: str) -> int:
    return main(["edge", "plan", "--feedback", str(world["feedback"]), "--bundle",
                 str(world["bundle"]), "--probes", str(world["probes"]), "--out", str(out),
                 *extra])  # fmt: skip


def test_a_hard_input_adds_its_neighbours_labels_the_model_did_not_give() -> None:
    assert input_masses("dusk", ["night", "night", "dusk"], 3) == {"night": pytest.approx(2 / 3)}
    assert input_masses("day", ["day"] * 5, 5) == {}
    # a label the model gets wrong every time keeps its mistakes; one it mostly gets right
    # keeps a fraction of them
    assert weighted({"night": 4.0, "day": 4.0}, {"night": 4.0, "day": 16.0}) == {
        "day": 1.0, "night": 4.0}


def test_plan_labels_hard_inputs_by_their_nearest_probes(world: dict, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    assert _plan(world, out, "--k", "3") == 0
    plan = json.loads(out.read_text())
    assert plan["format"] == PLAN_FORMAT and plan["k"] == 3 and plan["metric"] == "cosine"
    assert plan["feedback"]["samples"] == len(world["truth"]) == len(plan["inputs"])
    assert plan["probes"]["samples"] == 48 and plan["probes"]["seed"] == 5
    assert plan["probes"]["labels"]["time_of_day"] == {"day": 24, "night": 24}
    # the tiny bundle classifies time of day but has no weather_family task
    assert plan["tasks_without_mass"] == ["weather_family"]
    assert set(plan["hard_mass"]) == {"time_of_day"}
    # dark inputs lie near night probes: the neighbours' majority is the true time of day
    right = 0
    for entry in plan["inputs"]:
        votes = entry["neighbours"]["time_of_day"]
        right += max(votes, key=votes.get) == world["truth"][entry["key"].rsplit("_", 1)[0]]
        assert sum(votes.values()) == 3
    assert right >= 0.9 * len(plan["inputs"])
    # every mistake traced: the masses are the per-input mistakes summed
    mistakes = {}
    for entry in plan["inputs"]:
        model = entry["model"]["time_of_day"]
        for lab, n in entry["neighbours"]["time_of_day"].items():
            if lab != model:
                mistakes[lab] = mistakes.get(lab, 0) + n / 3
    assert plan["mistakes"]["time_of_day"] == pytest.approx(mistakes, abs=1e-5)


def test_the_plan_is_a_pure_function_of_its_inputs(world: dict, tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _plan(world, a) == 0 and _plan(world, b) == 0
    assert a.read_bytes() == b.read_bytes()
    assert _plan(world, a) == 2  # an existing plan is not replaced ...
    assert _plan(world, a, "--force") == 0  # ... unless asked
    assert a.read_bytes() == b.read_bytes()


def test_generate_reads_the_plan(world: dict, tmp_path: Path) -> None:
    from datagen.builder import weather_presets
    from datagen.focus import focus_from_feedback
    from datagen.shards import sha256_of

    out = tmp_path / "plan.json"
    assert _plan(world, out) == 0
    weights, record = focus_from_feedback(out, weather_presets(), 0.7)
    assert record.files == (("plan.json", sha256_of(out)),)
    mass = json.loads(out.read_text())["hard_mass"]["time_of_day"]
    assert dict(record.time_of_day) == pytest.approx({**{t: 0.0 for t in
                                                         ("dawn", "day", "dusk", "night")},
                                                      **mass}, abs=1e-4)  # fmt: skip


@pytest.mark.parametrize("case, needle", [
    ("no_feedback", "--feedback"), ("no_probes", "--probes"), ("no_manifest", "manifest.json"),
    ("focused_probes", "uniformly"), ("big_k", "--k 1000"), ("zero_k", "--k must be"),
    ("other_bundle", "logged by bundle"), ("out_folder", "already exists"),
    ("garbage_feedback", "not a readable tar"), ("feedback_of_shards", "no feedback shards"),
])  # fmt: skip
def test_bad_inputs_are_one_line_exit_2(world: dict, tmp_path: Path, capsys, case: str,
                                        needle: str) -> None:  # fmt: skip
    args = {"--feedback": str(world["feedback"]), "--bundle": str(world["bundle"]),
            "--probes": str(world["probes"]), "--out": str(tmp_path / "plan.json")}
    extra: list[str] = []
    if case == "no_feedback":
        args["--feedback"] = str(tmp_path / "nothing")
    elif case == "no_probes":
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "manifest.json").write_text(json.dumps(
            {"config": {"weather": "random"}}))  # fmt: skip
        args["--probes"] = str(tmp_path / "empty")
    elif case == "no_manifest":
        write_shards(tmp_path / "bare", "probe", range(4), frames=1, n_shards=1, size=32)
        args["--probes"] = str(tmp_path / "bare")
    elif case == "focused_probes":
        args["--probes"] = str(_probes(tmp_path / "focused", weather_weights=[["a", 1.0]]))
    elif case in ("big_k", "zero_k"):
        extra = ["--k", "1000" if case == "big_k" else "0"]
    elif case == "other_bundle":
        args["--bundle"] = str(make_bundle(tmp_path / "other", seed=3))
    elif case == "out_folder":
        args["--out"] = str(tmp_path)
    elif case == "garbage_feedback":
        (tmp_path / "fb").mkdir()
        (tmp_path / "fb" / "feedback-000000.tar").write_bytes(bytes(range(256)) * 7)
        args["--feedback"] = str(tmp_path / "fb")
    elif case == "feedback_of_shards":  # a data set is not a feedback folder
        args["--feedback"] = str(world["probes"])
    code = main(["edge", "plan", *(x for kv in args.items() for x in kv), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and "\n" not in err
    assert not (tmp_path / "plan.json").exists()
