"""Held-out fault set v3: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (docs/design.md, docs/internals.md, datagen/sample.py,
datagen/builder.py, sim/labels.py), without reading QC's rules, its tests or its results, and
never tuned against QC. The faults differ from v1 (faults.py) and v2 (faults_v2.py); the
data-set plumbing (index, targets, shard rewriting, manifest/sidecar/card bookkeeping) is
v2's, imported unchanged. ``inject`` has v2's interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault keeps each file decodable and plausible by itself; metadata that a real pipeline
derives downstream (captions from json, boxes from masks) follows the bug where it would.
Image sizes below are for a 64 px image and scale with the width.

label_geometry
  bbox2d_inclusive          bbox2d x1/y1 written inclusive (x1 - 1, y1 - 1) for every object
                            at least 2 px wide and high (a box-convention mix-up).
  box3d_in_ego_frame        bbox3d_cam centre/corners (and distance_m) in the rig's ego frame
                            (x forward, y left, z up) instead of the OpenCV camera frame.
  box3d_lw_swapped          size [w, l, h] instead of [l, w, h] (world and camera boxes),
                            corners rebuilt from it, for every object with |l - w| > 10 %.
  instance_ids_renumbered   instance ids compacted per frame to 1..n in raster order of first
                            appearance, in inst.npy.gz and json.objects alike (ids no longer
                            stable across the scenario's frames; events keep the old ids).
  seg_stuff_swapped         two "stuff" class ids (sky, road, lane_marking, sidewalk, terrain)
                            exchanged in seg.png (a class table of another version).
  object_depth_feet         depth of the object pixels (instance id > 0) x0.3048: the actors
                            and props pass composited in feet converted as if in metres.
  intrinsics_diagonal_fov   fx and fy (camera and rig) from the field of view taken as the
                            diagonal one: x sqrt(W^2 + H^2) / W (x1.41 for square images).
  pose_opengl_axes          T_world_cam and the rig's T_ego_cam in the OpenGL camera
                            convention (y up, z backward): rotation columns y and z negated.
sensor_render
  rgb_torn_frame            rows below a tear line at 30-70 % of the height from the adjacent
                            frame of the same camera (a buffer swap during read-out).
  rgb_truncated_rows        the bottom 8-30 % of the rows black (a truncated DMA transfer).
  rgb_gamma_missing         linear-light values stored without the sRGB encoding (x^2.2:
                            dark, crushed shadows).
  rgb_white_balance_stuck   white balance stuck on the wrong illuminant: in linear light red
                            x0.55-0.75 and blue x1.3-1.6, or the reverse.
  rgb_row_pitch_shear       a buffer with a row pitch of W + 1..4 px (scaled) read with pitch
                            W: each row starts d px later than the one above, black padding
                            wrapping in (a sheared image).
  rgb_rows_unflipped        rgb upside down (TinyRenderer's row flip not undone); labels
                            upright.
  depth_zbuffer_16bit       depth linearised from a 16-bit non-linear z-buffer (near/far of
                            json.camera): steps of ~0.4 m at 50 m, ~3 m at 150 m.
  depth_no_hit_as_far       pixels that hit nothing stored as the far plane instead of 0.
audio
  audio_rate_mismatch       the clip synthesised at 22.05/24/32/44.1 kHz but stored as 16 kHz
                            (slowed down and lower in pitch by 16 000 / rate; same length).
  audio_saturated           a gain of 4-12 (at least enough to clip 1 % of the samples) and
                            hard clipping at full scale.
  audio_dc_offset           a DC offset of +-0.1-0.3 full scale (a mis-centred converter).
  audio_engine_muted        a moving car's clip replaced by a -80..-70 dBFS noise floor (the
                            mixer bus muted); json.audio.events still list the sounds.
  audio_reversed            the clip time-reversed (a ring buffer read backwards).
  audio_byteswapped         every int16 sample byte-swapped (an endianness bug: loud noise).
  audio_buffer_underrun     3-8 dropouts of 10-40 ms set to zero (buffer underruns).
text_metadata
  sun_azimuth_mirrored      weather.sun_azimuth_deg measured the other way round (360 - az,
                            changed by >= 20 deg); time_of_day and captions follow (dawn <->
                            dusk in twilight).
  precip_type_swapped       weather.precip_type rain/hail <-> snow (an enum off by one); the
                            family and captions follow.
  caption_speed_mph         captions state the speed in mph where they say km/h (x0.62);
                            json.ego.speed_mps stays right. Moving cars (>= 3 m/s) only.
  seed_off_by_one           json.seed derived for scenario_id +- 1 (dataset_seed, split).
  time_s_physics_ticks      time_s counted in 60 Hz control ticks divided by the 240 Hz
                            physics rate (x0.25).
  ego_telemetry_lag         the scalar ego telemetry (speed, accel, yaw rate, steer, pedals,
                            gear, rpm, wheel slip) of the adjacent frame, captions from it;
                            ego pose and velocity current (a lagging CAN read-out).
  road_curvature_sign       road.curvature_ahead negated and shape left <-> right curve (a
                            sign convention); captions follow.
cross_modal
  depth_previous_frame      depth.npy.gz of the adjacent frame of the same camera; rgb, seg,
                            inst current.
  box3d_previous_tick       bbox3d_world, bbox3d_cam and distance_m of each object from the
                            adjacent frame (the 3D exporter reading the previous physics tick);
                            2D labels current.
  pose_one_frame_late       T_world_cam and rig.T_world_ego of the adjacent frame (the rig
                            stays consistent); ego.position current.
  instances_culled_far      objects beyond a cut of 40 m .. the farthest object's distance
                            gone from inst.npy.gz and json.objects (an instance pass with a
                            shorter far plane); seg.png keeps them; captions from the objects.
  class_enum_shift          every object of one class labelled with the next instance class
                            (vehicle, pedestrian, barrier, building, vegetation, pole, cyclic)
                            in json and seg.png alike; captions follow.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from datagen.plan import scenario_seed
from datagen.sample import (
    DEPTH_FILE,
    INST_FILE,
    KEY_FIELD,
    SEG_FILE,
    Sample,
    decode_sample,
    encode_flac,
)
from qc_heldout.faults_v2 import (
    JSON_FILE,
    TXT_FILE,
    Entry,
    Target,
    changed_members,
    copy_extras,
    flat,
    group_samples,
    linear,
    matrix,
    r,
    read_index,
    read_members,
    rederive_weather,
    regenerate_captions,
    rewrite_shard,
    rig_camera,
    set_extrinsics,
    to_float,
    to_uint8,
    update_bookkeeping,
    update_card,
)
from sim.classes import CLASS_IDS
from sim.labels import box_corners

CLASSES = ("label_geometry", "sensor_render", "audio", "text_metadata", "cross_modal")
AUDIO_FILE, RGB = "audio.flac", "rgb"
SEED_TAG = 0x5EED_F3  # separates this module's draws from v2's for the same seed
STUFF = ("sky", "road", "lane_marking", "sidewalk", "terrain")
THING_CYCLE = ("vehicle", "pedestrian", "barrier", "building", "vegetation", "pole")
TELEMETRY = ("speed_mps", "accel_mps2", "yaw_rate", "steer", "throttle", "brake", "gear", "rpm",
             "wheel_slip")  # fmt: skip
MPH_AS_KMH = 2.23694 / 3.6
PRECIP = ("rain", "hail", "snow")

FaultFn = Callable[[Target], "dict | None"]
REGISTRY: dict[str, tuple[str, tuple[str, ...], FaultFn]] = {}


def fault(cls: str, *touches: str) -> Callable[[FaultFn], FaultFn]:
    """Register a fault of class ``cls`` that may rewrite the members ``touches``. A fault
    returns its parameters, or None when it does not apply to the sample."""
    assert cls in CLASSES

    def register(fn: FaultFn) -> FaultFn:
        REGISTRY[fn.__name__] = (cls, touches, fn)
        return fn

    return register


# ---------------------------------------------------------------- helpers


@lru_cache(maxsize=4)
def shard_samples(shard: Path) -> dict[str, dict[str, bytes]]:
    return group_samples(read_members(shard))


def decoded(entry: Entry) -> Sample:
    return decode_sample({KEY_FIELD: entry.key, **shard_samples(entry.shard)[entry.key]})


def adjacent(t: Target) -> Entry | None:
    """The previous frame of the same camera, or the next one for the first frame."""
    return t.neighbour(-1) or t.neighbour(1)


def put_audio(t: Target, audio: np.ndarray) -> None:
    t.files[AUDIO_FILE] = encode_flac(np.asarray(audio, np.float32), t.sample.sample_rate)


def put_captions(t: Target, meta: dict, source: dict) -> None:
    """Store ``meta`` with captions generated from ``source`` (another version of it)."""
    meta["captions"] = regenerate_captions(source)
    t.files[TXT_FILE] = meta["captions"][0]["text"].encode("utf-8")
    t.put_meta(meta, recaption=False)


def cam_box(center: Sequence[float], size: Sequence[float], yaw: float,
            T_world_frame: np.ndarray) -> dict:  # fmt: skip
    """bbox3d_cam and distance_m of a world box expressed in the frame ``T_world_frame``."""
    T = np.linalg.inv(T_world_frame)
    R, tr = T[:3, :3], T[:3, 3]
    c = np.asarray(center, np.float64)
    corners = box_corners(c[None], np.asarray([size], np.float64), np.array([yaw]))[0]
    cc = c @ R.T + tr
    return {"center": flat(cc), "size": [float(v) for v in size],
            "corners": [flat(p) for p in corners @ R.T + tr],
            "dist": float(np.linalg.norm(cc))}  # fmt: skip


def set_cam_box(obj: dict, box: dict) -> None:
    obj["distance_m"] = box.pop("dist")
    obj["bbox3d_cam"] = box


# ---------------------------------------------------------------- label_geometry


@fault("label_geometry", JSON_FILE)
def bbox2d_inclusive(t: Target) -> dict | None:
    meta, n = t.meta, 0
    for o in meta["objects"]:
        x0, y0, x1, y1 = o["bbox2d"]
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            o["bbox2d"], n = [x0, y0, x1 - 1, y1 - 1], n + 1
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"objects": n}


@fault("label_geometry", JSON_FILE)
def box3d_in_ego_frame(t: Target) -> dict | None:
    meta = t.meta
    if not meta.get("rig") or not meta["objects"]:
        return None
    T_world_ego = matrix(meta["rig"]["T_world_ego"])
    for o in meta["objects"]:
        w = o["bbox3d_world"]
        set_cam_box(o, cam_box(w["center"], w["size"], w["yaw"], T_world_ego))
    t.put_meta(meta, recaption=False)
    return {"objects": len(meta["objects"])}


@fault("label_geometry", JSON_FILE)
def box3d_lw_swapped(t: Target) -> dict | None:
    meta, n = t.meta, 0
    T_world_cam = matrix(meta["camera"]["T_world_cam"])
    for o in meta["objects"]:
        w = o["bbox3d_world"]
        l, wd, h = w["size"]
        if abs(l - wd) <= 0.1 * max(l, wd):
            continue
        w["size"] = [wd, l, h]
        set_cam_box(o, cam_box(w["center"], w["size"], w["yaw"], T_world_cam))
        n += 1
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"objects": n}


@fault("label_geometry", INST_FILE, JSON_FILE)
def instance_ids_renumbered(t: Target) -> dict | None:
    inst = t.sample.inst
    flat_ids = inst.ravel()
    ids, first = np.unique(flat_ids, return_index=True)
    order = [int(i) for i in ids[np.argsort(first)] if i != 0]
    new = {old: k + 1 for k, old in enumerate(order)}
    if all(old == k for old, k in new.items()):
        new = {old: len(order) - k for k, old in enumerate(order)}
    if all(old == k for old, k in new.items()):
        return None
    lut = np.zeros(int(flat_ids.max()) + 1, np.uint16)
    for old, k in new.items():
        lut[old] = k
    meta = t.meta
    for o in meta["objects"]:
        o["instance_id"] = new.get(o["instance_id"], o["instance_id"])
    t.put_labels(inst=lut[inst])
    t.put_meta(meta, recaption=False)
    return {"ids": len(new)}


@fault("label_geometry", SEG_FILE)
def seg_stuff_swapped(t: Target) -> dict | None:
    seg = t.sample.seg
    share = {c: float(np.mean(seg == CLASS_IDS[c])) for c in STUFF}
    pairs = [(a, b) for i, a in enumerate(STUFF) for b in STUFF[i + 1:]
             if share[a] >= 0.01 and share[b] >= 0.01]  # fmt: skip
    if not pairs:
        return None
    a, b = pairs[int(t.rng.integers(len(pairs)))]
    out = seg.copy()
    out[seg == CLASS_IDS[a]], out[seg == CLASS_IDS[b]] = CLASS_IDS[b], CLASS_IDS[a]
    t.put_labels(seg=out)
    return {"swapped": [a, b]}


@fault("label_geometry", DEPTH_FILE)
def object_depth_feet(t: Target) -> dict | None:
    depth = t.sample.depth
    mask = (t.sample.inst > 0) & (depth > 0)
    if not mask.any():
        return None
    out = depth.copy()
    out[mask] = (depth[mask].astype(np.float64) * 0.3048).astype(np.float32)
    t.put_labels(depth=out)
    return {"pixels": int(mask.sum())}


@fault("label_geometry", JSON_FILE)
def intrinsics_diagonal_fov(t: Target) -> dict | None:
    meta = t.meta
    cam = meta["camera"]
    factor = math.hypot(cam["width"], cam["height"]) / cam["width"]
    for holder in filter(None, (cam, rig_camera(meta))):
        holder["fx"], holder["fy"] = holder["fx"] * factor, holder["fy"] * factor
    t.put_meta(meta, recaption=False)
    return {"factor": r(factor)}


@fault("label_geometry", JSON_FILE)
def pose_opengl_axes(t: Target) -> dict | None:
    meta = t.meta
    gl = np.diag([1.0, -1.0, -1.0, 1.0])
    cam = rig_camera(meta)
    if cam is not None:
        set_extrinsics(meta, matrix(cam["T_ego_cam"]) @ gl)
    else:
        meta["camera"]["T_world_cam"] = flat(matrix(meta["camera"]["T_world_cam"]) @ gl)
    t.put_meta(meta, recaption=False)
    return {"rig": cam is not None}


# ---------------------------------------------------------------- sensor_render


@fault("sensor_render", RGB)
def rgb_torn_frame(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    rgb, other = t.sample.rgb, decoded(donor).rgb
    row = int(round(rgb.shape[0] * float(t.rng.uniform(0.3, 0.7))))
    if np.array_equal(rgb[row:], other[row:]):
        return None
    out = rgb.copy()
    out[row:] = other[row:]
    t.put_rgb(out)
    return {"tear_row": row, "rows_of_frame": int(donor.meta["frame"])}


@fault("sensor_render", RGB)
def rgb_truncated_rows(t: Target) -> dict | None:
    rgb = t.sample.rgb
    k = max(1, int(round(rgb.shape[0] * float(t.rng.uniform(0.08, 0.3)))))
    if not rgb[-k:].any():
        return None
    out = rgb.copy()
    out[-k:] = 0
    t.put_rgb(out)
    return {"black_rows": k}


@fault("sensor_render", RGB)
def rgb_gamma_missing(t: Target) -> dict | None:
    t.put_rgb(to_uint8(linear(to_float(t.sample.rgb))))
    return {"exponent": 2.2}


@fault("sensor_render", RGB)
def rgb_white_balance_stuck(t: Target) -> dict | None:
    warm, cool = float(t.rng.uniform(0.55, 0.75)), float(t.rng.uniform(1.3, 1.6))
    gains = np.array([warm, 1.0, cool] if t.rng.random() < 0.5 else [cool, 1.0, warm])
    lin = linear(to_float(t.sample.rgb)) * gains
    t.put_rgb(to_uint8(np.power(np.clip(lin, 0.0, 1.0), 1.0 / 2.2)))
    return {"gains_rgb": [r(g, 3) for g in gains]}


@fault("sensor_render", RGB)
def rgb_row_pitch_shear(t: Target) -> dict | None:
    rgb = t.sample.rgb
    h, w = rgb.shape[:2]
    d = int(t.rng.integers(1, max(1, w // 16) + 1))
    padded = np.zeros((h, w + d, 3), np.uint8)
    padded[:, :w] = rgb
    t.put_rgb(padded.reshape(-1, 3)[: h * w].reshape(h, w, 3))
    return {"pitch_padding_px": d}


@fault("sensor_render", RGB)
def rgb_rows_unflipped(t: Target) -> dict | None:
    rgb = t.sample.rgb
    if np.array_equal(rgb, rgb[::-1]):
        return None
    t.put_rgb(rgb[::-1])
    return {}


@fault("sensor_render", DEPTH_FILE)
def depth_zbuffer_16bit(t: Target) -> dict | None:
    cam, d = t.sample.meta["camera"], t.sample.depth.astype(np.float64)
    near, far = float(cam["near"]), float(cam["far"])
    hit = d > 0
    zb = np.zeros_like(d)
    zb[hit] = far * (d[hit] - near) / (d[hit] * (far - near))
    q = np.round(np.clip(zb, 0.0, 1.0) * 65535.0) / 65535.0
    out = np.where(hit, near * far / (far - q * (far - near)), 0.0)
    out = np.where(hit, np.clip(out, near, far), 0.0).astype(np.float32)
    if np.array_equal(out, t.sample.depth):
        return None
    t.put_labels(depth=out)
    return {"bits": 16}


@fault("sensor_render", DEPTH_FILE)
def depth_no_hit_as_far(t: Target) -> dict | None:
    depth = t.sample.depth
    far = float(t.sample.meta["camera"]["depth"].get("max_m", t.sample.meta["camera"]["far"]))
    miss = depth == 0
    if not miss.any():
        return None
    t.put_labels(depth=np.where(miss, np.float32(far), depth).astype(np.float32))
    return {"pixels": int(miss.sum()), "far_m": far}


# ---------------------------------------------------------------- audio


def audible(a: np.ndarray) -> bool:
    return a.size > 0 and float(np.max(np.abs(a))) > 1e-3


@fault("audio", AUDIO_FILE)
def audio_rate_mismatch(t: Target) -> dict | None:
    a = t.sample.audio
    if not audible(a):
        return None
    rate = int(t.rng.choice([22050, 24000, 32000, 44100]))
    n, stored = a.size, t.sample.sample_rate
    pos = n - (n - np.arange(n)) * stored / rate
    put_audio(t, np.interp(pos, np.arange(n), a))
    return {"synth_rate": rate}


@fault("audio", AUDIO_FILE)
def audio_saturated(t: Target) -> dict | None:
    a = t.sample.audio
    if not audible(a):
        return None
    gain = max(float(t.rng.uniform(4.0, 12.0)), 1.0 / float(np.quantile(np.abs(a), 0.99)))
    put_audio(t, np.clip(a * gain, -1.0, 1.0))
    return {"gain": r(gain, 2)}


@fault("audio", AUDIO_FILE)
def audio_dc_offset(t: Target) -> dict | None:
    off = float(t.rng.uniform(0.1, 0.3)) * (1.0 if t.rng.random() < 0.5 else -1.0)
    put_audio(t, np.clip(t.sample.audio + off, -1.0, 1.0))
    return {"offset": r(off, 3)}


@fault("audio", AUDIO_FILE)
def audio_engine_muted(t: Target) -> dict | None:
    a = t.sample.audio
    if abs(float(t.sample.meta["ego"]["speed_mps"])) < 2.0 or not audible(a):
        return None
    dbfs = float(t.rng.uniform(-80.0, -70.0))
    put_audio(t, t.rng.normal(0.0, 10 ** (dbfs / 20), a.size))
    return {"noise_dbfs": r(dbfs, 1)}


@fault("audio", AUDIO_FILE)
def audio_reversed(t: Target) -> dict | None:
    a = t.sample.audio
    if not audible(a) or np.array_equal(a, a[::-1]):
        return None
    put_audio(t, a[::-1])
    return {}


@fault("audio", AUDIO_FILE)
def audio_byteswapped(t: Target) -> dict | None:
    a = t.sample.audio
    if not audible(a):
        return None
    pcm = np.round(np.clip(a, -1.0, 1.0) * 32767.0).astype("<i2")
    put_audio(t, pcm.byteswap().astype(np.float64) / 32767.0)
    return {}


@fault("audio", AUDIO_FILE)
def audio_buffer_underrun(t: Target) -> dict | None:
    a, rate = t.sample.audio.copy(), t.sample.sample_rate
    if not audible(a):
        return None
    gaps = []
    for _ in range(int(t.rng.integers(3, 9))):
        n = int(rate * float(t.rng.uniform(0.01, 0.04)))
        start = int(t.rng.integers(0, max(1, a.size - n)))
        a[start : start + n] = 0.0
        gaps.append([start, n])
    put_audio(t, a)
    return {"gaps": gaps}


# ---------------------------------------------------------------- text_metadata


@fault("text_metadata", JSON_FILE, TXT_FILE)
def sun_azimuth_mirrored(t: Target) -> dict | None:
    meta = t.meta
    az = float(meta["weather"]["sun_azimuth_deg"])
    new = (360.0 - az) % 360.0
    if abs((new - az + 180.0) % 360.0 - 180.0) < 20.0:
        return None
    meta["weather"] = rederive_weather({**meta["weather"], "sun_azimuth_deg": new})
    t.put_meta(meta)
    return {"azimuth": [r(az, 2), r(new, 2)], "time_of_day": meta["weather"]["time_of_day"]}


@fault("text_metadata", JSON_FILE, TXT_FILE)
def precip_type_swapped(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    if w.get("precip_intensity", 0.0) < 0.05 or w.get("precip_type") not in PRECIP:
        return None
    new = "rain" if w["precip_type"] == "snow" else "snow"
    meta["weather"] = rederive_weather({**w, "precip_type": new})
    t.put_meta(meta)
    return {"precip_type": [w["precip_type"], new], "family": meta["weather"]["family"]}


@fault("text_metadata", JSON_FILE, TXT_FILE)
def caption_speed_mph(t: Target) -> dict | None:
    meta = t.meta
    if abs(float(meta["ego"]["speed_mps"])) < 3.0:
        return None
    source = copy.deepcopy(meta)
    source["ego"]["speed_mps"] = meta["ego"]["speed_mps"] * MPH_AS_KMH
    put_captions(t, meta, source)
    if meta["captions"] == t.sample.meta["captions"]:
        return None
    return {"factor": r(MPH_AS_KMH)}


@fault("text_metadata", JSON_FILE)
def seed_off_by_one(t: Target) -> dict | None:
    meta = t.meta
    sid = int(meta["scenario_id"])
    step = 1 if sid == 0 or t.rng.random() < 0.5 else -1
    new = scenario_seed(int(meta["dataset_seed"]), str(meta["split"]), sid + step)
    if new == meta["seed"]:
        return None
    meta["seed"] = new
    t.put_meta(meta, recaption=False)
    return {"seed_of_scenario": sid + step}


@fault("text_metadata", JSON_FILE)
def time_s_physics_ticks(t: Target) -> dict | None:
    meta = t.meta
    if float(meta["time_s"]) <= 0:
        return None
    meta["time_s"] = float(meta["time_s"]) * 60.0 / 240.0
    t.put_meta(meta, recaption=False)
    return {"time_s_written": r(meta["time_s"], 4)}


@fault("text_metadata", JSON_FILE, TXT_FILE)
def ego_telemetry_lag(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    meta = t.meta
    lagged = {k: copy.deepcopy(donor.meta["ego"][k]) for k in TELEMETRY if k in donor.meta["ego"]}
    if all(meta["ego"].get(k) == v for k, v in lagged.items()):
        return None
    meta["ego"].update(lagged)
    t.put_meta(meta)
    return {"telemetry_of_frame": int(donor.meta["frame"])}


@fault("text_metadata", JSON_FILE, TXT_FILE)
def road_curvature_sign(t: Target) -> dict | None:
    meta = t.meta
    road = meta["road"]
    flip = {"left_curve": "right_curve", "right_curve": "left_curve"}
    if road["shape"] not in flip:
        return None
    road["shape"], road["curvature_ahead"] = flip[road["shape"]], -road["curvature_ahead"]
    t.put_meta(meta)
    return {"shape_written": road["shape"]}


# ---------------------------------------------------------------- cross_modal


@fault("cross_modal", DEPTH_FILE)
def depth_previous_frame(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    depth = decoded(donor).depth
    if np.array_equal(depth, t.sample.depth):
        return None
    t.put_labels(depth=depth)
    return {"depth_of_frame": int(donor.meta["frame"])}


@fault("cross_modal", JSON_FILE)
def box3d_previous_tick(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    theirs = {o["instance_id"]: o for o in donor.meta["objects"]}
    meta, n = t.meta, 0
    for o in meta["objects"]:
        old = theirs.get(o["instance_id"])
        if old is not None and old["bbox3d_cam"] != o["bbox3d_cam"]:
            for k in ("bbox3d_world", "bbox3d_cam", "distance_m"):
                o[k] = copy.deepcopy(old[k])
            n += 1
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"objects": n, "boxes_of_frame": int(donor.meta["frame"])}


@fault("cross_modal", JSON_FILE)
def pose_one_frame_late(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    meta = t.meta
    old = matrix(meta["camera"]["T_world_cam"])
    meta["camera"]["T_world_cam"] = list(donor.meta["camera"]["T_world_cam"])
    if meta.get("rig") and donor.meta.get("rig"):
        meta["rig"]["T_world_ego"] = list(donor.meta["rig"]["T_world_ego"])
    moved = float(np.linalg.norm(matrix(meta["camera"]["T_world_cam"])[:3, 3] - old[:3, 3]))
    if moved < 0.05:
        return None
    t.put_meta(meta, recaption=False)
    return {"moved_m": r(moved, 3), "pose_of_frame": int(donor.meta["frame"])}


@fault("cross_modal", INST_FILE, JSON_FILE, TXT_FILE)
def instances_culled_far(t: Target) -> dict | None:
    meta = t.meta
    farthest = max((float(o["distance_m"]) for o in meta["objects"]), default=0.0)
    if farthest <= 40.0:
        return None
    cut = float(t.rng.uniform(40.0, farthest))
    gone = [o["instance_id"] for o in meta["objects"] if o["distance_m"] > cut]
    meta["objects"] = [o for o in meta["objects"] if o["distance_m"] <= cut]
    inst = t.sample.inst.copy()
    inst[np.isin(inst, gone)] = 0
    t.put_labels(inst=inst)
    t.put_meta(meta)
    return {"cut_m": r(cut, 2), "culled": len(gone)}


@fault("cross_modal", SEG_FILE, JSON_FILE, TXT_FILE)
def class_enum_shift(t: Target) -> dict | None:
    meta = t.meta
    present = sorted({o["class"] for o in meta["objects"]} & set(THING_CYCLE))
    if not present:
        return None
    old = present[int(t.rng.integers(len(present)))]
    new = THING_CYCLE[(THING_CYCLE.index(old) + 1) % len(THING_CYCLE)]
    ids = [o["instance_id"] for o in meta["objects"] if o["class"] == old]
    for o in meta["objects"]:
        if o["class"] == old:
            o["class"] = new
    seg = t.sample.seg.copy()
    seg[np.isin(t.sample.inst, ids)] = CLASS_IDS[new]
    t.put_labels(seg=seg)
    t.put_meta(meta)
    return {"class": [old, new], "objects": len(ids)}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying


def sample_rng(seed: int, sid: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, SEED_TAG, zlib.crc32(sid.encode())]))


Broken = tuple[str, dict, dict[str, bytes]]  # fault name, its parameters, the new members


def apply_fault(name: str, target: Target) -> Target | None:
    """``target`` with fault ``name`` applied (params in ``target.params``), or None when the
    fault does not apply or would change nothing."""
    before = dict(target.files)
    params = REGISTRY[name][2](target)
    if params is None or not changed_members(before, target.files):
        return None
    target.params = params
    return target


def break_sample(entry: Entry, files: dict[str, bytes], scene: list[Entry], index: list[Entry],
                 seed: int, pool: Sequence[str]) -> Broken | None:  # fmt: skip
    """One fault applied to a sample: a class drawn uniformly, then a fault of it; the next
    one in the draw when a fault does not apply."""
    rng = sample_rng(seed, entry.sid)
    classes = [c for c in CLASSES if any(FAULTS[n] == c for n in pool)]
    for ci in rng.permutation(len(classes)):
        names = [n for n in pool if FAULTS[n] == classes[ci]]
        for ni in rng.permutation(len(names)):
            target = apply_fault(names[ni], Target(entry, dict(files), scene, index, rng))
            if target is not None:
                return names[ni], target.params, target.files
    return None


def scenes_of(index: list[Entry]) -> dict[tuple[str, tuple[int, str]], list[Entry]]:
    """The samples of each (shard, scenario, camera), in frame order."""
    scenes: dict[tuple[str, tuple[int, str]], list[Entry]] = {}
    for e in index:
        scenes.setdefault((e.shard.name, e.scene), []).append(e)
    for scene in scenes.values():
        scene.sort(key=lambda e: int(e.meta["frame"]))
    return scenes


def choose(index: list[Entry], fraction: float, seed: int) -> set[str]:
    n = min(len(index), max(1, round(fraction * len(index)))) if fraction > 0 else 0
    rng = np.random.default_rng(np.random.SeedSequence([seed, SEED_TAG]))
    return {index[i].sid for i in rng.choice(len(index), size=n, replace=False)}


def check_args(src: Path, dst: Path, fraction: float, pool: Sequence[str]) -> list[Path]:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    unknown = sorted(set(pool) - set(FAULTS))
    if unknown or not pool:
        raise ValueError(f"unknown faults {unknown}; known: {sorted(FAULTS)}")
    shards = sorted(src.glob("*.tar"))
    if not shards:
        raise FileNotFoundError(f"{src} holds no shards (*.tar)")
    if dst.exists() and any(dst.iterdir()):
        raise FileExistsError(f"{dst} exists and is not empty")
    return shards


def break_shard(shard: Path, dst: Path, mine: list[Entry], scenes: dict, index: list[Entry],
                seed: int, pool: Sequence[str]) -> dict[str, dict]:  # fmt: skip
    """``shard`` copied to ``dst`` with the samples ``mine`` broken; their ground truth."""
    samples = shard_samples(shard) if mine else {}
    replaced: dict[str, bytes] = {}
    truth: dict[str, dict] = {}
    for e in mine:
        files = samples[e.key]
        done = break_sample(e, files, scenes[(shard.name, e.scene)], index, seed, pool)
        if done is None:
            continue
        name, params, new = done
        changed = changed_members(files, new)
        replaced.update({f"{e.key}.{ext}": new[ext] for ext in changed})
        truth[e.sid] = {"class": FAULTS[name], "fault": name, "params": params, "files": changed}
    if replaced:
        rewrite_shard(shard, dst / shard.name, replaced)
    else:
        shutil.copyfile(shard, dst / shard.name)
    return truth


def inject(src_dir: Path, dst_dir: Path, fraction: float, seed: int, *,
           faults: Sequence[str] | None = None,
           truth_path: Path | None = None) -> dict:  # fmt: skip
    """Copy the data set ``src_dir`` to ``dst_dir`` (new or empty) with about ``fraction`` of
    its samples broken, one fault each; return the ground truth (also written to
    ``truth_path`` when given). ``faults`` restricts the draw to those fault names."""
    src, dst = Path(src_dir), Path(dst_dir)
    pool = list(FAULTS if faults is None else faults)
    shards = check_args(src, dst, fraction, pool)
    index = read_index(shards)
    scenes, chosen = scenes_of(index), choose(index, fraction, seed)
    dst.mkdir(parents=True, exist_ok=True)
    copy_extras(src, dst)
    truth: dict[str, dict] = {}
    rewritten = []
    for shard in shards:
        mine = [e for e in index if e.shard == shard and e.sid in chosen]
        broken = break_shard(shard, dst, mine, scenes, index, seed, pool)
        truth.update(broken)
        rewritten += [shard.name] if broken else []
    shard_samples.cache_clear()
    update_bookkeeping(dst, rewritten)
    update_card(src, dst)
    result = {"version": "faults_v3", "source": str(src), "seed": seed, "fraction": fraction,
              "samples": len(index), "classes": list(CLASSES), "faults": truth}  # fmt: skip
    if truth_path is not None:
        Path(truth_path).write_text(json.dumps(result, indent=2, sort_keys=True))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Inject the v3 held-out faults into a copy "
                                                 "of a data set.")  # fmt: skip
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truth", type=Path, help="where to write the ground truth json")
    args = parser.parse_args(argv)
    result = inject(args.src, args.dst, args.fraction, args.seed, truth_path=args.truth)
    by_fault: dict[str, int] = {}
    for f in result["faults"].values():
        by_fault[f["fault"]] = by_fault.get(f["fault"], 0) + 1
    print(f"{len(result['faults'])} of {result['samples']} samples broken: {by_fault}")


if __name__ == "__main__":
    main()
