"""``drivesynth generate``'s options derived from GenerateConfig / RunOptions (issue "house"),
and ``--config FILE`` (a data set's manifest.json, or a JSON object of the same keys)."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import pytest

from datagen.builder import caption_families, weather_presets
from datagen.commands.generate import CLI_DEFAULTS, config_from_args, from_options
from datagen.focus import FocusOptions
from datagen.generate import RunOptions
from datagen.plan import FOCUS_FIELDS, GenerateConfig, make_plan
from edge.cli import build_parser, main
from sim.arguments import dataclass_options

OLD_FLAGS = ("--out", "--scenarios", "--frames", "--split", "--seed", "--image-size", "--weather",
             "--driver-style", "--road-kind", "--vehicle-preset", "--cameras", "--renderer",
             "--caption-families", "--samples-per-shard", "--workers", "--scheduler", "--resume",
             "--force", "--connect-timeout", "--no-card", "--no-progress")  # fmt: skip


def _generate_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["generate"]


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["generate", "--out", "OUT", *argv])


def test_every_option_of_before_is_still_there_and_fields_are_options() -> None:
    flags = {s for a in _generate_parser()._actions for s in a.option_strings}
    assert set(OLD_FLAGS) <= flags and {"--config", "--focus", "--focus-strength"} <= flags
    declared = {o.name for o in dataclass_options(GenerateConfig)}
    # every field is an option but the preset list (filled by the command) and --focus's
    assert declared == {f.name for f in fields(GenerateConfig)} - {"weather_presets",
                                                                    *FOCUS_FIELDS}  # fmt: skip
    assert {o.name for o in dataclass_options(RunOptions)} == {f.name for f in fields(RunOptions)}


def test_plain_options_give_the_config_the_command_built_before() -> None:
    args = _parse("--scenarios", "5", "--frames", "2", "--split", "val", "--seed", "3",
                  "--weather", "heavy_rain", "--driver-style", "cautious", "--road-kind", "open",
                  "--vehicle-preset", "van", "--cameras", "front,rear", "--caption-families",
                  caption_families()[0], "--samples-per-shard", "9")  # fmt: skip
    assert config_from_args(args) == GenerateConfig(
        scenarios=5, frames=2, split="val", seed=3, image_size=128, weather="heavy_rain",
        weather_presets=weather_presets(), caption_families=(caption_families()[0],),
        samples_per_shard=9, driver_style="cautious", road_kind="open", vehicle_preset="van",
        cameras=("front", "rear"), renderer="tiny",
    )  # fmt: skip
    args = _parse("--scenarios", "1", "--frames", "1")
    cfg = config_from_args(args)
    # the command line's image size is 128, the dataclass's 64 (kept: tests and the library)
    assert cfg.image_size == CLI_DEFAULTS["image_size"] == 128
    assert GenerateConfig(scenarios=1, frames=1).image_size == 64
    assert (cfg.cameras, cfg.caption_families, cfg.weather) == (("front",), (), "random")
    assert "(default: 128)" in _generate_parser().format_help().replace("\n", " ").replace(
        "  ", " ")  # fmt: skip


def test_run_options_come_from_their_dataclass() -> None:
    args = _parse("--scenarios", "1", "--frames", "1", "--workers", "0", "--scheduler",
                  "tcp://127.0.0.1:8786", "--connect-timeout", "3", "--no-progress", "--force")
    assert RunOptions(**from_options(RunOptions, args)) == RunOptions(
        workers=0, scheduler="tcp://127.0.0.1:8786", connect_timeout_s=3.0, progress=False,
        force=True)  # fmt: skip
    assert RunOptions(**from_options(RunOptions, _parse())) == RunOptions()
    assert FocusOptions(**from_options(FocusOptions, _parse())) == FocusOptions()


def test_config_file_gives_values_and_the_command_line_overrides_them(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"scenarios": 7, "frames": 2, "seed": 4, "image_size": 48,
                                "cameras": ["front", "rear"]}))  # fmt: skip
    cfg = config_from_args(_parse("--config", str(path), "--seed", "9"))
    assert (cfg.scenarios, cfg.frames, cfg.seed, cfg.image_size) == (7, 2, 9, 48)
    assert cfg.cameras == ("front", "rear") and cfg.weather_presets == weather_presets()
    cfg = config_from_args(_parse("--config", str(path), "--image-size", "128",
                                  "--cameras", "front"))  # fmt: skip
    assert (cfg.image_size, cfg.cameras) == (128, ("front",))


def test_a_manifest_is_a_config_that_round_trips(tmp_path: Path) -> None:
    cfg = GenerateConfig(scenarios=3, frames=2, seed=6, image_size=40,
                         weather_presets=("clear_noon", "heavy_rain"), cameras=("front", "rear"),
                         driver_style="erratic")  # fmt: skip
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": "drivesynth-shards/1", "config": cfg.to_json(),
                                    "shards": []}))  # fmt: skip
    loaded = config_from_args(_parse("--config", str(manifest)))
    assert loaded == cfg and make_plan(loaded) == make_plan(cfg)  # its presets, too
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps(cfg.to_json()))  # e.g. an unfinished run's .generate-config.json
    assert config_from_args(_parse("--config", str(flat))) == cfg


def test_config_of_a_generated_data_set_rebuilds_it_byte_for_byte(tmp_path, capsys) -> None:
    tiny = ["--workers", "0", "--no-progress", "--no-card"]
    first = tmp_path / "first"
    assert main(["generate", "--out", str(first), "--scenarios", "1", "--frames", "1",
                 "--image-size", "32", "--seed", "8", "--weather", "light_fog", *tiny]) == 0
    again = tmp_path / "again"
    assert main(["generate", "--out", str(again), "--config", str(first / "manifest.json"),
                 *tiny]) == 0  # fmt: skip
    for name in ("train-000000.tar", "manifest.json"):
        assert (again / name).read_bytes() == (first / name).read_bytes()
    capsys.readouterr()
    assert main(["generate", "--out", str(first), "--config", str(first / "manifest.json"),
                 "--resume", *tiny]) == 0  # fmt: skip
    assert "built 0/1" in capsys.readouterr().err
    assert main(["generate", "--out", str(first), "--config", str(first / "manifest.json"),
                 "--seed", "9", "--resume", *tiny]) == 2  # fmt: skip
    assert "--seed" in capsys.readouterr().err


BAD_FILES = {
    "syntax.json": (b'{"scenarios": 2,', "not JSON"),
    "list.json": (b"[1, 2]", "expected a JSON object"),
    "empty.json": (b"", "not JSON"),
    "binary.json": (b"\xff\xfe\x00garbage", "not JSON"),
    "unknown.json": (b'{"scenarios": 2, "frames": 1, "colour": "red"}', "'colour' is not a field"),
    "run_option.json": (b'{"scenarios": 2, "frames": 1, "workers": 4}', "'workers' is not a field"),
    "type.json": (b'{"scenarios": "two", "frames": 1}', "GenerateConfig.scenarios must be"),
    "bool.json": (b'{"scenarios": true, "frames": 1}', "GenerateConfig.scenarios must be"),
    "value.json": (b'{"scenarios": 0, "frames": 1}', "GenerateConfig.scenarios must be >= 1"),
    "weather.json": (b'{"scenarios": 1, "frames": 1, "weather": "mars"}', "GenerateConfig.weather"),
    "lacking.json": (b'{"seed": 3}', "--scenarios, --frames"),
    "manifest.json": (b'{"format": "drivesynth-shards/1", "config": [], "shards": []}',
                      "without a config object"),
    "weights.json": (b'{"scenarios": 1, "frames": 1, "weather_weights": [["clear_noon", 1]]}',
                     "weather_weights must weigh every one"),
}  # fmt: skip


@pytest.mark.parametrize("name", [*BAD_FILES, "missing.json", "folder"])
def test_a_bad_config_file_is_one_line_and_writes_nothing(tmp_path, capsys, name) -> None:
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
        needle = "no file"
    elif name == "missing.json":
        needle = "no file"
    else:
        data, needle = BAD_FILES[name]
        path.write_bytes(data)
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), "--config", str(path), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err
    assert err[0].startswith("drivesynth generate: error:")
    assert not out.exists()


@pytest.mark.parametrize("extra,needle", [
    (["--cameras", ","], "comma-separated list of cameras"),
    (["--caption-families", ",,"], "comma-separated list of caption families"),
    (["--caption-families", "haiku"], "unknown caption family"),
    (["--connect-timeout", "nan"], "connect_timeout_s"),
])  # fmt: skip
def test_bad_option_values_are_one_line(tmp_path, capsys, extra, needle) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), "--scenarios", "1", "--frames", "1",
                 "--workers", "0", *extra]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_missing_required_options_are_named(tmp_path, capsys) -> None:
    assert main(["generate", "--out", str(tmp_path / "o"), "--frames", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--scenarios" in err[0] and "--frames" not in err[0], err
