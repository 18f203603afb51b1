"""The dataset card's YAML front matter follows the Hugging Face hub conventions: features,
splits with their sizes, the data files of each split, licence, name and tags."""

from __future__ import annotations

import pytest
from view_data import generated

from datagen.card import CARD_LICENSE, write_card
from datagen.reader import card_front_matter


def test_front_matter_has_splits_configs_and_licence(tmp_path_factory: pytest.TempPathFactory):
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    root = generated(tmp_path_factory)
    write_card(root)
    meta = card_front_matter(root)
    assert meta["license"] == CARD_LICENSE and "synthetic" in meta["tags"]
    assert meta["pretty_name"] == f"drivesynth {root.name}"
    info = DatasetInfosDict.from_dataset_card_data(meta)["default"]
    shards = sorted(root.glob("train-*.tar"))
    assert info.splits["train"].num_examples == 18
    assert info.splits["train"].num_bytes == sum(p.stat().st_size for p in shards)
    assert "depth.npy.gz" in info.features
    configs = MetadataConfigs.from_dataset_card_data(meta)
    assert configs["default"]["data_files"] == [{"split": "train", "path": "train-*.tar"}]
    assert sorted(root.glob(configs["default"]["data_files"][0]["path"])) == shards
