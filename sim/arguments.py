"""The argument parser every ``drivesynth`` command uses, and its list syntax.

- Bad arguments end with one line on stderr and exit status 2 (argparse prints the whole
  usage block; a user who wants it asks for ``--help``).
- ``--help`` shows each option's default (unless its help already states one) and keeps
  the description's own line breaks.
- Lists are always comma-separated: ``--workers 1,2``, ``--caption-families a,b``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

T = TypeVar("T")


ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(text: str) -> str:
    """Docstring text as a terminal shows it: reST roles and double backticks removed."""
    return ROLE.sub(r"'\1'", text).replace("``", "'")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Raw description, and ``(default: X)`` after every option whose help lacks one."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return super()._fill_text(plain(text), width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = plain(action.help or "")
        if "default" in text.lower() or action.default in (None, argparse.SUPPRESS, False):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            default = action.default
            if isinstance(default, (list, tuple)):
                default = ",".join(str(v) for v in default)
            return f"{text} (default: {default})"
        return text


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and whose help shows defaults."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        sys.exit(status)


def comma_list(item: Callable[[str], T], name: str = "value") -> Callable[[str], list[T]]:
    """An argparse ``type`` for a comma-separated list of ``item`` (``"1,2"`` -> [1, 2])."""

    def parse(text: str) -> list[T]:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {name}s")
        try:
            return [item(p) for p in parts]
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"bad {name} in {text!r}: {exc}") from None

    parse.__name__ = f"comma-separated {name}s"
    return parse
