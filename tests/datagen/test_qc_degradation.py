"""QC's learned image-degradation check (issue 20): the generic degradation generator is
deterministic, clean generated frames are not flagged, clearly blurred or noisy copies are
flagged with an explaining message, and the model is plain JSON that the fitting script
reproduces."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from datagen.qc import degrade, image_degradation
from datagen.qc.shardio import Decoded, iter_decoded

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ("clear_noon", "clear_night", "dense_fog", "heavy_snow")


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real scenario of 4 frames at 64 px per preset (seed 21: neither the fitting nor
    the evaluation seed)."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("degradation")
    for preset in PRESETS:
        cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=21, split=preset,
                             weather=preset, weather_presets=weather_presets(),
                             samples_per_shard=4)  # fmt: skip
        for shard in make_plan(cfg):
            build_shard(shard, str(root))
    return root


def _generate(root: Path, presets: tuple[str, ...], size: int, **clip: int) -> Path:
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    for preset in presets:
        cfg = GenerateConfig(scenarios=1, frames=4, image_size=size, seed=21, split=preset,
                             weather=preset, weather_presets=weather_presets(),
                             samples_per_shard=4, **clip)  # fmt: skip
        for shard in make_plan(cfg):
            build_shard(shard, str(root))
    return root


@pytest.fixture(scope="module")
def frames(shards: Path) -> list[Decoded]:
    return list(iter_decoded(sorted(shards.glob("*.tar"))))


@pytest.fixture(scope="module")
def frames128(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One scenario of 4 frames at 128 px (the default size) per preset, seed 21."""
    pytest.importorskip("pybullet")
    root = _generate(tmp_path_factory.mktemp("degradation128"), PRESETS, 128)
    return list(iter_decoded(sorted(root.glob("*.tar"))))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """Clean clip samples at 64 px: 4 clips of 8 frames at 4 Hz (key frames 2 s apart) per
    preset, seed 21."""
    pytest.importorskip("pybullet")
    root = _generate(tmp_path_factory.mktemp("degradation_clips"), PRESETS, 64,
                     clip_frames=8)  # fmt: skip
    return list(iter_decoded(sorted(root.glob("*.tar"))))


def _judge(frames: list[Decoded]):
    raw = np.vstack([image_degradation.features(s) for s in frames])
    groups = [(s.shard, s.key.rsplit("_", 1)[0]) for s in frames]
    presets = [s.meta["weather"]["preset"] for s in frames]
    return image_degradation.judge(raw, groups, presets)


def test_generator_is_deterministic() -> None:
    img = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for seed in range(20):
        a, fa = degrade.degrade(img, np.random.default_rng(seed))
        b, fb = degrade.degrade(img, np.random.default_rng(seed))
        assert fa == fb and np.array_equal(a, b) and a.dtype == np.uint8
    seen = {f for seed in range(200) for f in degrade.degrade(img, np.random.default_rng(seed))[1]}
    assert seen == set(degrade.FAMILIES)


def test_clean_frames_are_not_flagged(frames: list[Decoded], shards: Path) -> None:
    assert len(frames) == 4 * len(PRESETS)
    flags = _judge(frames)
    assert [f for f in flags if f is not None] == []
    from datagen.qc.report import run_qc

    report = run_qc(shards)  # wired into QC: no finding of this check on clean frames
    assert report.samples == len(frames)
    assert [f for f in report.findings if f.check == image_degradation.CHECK] == []


@pytest.mark.parametrize("kind", ["blur", "noise"])
def test_degraded_frame_is_flagged_with_reason(frames: list[Decoded], kind: str) -> None:
    from datagen.qc.degrade import _gauss

    caught = 0
    for preset in PRESETS:
        group = [s for s in frames if s.meta["weather"]["preset"] == preset]
        bad = copy.copy(group[1])
        x = group[1].rgb.astype(np.float64) / 255
        x = _gauss(x, 1.5) if kind == "blur" else \
            x + np.random.default_rng(0).normal(0, 0.06, x.shape)  # fmt: skip
        bad.rgb = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
        flags = _judge([group[0], bad, *group[2:]])
        assert flags[0] is None and flags[2] is None and flags[3] is None
        if flags[1] is not None:
            caught += 1
            assert flags[1].check == image_degradation.CHECK
            assert "image looks degraded after rendering: score" in flags[1].reason
            assert "strongest features" in flags[1].reason
    assert caught >= len(PRESETS) - 1


def test_model_is_plain_json_and_refit_is_deterministic(frames: list[Decoded],
                                                        tmp_path: Path) -> None:
    params = json.loads(image_degradation.MODEL_PATH.read_text())  # no pickle anywhere
    model = image_degradation.Model(params)
    assert len(params["clean_mean"]) == len(image_degradation.input_names())
    assert 0 < model.threshold < 1 and params["trees"]
    sys.path.insert(0, str(ROOT / "scripts"))
    import fit_image_degradation as fit

    data = [(s.rgb, s.seg, (s.shard, s.key.rsplit("_", 1)[0]), s.meta["weather"]["preset"])
            for s in frames]
    a = json.dumps(fit.fit(data, copies=1, seed=3))
    b = json.dumps(fit.fit(data, copies=1, seed=3))
    assert a == b


FIT_DATA = ("qcfit_clean", "qcfit_calib5151", "qcfit_calib_clips5153")


@pytest.mark.skipif(os.environ.get("QC_REFIT") != "1"
                    or not all((ROOT / "runs" / d).is_dir() for d in FIT_DATA),
                    reason="refitting on runs/qcfit_* takes ~3 min: QC_REFIT=1")
def test_fitting_script_reproduces_shipped_file(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import fit_image_degradation as fit

    out = tmp_path / "fit.json"
    assert fit.main(["--out", str(out)]) == 0  # default --data and --calib: FIT_DATA
    assert out.read_bytes() == image_degradation.MODEL_PATH.read_bytes()


def _blurred(s: Decoded, sigma: float) -> Decoded:
    from datagen.qc.degrade import _gauss

    bad = copy.copy(s)
    x = _gauss(s.rgb.astype(np.float64) / 255, sigma)
    bad.rgb = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
    return bad


def test_frames_of_any_size_are_resampled_to_the_model_size(frames128: list[Decoded]) -> None:
    rgb, seg = frames128[0].rgb, frames128[0].seg
    small, small_seg = image_degradation.model_input(rgb, seg)
    assert rgb.shape == (128, 128, 3) and small.shape == (*image_degradation.IMAGE_SIZE, 3)
    assert small.dtype == np.uint8 and small_seg.shape == image_degradation.IMAGE_SIZE
    block = rgb[:2, :2].reshape(4, 3).mean(axis=0)  # area average: 2x2 blocks at 128 px
    assert np.abs(small[0, 0].astype(float) - block).max() <= 1
    assert image_degradation.model_input(rgb[:40, :40], seg[:40, :40]) is None  # too small
    assert image_degradation.model_input(rgb[:, :100], seg[:, :100]) is None  # not square
    f = image_degradation.features(frames128[0])
    n = len(image_degradation.NAMES)
    assert np.isfinite(f[: n + 1]).all() and f[n] == 0.0  # statistics, then "not a clip"
    assert np.isnan(f[n + 1 :]).all()  # no clip reference for a single frame


def test_clean_128px_frames_are_not_flagged(frames128: list[Decoded]) -> None:
    assert len(frames128) == 4 * len(PRESETS)
    assert [f for f in _judge(frames128) if f is not None] == []


def test_degraded_128px_frame_is_flagged(frames128: list[Decoded]) -> None:
    caught = 0
    for preset in PRESETS:
        group = [s for s in frames128 if s.meta["weather"]["preset"] == preset]
        flags = _judge([group[0], _blurred(group[1], 3.0), *group[2:]])
        assert flags[0] is None and flags[2] is None and flags[3] is None
        caught += flags[1] is not None
    assert caught >= len(PRESETS) - 1


def test_clip_frames_are_decoded_only_when_asked(clips: list[Decoded],
                                                 frames: list[Decoded]) -> None:
    s = copy.copy(clips[0])
    assert s.frames_data is not None and s._frames is None  # not decoded by iter_decoded
    got = s.clip_frames()
    assert got.shape == (8, 64, 64, 3) and got.dtype == np.uint8
    assert (got[-1] == s.rgb).all()  # the last frame is the key frame (rgb.png)
    assert all(f.frames_data is None and f.clip_frames() is None for f in frames)


def test_clean_clips_are_not_flagged(clips: list[Decoded]) -> None:
    """Each clip judged against its own earlier frames (the scenario's other key frames,
    2 s apart, show other scenes) by the clip model, and not flagged."""
    assert len(clips) == 4 * len(PRESETS) and all(image_degradation.is_clip(s) for s in clips)
    model = image_degradation.Model.load()
    assert model.clip_model is not None
    raw = np.vstack([image_degradation.features(s) for s in clips])
    n = len(image_degradation.NAMES)
    assert (raw[:, n] == 1).all() and np.isfinite(raw).all()
    assert image_degradation.own_reference(raw).all()
    assert [f for f in _judge(clips) if f is not None] == []
    assert [f for s in clips for f in _judge([s]) if f is not None] == []  # alone, too


def test_blurred_clip_key_frame_is_flagged_against_its_own_frames(clips: list[Decoded]
                                                                  ) -> None:  # fmt: skip
    """A clip alone in its scenario (no other key frame to compare with) whose key frame is
    blurred: its earlier frames are the reference, and it is flagged."""
    flags = [_judge([_blurred(s, 1.5)])[0] for s in clips[::4]]
    assert sum(f is not None for f in flags) >= len(flags) - 1
    assert all(_judge([s])[0] is None for s in clips[::4])


@pytest.mark.parametrize("kind", ["blur", "noise"])
def test_degraded_clip_key_frame_is_flagged(clips: list[Decoded], kind: str) -> None:
    caught = 0
    for preset in PRESETS:
        group = [s for s in clips if s.meta["weather"]["preset"] == preset]
        bad = _blurred(group[2], 1.5) if kind == "blur" else copy.copy(group[2])
        if kind == "noise":
            x = group[2].rgb + np.random.default_rng(0).normal(0, 16, group[2].rgb.shape)
            bad.rgb = np.clip(np.round(x), 0, 255).astype(np.uint8)
        flags = _judge([*group[:2], bad, *group[3:]])
        assert [i for i, f in enumerate(flags) if f is not None] in ([], [2])
        caught += flags[2] is not None
    assert caught >= len(PRESETS) - 1
