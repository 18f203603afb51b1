"""The ``drivesynth`` command: one entry point, sub-commands registered by each package.

Each package's ``cli`` module exposes ``register(subparsers)``; heavy imports (pybullet,
torch) happen inside the command handlers, so ``drivesynth edge run`` works on a board
with only the ``edge`` extra installed (numpy, Pillow, soundfile, onnxruntime). A
command whose optional dependency is missing says which extra to install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from importlib import metadata

from sim.arguments import CommandParser
from sim.logs import configure_logging

REGISTRARS: tuple[str, ...] = ("sim.cli", "datagen.cli", "multimodal.cli", "edge.commands")
PROJECT_PACKAGES = frozenset({"sim", "datagen", "multimodal", "edge"})

# Which extra brings each optional import (top-level module name -> extra).
EDGE_MODULES = frozenset({"PIL", "soundfile", "onnxruntime"})


class UserError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


def version() -> str:
    try:
        return metadata.version("drivesynth")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def missing_extra_message(exc: ModuleNotFoundError) -> str:
    """One line naming the extra that provides the module ``exc`` could not import."""
    top = (exc.name or "").split(".")[0]
    extra = "edge" if top in EDGE_MODULES else "full"
    return (f"this command needs the Python package '{top}', which is not installed: "
            f"pip install 'drivesynth[{extra}]'")  # fmt: skip


def build_parser() -> CommandParser:
    parser = CommandParser(
        prog="drivesynth",
        description=(
            "drivesynth: physics simulation to multimodal driving data (camera, depth, "
            "labels, sound, captions) and edge-ready contrastive models."
        ),
        epilog="Run 'drivesynth COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"drivesynth {version()}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="log warnings and errors only")  # fmt: skip
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    sub.required = True
    for name in REGISTRARS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package absent on a slim install
            if exc.name and exc.name.split(".")[0] in PROJECT_PACKAGES:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.quiet, args.verbose)
    prefix = f"drivesynth {args.command}: error:"
    try:
        result = args.func(args)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in PROJECT_PACKAGES:
            raise
        print(f"{prefix} {missing_extra_message(exc)}", file=sys.stderr)
        return 2
    except (UserError, ValueError, FileNotFoundError, FileExistsError, PermissionError,
            NotADirectoryError, IsADirectoryError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{prefix} {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drivesynth: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
