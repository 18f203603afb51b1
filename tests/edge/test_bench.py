"""Edge benchmark, held-out accuracy, int8 schemes and variant selection on real shards."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.quantize import Int8Config
from edge.runtime.heldout import HeldOut, recall_at_1, zero_shot_accuracy


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_zero_shot_accuracy_counts_nearest_label_and_skips_unknown() -> None:
    rng = np.random.default_rng(3)
    labels = _unit(rng.standard_normal((4, 16)))
    truth = rng.integers(0, 4, 40)
    emb = _unit(labels[truth] + 0.01 * rng.standard_normal((40, 16)))
    assert zero_shot_accuracy(emb, labels, truth) == 100.0
    wrong = (truth + 1) % 4
    assert zero_shot_accuracy(emb, labels, wrong) == 0.0
    half = truth.copy()
    half[:20] = -1  # unknown labels are not counted
    assert zero_shot_accuracy(emb, labels, half) == 100.0
    assert np.isnan(zero_shot_accuracy(emb, labels, np.full(40, -1)))


def test_recall_at_1_treats_identical_captions_as_one() -> None:
    tokens = np.array([[1, 2], [3, 4], [1, 2], [5, 6]])
    gallery = _unit(np.eye(4, 8))
    # query 2 finds gallery row 0: a different index, the same caption -> a hit
    queries = gallery[[0, 1, 0, 1]]
    assert recall_at_1(queries, gallery, tokens) == 75.0


def test_heldout_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="HeldOut arrays"):
        HeldOut(np.zeros((2, 3, 8, 8)), np.zeros((3, 4, 4)), np.zeros((2, 5)), {})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"scheme": "int4"}, "scheme"), ({"activations": "u16"}, "activations"),
     ({"scheme": "dynamic", "activations": "s8"}, "activations"),
     ({"batch_size": 0}, "batch_size")],
)  # fmt: skip
def test_int8_config_validates(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"Int8Config.{field}"):
        Int8Config(**kwargs)


def test_cpu_info_reads_int8_flags(tmp_path: Path) -> None:
    from edge.bench import cpu_info

    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 avx_vnni\n")
    info = cpu_info(fake)
    assert info["model"] == "Test CPU 9000"
    assert info["int8_flags"]["avx2"] and info["int8_flags"]["avx_vnni"]
    assert not info["int8_flags"]["avx512_vnni"] and not info["int8_flags"]["amx_int8"]


@pytest.mark.slow
def test_bundle_heldout_matches_shards(bundle: Path, shards: dict[str, str]) -> None:
    """The stored held-out set decodes to exactly what the board code makes from the shards."""
    from edge.bench import heldout_from_shards
    from edge.runtime import load_bundle
    from edge.runtime.classify import EdgeModel
    from edge.select import bundle_heldout

    loaded = load_bundle(bundle)
    stored = bundle_heldout(loaded, EdgeModel(loaded), 64)
    fresh = heldout_from_shards(loaded, shards["val"], len(stored))
    np.testing.assert_allclose(stored.images, fresh.images, atol=1e-5)
    np.testing.assert_array_equal(stored.mels, fresh.mels)
    np.testing.assert_array_equal(stored.tokens, fresh.tokens)
    for task, truth in fresh.labels.items():
        np.testing.assert_array_equal(stored.labels[task], truth)
    assert (stored.labels["weather_family"] >= 0).all()


def _bench_args(bundle: Path, checkpoint: Path, out: Path) -> argparse.Namespace:
    from edge.bench import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--bundle", str(bundle), "--checkpoint", str(checkpoint),
                              "--threads", "1,2", "--samples", "12", "--repeats", "3",
                              "--batch", "4", "--json", str(out / "edge.json"),
                              "--plot", str(out / "edge.png")])  # fmt: skip


@pytest.mark.slow
def test_bench_side_by_side(bundle: Path, checkpoint: Path, tmp_path: Path) -> None:
    from edge.bench import run

    result = run(_bench_args(bundle, checkpoint, tmp_path))
    assert json.loads((tmp_path / "edge.json").read_text())["samples"] == 12
    assert (tmp_path / "edge.png").read_bytes()[:4] == b"\x89PNG"
    for tower in ("image", "audio", "text"):
        by_variant = result["towers"][tower]
        assert set(by_variant) == {"torch", "fp32", "fp16", "int8", "int8_qdq"}
        assert by_variant["fp32"]["size_vs_fp32"] == 1.0
        assert by_variant["int8"]["size_vs_fp32"] < 0.7  # micro model: mostly float Conv
        for entry in by_variant.values():
            for lat in entry["threads"].values():
                assert 0 < lat["p50_ms"] <= lat["p99_ms"]
    acc = result["accuracy"]
    # ONNX fp32 reproduces PyTorch eager (parity), so their accuracies are identical
    assert acc["torch"] == pytest.approx(acc["fp32"], abs=1e-6)
    assert set(acc["fp32"]) >= {"image/weather_family", "audio/weather_family",
                                "R@1 image->text", "R@1 audio->text", "mean"}  # fmt: skip


@pytest.mark.slow
def test_select_measures_heldout_accuracy(bundle: Path, tmp_path: Path) -> None:
    from edge.runtime import load_bundle
    from edge.select import SelectConfig, select_variant

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    selected = select_variant(copy, SelectConfig(budget=1.0, samples=16, repeats=2))
    assert selected["accuracy_method"] == "heldout_accuracy_16_samples"
    measured = selected["measured"]
    assert measured["fp32"]["accuracy_drop_points"] == 0.0
    assert measured[selected["variant"]]["accuracy_drop_points"] <= 1.0
    assert load_bundle(copy).selected_variant == selected["variant"]


@pytest.mark.slow
def test_select_falls_back_to_agreement_without_heldout(bundle: Path, tmp_path: Path) -> None:
    from edge.runtime.bundle import MANIFEST, write_json_atomic
    from edge.select import SelectConfig, select_variant

    copy = tmp_path / "old"
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / manifest.pop("heldout")["file"]).unlink()
    manifest["files"] = {k: v for k, v in manifest["files"].items() if k != "heldout.npz"}
    write_json_atomic(copy / MANIFEST, manifest)
    selected = select_variant(copy, SelectConfig(samples=8, repeats=2))
    assert selected["accuracy_method"] == "agreement_with_fp32_on_random_inputs"


@pytest.mark.slow
@pytest.mark.parametrize(
    "cfg",
    [Int8Config(), Int8Config(scheme="qdq", activations="s8", per_channel=True),
     Int8Config(scheme="qoperator", reduce_range=False, quantize_conv=True)],
    ids=["dynamic-default", "qdq-s8s8", "qoperator-u8s8"],
)  # fmt: skip
def test_int8_schemes_shrink_and_track_fp32(bundle: Path, tmp_path: Path, cfg: Int8Config) -> None:
    """Every scheme writes a smaller model whose embeddings stay close to fp32's on real data."""
    from edge.export import cosines, onnx_embed
    from edge.quantize import quantize_int8
    from edge.runtime import load_bundle
    from edge.runtime.classify import EdgeModel
    from edge.select import bundle_heldout

    loaded = load_bundle(bundle)
    held = bundle_heldout(loaded, EdgeModel(loaded), 16)
    fp32 = loaded.tower_path("audio", "fp32")
    out = tmp_path / "audio.int8.onnx"
    kept = quantize_int8(fp32, out, held.mels, cfg)
    assert len(kept) == 1
    assert out.stat().st_size < 0.5 * fp32.stat().st_size
    ref = onnx_embed(fp32, "fp32", held.mels)
    assert cosines(onnx_embed(out, "int8", held.mels), ref).min() > 0.95
