"""QC round 8 (issue 20): the per-wheel slip lists against the axle each entry names
(``wheel_order``). The frames of real generated scenarios (a front-driven sedan, two
rear-driven cars) pass; the same frames with the lists rewritten here in another wheel order
(axles exchanged, or reversed) are flagged where the axles differ: by the slip ratio of the
driven axle, or by the slip angle of the steered one."""

from __future__ import annotations

import copy

import pytest
from qc_samples import build_samples

from datagen.qc import rules, wheel_order
from datagen.qc.shardio import Decoded

ORDERS = {"axles": [2, 3, 0, 1], "reversed": [3, 2, 1, 0]}


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """Three real scenarios (van, sports car, sedan): 4 frames each at 32 px."""
    root = tmp_path_factory.mktemp("wheel_order")
    runs = (("van", "erratic", 81), ("sports_car", "aggressive", 82), ("sedan", "erratic", 83))
    found = build_samples(root, [{"vehicle_preset": v, "driver_style": st, "seed": s, "split": v}
                                 for v, st, s in runs], frames=4, image_size=32)
    assert len(found) == 12
    return found


def checks(meta: dict) -> list[str]:
    return [f.check for f in wheel_order.check(meta, wheel_order.WheelOrderConfig())]


def reordered(meta: dict, order: str) -> dict:
    meta = copy.deepcopy(meta)
    slip = meta["ego"]["wheel_slip"]
    for k in ("angle", "ratio"):
        slip[k] = [slip[k][i] for i in ORDERS[order]]
    return meta


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    for s in frames:
        assert checks(s.meta) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig()) if f.check == "wheel_order"] == []


def driven_slipping(s: Decoded) -> bool:
    """Brake released and the driven axle slipping well past the floor and the free axle."""
    layout = wheel_order.vehicle_layout(s.meta["vehicle"]["preset"])
    ego = s.meta["ego"]
    r = [abs(x) for x in ego["wheel_slip"]["ratio"]]
    driven, free = (r[:2], r[2:]) if layout[3] == "fwd" else (r[2:], r[:2])
    return ego["brake"] == 0 and min(driven) > 0.004 and min(driven) > 10 * max(free)


def steering(s: Decoded) -> bool:
    """The stated angles fit the axle kinematics and the two axles' predictions differ well
    past the check's floor and factor (a car turning in)."""
    layout = wheel_order.vehicle_layout(s.meta["vehicle"]["preset"])
    found = wheel_order.predicted_angles(s.meta["ego"], layout)
    if found is None or found[0] < 6:
        return False
    pred, stated = found[2], s.meta["ego"]["wheel_slip"]["angle"]
    fit = max(abs(a - p) for a, p in zip(stated, pred))
    apart = min(abs(pred[0] - pred[2]), abs(pred[1] - pred[3]))
    return apart > 0.035 and fit < apart / 5


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_driven_axle_elsewhere_is_flagged(frames: list[Decoded], order: str) -> None:
    picked = [s for s in frames if driven_slipping(s)]
    assert {s.meta["vehicle"]["preset"] for s in picked} >= {"sedan", "sports_car"}
    for s in picked:
        assert checks(reordered(s.meta, order)) == ["wheel_order"], s.key


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_steered_axle_elsewhere_is_flagged(frames: list[Decoded], order: str) -> None:
    picked = [s for s in frames if steering(s)]
    assert picked
    for s in picked:
        found = wheel_order.angle_order(
            s.meta["ego"], reordered(s.meta, order)["ego"]["wheel_slip"]["angle"],
            wheel_order.vehicle_layout(s.meta["vehicle"]["preset"]),
            wheel_order.WheelOrderConfig())  # fmt: skip
        assert found is not None and found.check == "wheel_order", s.key


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="angle_factor"):
        wheel_order.WheelOrderConfig(angle_factor=0.5)
    with pytest.raises(ValueError, match="ratio_floor"):
        wheel_order.WheelOrderConfig(ratio_floor=-1.0)
