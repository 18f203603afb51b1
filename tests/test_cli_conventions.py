"""Conventions every command follows: --version, help on every option with its default,
comma-separated lists, no reST in --help, one-line argument errors, and a one-line hint
naming the extra to install when an optional dependency is missing."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from edge.bench_registry import BENCHMARKS, benchmark_parser
from edge.cli import build_parser, main, missing_extra_message


def _walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _walk(child)


def every_parser() -> list[argparse.ArgumentParser]:
    parsers = list(_walk(build_parser()))
    parsers += [benchmark_parser(name)[0] for name in BENCHMARKS]
    from edge.bench_report import _parser

    return parsers + [_parser()]


PARSERS = every_parser()


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.option_strings and not isinstance(
            action, (argparse._HelpAction, argparse._VersionAction)
        ):
            yield action


def test_the_walk_reaches_every_command() -> None:
    progs = {p.prog for p in PARSERS}
    for command in ("generate", "train", "eval", "export", "qc", "preview", "bench"):
        assert f"drivesynth {command}" in progs
    assert "drivesynth edge run" in progs and "drivesynth vehicle report" in progs
    assert len(PARSERS) > 20


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.prog)
def test_every_option_has_help_and_shows_its_default(parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    for action in _options(parser):
        assert action.help, f"{parser.prog} {action.option_strings[0]} has no help text"
        if action.default not in (None, False, argparse.SUPPRESS):
            shown = parser._get_formatter()._get_help_string(action)
            assert "default" in shown.lower(), f"{parser.prog} {action.option_strings[0]}"
    assert "``" not in text and not any(r in text for r in (":mod:`", ":func:`", ":class:`"))


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.prog)
def test_lists_are_comma_separated(parser: argparse.ArgumentParser) -> None:
    for action in _options(parser):
        assert action.nargs not in ("+", "*"), (
            f"{parser.prog} {action.option_strings[0]} takes space-separated values; "
            "use sim.arguments.comma_list"
        )


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "edge.cli", "--version"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0
    assert out.stdout.startswith("drivesynth ") and out.stdout.split()[1][0].isdigit()


def test_argument_errors_are_one_line(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--out", "x", "--scenarios", "many", "--frames", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--scenarios" in err[0] and "Traceback" not in err[0]


def test_missing_extra_names_the_extra() -> None:
    assert "drivesynth[full]" in missing_extra_message(ModuleNotFoundError(name="torch"))
    assert "drivesynth[edge]" in missing_extra_message(ModuleNotFoundError(name="onnxruntime"))


@pytest.mark.parametrize("argv,module", [
    (["train", "--train", "x.tar", "--out", "RUN"], "torch"),
    (["vehicle", "report", "--json", "OUT.json"], "pybullet"),
    (["preview", "--out", "OUT.png"], "pybullet"),
])  # fmt: skip
def test_command_without_its_dependency_says_which_extra(tmp_path, argv, module) -> None:
    """The optional module is hidden (None in sys.modules), as if it were not installed."""
    argv = [a.replace("RUN", str(tmp_path / "run")).replace("OUT", str(tmp_path / "o"))
            for a in argv]  # fmt: skip
    code = (f"import sys; sys.modules[{module!r}] = None; "
            f"from edge.cli import main; sys.exit(main({argv!r}))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    err = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr
    assert len(err) == 1 and "pip install 'drivesynth[full]'" in err[0], out.stderr
    assert list(tmp_path.iterdir()) == []
