"""Standard readers get exact labels from real shards (issue 20).

Shards come from ``drivesynth generate`` (real PyBullet, 64 px); the reference is the same
plan built in memory (the renderer's own float32 depth and uint16 instances). Every reader
is checked against it: webdataset's built-in decoders, plain tarfile with numpy, Pillow and
soundfile, Hugging Face ``datasets`` with the features of the dataset card, and the one-line
loader. Objects farther than 65.535 m (where uint16 millimetres saturated) are included, and
a hand-made scene puts a building at 180 m, near the 200 m far plane.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from shard_factory import make_sample

from datagen.builder import build_scenario_samples, camera_metadata
from datagen.plan import GenerateConfig, make_plan
from datagen.reader import hf_features, load_hf, open_shards, shard_features
from datagen.sample import (
    DEPTH_FILE,
    INST_FILE,
    INSTANCE_ENCODING,
    MAX_INSTANCE_ID,
    Sample,
    canonical_json,
    depth_encoding,
)
from datagen.schema import validate_sample
from datagen.shards import write_shard
from edge.cli import main
from sim.classes import CLASS_IDS

UINT16_MM_LIMIT_M = 65.535  # where the old depth.png saturated
WDS_SPECS = (None, "pil", "rgb", "torchrgb", "l", "rgb8", "l8", "torch")


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Sample]]:
    """Generated shards (two, three scenarios x two frames) and the in-memory samples."""
    root = tmp_path_factory.mktemp("readers") / "data"
    code = main(["generate", "--out", str(root), "--scenarios", "3", "--frames", "2",
                 "--image-size", "64", "--samples-per-shard", "4", "--seed", "3",
                 "--split", "train", "--workers", "0", "--no-progress"])  # fmt: skip
    assert code == 0
    config = json.loads((root / "manifest.json").read_text())["config"]
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    items = [item for shard in make_plan(GenerateConfig(**config)) for item in shard.scenarios]
    samples = {s.key: s for item in items for s in build_scenario_samples(item)}
    assert len(samples) == 6 and len(list(root.glob("train-*.tar"))) == 2
    return root, samples


def far_objects(samples: dict[str, Sample]) -> int:
    return sum(
        float(s.depth[s.inst == o["instance_id"]].max()) > 100.0
        for s in samples.values()
        for o in s.meta["objects"]
    )


def pcm16(audio: np.ndarray) -> np.ndarray:
    return np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16)


def check_exact(got: object, want: np.ndarray, dtype: type) -> None:
    arr = np.asarray(got)
    assert arr.dtype == dtype and arr.shape == want.shape
    assert np.array_equal(arr, want)


def test_shards_store_the_renderers_depth_to_the_far_plane(real) -> None:
    root, samples = real
    assert far_objects(samples) >= 3  # objects at 100-150 m: saturated at 65.5 m before
    for s in samples.values():
        camera = s.meta["camera"]
        assert camera["far"] == 200.0 and camera["depth"] == depth_encoding(200.0)
        assert camera["instances"] == INSTANCE_ENCODING
        assert s.depth.dtype == np.float32 and float(s.depth.max()) > UINT16_MM_LIMIT_M
        assert np.array_equal(s.depth == 0, s.seg == CLASS_IDS["sky"])


@pytest.mark.parametrize("spec", WDS_SPECS, ids=lambda s: f"decode({s or ''})")
def test_webdataset_builtin_decoders_give_exact_labels(real, spec) -> None:
    import webdataset as wds

    root, samples = real
    urls = sorted(str(p) for p in root.glob("train-*.tar"))
    ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False)
    seen = []
    for s in ds.decode() if spec is None else ds.decode(spec):
        ref = samples[s["__key__"]]
        check_exact(s[DEPTH_FILE], ref.depth, np.float32)
        check_exact(s[INST_FILE], ref.inst, np.uint16)
        assert s["json"]["camera"]["depth"]["unit"] == "m"
        seen.append(s["__key__"])
    assert sorted(seen) == sorted(samples)


def test_webdataset_image_decoders_keep_class_ids_recoverable(real) -> None:
    """seg.png is 8-bit: "pil" gives the ids (replicated to RGB), "l" gives ids / 255."""
    import webdataset as wds

    root, samples = real
    urls = sorted(str(p) for p in root.glob("train-*.tar"))
    for s in wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("pil"):
        assert np.array_equal(np.asarray(s["seg.png"])[..., 0], samples[s["__key__"]].seg)
    for s in wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("l"):
        assert np.array_equal(np.round(s["seg.png"] * 255), samples[s["__key__"]].seg)


def test_one_line_loader(real) -> None:
    root, samples = real
    got = {s["__key__"]: s for s in open_shards(str(root / "train-*.tar"))}
    assert sorted(got) == sorted(samples)
    assert sorted(s["__key__"] for s in open_shards(root)) == sorted(samples)
    for key, s in got.items():
        ref = samples[key]
        check_exact(s[DEPTH_FILE], ref.depth, np.float32)
        check_exact(s[INST_FILE], ref.inst, np.uint16)
        check_exact(s["seg.png"], ref.seg, np.uint8)
        check_exact(s["rgb.png"], ref.rgb, np.uint8)
        assert s["audio.flac"].dtype == np.float32
        assert np.max(np.abs(s["audio.flac"] - ref.audio)) <= 0.5 / 32767 + 1e-7
        assert s["txt"] == ref.txt and s["json"] == canonical_json(ref.meta)


def test_plain_tarfile_with_numpy_pillow_soundfile(real) -> None:
    root, samples = real
    seen = set()
    for path in sorted(root.glob("train-*.tar")):
        with tarfile.open(path) as tar:
            files: dict[str, dict[str, bytes]] = {}
            for member in tar:
                key, _, ext = member.name.partition(".")
                files.setdefault(key, {})[ext] = tar.extractfile(member).read()
        for key, f in files.items():
            ref = samples[key]
            depth = np.load(io.BytesIO(gzip.decompress(f[DEPTH_FILE])), allow_pickle=False)
            inst = np.load(io.BytesIO(gzip.decompress(f[INST_FILE])), allow_pickle=False)
            check_exact(depth, ref.depth, np.float32)
            check_exact(inst, ref.inst, np.uint16)
            check_exact(np.asarray(Image.open(io.BytesIO(f["seg.png"]))), ref.seg, np.uint8)
            check_exact(np.asarray(Image.open(io.BytesIO(f["rgb.png"]))), ref.rgb, np.uint8)
            audio, rate = sf.read(io.BytesIO(f["audio.flac"]), dtype="int16")
            assert rate == json.loads(f["json"])["audio"]["sample_rate"] == 16000
            assert np.array_equal(audio, pcm16(ref.audio))
            with pytest.raises(ValueError):  # forgetting to gunzip fails, never misreads
                np.load(io.BytesIO(f[DEPTH_FILE]), allow_pickle=False)
            seen.add(key)
    assert seen == set(samples)


def test_hugging_face_datasets_with_the_cards_features(real, tmp_path) -> None:
    from datasets import Array2D, Json, Value
    from datasets import Image as HFImage

    root, samples = real
    features = hf_features(root)
    assert features[DEPTH_FILE] == Array2D((64, 64), "float32")
    assert features[INST_FILE] == Array2D((64, 64), "uint16")
    assert features["seg.png"] == HFImage() and features["json"] == Json()
    assert features["audio.flac"] == Value("binary")
    ds = load_hf(root, "train", cache_dir=str(tmp_path / "hf"))
    assert sorted(ds["__key__"]) == sorted(samples)
    for row in ds:
        ref = samples[row["__key__"]]
        check_exact(np.asarray(row[DEPTH_FILE], dtype=np.float32), ref.depth, np.float32)
        assert np.array_equal(np.asarray(row[DEPTH_FILE]), ref.depth)  # float64 lists, exact
        assert np.array_equal(np.asarray(row[INST_FILE]), ref.inst)
        seg = row["seg.png"]
        assert seg.mode == "L" and np.array_equal(np.asarray(seg), ref.seg)
        assert np.array_equal(np.asarray(row["rgb.png"]), ref.rgb)
        assert row["json"]["camera"]["depth"] == depth_encoding(200.0)
        assert [o["instance_id"] for o in row["json"]["objects"]] == [
            o["instance_id"] for o in ref.meta["objects"]]
        audio, _ = sf.read(io.BytesIO(row["audio.flac"]), dtype="int16")
        assert np.array_equal(audio, pcm16(ref.audio))
    as_numpy = ds.with_format("numpy")[0]
    assert as_numpy[DEPTH_FILE].dtype == np.float32


def test_every_object_depth_agrees_with_its_3d_box(real) -> None:
    """Depth read back under each instance mask lies inside the object's 3D box (camera z of
    its corners), the far ones included; every labelled id has its mask and vice versa."""
    root, samples = real
    checked = beyond = 0
    for s in open_shards(root):
        depth, inst, objects = s[DEPTH_FILE], s[INST_FILE], s["json"]["objects"]
        assert set(np.unique(inst).tolist()) - {0} == {o["instance_id"] for o in objects}
        for o in objects:
            z = np.asarray(o["bbox3d_cam"]["corners"])[:, 2]
            mask = inst == o["instance_id"]
            ys, xs = np.nonzero(mask)
            assert o["bbox2d"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert o["visible_px"] == mask.sum()
            d = depth[mask]
            tol = 0.05 + 0.01 * z.max()  # the depth buffer's precision, as tests/sim use
            assert d.min() >= z.min() - tol and d.max() <= z.max() + tol, (s["__key__"], o)
            checked += 1
            beyond += bool(d.max() > UINT16_MM_LIMIT_M)
    assert checked >= 30 and beyond >= 5


def test_card_front_matter_lists_the_shards_features(real) -> None:
    root, _ = real
    text = (root / "card" / "README.md").read_text()
    assert text.startswith("---\ndataset_info:\n  features:\n")
    rows = {r["name"]: r["dtype"] for r in shard_features(sorted(root.glob("*.tar"))[0])}
    assert rows[DEPTH_FILE] == {"array2_d": {"shape": [64, 64], "dtype": "float32"}}
    assert rows[INST_FILE] == {"array2_d": {"shape": [64, 64], "dtype": "uint16"}}
    assert rows["rgb.png"] == rows["seg.png"] == "image"


def building_at(distance_m: float, first_instance: int) -> tuple[Sample, float]:
    """A real render of one 40 m wide building ``distance_m`` ahead, a valid sample whose
    instance id is ``first_instance`` (ids below it are taken by unrendered bodies)."""
    from sim.camera import CameraConfig, render
    from sim.labels import extract_labels
    from sim.scene import SceneRegistry
    from sim.scenery import Part, create_body
    from sim.world import World

    world, reg = World(), SceneRegistry()
    for k in range(first_instance - 1):
        reg.register(100_000 + k, "vehicle", (1.0, 1.0, 1.0))
    part = Part("box", (3.0, 20.0, 15.0), (0.0, 0.0, 15.0), (0.5, 0.5, 0.5, 1.0))
    body = create_body(world.client, (part,), (distance_m, 0.0, 0.0), 0.0)
    reg.register(body, "building", (6.0, 40.0, 30.0), (0.0, 0.0, 15.0))
    cam = CameraConfig("front", 64, 64, 60.0, mount_xyz=(0.0, 0.0, 3.0),
                       mount_rpy=(0.0, 0.0, 0.0))  # fmt: skip
    r = render(world.client, reg, cam, np.eye(4))
    objects = extract_labels(world.client, reg, r)
    world.close()
    sample = make_sample(1, height=64, width=64, n_objects=0)
    sample.meta["camera"] = camera_metadata(r.camera_json())
    sample.meta["objects"] = objects
    sample.rgb, sample.depth, sample.seg, sample.inst = r.rgb, r.depth, r.semantic, r.instance
    return validate_sample(sample), distance_m - 3.0


def test_building_near_the_far_plane_and_large_instance_ids(tmp_path) -> None:
    import webdataset as wds

    sample, front_m = building_at(180.0, first_instance=300)
    (obj,) = sample.meta["objects"]
    assert obj["instance_id"] == 300 and obj["distance_m"] > 170
    path = tmp_path / "far-000000.tar"
    write_shard(path, [sample])
    for spec in WDS_SPECS:
        ds = wds.WebDataset(str(path), shardshuffle=False, empty_check=False)
        (s,) = list(ds.decode() if spec is None else ds.decode(spec))
        check_exact(s[DEPTH_FILE], sample.depth, np.float32)
        check_exact(s[INST_FILE], sample.inst, np.uint16)
        front = s[DEPTH_FILE][s[INST_FILE] == 300]
        assert front.size > 20 and np.median(front) == pytest.approx(front_m, abs=0.05 * 3)
        assert front.max() > 170.0  # stored as rendered: nothing saturates at 65.535 m


def test_instance_ids_up_to_the_registry_limit_round_trip(tmp_path) -> None:
    """Ids past 255 and up to 65535 survive every reader; more cannot be stored."""
    import webdataset as wds

    sample = make_sample(4, n_objects=3)
    for obj, new in zip(sample.meta["objects"], (256, 4097, MAX_INSTANCE_ID)):
        sample.inst[sample.inst == obj["instance_id"]] = new
        obj["instance_id"] = new
    validate_sample(sample)
    path = tmp_path / "ids-000000.tar"
    write_shard(path, [sample])
    for spec in WDS_SPECS:
        ds = wds.WebDataset(str(path), shardshuffle=False, empty_check=False)
        (s,) = list(ds.decode() if spec is None else ds.decode(spec))
        check_exact(s[INST_FILE], sample.inst, np.uint16)
        assert set(np.unique(s[INST_FILE]).tolist()) == {0, 256, 4097, MAX_INSTANCE_ID}
    from sim.scene import MAX_INSTANCES, SceneRegistry

    assert MAX_INSTANCES == MAX_INSTANCE_ID
    reg = SceneRegistry()
    for k in range(MAX_INSTANCES):
        reg.register(k, "vehicle", (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="more than 65535 instances"):
        reg.register(MAX_INSTANCES, "vehicle", (1.0, 1.0, 1.0))


def test_one_line_loader_expands_brace_notation(tmp_path) -> None:
    """``open_shards("DIR/NAME-{000000..000001}.tar")`` reads both shards (the brace string
    used to reach webdataset inside a list, which it does not expand)."""
    from datagen.reader import shard_paths

    for i in range(2):
        write_shard(tmp_path / f"b-{i:06d}.tar", [make_sample(i, frame=i)])
    urls = str(tmp_path / "b-{000000..000001}.tar")
    assert shard_paths(urls) == [str(tmp_path / f"b-{i:06d}.tar") for i in range(2)]
    assert [s["__key__"] for s in open_shards(urls)] == [make_sample(i, frame=i).key
                                                         for i in range(2)]  # fmt: skip
