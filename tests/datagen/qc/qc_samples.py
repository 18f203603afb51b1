"""Real clean samples for the tests of QC's checks: scenarios built by the generator's own
shard path (``datagen.generate.build_shard``), decoded as QC reads them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from datagen.qc.shardio import Decoded, iter_decoded


def build_samples(root: Path, runs: Iterable[dict], **common: object) -> list[Decoded]:
    """The decoded samples of one scenario per entry of ``runs`` (its ``GenerateConfig``
    fields, over ``common`` and the defaults: one scenario, clear noon, 8 samples a shard),
    written into ``root``."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    for run in runs:
        fields = {"scenarios": 1, "weather": "clear_noon", "samples_per_shard": 8,
                  **common, **run}  # fmt: skip
        for shard in make_plan(GenerateConfig(weather_presets=weather_presets(), **fields)):
            build_shard(shard, str(root))
    return list(iter_decoded(sorted(Path(root).glob("*.tar"))))
