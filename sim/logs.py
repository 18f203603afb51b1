"""Logging set-up for the commands. Library code logs through ``logging``
(``logger = logging.getLogger(__name__)``) and never configures it; an entry point
(``drivesynth``, ``python -m multimodal.train`` under torchrun, a spawned training rank)
calls :func:`configure_logging` once."""

from __future__ import annotations

import logging
import os
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PROJECT_LOGGERS = ("sim", "datagen", "multimodal", "edge")


def configure_logging(quiet: bool = False, verbose: bool = False, level: int | None = None) -> None:
    """Show the project's INFO and above on stderr (WARNING with ``quiet``, DEBUG with
    ``verbose``, or ``level`` when given); other libraries (Dask, matplotlib, ...) show
    warnings only, unless ``verbose``. Under torchrun or ``--nproc`` (``RANK`` set) each
    record carries its rank, so that the output of several processes stays legible."""
    if level is None:
        level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    rank = os.environ.get("RANK")
    fmt = LOG_FORMAT if rank is None else f"[rank {rank}] {LOG_FORMAT}"
    others = logging.INFO if verbose else logging.WARNING
    root = logging.getLogger()
    if not root.handlers:  # configured once per process (and left alone under pytest)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
        handler.addFilter(_ByOrigin(level, others))
        root.addHandler(handler)
        root.setLevel(min(level, others))
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(level)


class _ByOrigin(logging.Filter):
    """Let the project's records through from ``ours`` up, other libraries' (some set their
    own loggers' levels, as Dask does) from ``others`` up."""

    def __init__(self, ours: int, others: int) -> None:
        super().__init__()
        self.ours, self.others = ours, others

    def filter(self, record: logging.LogRecord) -> bool:
        project = record.name.split(".")[0] in PROJECT_LOGGERS
        return record.levelno >= (self.ours if project else self.others)
