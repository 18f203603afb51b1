"""``drivesynth generate``: simulate scenarios on Dask and write WebDataset shards.

The options are derived from the dataclasses they fill (names, defaults and help live
there): :class:`datagen.plan.GenerateConfig` (what is built), :class:`datagen.focus.
FocusOptions` (``--focus``) and :class:`datagen.generate.RunOptions` (how it is run), plus
``--out``, ``--no-card`` and ``--config FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.arguments import (
    CONFIG_OPTION,
    GIVEN,
    add_dataclass_arguments,
    fields_from_jsonable,
    option_values,
    read_json_object,
)

DESCRIPTION = """\
Plan the data set (scenarios x frames -> shards of whole scenarios) from the seed and build
it on Dask, one task per shard. Without --scheduler a LocalCluster of --workers processes
(one thread each) is started; --workers 0 builds in this process (debugging). Shards are
written atomically as DIR/SPLIT-000000.tar ...; DIR/manifest.json holds the config, versions,
per-shard sha256 and label statistics; DIR/card/ the dataset card. The bytes depend only on
the options below, never on the number of workers or the finishing order.

--config FILE loads the options of a data set from its DIR/manifest.json (its "config") or
from a JSON object of the same keys; options given on the command line override it. So
`generate --out NEW --config DIR/manifest.json` builds the same data set again.

--focus FEEDBACK_DIR reads the feedback shards boards send back (edge run/watch --feedback)
and draws scenarios more often in the weather families and times of day the boards found
hard (a low score or margin, or towers that disagree, on those tasks); the weights and the
feedback files' sha256 are stored in the config (so in the manifest and in --config).

DIR belongs to one run at a time (DIR/.lock; a dead run's lock does not block). A DIR that
already holds a data set is refused unless --resume (same options as the data set's, which
are checked) or --force (the old data set is removed first)."""

# Where the command line's default differs from the dataclass's: generate writes 128 px
# images unless told otherwise, while GenerateConfig (the library, the tests) defaults to 64.
CLI_DEFAULTS = {"image_size": 128}
MANIFEST_FORMAT = "drivesynth-shards/1"  # datagen.manifest.build_manifest's "format"


def register(sub: argparse._SubParsersAction) -> None:
    from datagen.focus import FocusOptions
    from datagen.generate import RunOptions
    from datagen.plan import GenerateConfig

    p = sub.add_parser("generate", help="write multimodal WebDataset shards (Dask)",
                       description=DESCRIPTION)  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output folder DIR")
    add_dataclass_arguments(p, GenerateConfig, config_option=False)
    p.set_defaults(**CLI_DEFAULTS)
    add_dataclass_arguments(p, FocusOptions, config_option=False)
    add_dataclass_arguments(p, RunOptions, config_option=False)
    p.add_argument("--no-card", action="store_true", help="skip the dataset card")
    p.add_argument(
        CONFIG_OPTION, default=None, metavar="FILE", dest="config",
        help="a data set's DIR/manifest.json (its config) or a JSON object of the same keys: "
             "its values replace the defaults; options given on the command line override "
             "them (the run options --workers, --resume ... come from the command line only)",
    )  # fmt: skip
    p.set_defaults(func=handle)


def load_config_file(path: str | Path) -> tuple[dict, str]:
    """The GenerateConfig JSON data in ``path`` (a manifest's ``config``, or the object
    itself) and how to name it in messages."""
    data = read_json_object(path)
    where = f"{CONFIG_OPTION} {path}"
    if data.get("format") == MANIFEST_FORMAT or ("config" in data and "shards" in data):
        if not isinstance(data.get("config"), dict):
            raise ValueError(f"{where}: a manifest without a config object")
        return data["config"], f"{where} (its config)"
    return data, where


def from_options(cls: type, args: argparse.Namespace, base: dict | None = None) -> dict:
    """``{field: value}`` of ``cls``'s options (command line, else ``base``, else default)."""
    return option_values(cls, args, base, missing_hint=f" (or {CONFIG_OPTION} FILE giving them)")


def config_from_args(args: argparse.Namespace):  # -> GenerateConfig
    """The GenerateConfig of parsed options (command line, else ``--config``, else the
    defaults), with every weather preset when the file names none, and ``--focus``'s
    weights."""
    from dataclasses import replace

    from datagen.builder import caption_families, weather_presets
    from datagen.focus import FocusOptions, focus_from_feedback
    from datagen.plan import FOCUS_FIELDS, RANDOM_WEATHER, GenerateConfig

    base = {}
    if getattr(args, "config", None):
        data, where = load_config_file(args.config)
        base = fields_from_jsonable(GenerateConfig, data, where)
    values = from_options(GenerateConfig, args, base)
    values.setdefault("weather_presets", weather_presets())
    focus = FocusOptions(**from_options(FocusOptions, args))
    given = getattr(args, GIVEN, set())
    if focus.focus is None and "focus_strength" in given:
        raise ValueError("--focus-strength weighs --focus FEEDBACK_DIR; give both")
    if focus.focus is not None or ("weather" in given and values["weather"] != RANDOM_WEATHER):
        for name in FOCUS_FIELDS:  # a file's focus yields to another --focus or a --weather
            values.pop(name, None)
    unknown = sorted(set(values.get("caption_families", ())) - set(caption_families()))
    if unknown:
        raise ValueError(f"unknown caption family {unknown[0]!r}; valid: "
                         f"{', '.join(caption_families())}")  # fmt: skip
    cfg = GenerateConfig(**values)
    if focus.focus is None:
        return cfg
    if cfg.weather != RANDOM_WEATHER:
        raise ValueError(f"--focus weighs the random weather draw; it needs --weather random, "
                         f"got --weather {cfg.weather}")  # fmt: skip
    weights, record = focus_from_feedback(Path(focus.focus), cfg.weather_presets,
                                          focus.focus_strength)  # fmt: skip
    return replace(cfg, weather_weights=weights, weather_focus=record)


def handle(args: argparse.Namespace) -> int:
    from datagen.generate import RunOptions, generate

    cfg = config_from_args(args)
    opts = RunOptions(**from_options(RunOptions, args))
    generate(cfg, args.out, opts, card=not args.no_card)
    return 0
