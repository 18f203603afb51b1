"""Reading drivesynth shards with exact labels, in one line.

    from datagen.reader import open_shards
    for s in open_shards("DIR/train-*.tar"):
        s["depth.npy.gz"]  # H x W float32 z-depth in metres, 0 = no hit (json.camera.depth)
        s["inst.npy.gz"]   # H x W uint16 instance ids, 0 = none (json.objects[i].instance_id)
        s["seg.png"]       # H x W uint8 class ids (json.classes)
        s["rgb.png"]       # H x W x 3 uint8 (or "rgb.jpg")
        s["audio.flac"]    # float32 mono in [-1, 1] at json.audio.sample_rate
        s["json"], s["txt"], s["__key__"]
        s.get("frames.npy.gz")  # clip samples: T x H x W x 3 uint8 (json.clip)

``open_shards`` is ``webdataset.WebDataset(...).decode(decode_handler)``: pass
:func:`decode_handler` to your own pipeline for the same arrays. webdataset's built-in
decoders (``decode()``, ``"pil"``, ``"rgb"``, ``"torchrgb"``, ``"l"``, ...) also give the
exact depth and instance arrays: they gunzip ``.gz``, read ``.npy`` with numpy and convert
images only. Hugging Face ``datasets``: :func:`load_hf` (``load_dataset("webdataset", ...)``
with the features of the dataset card's YAML front matter, :func:`hf_features`). Plain
``tarfile``: ``numpy.load(io.BytesIO(gzip.decompress(member_bytes)), allow_pickle=False)``
for ``.npy.gz``, Pillow for PNG, soundfile for FLAC. docs/internals.md ("Label files") has
the encodings.
"""

from __future__ import annotations

import glob
import gzip
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from datagen.sample import KEY_FIELD, decode_flac

IMAGE_EXTS = ("png", "jpg", "jpeg")
CARD_README = Path("card") / "README.md"


def decode_handler(key: str, data: bytes) -> Any:
    """A webdataset decode handler: ``.npy`` (gzipped or not) -> the stored array (no
    pickles), images -> numpy arrays exactly as stored (no scaling or mode conversion),
    ``.flac`` -> float32 samples (int16 / 32767); ``None`` for anything else (webdataset's
    basic handlers then decode json and txt)."""
    ext = key.rsplit(".", 1)[-1].lower()
    if ext == "gz":
        return decode_handler(key[:-3], gzip.decompress(data))
    if ext == "npy":
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    if ext in IMAGE_EXTS:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return np.asarray(image)
    if ext == "flac":  # int16 / 32767, as datagen.sample writes it
        return decode_flac(key, data)[0]
    return None


def shard_paths(urls: str | Path | Iterable[str | Path]) -> list[str]:
    """Shard paths from a folder (its ``*.tar``), a glob, a list, or webdataset brace
    notation (``DIR/train-{000000..000009}.tar``, expanded: webdataset expands braces in a
    string, not in the items of a list)."""
    if isinstance(urls, (str, Path)):
        text = str(urls)
        if Path(text).is_dir():
            found = sorted(str(p) for p in Path(text).glob("*.tar"))
        elif any(c in text for c in "*?["):
            found = sorted(glob.glob(text))
        elif "{" in text:
            import braceexpand  # webdataset's own dependency

            return list(braceexpand.braceexpand(text))
        else:
            return [text]
        if not found:
            raise FileNotFoundError(f"no shards match {text}")
        return found
    return [str(u) for u in urls]


def open_shards(urls: str | Path | Iterable[str | Path], shuffle: bool = False) -> Any:
    """The samples of the shards, decoded exactly (see the module docstring): an iterable
    ``webdataset.WebDataset``; ``shuffle`` shuffles the shard order only."""
    import webdataset as wds

    dataset = wds.WebDataset(
        shard_paths(urls), shardshuffle=100 if shuffle else False, empty_check=False,
        nodesplitter=wds.split_by_node,
    )  # fmt: skip
    return dataset.select(lambda s: "json" in s).decode(decode_handler)


def npy_header(data: bytes) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file, from its header."""
    stream = io.BytesIO(data)
    fmt = np.lib.format
    if fmt.read_magic(stream) == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(stream)
    else:
        shape, _, dtype = fmt.read_array_header_2_0(stream)
    return tuple(shape), dtype


def feature_of(name: str, data: bytes) -> Any:
    """The Hugging Face feature (YAML form) of one file of a sample (datasets gunzips
    ``.gz`` members before it decodes them)."""
    if name.endswith(".gz"):
        name, data = name[:-3], gzip.decompress(data)
    ext = name.rsplit(".", 1)[-1].lower()
    if ext == "npy":
        shape, dtype = npy_header(data)
        return {f"array{len(shape)}_d": {"shape": list(shape), "dtype": dtype.name}}
    if ext in IMAGE_EXTS:
        return "image"
    # FLAC stays bytes (decode with soundfile): datasets' Audio feature needs TorchCodec even
    # to store undecoded bytes, and drivesynth does not depend on it (docs/internals.md).
    return {"json": "json", "txt": "string"}.get(ext, "binary")


def features_yaml(files: dict) -> list[dict]:
    """``dataset_info.features`` (YAML list form) for samples shaped like ``files`` (one
    sample's file dict: ``__key__`` and ``EXT: bytes``)."""
    rows = [{"name": "__key__", "dtype": "string"}, {"name": "__url__", "dtype": "string"}]
    for name in sorted(n for n in files if n != KEY_FIELD):
        rows.append({"name": name, "dtype": feature_of(name, files[name])})
    return rows


def shard_features(path: str | Path) -> list[dict]:
    """:func:`features_yaml` of the first sample of a shard."""
    from datagen.shards import iter_files

    for files in iter_files(path):
        return features_yaml(files)
    raise ValueError(f"{path}: no samples")


def card_front_matter(root: str | Path) -> dict:
    """The YAML front matter of the dataset card at ``root/card/README.md``."""
    import yaml

    text = (Path(root) / CARD_README).read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{Path(root) / CARD_README} has no YAML front matter")
    return yaml.safe_load(text[4:text.index("\n---\n", 4)])


def hf_features(root: str | Path) -> Any:
    """The ``datasets.Features`` of the shards in ``root`` (from the dataset card)."""
    from datasets.info import DatasetInfosDict

    infos = DatasetInfosDict.from_dataset_card_data(card_front_matter(root))
    return infos["default"].features


def load_hf(root: str | Path, split: str = "train", **kwargs: Any) -> Any:
    """``datasets.load_dataset("webdataset")`` of ``root/SPLIT-*.tar`` with the card's
    features: depth and instances as exact ``Array2D`` columns, images, the json, and the
    FLAC bytes (``soundfile.read(io.BytesIO(row["audio.flac"]))``). ``kwargs`` go
    to ``load_dataset`` (``cache_dir``, ``streaming``, ...)."""
    from datasets import load_dataset

    files = shard_paths(str(Path(root) / f"{split}-*.tar"))
    return load_dataset("webdataset", data_files={split: files}, split=split,
                        features=hf_features(root), **kwargs)  # fmt: skip
