"""The ``drivesynth`` command: one entry point, sub-commands registered by each package.

Each package's ``cli`` module exposes ``register(subparsers)``; heavy imports (pybullet,
torch) happen inside the command handlers, so ``drivesynth edge run`` works on a board
with only numpy, Pillow, soundfile and onnxruntime installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (module, required on a board?) — the board only needs the edge commands.
REGISTRARS: tuple[str, ...] = ("sim.cli", "datagen.cli", "multimodal.cli", "edge.commands")


class UserError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drivesynth",
        description=(
            "drivesynth: physics simulation to multimodal driving data (camera, depth, "
            "labels, sound, captions) and edge-ready contrastive models."
        ),
        epilog="Run 'drivesynth COMMAND --help' for the options of each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in REGISTRARS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package absent on a slim install
            if exc.name and exc.name.split(".")[0] in {"sim", "datagen", "multimodal", "edge"}:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (UserError, ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"drivesynth {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drivesynth: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
