"""The argument parser every ``drivesynth`` command uses, and its list syntax.

- Bad arguments end with one line on stderr and exit status 2 (argparse prints the whole
  usage block; a user who wants it asks for ``--help``).
- ``--help`` shows each option's default (unless its help already states one) and keeps
  the description's own line breaks.
- Lists are always comma-separated: ``--workers 1,2``, ``--caption-families a,b``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, NoReturn, TypeVar, Union, get_args, get_origin, get_type_hints

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
        default = action.default
        # identity, not ==: a default of 0 is shown, a flag's False is not
        if "default" in text.lower() or any(default is v for v in (None, argparse.SUPPRESS, False)):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
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


# ---- options derived from a config dataclass ----------------------------------------------
#
# A config dataclass is the one source of truth for its command-line options: each field
# declared with :func:`option` carries its help text (and, where the command line spells it
# differently from the field, how). ``add_dataclass_arguments`` adds one option per such
# field (``--batch-size`` for ``batch_size``; a bool is a flag, ``--no-NAME`` when it
# defaults to True), with the field's default shown in ``--help``; ``config_from_args``
# builds the config back from the parsed options. With ``--config FILE`` (a config saved as
# JSON by :func:`config_to_jsonable`) the file's values replace the defaults and the options
# given on the command line override them.

GIVEN = "_options_given"  # namespace attribute: the dests of the options the command line gave
CONFIG_OPTION = "--config"


def option(
    help: str,
    *,
    default: object = MISSING,
    default_factory: Callable | object = MISSING,
    flag: str | None = None,
    parse: Callable | None = None,
    show: Callable | None = None,
    choices: Sequence | None = None,
    metavar: str | None = None,
    from_file: bool = True,
) -> Any:
    """A dataclass field with a command-line option.

    ``flag``: the option's name when it is not ``--field-name``; ``parse``: text (or None,
    when the option is absent and the field has no default text) -> field value, for fields
    that are not int, float, str or bool; ``show``: field value -> the text ``parse`` reads
    (the default shown in ``--help``; tuples are comma-joined without it); ``choices``: of
    the text; ``from_file=False``: ``--config`` never sets it (only the command line does).
    """
    cli = {"flag": flag, "parse": parse, "show": show, "choices": choices, "metavar": metavar,
           "from_file": from_file}  # fmt: skip
    metadata = {"help": help, "cli": {k: v for k, v in cli.items() if v is not None}}
    return field(default=default, default_factory=default_factory, metadata=metadata)  # type: ignore[arg-type]


class _Given(argparse.Action):
    """``store`` (or, with ``nargs=0``, ``store_const``) that also records that the command
    line gave the option, so that it overrides a ``--config`` file's value."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)
        setattr(namespace, GIVEN, {*getattr(namespace, GIVEN, ()), self.dest})


@dataclass(frozen=True)
class DataclassOption:
    """The command-line option of one field of a config dataclass."""

    name: str  # the field
    flag: str
    dest: str
    kwargs: dict
    parse: Callable[[object], object]
    required: bool
    from_file: bool


def _show(value: object) -> object:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) or None
    return value


def _optional(hint: object) -> object:
    """``X`` for ``X | None``, else ``hint``."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if get_origin(hint) in (UnionType, Union) and len(args) == 1:
        return args[0]
    return hint


def dataclass_options(cls: type) -> list[DataclassOption]:
    """The options of ``cls``: one per field whose metadata has a ``help``, in field order."""
    hints = get_type_hints(cls)
    found = []
    for f in fields(cls):
        if "help" not in f.metadata:
            continue
        cli = f.metadata.get("cli", {})
        kind = _optional(hints[f.name])
        default = (f.default if f.default is not MISSING else f.default_factory()
                   if f.default_factory is not MISSING else MISSING)  # fmt: skip
        dashed = f.name.replace("_", "-")
        if kind is bool:
            negate = default is True
            flag = cli.get("flag", f"--no-{dashed}" if negate else f"--{dashed}")
            dest = flag.lstrip("-").replace("-", "_")
            kwargs = {"action": _Given, "nargs": 0, "const": True, "default": False}
            parse = (lambda v: not v) if negate else bool
        else:
            parse = cli.get("parse")
            if parse is None and kind not in (int, float, str):
                raise TypeError(f"{cls.__name__}.{f.name}: a {hints[f.name]} option needs "
                                "option(parse=...)")  # fmt: skip
            flag, dest = cli.get("flag", f"--{dashed}"), f.name
            shown = None if default is MISSING else cli.get("show", _show)(default)
            kwargs = {"action": _Given, "default": shown, "type": kind if parse is None else str}
            kwargs.update({k: cli[k] for k in ("choices", "metavar") if k in cli})
            parse = parse or (lambda v: v)
        help_text = f.metadata["help"]
        if default is MISSING:
            help_text += f" (required unless {CONFIG_OPTION} gives it)"
        kwargs.update(dest=dest, help=help_text)
        found.append(DataclassOption(f.name, flag, dest, kwargs, parse, default is MISSING,
                                     cli.get("from_file", True)))  # fmt: skip
    return found


def option_flags(cls: type) -> dict[str, str]:
    """``{field: option}`` of ``cls``'s options."""
    return {o.name: o.flag for o in dataclass_options(cls)}


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type,
                            config_option: bool = True) -> None:  # fmt: skip
    """One option per field of ``cls`` declared with :func:`option` (and ``--config FILE``)."""
    for opt in dataclass_options(cls):
        parser.add_argument(opt.flag, **opt.kwargs)
    if config_option:
        parser.add_argument(
            CONFIG_OPTION, default=None, metavar="FILE", dest="config",
            help=f"a saved {cls.__name__} as JSON (e.g. a run's config.json): its values "
                 "replace the defaults; options given on the command line override them",
        )  # fmt: skip


def config_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """``cls`` from options added by :func:`add_dataclass_arguments`: each field from its
    option when the command line gave it, else from the ``--config`` file when it sets the
    field, else the option's default. Raises ValueError naming missing required options."""
    path = getattr(args, "config", None)
    base = {}
    if path:
        base = fields_from_jsonable(cls, read_json_object(path), f"{CONFIG_OPTION} {path}")
    return cls(**option_values(cls, args, base))


def option_values(cls: type, args: argparse.Namespace, base: dict | None = None,
                  missing_hint: str = "") -> dict:  # fmt: skip
    """``{field: value}`` of ``cls``'s options: the command line's when it gave them, else
    ``base``'s (a config file's fields), else the option's default. Raises ValueError naming
    missing required options (followed by ``missing_hint``)."""
    base = dict(base or {})
    given = getattr(args, GIVEN, set())
    values, missing = dict(base), []
    for opt in dataclass_options(cls):
        if opt.from_file and opt.name in base and opt.dest not in given:
            continue
        raw = getattr(args, opt.dest)
        if opt.required and raw is None:
            missing.append(opt.flag)
        else:
            values[opt.name] = opt.parse(raw)
    if missing:
        raise ValueError(f"the following arguments are required: {', '.join(missing)}"
                         f"{missing_hint}")  # fmt: skip
    return values


# ---- configs as JSON -------------------------------------------------------------------------

MAX_CONFIG_BYTES = 1 << 20


def config_to_jsonable(config: object) -> dict:
    """A config dataclass as plain JSON data (nested dataclasses as objects, tuples as lists)."""
    return json.loads(json.dumps(asdict(config)))  # type: ignore[call-overload]


def read_json_object(path: str | Path, option: str = CONFIG_OPTION) -> dict:
    """The JSON object in ``path``; FileNotFoundError / ValueError naming ``option`` and the
    file (missing, a folder, over 1 MiB, not UTF-8 JSON, not an object)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{option}: no file {path}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{option} {path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{option} {path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{option} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def fields_from_jsonable(cls: type, data: dict, where: str) -> dict:
    """``{field: value}`` of ``cls`` from JSON data (as :func:`config_to_jsonable` writes it):
    lists become tuples, objects nested dataclasses; a key that is not a field, or a value of
    the wrong type, is a ValueError naming ``where`` and ``Class.field``."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: {cls.__name__} must be a JSON object, got {data!r}")
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls) if f.init]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{where}: {', '.join(map(repr, unknown))} is not a field of "
                         f"{cls.__name__} ({', '.join(names)})")  # fmt: skip
    return {name: _from_json(hints[name], value, where, f"{cls.__name__}.{name}")
            for name, value in data.items()}  # fmt: skip


def config_from_jsonable(cls: type[T], data: dict, where: str) -> T:
    """``cls(**fields_from_jsonable(...))``, naming the required fields ``data`` lacks."""
    values = fields_from_jsonable(cls, data, where)
    missing = [f.name for f in fields(cls) if f.init and f.name not in values
               and f.default is MISSING and f.default_factory is MISSING]  # fmt: skip
    if missing:
        raise ValueError(f"{where}: {cls.__name__} needs {', '.join(missing)}")
    return cls(**values)


_JSON_TYPES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _from_json(hint: object, value: object, where: str, name: str) -> object:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (UnionType, Union):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _from_json(rest[0], value, where, name)
        return value
    if is_dataclass(hint) and isinstance(hint, type):
        return config_from_jsonable(hint, value, f"{where}: {name}")  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: {name} must be a list, got {value!r}")
        items = args[:1] if len(args) == 2 and args[1] is Ellipsis else args
        return tuple(_from_json(items[min(i, len(items) - 1)] if items else object, v, where,
                                name) for i, v in enumerate(value))  # fmt: skip
    if hint in _JSON_TYPES:
        ok = isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise ValueError(f"{where}: {name} must be {_JSON_TYPES[hint]}, got {value!r}")
    return value
