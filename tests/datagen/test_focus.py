"""``drivesynth generate --focus FEEDBACK_DIR`` (issue "loop"): the weather the boards found
hard, read from feedback shards written by the board's own writer (edge/runtime), becomes
weights of the scenario sampler; deterministic, recorded, refused on resume when it differs."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from datagen.builder import weather_presets
from datagen.focus import (
    FLOOR,
    SAMPLE_FORMAT,
    SHARD_RE,
    Focus,
    focus_from_feedback,
    hard_mass,
    preset_labels,
    read_feedback,
)
from datagen.plan import GenerateConfig, make_plan
from datagen.shards import sha256_of
from edge.cli import main
from sim.vocabulary import DRIVER_STYLES, TIMES_OF_DAY, WEATHER_FAMILIES

PRESETS = weather_presets()
BUNDLE = {"id": "b" * 16, "version": 3, "variant": "fp32"}
TINY = ["--scenarios", "4", "--frames", "1", "--image-size", "32", "--workers", "0",
        "--no-progress", "--no-card"]  # fmt: skip


def _probs(labels: tuple[str, ...], top: dict[str, float]) -> dict[str, float]:
    rest = (1.0 - sum(top.values())) / (len(labels) - len(top))
    return {label: top.get(label, rest) for label in labels}


def _pred(labels: tuple[str, ...], top: dict[str, float]) -> dict:
    probs = _probs(labels, top)
    ranked = sorted(probs.values(), reverse=True)
    return {"label": max(probs, key=probs.get), "score": ranked[0],
            "margin": ranked[0] - ranked[1], "probabilities": probs}  # fmt: skip


def _observation(tmp: Path, name: str, weather: dict, tod: dict, style: dict):
    """An observation of the board runtime with image predictions as given."""
    from edge.runtime.observe import InputSample, Observation

    image = tmp / f"{name}.png"
    image.write_bytes(name.encode() * 8)  # the writer copies the bytes; it does not decode
    preds = {"weather_family": _pred(WEATHER_FAMILIES, weather),
             "time_of_day": _pred(TIMES_OF_DAY, tod),
             "driver_style": _pred(DRIVER_STYLES, style)}  # fmt: skip
    return Observation(sample=InputSample(name, image=image), predictions={"image": preds},
                       files=[("rgb.png", image.read_bytes())])  # fmt: skip


def write_feedback(folder: Path, inputs: Path) -> Path:
    """A feedback folder written by the board's writer (FeedbackLog, feedback_sample): fog vs
    rain hesitations at night, a sure clear day (not logged), a doubt about the driver only."""
    from edge.runtime.feedback import FeedbackConfig, FeedbackLog
    from edge.runtime.observe import log_observations

    inputs.mkdir(parents=True, exist_ok=True)
    sure = {"clear": 0.9}, {"day": 0.9}, {"normal": 0.9}
    observations = [
        *[_observation(inputs, f"fog{i}", {"fog": 0.45, "rain": 0.4}, {"night": 0.42,
                                                                        "dusk": 0.38},
                       {"normal": 0.9}) for i in range(6)],
        _observation(inputs, "sure", *sure),
        _observation(inputs, "driver", {"clear": 0.9}, {"day": 0.9},
                     {"normal": 0.4, "erratic": 0.35}),
    ]  # fmt: skip
    cfg = FeedbackConfig(shard_samples=4)
    with FeedbackLog(folder, cfg, BUNDLE) as log:
        reports = log_observations(log, observations, cfg)
    assert [r["feedback"]["status"] for r in reports].count("not_flagged") == 1
    return folder


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feedback")
    return write_feedback(root / "fb", root / "inputs")


def _family_share(cfg: GenerateConfig, family: str) -> float:
    labels = preset_labels(cfg.weather_presets)["weather_family"]
    drawn = Counter(labels[item.weather] for shard in make_plan(cfg) for item in shard.scenarios)
    return drawn[family] / cfg.scenarios


def test_the_format_constants_are_the_board_writers() -> None:
    from edge.runtime import feedback

    assert SAMPLE_FORMAT == feedback.SAMPLE_FORMAT
    assert SHARD_RE.pattern == feedback.SHARD.pattern


def test_weights_come_from_what_the_boards_found_hard(feedback: Path) -> None:
    records, files = read_feedback(feedback)
    assert len(records) == 7 and {r["format"] for r in records} == {SAMPLE_FORMAT}
    assert files == tuple((p.name, sha256_of(p)) for p in sorted(feedback.glob("feedback-*.tar")))
    mass = hard_mass(records)
    # six fog/rain hesitations count for the family and the time of day; the driver-only
    # doubt counts for neither
    assert sum(mass["weather_family"].values()) == pytest.approx(6.0)
    assert sum(mass["time_of_day"].values()) == pytest.approx(6.0)
    top = sorted(mass["weather_family"], key=mass["weather_family"].get, reverse=True)
    assert top[:2] == ["fog", "rain"]
    assert max(mass["time_of_day"], key=mass["time_of_day"].get) == "night"

    weights, record = focus_from_feedback(feedback, PRESETS, 0.7)
    again = focus_from_feedback(feedback, PRESETS, 0.7)
    assert (weights, record) == again  # a function of the files
    w = dict(weights)
    assert [p for p, _ in weights] == list(PRESETS) and sum(w.values()) == pytest.approx(1, 1e-5)
    assert min(w.values()) >= FLOOR / len(PRESETS) - 1e-6
    assert w["fog_night"] > w["dense_fog"] > w["clear_noon"]  # fog and night both hard
    assert w["rain_night"] > w["light_rain"] > w["clear_noon"]
    assert record == Focus(strength=0.7, samples=7, files=files,
                           weather_family=record.weather_family,
                           time_of_day=record.time_of_day)  # fmt: skip
    uniform = dict(focus_from_feedback(feedback, PRESETS, 0.0)[0])
    assert set(uniform.values()) == {round(1 / len(PRESETS), 6)}


def test_feedback_of_several_boards_is_read_from_subfolders(feedback, tmp_path) -> None:
    import shutil

    for board in ("board_b", "board_a", ".trash"):
        shutil.copytree(feedback, tmp_path / "fb" / board)
    records, files = read_feedback(tmp_path / "fb")
    assert len(records) == 14 and [name for name, _ in files] == [
        "board_a/feedback-000000.tar", "board_a/feedback-000001.tar",
        "board_b/feedback-000000.tar", "board_b/feedback-000001.tar"]  # fmt: skip
    one = dict(focus_from_feedback(feedback, PRESETS, 0.7)[0])
    two = dict(focus_from_feedback(tmp_path / "fb", PRESETS, 0.7)[0])
    assert two == pytest.approx(one, abs=2e-6)  # the same hardness, twice as often


def test_the_focused_plan_draws_the_hard_family_far_above_uniform(feedback: Path) -> None:
    base = GenerateConfig(scenarios=600, frames=1, seed=11, weather_presets=PRESETS)
    weights, record = focus_from_feedback(feedback, PRESETS, 0.7)
    focused = replace(base, weather_weights=weights, weather_focus=record)
    families = preset_labels(PRESETS)["weather_family"]
    uniform_fog = sum(f == "fog" for f in families.values()) / len(PRESETS)  # 4 of 26 presets
    fog_weight = sum(w for p, w in weights if families[p] == "fog")
    assert _family_share(base, "fog") == pytest.approx(uniform_fog, abs=0.05)
    # half the hard mass is about the time of day (night, dusk), so fog gets ~0.26, not 0.7
    assert fog_weight > 1.5 * uniform_fog
    assert _family_share(focused, "fog") == pytest.approx(fog_weight, abs=0.05)
    assert _family_share(focused, "fog") > 1.5 * uniform_fog
    assert _family_share(focused, "snow") < _family_share(base, "snow")  # neither hard
    # deterministic: the same config (also through its JSON) gives the same plan
    assert make_plan(focused) == make_plan(GenerateConfig.from_json(focused.to_json()))
    assert GenerateConfig.from_json(json.loads(json.dumps(focused.to_json()))) == focused
    # seeds and everything but the weather are those of the unfocused plan
    plain = [i for s in make_plan(base) for i in s.scenarios]
    other = [i for s in make_plan(focused) for i in s.scenarios]
    assert [(i.seed, i.driver_style, i.road_kind) for i in plain] == \
        [(i.seed, i.driver_style, i.road_kind) for i in other]  # fmt: skip


def test_without_focus_the_config_and_draws_are_the_old_ones() -> None:
    cfg = GenerateConfig(scenarios=30, frames=1, seed=2, weather_presets=PRESETS)
    assert "weather_weights" not in cfg.to_json() and "weather_focus" not in cfg.to_json()
    from sim.seeding import rng_for
    from sim.weather import WeatherDistribution

    dist = WeatherDistribution(preset_weights={n: 1.0 for n in PRESETS})
    old = [dist.sample(rng_for(2, "weather", "train", i)).preset for i in range(30)]
    assert [i.weather for s in make_plan(cfg) for i in s.scenarios] == old


@pytest.mark.parametrize("changes,match", [
    ({"weather_weights": (("clear_noon", 1.0),)}, "every one of weather_presets"),
    ({"weather_weights": tuple((p, 0.0) for p in PRESETS)}, "> 0"),
    ({"weather_weights": tuple((p, float("nan")) for p in PRESETS)}, "> 0"),
    ({"weather_weights": tuple((p, 1.0) for p in PRESETS), "weather": "heavy_rain"},
     "weather 'random'"),
    ({"weather_focus": Focus(0.7, 1, (), (), ())}, "comes with weather_weights"),
])  # fmt: skip
def test_config_refuses_bad_weights(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GenerateConfig(scenarios=1, frames=1, weather_presets=PRESETS, **changes)


def test_generate_focus_end_to_end_records_resumes_and_refuses_another_focus(
    feedback: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "d"
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(feedback)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    config = manifest["config"]
    weights, record = focus_from_feedback(feedback, PRESETS, 0.7)
    assert config["weather_weights"] == [list(w) for w in weights]
    assert config["weather_focus"]["files"] == [list(f) for f in record.files]
    assert config["weather_focus"]["strength"] == 0.7 and config["weather_focus"]["samples"] == 7
    shards = {p.name: p.read_bytes() for p in out.glob("*.tar")}
    capsys.readouterr()

    # the same focus resumes (nothing to build); another one, or none, is refused
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(feedback), "--resume"]) == 0
    assert "built 0/" in capsys.readouterr().err
    for extra in (["--focus", str(feedback), "--focus-strength", "0.5"], []):
        assert main(["generate", "--out", str(out), *TINY, *extra, "--resume"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--focus" in err[0] and "--resume" in err[0], err
    # the manifest is a --config that brings the focus back without the feedback folder
    assert main(["generate", "--out", str(out), "--config", str(out / "manifest.json"),
                 "--workers", "0", "--no-progress", "--no-card", "--resume"]) == 0  # fmt: skip
    again = tmp_path / "again"
    assert main(["generate", "--out", str(again), "--config", str(out / "manifest.json"),
                 "--workers", "0", "--no-progress", "--no-card"]) == 0  # fmt: skip
    assert {p.name: p.read_bytes() for p in again.glob("*.tar")} == shards
    assert (again / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()


def test_a_config_files_focus_is_kept_unless_focus_or_weather_replace_it(feedback, tmp_path):
    from datagen.commands.generate import config_from_args
    from edge.cli import build_parser

    weights, record = focus_from_feedback(feedback, PRESETS, 0.7)
    focused = GenerateConfig(scenarios=2, frames=1, weather_presets=PRESETS,
                             weather_weights=weights, weather_focus=record)  # fmt: skip
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"format": "drivesynth-shards/1", "config": focused.to_json(),
                                "shards": []}))  # fmt: skip

    def parse(*argv: str) -> GenerateConfig:
        args = build_parser().parse_args(["generate", "--out", "O", "--config", str(path), *argv])
        return config_from_args(args)

    assert parse() == focused
    fixed = parse("--weather", "heavy_rain")
    assert fixed.weather == "heavy_rain" and not fixed.weather_weights and not fixed.weather_focus
    weaker = parse("--focus", str(feedback), "--focus-strength", "0.3")
    assert weaker.weather_focus.strength == 0.3 and weaker.weather_weights != weights


def _corrupt(folder: Path, kind: str) -> None:
    folder.mkdir()
    shard = folder / "feedback-000000.tar"
    if kind == "random":
        shard.write_bytes(np.random.default_rng(0).bytes(3000))
    elif kind == "other_files":
        (folder / "notes.txt").write_text("no shards here\n")
        (folder / "train-000000.tar").write_bytes(b"\0" * 1024)
    elif kind == "foreign_json":
        with tarfile.open(shard, "w") as tar:
            data = b'{"weather": {"preset": "clear_noon"}}'
            info = tarfile.TarInfo("00000000_front_00000.json")
            info.size = len(data)
            import io

            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind,needle", [
    ("missing", "no such folder"),
    ("empty", "no feedback shards"),
    ("other_files", "no feedback shards"),
    ("random", "not a readable tar"),
    ("truncated", "feedback-000000.tar"),
    ("foreign_json", "not a drivesynth-feedback-sample/1 record"),
    ("a_file", "neither a feedback folder nor a JSON plan"),  # a file is read as a plan
])  # fmt: skip
def test_a_bad_feedback_folder_is_one_line_and_writes_nothing(
    feedback: Path, tmp_path: Path, capsys: pytest.CaptureFixture, kind: str, needle: str
) -> None:
    folder = tmp_path / "fb"
    if kind == "empty":
        folder.mkdir()
    elif kind == "a_file":
        folder.write_text("a file\n")
    elif kind == "truncated":
        folder.mkdir()
        data = (feedback / "feedback-000000.tar").read_bytes()
        (folder / "feedback-000000.tar").write_bytes(data[: len(data) // 3])
    elif kind != "missing":
        _corrupt(folder, kind)
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("extra,needle", [
    (["--weather", "heavy_rain"], "--weather random"),
    (["--focus-strength", "1.5"], "--focus-strength"),
    (["--focus-strength", "nan"], "--focus-strength"),
])  # fmt: skip
def test_contradictory_focus_options_are_refused(feedback, tmp_path, capsys, extra, needle):
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), *TINY, "--focus", str(feedback), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_focus_strength_without_focus_is_refused(tmp_path, capsys) -> None:
    assert main(["generate", "--out", str(tmp_path / "o"), *TINY, "--focus-strength", "0.5"]) == 2
    assert "--focus" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_feedback_with_nothing_about_weather_is_refused(tmp_path, capsys) -> None:
    from edge.runtime.feedback import FeedbackConfig, FeedbackLog
    from edge.runtime.observe import log_observations

    inputs = tmp_path / "in"
    inputs.mkdir()
    obs = [_observation(inputs, "d", {"clear": 0.9}, {"day": 0.9}, {"normal": 0.4})]
    with FeedbackLog(tmp_path / "fb", FeedbackConfig(), BUNDLE) as log:
        log_observations(log, obs, FeedbackConfig())
    assert main(["generate", "--out", str(tmp_path / "o"), *TINY, "--focus",
                 str(tmp_path / "fb")]) == 2  # fmt: skip
    assert "nothing to focus on" in capsys.readouterr().err
