"""Train and held-out shards for the multimodal tests, from the test shard factory
(``tests/shard_factory.py``: the real schema, the real writer, validation on).

Each label has a known, strong signal (image colour by weather, brightness by time of day,
audio pitch by weather, loudness by style): the learning, DDP-equivalence and resume tests
need a task a few CPU steps can learn. Training and evaluation on shards from the real
generator are tested in ``test_real_shards.py``.
"""

from __future__ import annotations

import pytest
from shard_factory import ShardSet, write_shards


@pytest.fixture(scope="session")
def shard_set(tmp_path_factory) -> dict[str, ShardSet]:
    """Train (scenarios 0-31) and held-out val (32-47) shards."""
    root = tmp_path_factory.mktemp("shards")
    return {
        "train": write_shards(root, "train", range(0, 32), frames=4, n_shards=3),
        "val": write_shards(root, "val", range(32, 48), frames=2, n_shards=1),
    }
