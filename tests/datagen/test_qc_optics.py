"""QC's optics checks (datagen.qc.optics): a blurred, badly exposed, partly covered or
defective camera is named, and clean generated frames of night, fog and snow are not."""

from __future__ import annotations

import copy
import tarfile
from pathlib import Path

import numpy as np
import pytest

from datagen.qc import optics, photometric
from datagen.qc.inject import OPTICS_FAULTS, _png, _read_png
from datagen.qc.shardio import Decoded, RawSample, iter_decoded
from sim.seeding import rng_for
from sim.weather.color import linear_to_srgb, srgb_to_linear

PRESETS = ("clear_noon", "clear_night", "dense_fog", "snowy_clear", "heavy_snow", "light_snow")


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real scenario of 4 frames at 64 px per preset (night, fog and snow included)."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("optics")
    for preset in PRESETS:
        cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=21, split=preset,
                             weather=preset, weather_presets=weather_presets(),
                             samples_per_shard=4)  # fmt: skip
        for shard in make_plan(cfg):
            build_shard(shard, str(root))
    return root


@pytest.fixture(scope="module")
def generated(shards: Path) -> dict[str, list[Decoded]]:
    out: dict[str, list[Decoded]] = {}
    for s in iter_decoded(sorted(shards.glob("*.tar"))):
        out.setdefault(s.meta["weather"]["preset"], []).append(s)
    return out


def _summaries(frames: list[Decoded]) -> list[optics.OpticsSummary]:
    cfg = optics.ScenarioOpticsConfig()
    return [x for s in frames if (x := optics.summarize(s, cfg)) is not None]


def _with_rgb(s: Decoded, rgb: np.ndarray) -> Decoded:
    t = copy.copy(s)
    t.rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    return t


@pytest.mark.parametrize("preset", PRESETS)
def test_clean_frames_raise_no_optics_flag(generated: dict[str, list[Decoded]],
                                           preset: str) -> None:  # fmt: skip
    frames = generated[preset]
    assert len(frames) == 4
    for s in frames:
        assert optics.check(s, optics.OpticsConfig()) == [], s.key
        assert photometric.dead_pixels(s, photometric.PhotometricConfig()) is None, s.key
    assert optics.judge(_summaries(frames), optics.ScenarioOpticsConfig()) == []


@pytest.mark.parametrize("preset", ("clear_noon", "clear_night", "dense_fog"))
def test_blur_and_motion_blur_soften_label_edges(generated: dict[str, list[Decoded]],
                                                 preset: str) -> None:  # fmt: skip
    from scipy.ndimage import gaussian_filter, uniform_filter

    s = generated[preset][1]
    cfg = optics.OpticsConfig()
    x = s.rgb.astype(np.float32)
    for blurred in (gaussian_filter(x, (0.8, 0.8, 0)), uniform_filter(x, (1, 5, 1))):
        f = optics.edge_sharpness(_with_rgb(s, blurred), cfg)
        assert f is not None and f.check == "edge_sharpness"
        assert f.value < np.exp(optics.sharpness_floor(s.meta, cfg))
        assert "1-px / 3-px step" in f.reason and f.threshold.startswith("allowed >=")


def test_snowfall_lowers_the_sharpness_floor() -> None:
    cfg = optics.OpticsConfig()
    clear = optics.sharpness_floor({"weather": {"precip_type": "none"}}, cfg)
    snow = optics.sharpness_floor({"weather": {"precip_type": "snow", "precip_intensity": 1.0}},
                                  cfg)  # fmt: skip
    assert snow == pytest.approx(clear - cfg.snow_floor_per_intensity)


@pytest.mark.parametrize("preset", ("clear_noon", "clear_night", "snowy_clear"))
def test_exposure_off_against_the_scenario(generated: dict[str, list[Decoded]],
                                           preset: str) -> None:  # fmt: skip
    frames = list(generated[preset])
    for gain in (0.35, 2.5):
        lin = srgb_to_linear(frames[2].rgb[..., :3]) * gain
        seq = frames[:2] + [_with_rgb(frames[2], linear_to_srgb(lin))] + frames[3:]
        found = optics.judge(_summaries(seq), optics.ScenarioOpticsConfig())
        assert [(k, f.check) for k, _, f in found] == [(frames[2].key, "exposure_vs_scenario")]
        assert (found[0][2].value < 1) is (gain < 1)


def test_dark_patch_on_the_lens_is_a_region_finding(generated: dict[str, list[Decoded]]) -> None:
    frames = list(generated["clear_noon"])
    x = frames[1].rgb.astype(np.float32)
    x[:24, :24] = x[:24, :24] * 0.1 + 20  # dirt over the top-left corner
    seq = [frames[0], _with_rgb(frames[1], x), *frames[2:]]
    found = optics.judge(_summaries(seq), optics.ScenarioOpticsConfig())
    assert [(k, f.check) for k, _, f in found] == [(frames[1].key, "region_vs_scenario")]
    assert "row 0, column 0" in found[0][2].reason and found[0][2].value < 0.37


def test_scattered_odd_pixels_are_found(generated: dict[str, list[Decoded]]) -> None:
    frames = list(generated["clear_night"])
    x = frames[3].rgb.copy()
    rng = np.random.default_rng(0)
    hit = rng.random(x.shape[:2]) < 0.02
    x[hit] = rng.uniform(180, 255, (int(hit.sum()), 3)).astype(np.uint8)
    found = optics.judge(_summaries([*frames[:3], _with_rgb(frames[3], x)]),
                         optics.ScenarioOpticsConfig())  # fmt: skip
    assert [(k, f.check) for k, _, f in found] == [(frames[3].key, "odd_pixels")]


def test_stuck_pixel_rule_ignores_a_lone_pixel_the_labels_explain() -> None:
    rgb = np.full((32, 32, 3), 60, np.uint8)
    seg = np.ones((32, 32), np.uint8)
    inst = np.zeros((32, 32), np.uint16)
    ys, xs = np.arange(2, 30, 3), np.arange(3, 31, 3)
    rgb[ys, xs] = 255  # far lane marking: single white pixels ...
    seg[ys, xs] = 2  # ... labelled as such
    cfg = photometric.PhotometricConfig()
    assert photometric.dead_pixels(Decoded("k", "s", rgb=rgb, seg=seg, inst=inst), cfg) is None
    seg[ys, xs] = 1  # the same pixels where the labels show plain road: stuck pixels
    assert photometric.dead_pixels(Decoded("k", "s", rgb=rgb, seg=seg, inst=inst), cfg) is not None


@pytest.mark.parametrize("fault", sorted(OPTICS_FAULTS))
def test_optics_faults_change_only_the_image(fault: str) -> None:
    rgb = (np.random.default_rng(1).uniform(0, 255, (48, 48, 3))).astype(np.uint8)
    files = {"rgb.png": _png(rgb), "json": b"{}"}
    for seed in range(3):
        raw = RawSample("k", {e: (tarfile.TarInfo(f"k.{e}"), d) for e, d in files.items()})
        assert OPTICS_FAULTS[fault](raw, rng_for(seed, "t"), []) is not False
        assert raw.files["json"][1] == b"{}"
        out = _read_png(raw.files["rgb.png"][1])
        assert out.shape == rgb.shape and out.dtype == np.uint8 and not np.array_equal(out, rgb)


def test_run_qc_names_a_blurred_frame(shards: Path, generated: dict[str, list[Decoded]],
                                      tmp_path: Path) -> None:  # fmt: skip
    """End to end on the shards: the blurred frame alone is flagged, by edge_sharpness."""
    from scipy.ndimage import gaussian_filter

    from datagen.qc.report import run_qc
    from datagen.qc.shardio import iter_raw, write_raw

    shard = generated["clear_night"][0].shard
    raws = list(iter_raw(shards / shard))
    rgb = _read_png(raws[2].files["rgb.png"][1]).astype(np.float32)
    info, _ = raws[2].files["rgb.png"]
    raws[2].files["rgb.png"] = (info, _png(np.clip(gaussian_filter(rgb, (1.0, 1.0, 0)), 0, 255)
                                           .astype(np.uint8)))  # fmt: skip
    (tmp_path / "d").mkdir()
    write_raw(tmp_path / "d" / shard, raws)
    report = run_qc(tmp_path / "d")
    assert report.flagged == {f"{shard}/{raws[2].key}"}, report.to_json()["findings"]
    assert "edge_sharpness" in {f.check for f in report.findings}
