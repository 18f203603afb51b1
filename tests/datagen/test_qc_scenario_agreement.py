"""QC's agreement checks across a scenario's frames (datagen/qc/scenario_agreement.py): the
frames of one real generated scenario pass, and a frame broken in one modality is flagged,
the finding naming the check and its evidence."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from datagen.qc import (
    audio_sequence,
    channel_order,
    ego_state,
    local_sharpness,
    optics,
    sequence_state,
)
from datagen.qc.scenario_agreement import AgreementConfig, ScenarioAgreement
from datagen.qc.shardio import Decoded, iter_decoded


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real scenario (PyBullet, weather, audio, captions): 4 frames at 64 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("agreement")
    cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=23, split="a",
                         weather="clear_noon", weather_presets=weather_presets(),
                         driver_style="cautious", samples_per_shard=8)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    return root


@pytest.fixture(scope="module")
def frames(shards: Path) -> list[Decoded]:
    found = list(iter_decoded(sorted(shards.glob("*.tar"))))
    assert len(found) == 4
    return found


def judged(samples: list[Decoded]) -> list[tuple[str, str]]:
    """(key, check) of every finding of the agreement checks."""
    agreement = ScenarioAgreement(AgreementConfig())
    for s in samples:
        agreement.add(s)
    return [(k, f.check) for k, _, f in agreement.findings()]


def reasons(samples: list[Decoded], check: str) -> list[str]:
    agreement = ScenarioAgreement(AgreementConfig())
    for s in samples:
        agreement.add(s)
    return [f.reason for _, _, f in agreement.findings() if f.check == check]


def broken(frames: list[Decoded], i: int = 1) -> list[Decoded]:
    out = copy.deepcopy(frames)
    assert out[i].meta["frame"] == i
    return out


def test_clean_scenario_agrees_with_itself(frames: list[Decoded]) -> None:
    assert judged(frames) == []


def test_audio_of_another_frame_is_found(frames: list[Decoded]) -> None:
    s = broken(frames)
    s[1].audio = s[3].audio.copy()
    assert judged(s) == [(s[1].key, "audio_continuity")]
    (why,) = reasons(s, "audio_continuity")
    assert "matches frame" in why and "+0.400 s" in why  # it really ends 0.4 s later


def test_foreign_audio_is_found() -> None:
    rng = np.random.default_rng(0)
    wave = rng.normal(0, 0.1, 40000).astype(np.float32)
    other = rng.normal(0, 0.1, 16000).astype(np.float32)
    sr, cfg = 16000, audio_sequence.AudioSequenceConfig()
    prints = []
    for k, t in enumerate((1.2, 1.4, 1.6, 1.8)):
        stop = int(round(t * sr)) + 1
        audio = other if k == 2 else wave[stop - 16000: stop]
        s = Decoded(f"k{k}", "x-000000.tar", audio=audio, sample_rate=sr,
                    meta={"time_s": t, "frame": k, "scenario_id": 0, "split": "x"})
        prints.append(audio_sequence.summarize(s, cfg))
    assert [(k, f.check) for k, _, f in audio_sequence.check(prints, cfg)] == \
        [("k2", "audio_continuity")]  # fmt: skip


def test_stale_timestamp_is_off_the_clock(frames: list[Decoded]) -> None:
    s = broken(frames, 2)
    s[2].meta["time_s"] = s[0].meta["time_s"]
    found = judged(s)
    assert (s[2].key, "timeline") in found and (s[2].key, "audio_continuity") in found
    assert {k for k, _ in found} == {s[2].key}


def test_gear_off_by_one_against_the_shifts(frames: list[Decoded]) -> None:
    s = broken(frames, 2)
    s[2].meta["ego"]["gear"] += 1
    assert judged(s) == [(s[2].key, "gear_vs_events")]


def test_an_event_listed_differently_is_found(frames: list[Decoded]) -> None:
    s = broken(frames, 3)
    t = s[0].meta["time_s"] - 0.05  # inside every frame's 1 s window
    for f in s:
        f.meta["events"] = [*f.meta["events"], {"type": "thunder", "time_s": t, "level": 0.5}]
    assert judged(s) == []
    s[3].meta["events"][-1]["level"] = 0.9
    assert judged(s) == [(s[3].key, "events_vs_scenario")]


def test_bgr_frame_is_found(frames: list[Decoded]) -> None:
    s = broken(frames)
    s[1].rgb = np.ascontiguousarray(s[1].rgb[..., ::-1])
    assert judged(s) == [(s[1].key, "channel_order")]
    assert "read as BGR" in reasons(s, "channel_order")[0]


def test_half_the_frame_blurred_is_found(frames: list[Decoded]) -> None:
    s = broken(frames)
    rgb = s[1].rgb.astype(np.float32)
    soft = ndimage.gaussian_filter(rgb, sigma=(1.6, 1.6, 0))
    rgb[:, 32:] = soft[:, 32:]
    s[1].rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    assert (s[1].key, "local_sharpness") in judged(s)
    (why,) = reasons(s, "local_sharpness")
    assert "left half" not in why and "columns 0%-50%" not in why  # the sharp half is fine


def test_heavy_snowfall_is_not_judged_for_local_sharpness() -> None:
    cfg = local_sharpness.LocalSharpnessConfig()
    snow = {"weather": {"precip_type": "snow", "precip_intensity": 0.5}}
    rain = {"weather": {"precip_type": "rain", "precip_intensity": 0.5}}
    assert local_sharpness.floor_for(snow, cfg) == -np.inf
    assert local_sharpness.floor_for(rain, cfg) == pytest.approx(cfg.floor - 0.35)


def test_gear_no_gearbox_has_while_moving(frames: list[Decoded]) -> None:
    meta = copy.deepcopy(frames[1].meta)
    assert ego_state.check(meta, ego_state.EgoConfig()) == []
    meta["ego"]["gear"] = 0
    (f,) = ego_state.check(meta, ego_state.EgoConfig())
    assert f.check == "powertrain" and "gears 1..6" in f.threshold


def test_grouped_medians_equal_numpy() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (20, 30, 3)).astype(np.float32)
    lab = rng.integers(0, 7, (20, 30))
    inv, med, mad = optics.segment_medians(rgb, lab)
    for k in range(med.shape[0]):
        px = rgb.reshape(-1, 3)[inv.ravel() == k]
        assert np.array_equal(med[k], np.median(px, axis=0).astype(np.float32))
        assert mad[k] == np.float32(np.median(np.abs(px - med[k]).sum(-1)))
    odd = rgb + 0.3  # not halves of a DN: the general path
    assert np.allclose(optics.segment_medians(odd, lab)[1], med + 0.3)


@pytest.mark.parametrize("make, field", [
    (lambda: audio_sequence.AudioSequenceConfig(max_difference=0), "max_difference"),
    (lambda: sequence_state.SequenceStateConfig(time_tol=-1), "time_tol"),
    (lambda: channel_order.ChannelOrderConfig(fit_ratio=0), "fit_ratio"),
    (lambda: local_sharpness.LocalSharpnessConfig(floor=0.2), "floor"),
])  # fmt: skip
def test_configs_name_the_bad_field(make, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()


def test_run_qc_reports_the_agreement_checks(shards: Path, tmp_path: Path) -> None:
    from datagen.qc.report import run_qc
    from datagen.qc.shardio import iter_raw, write_raw

    (path,) = sorted(shards.glob("*.tar"))
    raw = list(iter_raw(path))
    info, _ = raw[1].files["audio.flac"]
    raw[1].files["audio.flac"] = (info, raw[3].data("audio.flac"))
    write_raw(tmp_path / path.name, raw)
    found = [f for f in run_qc(tmp_path).findings if f.check == "audio_continuity"]
    assert [(f.key, f.source) for f in found] == [(raw[1].key, "sequence")]
