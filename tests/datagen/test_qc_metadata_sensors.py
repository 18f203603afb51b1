"""QC's agreement of json metadata with the sensors and with the fields it is derived from
(issue 20): ``derived_fields``, ``metadata_vs_sensors`` (datagen/qc/metadata_sensors.py, fitted
on clean data) and ``damage_vs_crash``. The frames of one real generated scenario pass; a
frame whose json is changed to contradict its sensors or its own sources is flagged with a
message naming both sides; fitting is deterministic."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from datagen.qc import damage_events, derived_fields, metadata_sensors, road_view
from datagen.qc.scenario_agreement import AgreementConfig, ScenarioAgreement
from datagen.qc.shardio import Decoded, iter_decoded

OURS = ("derived_fields", "metadata_vs_sensors", "damage_vs_crash")


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """One real scenario (PyBullet, weather, audio, captions): 4 clear-noon frames at 64 px."""
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("metadata_sensors")
    cfg = GenerateConfig(scenarios=1, frames=4, image_size=64, seed=23, split="m",
                         weather="clear_noon", weather_presets=weather_presets(),
                         driver_style="cautious", samples_per_shard=8)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    found = list(iter_decoded(sorted(Path(root).glob("*.tar"))))
    assert len(found) == 4
    return found


def findings(samples: list[Decoded]) -> list[tuple[str, str, str]]:
    """(key, check, reason) of this module's checks among the agreement checks' findings."""
    agreement = ScenarioAgreement(AgreementConfig())
    for s in samples:
        agreement.add(s)
    return [(k, f.check, f.reason) for k, _, f in agreement.findings() if f.check in OURS]


def edited(frames: list[Decoded], i: int = 1) -> list[Decoded]:
    out = copy.deepcopy(frames)
    assert out[i].meta["frame"] == i
    return out


def test_clean_scenario_passes(frames: list[Decoded]) -> None:
    assert findings(frames) == []
    cfg = metadata_sensors.MetadataSensorsConfig()
    for s in frames:
        assert derived_fields.check(s, derived_fields.DerivedFieldsConfig()) is None
        assert metadata_sensors.check(s, cfg) is None
        assert road_view.measure(s) is not None


def test_clear_noon_relabelled_night_fog_is_found(frames: list[Decoded]) -> None:
    s = edited(frames)
    w = s[1].meta["weather"]
    assert w["time_of_day"] == "day" and w["sun_altitude_deg"] > 10
    w.update(preset="fog_night", family="fog", time_of_day="night", visibility_m=40.0)
    ((key, check, why),) = findings(s)
    assert key == s[1].key and check == "derived_fields"
    assert "time_of_day night" in why and f"{w['sun_altitude_deg']:.1f} deg" in why
    assert "makes it day" in why


def test_road_bend_against_the_json_curvature_is_found(frames: list[Decoded]) -> None:
    s = edited(frames)
    seen = metadata_sensors.MetadataSensorsConfig().fit.beta * road_view.measure(s[1]).bend
    k = -0.05 if seen > 0 else 0.05  # a sharp curve the other way, shape consistent with it
    s[1].meta["road"].update(curvature_ahead=k, shape="left_curve" if k > 0 else "right_curve")
    ((key, check, why),) = findings(s)
    assert key == s[1].key and check == "metadata_vs_sensors"
    assert "road.curvature_ahead" in why and "seg/depth bends like" in why


@pytest.mark.parametrize("field, value, words", [
    (("ego", "off_road"), True, "ego.off_road true"),
    (("road", "shape"), "other", None),
    (("audio", "duration_s"), 4.0, "audio.duration_s 4"),
    (("ego", "surface"), "wet", "ego.surface wet"),
])  # fmt: skip
def test_a_derived_field_against_its_sources_is_found(
    frames: list[Decoded], field: tuple[str, str], value: object, words: str | None
) -> None:
    s = edited(frames)
    sec, name = field
    if name == "shape":  # the shape its curvature does not give
        k = s[1].meta["road"]["curvature_ahead"]
        value = "left_curve" if k < 0 else "right_curve"
        words = f"road.shape {value}"
    if name == "surface":  # a surface that cannot lie on the weather's road
        s[1].meta["weather"].update(surface="ice", ice=0.9)
    s[1].meta[sec][name] = value
    found = [(k, c, why) for k, c, why in findings(s) if k == s[1].key]
    assert found and found[0][1] in ("derived_fields", "metadata_vs_sensors"), found
    assert words in found[0][2]
    assert all(k == s[1].key for k, _, _ in findings(s))


def test_damage_without_a_crash_is_found(frames: list[Decoded]) -> None:
    s = edited(frames, 2)
    s[2].meta["ego"]["damage"]["left"] = 0.5
    assert not any(e.get("type") == "crash" for e in s[2].meta["events"])
    ((key, check, why),) = findings(s)
    assert key == s[2].key and check == "damage_vs_crash" and "list no crash" in why


def test_required_sound_sources_missing_are_found(frames: list[Decoded]) -> None:
    s = edited(frames)
    rules = metadata_sensors.MetadataSensorsConfig().fit.required_sources
    assert rules, "the shipped fit requires some sources"
    src, feat, t, _, _ = rules[0]
    s[1].meta["audio"]["events"] = [e for e in s[1].meta["audio"]["events"] if e != src]
    ((key, check, why),) = findings(s)
    assert key == s[1].key and check == "metadata_vs_sensors"
    assert f"lacks {src}" in why and feat in why


def test_fitting_is_deterministic_and_the_shipped_fit_names_its_source(
    frames: list[Decoded],
) -> None:
    a = metadata_sensors.fit(frames * 3, min_rows=5)
    b = metadata_sensors.fit(copy.deepcopy(frames) * 3, min_rows=5)
    assert a == b and a["version"] == metadata_sensors.FIT_VERSION
    assert np.isfinite(a["params"]["beta"]) and a["source"]["samples"] == 12
    shipped = metadata_sensors.load_fit()
    assert shipped.source["samples"] >= 1000 and shipped.source["dataset_seeds"]
    assert 4040 not in shipped.source["dataset_seeds"]  # QC is measured on seed 4040


def test_derived_fields_use_the_simulators_constants() -> None:
    pytest.importorskip("pybullet")
    from sim.scenario import OFFROAD_MARGIN_M, ScenarioConfig

    assert derived_fields.OFFROAD_MARGIN_M == OFFROAD_MARGIN_M
    assert derived_fields.DerivedFieldsConfig().lane_width_m == ScenarioConfig.lane_width_m


def test_damage_summary_skips_broken_json() -> None:
    s = Decoded("k", "x-000000.tar", meta={"time_s": "soon"})
    assert damage_events.summarize(s) is None
