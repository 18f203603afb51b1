"""Blame in QC's cross-frame checks (issue 20): when one frame of a scenario is broken the
checks flag that frame, not a clean neighbour; two frames that disagree only with each other
are reported as a pair, flagging neither on their own (datagen/qc/blame.py)."""

from __future__ import annotations

import numpy as np
import pytest

from datagen.qc import sequence_state, temporal
from datagen.qc.blame import Blame, leave_one_out
from datagen.qc.flag import flag
from datagen.qc.report import Finding, QCReport, _resolve, _sequence

SPEED, HZ = 10.0, 5.0


def motion(n: int = 4, **broken: dict) -> list[temporal.FrameSummary]:
    """``n`` frames of a car driving straight at SPEED; ``broken`` maps ``"f<i>"`` to fields
    replaced in frame i."""
    out = []
    for k in range(n):
        t = (k + 1) / HZ
        fields = dict(key=f"s_front_{k:05d}", shard="qc-000000.tar", scenario=("qc", 0, "front"),
                      frame=k, time_s=t, position=np.array([SPEED * t, 0.0, 0.0]), speed=SPEED,
                      accel=0.0, yaw=0.0, yaw_rate=0.0, T=None, damage={}, thumb=None,
                      constants={})  # fmt: skip
        fields.update(broken.get(f"f{k}", {}))
        out.append(temporal.FrameSummary(**fields))
    return out


def flagged(frames: list[temporal.FrameSummary], check: str) -> dict[int, object]:
    cfg = temporal.TemporalConfig()
    return {int(k.rsplit("_", 1)[1]): fl for k, _, fl in temporal.check(frames, cfg)
            if fl.check == check}  # fmt: skip


def test_leave_one_out_singles_out_the_frame_at_odds_with_the_others() -> None:
    assert leave_one_out([(0, 1), (1, 2), (1, 3)]) == Blame((1,), ())
    assert leave_one_out([(3, 0), (3, 1)]) == Blame((3,), ())
    assert leave_one_out([(0, 1)]) == Blame((), ((0, 1),))
    assert leave_one_out([(0, 2), (1, 2), (2, 3), (0, 1)]) == Blame((2,), ((0, 1),))
    assert leave_one_out([]) == Blame()


@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("bad", [0, 1, 2])
def test_a_moved_position_flags_only_that_frame(n: int, bad: int) -> None:
    if bad >= n:
        return
    frames = motion(n)
    frames[bad].position = frames[bad].position + np.array([0.0, 1.5, 0.0])
    assert set(flagged(frames, "motion_speed")) == {bad}


def test_a_wrong_yaw_flags_only_that_frame() -> None:
    frames = motion(4)
    frames[1].yaw = 0.5
    assert set(flagged(frames, "motion_yaw")) == {1}


def test_two_frames_that_disagree_are_reported_as_a_pair() -> None:
    frames = motion(2)
    frames[1].position = frames[1].position + np.array([0.0, 1.5, 0.0])
    found = flagged(frames, "motion_speed")
    assert set(found) == {0, 1}
    for fl in found.values():
        assert fl.unresolved and "frames 0 and 1 disagree" in fl.reason
        assert "no third frame" in fl.reason


def test_damage_blames_the_frame_at_odds_with_the_others() -> None:
    frames = motion(4)
    for k, d in enumerate((0.0, 5.0, 0.0, 0.0)):
        frames[k].damage = {"front": d}
    found = flagged(frames, "damage")
    assert set(found) == {1} and not found[1].unresolved
    assert "frames [2, 3]" in found[1].reason


def panning(frames: list[temporal.FrameSummary]) -> None:
    """Thumbnails that change steadily as the car moves (nearer frames look more alike)."""
    base = np.linspace(0, 200, 8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
    for k, f in enumerate(frames):
        f.thumb = base + 10.0 * k


@pytest.mark.parametrize(("copy", "real"), [(2, 1), (1, 2)])
def test_repeated_image_blames_the_frame_whose_place_it_does_not_fit(copy: int,
                                                                       real: int) -> None:
    frames = motion(4)
    panning(frames)
    frames[copy].thumb = frames[real].thumb.copy()
    found = flagged(frames, "stale_frame")
    assert set(found) == {copy} and not found[copy].unresolved
    assert f"frame {copy} repeats it" in found[copy].reason


def test_repeated_image_is_a_pair_when_places_do_not_tell() -> None:
    frames = motion(4)
    panning(frames)
    frames[0].thumb = frames[1].thumb.copy()  # frames 2 and 3 order both places alike
    found = flagged(frames, "stale_frame")
    assert set(found) == {0, 1}
    assert all(fl.unresolved and "frames 0 and 1" in fl.reason and
               "neither can be singled out" in fl.reason for fl in found.values())


def test_unresolved_pair_flags_only_a_frame_another_check_flags() -> None:
    pair = flag("stale_frame", "images repeat; neither can be singled out", 0.0, "x",
                unresolved=True)  # fmt: skip
    report = QCReport(findings=[Finding("b", "s.tar", "rule", "label_alignment", "off")])
    pending: list[Finding] = []
    report.findings += _sequence([("a", "s.tar", pair), ("b", "s.tar", pair)], pending)
    _resolve(report, pending)
    assert report.flagged == {"s.tar/b"}
    assert [f.check for f in report.findings if f.key == "b"] == ["label_alignment",
                                                                  "stale_frame"]
    assert [f.key for f in report.unresolved] == ["a"]
    assert report.to_json()["unresolved"][0]["key"] == "a"


def clock(times: list[float]) -> list[sequence_state.StateSummary]:
    return [sequence_state.StateSummary(f"s_{k}", "qc-000000.tar", ("qc", "0", "front"), k, t,
                                        (t - 0.5, t), 1, []) for k, t in enumerate(times)]


@pytest.mark.parametrize("bad", [0, 1, 2, 3])
def test_a_scaled_time_flags_only_that_frame(bad: int) -> None:
    """time_s x 60 / 240 on one frame: a second clock through it and a neighbour holds
    three frames loosely; the exact clock of the other three blames it alone."""
    times = [(k + 1) / HZ for k in range(4)]
    times[bad] *= 0.25
    found = sequence_state.check(clock(times), sequence_state.SequenceStateConfig())
    assert [(k, fl.check) for k, _, fl in found] == [(f"s_{bad}", "timeline")]
    assert f"frame {bad} vs" in found[0][2].reason


def test_gear_shift_as_most_frames_list_it() -> None:
    frames = clock([0.2, 0.4, 0.6, 0.8])
    shift = {"type": "gear_shift", "time_s": 0.3, "from": 1, "to": 2}
    for k, f in enumerate(frames):
        f.window = (f.time_s - 0.7, f.time_s)
        f.gear = 1 if k == 0 else 2
        f.events = [dict(shift)] if f.window[0] < 0.3 <= f.window[1] else []
    frames[1].events = [dict(shift, to=3)]  # the first frame to list it lists it wrong
    found = sequence_state.check(frames, sequence_state.SequenceStateConfig())
    assert {k for k, _, fl in found if fl.check == "gear_vs_events"} <= {"s_1"}
