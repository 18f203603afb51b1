"""The ``drivesynth train`` options, derived from :class:`TrainConfig`'s fields (names,
defaults and help live there, ``multimodal/train_config.py``), plus ``--config FILE``.
Plain argparse, importable without torch."""

from __future__ import annotations

import argparse

from multimodal.train_config import TrainConfig
from sim.arguments import add_dataclass_arguments
from sim.arguments import config_from_args as dataclass_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``drivesynth train`` options (one per TrainConfig field, and ``--config``)."""
    add_dataclass_arguments(parser, TrainConfig)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of parsed options: the command line's, else ``--config``'s, else the
    defaults."""
    return dataclass_from_args(TrainConfig, args)
