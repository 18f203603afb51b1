"""Logging set-up for the commands. Library code logs through ``logging``
(``logger = logging.getLogger(__name__)``) and never configures it; an entry point
(``drivesynth``, ``python -m multimodal.train`` under torchrun, a spawned training rank)
calls :func:`configure_logging` once."""

from __future__ import annotations

import logging
import os
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(quiet: bool = False, verbose: bool = False, level: int | None = None) -> None:
    """Show INFO and above on stderr (WARNING with ``quiet``, DEBUG with ``verbose``, or
    ``level`` when given). Under torchrun or ``--nproc`` (``RANK`` set) each record carries
    its rank, so that the output of several processes stays legible."""
    if level is None:
        level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    rank = os.environ.get("RANK")
    fmt = LOG_FORMAT if rank is None else f"[rank {rank}] {LOG_FORMAT}"
    logging.basicConfig(level=level, format=fmt, datefmt="%H:%M:%S", stream=sys.stderr)
