"""The sample json names the ego's vehicle model (json.vehicle.preset), and QC's powertrain
check holds the rpm to that vehicle's gearbox instead of any shipped one's."""

from __future__ import annotations

from pathlib import Path

from datagen.qc.ego_state import EgoConfig, powertrain, rpm_per_mps
from datagen.reader import open_shards
from edge.cli import main


def _meta(preset: object, rpm_per_mps_gear1: float) -> dict:
    speed = 10.0
    return {"vehicle": {"preset": preset},
            "ego": {"speed_mps": speed, "rpm": rpm_per_mps_gear1 * speed, "gear": 1,
                    "throttle": 0.3, "wheel_slip": {"ratio": [0.0] * 4}}}  # fmt: skip


def test_powertrain_uses_the_named_vehicle() -> None:
    sedan, van = min(rpm_per_mps()[0][1]), rpm_per_mps("van")[0][1][0]
    assert sedan != van
    cfg = EgoConfig()
    assert powertrain(_meta("van", van), cfg) is None
    assert powertrain(_meta("van", sedan), cfg) is not None  # another car's gearbox
    assert powertrain(_meta(None, sedan), cfg) is None  # unnamed: any shipped gearbox
    assert powertrain(_meta(["junk"], sedan), cfg) is None  # unreadable: likewise


def test_samples_name_their_vehicle(tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert main(["generate", "--out", str(out), "--scenarios", "1", "--frames", "1",
                 "--image-size", "32", "--workers", "0", "--no-progress", "--no-card",
                 "--vehicle-preset", "van"]) == 0  # fmt: skip
    assert [s["json"]["vehicle"] for s in open_shards(str(out))] == [{"preset": "van"}]
