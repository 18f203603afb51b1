"""Options derived from a config dataclass (sim/arguments.py, generic) and ``drivesynth
train``'s: one source of names, defaults and help; ``--config FILE`` loads a saved config
back, options given on the command line override it; each run saves RUN_DIR/config.json."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from multimodal.options import add_arguments, config_from_args
from multimodal.pairs import LossWeights
from multimodal.train_config import TrainConfig, load_config, to_jsonable
from sim.arguments import (
    CommandParser,
    add_dataclass_arguments,
    config_to_jsonable,
    dataclass_options,
    fields_from_jsonable,
    option,
)
from sim.arguments import config_from_args as dataclass_from_args
from sim.atomic import atomic_write_json


def _pair(text: str | None) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",")) if text else ()


@dataclass(frozen=True)
class Inner:
    a: float = 1.0


@dataclass(frozen=True)
class Toy:
    """A config of every kind of field the helper supports."""

    name: str = option("a required string")
    count: int = option("how many", default=3)
    rate: float = option("a rate", default=0.5, choices=None)
    label: str | None = option("an optional string", default=None)
    mode: str = option("a choice", default="a", choices=("a", "b"))
    fast: bool = option("a flag off by default", default=False)
    colour: bool = option("turns colour off", default=True)  # --no-colour
    sizes: tuple[int, ...] = option("comma list", default=(1, 2), parse=_pair, flag="--size-list")
    inner: Inner = option("a nested config", default_factory=Inner,
                          parse=lambda t: Inner(float(t)), show=lambda v: str(v.a))  # fmt: skip
    danger: bool = option("only from the command line", default=False, from_file=False)
    hidden: int = 7  # no option


def _parser(cls: type = Toy) -> CommandParser:
    parser = CommandParser(prog="toy")
    add_dataclass_arguments(parser, cls)
    return parser


def _toy(*argv: str) -> Toy:
    return dataclass_from_args(Toy, _parser().parse_args(list(argv)))


def test_options_come_from_the_fields():
    opts = {o.name: o for o in dataclass_options(Toy)}
    assert "hidden" not in opts
    assert opts["count"].flag == "--count" and opts["sizes"].flag == "--size-list"
    assert opts["colour"].flag == "--no-colour" and opts["fast"].flag == "--fast"
    text = _parser().format_help()
    for shown in ("how many (default: 3)", "a rate (default: 0.5)", "(default: 1,2)",
                  "a choice (default: a)", "nested config (default: 1.0)", "--config FILE"):
        assert shown in " ".join(text.split()), shown
    assert "required unless --config" in " ".join(text.split())


def test_config_from_args_defaults_and_values():
    assert _toy("--name", "x") == Toy(name="x")
    got = _toy("--name", "x", "--count", "5", "--no-colour", "--fast", "--size-list", "4,5",
               "--inner", "2", "--mode", "b", "--label", "L")  # fmt: skip
    assert got == Toy(name="x", count=5, colour=False, fast=True, sizes=(4, 5),
                      inner=Inner(2.0), mode="b", label="L")  # fmt: skip
    with pytest.raises(ValueError, match="the following arguments are required: --name"):
        _toy("--count", "1")
    with pytest.raises(SystemExit):  # argparse still checks types and choices
        _toy("--name", "x", "--mode", "c")


def test_config_file_then_command_line(tmp_path):
    saved = Toy(name="n", count=9, rate=0.25, colour=False, sizes=(7,), inner=Inner(3.0),
                danger=True)  # fmt: skip
    path = tmp_path / "toy.json"
    atomic_write_json(path, config_to_jsonable(saved))
    assert json.loads(path.read_text())["sizes"] == [7]
    loaded = _toy("--config", str(path))
    assert loaded == Toy(**{**saved.__dict__, "danger": False})  # danger: never from a file
    # an option given on the command line wins, also when it names the default value
    assert _toy("--config", str(path), "--count", "3", "--danger").count == 3
    assert _toy("--config", str(path), "--count", "3", "--danger").danger is True
    assert _toy("--config", str(path), "--name", "m").name == "m"


def test_config_file_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.json"
    for text, words in [('{"name": "n", "count": "3"}', ["Toy.count", "an integer", "'3'"]),
                        ('{"name": "n", "colour": 1}', ["Toy.colour", "true or false"]),
                        ('{"name": "n", "speed": 1}', ["'speed' is not a field of Toy"]),
                        ('{"name": "n", "inner": {"b": 1}}', ["'b' is not a field of Inner"]),
                        ("[1, 2]", ["expected a JSON object"]), ("{nope", ["not JSON"])]:
        bad.write_text(text)
        with pytest.raises(ValueError) as exc:
            _toy("--config", str(bad))
        assert str(bad) in str(exc.value) and all(w in str(exc.value) for w in words), exc.value
    with pytest.raises(FileNotFoundError, match="--config: no file"):
        _toy("--config", str(tmp_path / "missing.json"))
    assert fields_from_jsonable(Toy, {"rate": 1, "sizes": [1]}, "x") == {"rate": 1.0,
                                                                        "sizes": (1,)}


def test_a_field_of_an_unsupported_type_needs_parse():
    @dataclass(frozen=True)
    class Bad:
        inner: Inner = option("no parse", default_factory=Inner)

    with pytest.raises(TypeError, match="Bad.inner"):
        dataclass_options(Bad)


# ---- drivesynth train -----------------------------------------------------------------------


def _train_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="train")
    add_arguments(parser)
    return parser


def _custom() -> TrainConfig:
    return TrainConfig(
        train="a-{000000..000003}.tar::b-000000.tar", out="run", val="v.tar", model="small",
        epochs=3, batch_size=8, steps_per_epoch=7, lr=1e-3, weight_decay=0.0, warmup_steps=0,
        accum=2, workers=0, device="cpu", precision="bf16", grad_reduce="bf16",
        resume="auto", seed=5, save_every=2, log_every=1, nproc=2,
        caption_families=("template", "question"), eval_caption_families=("descriptive",),
        modality_dropout=0.0, weights=LossWeights(image_text=2.0, fused_text=0.0),
        augment=False, progress=False, modalities=("image", "text"),
        resume_override=("lr", "world_size"),
    )  # fmt: skip


def test_train_options_map_every_field():
    opts = {o.name for o in dataclass_options(TrainConfig)}
    assert opts == set(TrainConfig.__dataclass_fields__)
    argv = ["--train", "t.tar", "--out", "o", "--train-caption-families", "a,b",
            "--loss-weights", "image_text=2", "--no-augment", "--no-progress",
            "--modalities", "image,text", "--resume-override", "lr,nproc", "--force"]  # fmt: skip
    cfg = config_from_args(_train_parser().parse_args(argv))
    assert cfg == TrainConfig(train="t.tar", out="o", caption_families=("a", "b"),
                              weights=LossWeights(image_text=2.0), augment=False,
                              progress=False, modalities=("image", "text"),
                              resume_override=("lr", "world_size"), force=True)  # fmt: skip
    assert config_from_args(_train_parser().parse_args(["--train", "t", "--out", "o"])) == \
        TrainConfig(train="t", out="o")  # fmt: skip


def test_train_config_round_trips_through_config_json(tmp_path):
    """save -> --config -> the identical TrainConfig; options given override the file."""
    cfg = _custom()
    path = tmp_path / "config.json"
    atomic_write_json(path, to_jsonable(cfg))
    assert load_config(path) == cfg
    assert config_from_args(_train_parser().parse_args(["--config", str(path)])) == cfg
    from edge.cli import build_parser  # the real `drivesynth train`

    args = build_parser().parse_args(["train", "--config", str(path), "--lr", "5e-4",
                                      "--out", "other"])  # fmt: skip
    again = config_from_args(args)
    assert again.lr == 5e-4 and again.out == "other"  # the default value, given explicitly
    assert {**again.__dict__, "lr": cfg.lr, "out": cfg.out} == cfg.__dict__


def test_run_saves_its_config(shard_set, tmp_path):
    from multimodal.train import main

    out = tmp_path / "run"
    argv = ["--train", shard_set["train"].urls, "--out", str(out), "--batch-size", "4",
            "--steps-per-epoch", "1", "--workers", "0", "--device", "cpu", "--no-progress",
            "--seed", "4", "--loss-weights", "image_audio=0"]  # fmt: skip
    assert main(argv) == 0
    saved = load_config(out / "config.json")
    assert saved == config_from_args(_train_parser().parse_args(argv))
    assert saved.seed == 4 and saved.weights.image_audio == 0.0
    rerun = config_from_args(_train_parser().parse_args(["--config", str(out / "config.json"),
                                                         "--out", str(tmp_path / "again")]))
    assert rerun == TrainConfig(**{**saved.__dict__, "out": str(tmp_path / "again")})


def test_missing_required_train_options_are_one_line(capfd):
    from edge.cli import main

    assert main(["train", "--out", "x"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == ["drivesynth train: error: the following arguments are required: --train"]
    assert not Path("x").exists()
