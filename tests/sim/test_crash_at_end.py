"""A crash still under way when the simulation ends is emitted (issue 20 x 25: clean clip data
had damage growing in the last window with no crash event, flagged by QC's damage_vs_crash).

A crash episode is emitted only ``EPISODE_GAP_S`` after its contact ends; a scenario whose
simulated time ends during the contact lost the event while its damage was traced."""

from __future__ import annotations

import numpy as np

from sim.scenario import Scenario
from sim.trace import StateTrace
from sim.vehicle.damage import CrashTracker
from sim.vehicle.fleet import VehicleFleet


class _Car:
    def __init__(self) -> None:
        self.events: list[dict] = []


def _fleet_in_contact(impulse_ns: float) -> VehicleFleet:
    """A fleet of one car whose contact started at 3.2 s and is still on at 3.5 s."""
    fleet = VehicleFleet.__new__(VehicleFleet)
    tracker = CrashTracker(threshold_ns=100.0)
    for t in (3.2, 3.3, 3.4, 3.5):
        tracker.add(t, np.array([impulse_ns / 4, 0.0, 0.0, 0.0]))
    fleet._trackers = [tracker]
    fleet.vehicles = [_Car()]
    return fleet


def test_an_open_contact_episode_is_emitted_at_the_end() -> None:
    fleet = _fleet_in_contact(400.0)
    assert fleet._trackers[0].poll(3.5) is None  # still in contact: not yet emitted
    fleet.end_crashes(3.5)
    (event,) = fleet.vehicles[0].events
    assert event["type"] == "crash" and event["time_s"] == 3.2 and event["zone"] == "front"
    fleet.end_crashes(3.6)  # nothing left open: no second event
    assert len(fleet.vehicles[0].events) == 1


def test_a_weak_open_contact_stays_no_crash() -> None:
    fleet = _fleet_in_contact(40.0)  # below the crash threshold, as during the run
    fleet.end_crashes(3.5)
    assert fleet.vehicles[0].events == []


def test_the_scenario_traces_the_crash_when_it_ends() -> None:
    sc = Scenario.__new__(Scenario)
    sc.fleet = _fleet_in_contact(400.0)
    sc.ego = sc.fleet.vehicles[0]
    sc._events_seen = 0
    sc.trace = StateTrace(hz=60.0, precip_type="none")

    class _World:
        time_s = 3.5

    class _Weather:
        @staticmethod
        def thunder_due(time_s: float) -> list[dict]:
            return []

    sc.world, sc.weather = _World(), _Weather()
    sc.end_events()
    assert [(e["type"], e["time_s"]) for e in sc.trace.events] == [("crash", 3.2)]
    sc.fleet = None  # a kinematic ego has no fleet: nothing to end
    sc.end_events()
