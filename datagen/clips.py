"""Clip samples: T frames of one camera over a window, the window's audio and its story.

``generate --clip-frames T --clip-rate HZ`` simulates ``frames x T`` camera frames per
scenario at ``HZ`` and cuts them into ``frames`` consecutive, non-overlapping clips. Clip
``k`` holds frames ``k*T .. k*T+T-1`` at times ``t0 + (i+1)/HZ`` (i < T): its window is
``(t0, t1]`` with ``t1`` the time of its last frame, the *key frame*, and ``t1 - t0 = T/HZ``,
exactly as a single-frame sample's audio is the ``clip_s`` window ending at its frame. So
clips tile the scenario without gaps or overlaps, and the audio of a clip is the
``T/HZ`` seconds ending at the key frame.

A clip sample is a single-frame sample of its key frame (``rgb.png``, ``depth.npy.gz``,
``seg.png``, ``inst.npy.gz``, ``json.objects``, ``json.camera``, ``json.ego``... all of the
key frame, exact) whose ``audio.flac``, ``json.events``, ``json.audio`` and captions cover
the whole window, plus ``frames.npy.gz`` (T x H x W x 3 uint8, weathered like ``rgb.png``;
``frames[T-1]`` is ``rgb.png``) and ``json.clip`` (per-frame ego states, lead distances and
camera poses). Key: ``{scenario_id:08d}_{camera}_c{clip:05d}``. docs/internals.md ("Clip
samples") has the format and the measured sizes. This module holds the window's metadata
(``json.clip``, the events found in the trace); ``datagen.builder`` composes the samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datagen.plan import ScenarioItem

LANE_HALF_WIDTH_M = 1.75  # a car whose centre is this close to the ego's axis is in its lane
SKID_SLIP = 0.3  # combined slip (datagen.audio.activity.combined_slip) of a skid
SKID_MIN_SPEED_MPS = 2.0
OVERTAKE_MATCH_M = 2.0  # a neighbour moves less than this between two 60 Hz steps
OVERTAKE_LATERAL_M = 8.0
EGO_FIELDS = ("speed_mps", "accel_mps2", "throttle", "brake", "steer", "yaw_rate", "rpm", "gear")


def clip_key(scenario_id: int, camera: str, index: int) -> str:
    return f"{scenario_id:08d}_{camera}_c{index:05d}"


def trace_index(trace: Any, time_s: float) -> int:
    """The control step of the trace recorded at ``time_s`` (a frame's time)."""
    return int(np.argmin(np.abs(np.asarray(trace.t) - time_s)))


def lead_distance(trace: Any, time_s: float) -> float | None:
    """Longitudinal distance (centre to centre, m) to the nearest car ahead in the ego's lane
    at ``time_s``, from the trace's neighbours (ego frame: x forward, y left); None when
    there is none within the trace's neighbour radius."""
    pos = np.asarray(trace.others_pos[trace_index(trace, time_s)])
    ok = np.isfinite(pos[:, 0]) & (pos[:, 0] > 0) & (np.abs(pos[:, 1]) < LANE_HALF_WIDTH_M)
    return float(pos[ok, 0].min()) if ok.any() else None


def skid_events(trace: Any, t0: float, t1: float) -> list[dict]:
    """``skid`` events of the window ``(t0, t1]``: where the combined slip of a wheel rises
    above :data:`SKID_SLIP` while moving (or already is at the window's first step)."""
    from datagen.audio.activity import combined_slip

    t = np.asarray(trace.t)
    inside = np.flatnonzero((t > t0) & (t <= t1))
    if inside.size == 0:
        return []
    slip = combined_slip(trace)
    skidding = (slip > SKID_SLIP) & (np.asarray(trace.speed_mps) > SKID_MIN_SPEED_MPS)
    ratio = np.nan_to_num(np.asarray(trace.slip_ratio, dtype=np.float64))
    angle = np.nan_to_num(np.asarray(trace.slip_angle, dtype=np.float64))
    per_wheel = np.hypot(ratio, np.sin(angle))
    events = []
    for k in inside:
        if skidding[k] and (k == inside[0] or not skidding[k - 1]):
            events.append({"type": "skid", "time_s": float(t[k]),
                           "wheel": int(np.argmax(per_wheel[k]))})  # fmt: skip
    return events


def overtake_events(trace: Any, t0: float, t1: float) -> list[dict]:
    """``overtake`` events of the window ``(t0, t1]``: a car going the ego's way passes
    from ahead of the ego to behind it (its longitudinal position in the ego frame changes
    sign between two control steps; cars are matched between steps by position)."""
    t = np.asarray(trace.t)
    pos, vel = np.asarray(trace.others_pos), np.asarray(trace.others_vel)
    events = []
    for k in np.flatnonzero((t > t0) & (t <= t1)):
        if k == 0:
            continue
        before, now = pos[k - 1], pos[k]
        for j in np.flatnonzero(np.isfinite(now[:, 0])):
            d = np.hypot(before[:, 0] - now[j, 0], before[:, 1] - now[j, 1])
            d = np.where(np.isfinite(d), d, np.inf)
            i = int(np.argmin(d))
            if (
                d[i] < OVERTAKE_MATCH_M
                and before[i, 0] >= 0 > now[j, 0]
                and abs(now[j, 1]) < OVERTAKE_LATERAL_M
                and vel[k, j, 0] > 0.5
            ):
                events.append({"type": "overtake", "time_s": float(t[k]),
                               "lateral_m": float(now[j, 1])})  # fmt: skip
    return events


def window_events(trace: Any, t0: float, t1: float) -> list[dict]:
    """The events of ``(t0, t1]``: the trace's own (crash, gear_shift, thunder) and the skids
    and overtakes found in it, in time order."""
    own = [dict(e) for e in trace.events if t0 < e["time_s"] <= t1]
    found = skid_events(trace, t0, t1) + overtake_events(trace, t0, t1)
    return sorted(own + found, key=lambda e: (e["time_s"], e["type"]))


def clip_block(item: ScenarioItem, index: int, frames: list, camera: str, trace: Any) -> dict:
    """``json.clip``: the window, its frames, per-frame ego states, lead distances and the
    camera's poses."""
    rate, n = float(item.clip_rate), len(frames)
    t1 = float(frames[-1].time_s)
    ego = {name: [f.ego[name] for f in frames] for name in EGO_FIELDS}
    ego["gear"] = [int(g) for g in ego["gear"]]
    ego["lateral_offset_m"] = [float(f.road["lateral_offset_m"]) for f in frames]
    # the road's curvature ahead at every frame (the key frame's is json.road's): QC judges
    # the key frame's against its own clip's frames, 1 / rate apart, not against the other
    # clips' key frames, seconds and tens of metres of road away
    ego["curvature_ahead"] = [float(f.road["curvature_ahead"]) for f in frames]
    return {
        "index": index, "frames": n, "rate_hz": rate, "key_frame": n - 1,
        "t0": t1 - n / rate, "t1": t1, "duration_s": n / rate,
        "frame_indices": [f.index for f in frames],
        "times_s": [float(f.time_s) for f in frames],
        "file": "frames.npy.gz", "dtype": "uint8", "labels": "key_frame",
        "ego": ego,
        "lead_distance_m": [lead_distance(trace, f.time_s) for f in frames],
        "T_world_cam": [f.renders[camera].camera_json()["T_world_cam"] for f in frames],
    }  # fmt: skip
