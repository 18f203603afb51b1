"""Held-out fault set v8: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (README.md's schema section, docs/internals.md,
datagen/schema.py, datagen/sample.py, sim/road.py and sim/weather/ for what the road and
weather fields mean, and generated shards), without reading QC's rules, its tests or its
results, and never tuned against QC. The plumbing (index, targets, shard rewriting,
manifest/sidecar/card bookkeeping, the class-then-fault draw) is v2's-v7's, reused unchanged;
``inject`` has their interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault mimics one plausible bug, keeps each file decodable, and draws its magnitude (or
its variant) from the seed where the bug has one. Camera degradations apply to every frame of
a clip sample as well, so the key frame stays equal to ``rgb.png``. Every fault applies to
single-frame samples; the few that rewrite the image geometry or a frame's whole record do
not apply to clip samples. Image sizes are for a 64 px image and scale with the width.

No fault repeats a mechanism of v1 (faults.py), v2, v3, v4, v5, v6 or v7. Closest earlier
fault where a symptom is shared: labels_camera_roll (v5 label_pass_zoomed),
depth_actor_free_pass (v4 depth_edge_blended), bbox2d_from_class_mask (v4 bbox2d_amodal),
objects_list_capped (v7 objects_border_truncated_dropped), inst_none_as_max (v5
inst_ids_offset), bbox2d_half_resolution (v6 bbox2d_padded), labels_parallax_other_mount (v2
label_pass_offset), rgb_sky_layer_other_scenario (v1 rgb_other), rgb_object_layer_previous_frame
(v4 rgb_field_interlaced), json_record_one_frame_behind (v3 ego_telemetry_lag),
arrays_one_frame_behind_json (v2 label_buffer_lag), sun_position_other_scenario (v6
weather_block_other_scenario), box3d_table_previous_scenario (v3 box3d_previous_tick),
vehicle_preset_other_scenario (v4 driver_style_other_scenario), images_cropped_intrinsics_stale
(v2 intrinsics_other_size), pose_local_origin (v2 ego_pose_jump), ego_frame_y_forward (v6
ego_yaw_compass_heading), road_lateral_offset_lane_relative (v3 road_curvature_sign),
sun_azimuth_radians (v3 sun_azimuth_mirrored), speed_limit_kmh (v2 speed_unit),
yaw_rate_per_tick (v2 yaw_rate_degrees), steer_wheel_angle_degrees (v5
steer_sign_convention), rgb_image_circle_clipped (v2 vignetting), rgb_filter_double_image (v5
rgb_temporal_ghost), rgb_green_imbalance_checker (v5 rgb_bayer_phase_wrong), rgb_dead_columns
(v1 dead_pixels), rgb_gamma_doubled (v3 rgb_gamma_missing), rgb_line_sync_jitter (v3
rgb_row_pitch_shear), audio_housing_resonance (v4 audio_lowpass_wrong_cutoff),
audio_gain_attenuated (v3 audio_engine_muted), weather_phantom_snow_cover (v6
weather_road_dry), captions_time_of_day_default (v4 time_of_day_clock_offset),
road_kind_default (v6 road_shape_mislabelled), road_lanes_per_direction (v6
road_shape_mislabelled), time_s_warmup_offset (v3 time_s_physics_ticks),
ego_speed_wheel_dropout (v1 speed_wrong), ego_altitude_datum (v2
ego_pose_jump).

label_misalignment (labels out of alignment with the image)
  labels_camera_roll        seg, inst and depth rendered with a camera rolled 3-7 deg (either
                            way) about the principal point (a roll correction applied to the
                            colour pass only); boxes follow the rotated mask.
  depth_actor_free_pass     depth from a pass without the actors (vehicles, pedestrians) or
                            without any instance object: their pixels hold the surrounding
                            background's depth; seg, inst and json current.
  bbox2d_from_class_mask    bbox2d (and in one variant visible_px) from the semantic mask of
                            the object's class (every object of the class together) instead of
                            its instance mask.
  objects_list_capped       json.objects cut to the first 4, 6 or 8 records (a fixed-size array
                            in the exporter); the masks keep every object; captions follow.
  inst_none_as_max          inst.npy.gz's "none" written as 65535 (a signed -1) or 255 (an
                            8-bit -1 widened) instead of 0.
  bbox2d_half_resolution    bbox2d (and in one variant visible_px) from the instance mask of
                            the half-resolution label mip, its coordinates never scaled back.
  labels_parallax_other_mount  seg, inst and depth rendered from a camera 0.2-0.5 m to the side
                            (another mount's extrinsics): near things shift by fx B / z px,
                            the sky not at all; boxes follow.
stale_swapped (a frame, a layer or part of the json of another sample or time)
  rgb_sky_layer_other_scenario  the sky pixels of rgb from another scenario's image with
                            another time of day or weather family (a cached sky layer).
  rgb_object_layer_previous_frame  the instance objects' layer of rgb composited from the
                            previous frame (where the previous frame had object pixels).
  json_record_one_frame_behind  json (and txt) of the previous frame of the same camera with
                            the current frame number and time (a metadata queue one behind).
  arrays_one_frame_behind_json  rgb, depth, seg and inst of the previous frame of the same
                            camera; json, txt and audio current (an image queue one behind).
  sun_position_other_scenario  weather.sun_altitude_deg and sun_azimuth_deg of another
                            scenario with another time of day (a sun cache keyed by the map);
                            time_of_day and captions follow.
  box3d_table_previous_scenario  bbox3d_world of every object whose instance id was also used in
                            the previous scenario from that scenario (a box table keyed by id
                            not cleared); camera boxes and distances follow; captions too.
  vehicle_preset_other_scenario  json.vehicle of another scenario with another preset (a
                            vehicle spec cached in a worker).
unit_calibration (depth scale, intrinsics, pose, units)
  images_cropped_intrinsics_stale  rgb, seg, inst and depth centre-cropped by 1.12-1.35 and
                            resized back (an augmentation stage) while fx, fy, cx, cy stay;
                            boxes follow the cropped mask.
  pose_local_origin         T_world_cam and rig.T_world_ego translations relative to the
                            scenario's first ego position (a local origin; xy, or xyz);
                            ego.position and the objects' world boxes in world coordinates.
  ego_frame_y_forward       rig.T_world_ego in a vehicle frame with y forward (rotated 90 deg
                            about z, either way) and T_world_cam derived from it.
  road_lateral_offset_lane_relative  road.lateral_offset_m measured from the lane's centre or
                            from the right road edge instead of the road's centre line.
  sun_azimuth_radians       weather.sun_azimuth_deg in radians (and in one variant the wind
                            direction too); time_of_day and captions follow.
  speed_limit_kmh           road.speed_limit_mps in km/h (x3.6) or mph (x2.24); captions follow.
  yaw_rate_per_tick         ego.yaw_rate (and the clip's) per control tick (x1/60) or per
                            physics step (x1/240) instead of per second.
  steer_wheel_angle_degrees  ego.steer (and the clip's) as the road-wheel angle in degrees
                            (x 30-38, the vehicle's lock) instead of the normalised command.
degraded_optics (lens, sensor, ISP and microphone degradations)
  rgb_image_circle_clipped  a lens whose image circle is smaller than the sensor: black beyond
                            0.78-0.95 of the half diagonal, a 1-3 px soft edge.
  rgb_filter_double_image   a reflection between an uncoated filter and the lens: 15-35 % of a
                            copy shifted by 2-5 px added in linear light.
  rgb_green_imbalance_checker  Gr/Gb imbalance: green alternately +-6-15 % in a checkerboard
                            (a maze pattern after demosaicing).
  rgb_dead_columns          1-3 column read-out lines stuck dark, bright or at a mid level,
                            over the full height or from a row down.
  rgb_gamma_doubled         the sRGB encoding applied twice (washed out, flat shadows).
  rgb_line_sync_jitter      each row shifted horizontally by up to 1-3 px at random (a camera
                            link losing line sync).
  audio_housing_resonance   a housing resonance: a peak of +15-25 dB, Q 6-16, at 0.8-3 kHz.
  audio_gain_attenuated     the microphone gain 18-28 dB too low.
metadata_contradiction (json that contradicts the sensors)
  weather_phantom_snow_cover  weather.snow_cover 0.55-0.9 (a winter preset's default) on a
                            scene without snow; surface and captions follow.
  captions_time_of_day_default  captions (and txt) written with the template's default time of
                            day "day" at dawn, dusk or night; json.weather current.
  road_kind_default         road.kind the other kind (circuit <-> open: a config default);
                            captions follow.
  road_lanes_per_direction  road.lanes counted per carriageway (halved) or over both (doubled).
  time_s_warmup_offset      time_s (events and a clip's times too) counted from before the
                            1-5 s warm-up instead of from the scenario's start.
  ego_speed_wheel_dropout   ego.speed_mps 0 or a creep of 0.1-0.6 m/s (a wheel-speed sensor
                            dropping out) while the car drives >= 3 m/s; captions follow.
  ego_altitude_datum        ego.position z above the ellipsoid (+25-60 m, a GNSS datum) while
                            the poses stay in the map frame.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage, signal

from datagen.sample import DEPTH_FILE, FRAMES_FILE, INST_FILE, SEG_FILE
from qc_heldout.faults_v2 import (
    JSON_FILE,
    TXT_FILE,
    Entry,
    Target,
    flat,
    gamma,
    linear,
    matrix,
    r,
    rederive_weather,
    regenerate_captions,
    relabel,
)
from qc_heldout.faults_v3 import AUDIO_FILE, RGB, audible, cam_box, decoded, put_audio, set_cam_box
from qc_heldout.faults_v5 import clip_ego, is_clip, put_image, put_meta_derived, scaled
from qc_heldout.faults_v6 import class_ids, other_scenarios
from qc_heldout.injection import FaultSet

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip
SEED_TAG = 0x5EED_F8  # separates this module's draws from earlier sets' for the same seed
IMAGE = (RGB, FRAMES_FILE)  # a camera fault rewrites rgb and, for a clip, its frames
ACTORS = ("vehicle", "pedestrian")

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


def pick(t: Target, items: list) -> object:
    return items[int(t.rng.integers(len(items)))]


def sign(t: Target) -> int:
    return 1 if t.rng.random() < 0.5 else -1


def sample_at(arr: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
    """``arr`` resampled by nearest neighbour at source rows ``sy`` and columns ``sx``
    (clamped to the image: edge pixels repeat)."""
    h, w = arr.shape[:2]
    iy = np.clip(np.round(sy), 0, h - 1).astype(int)
    ix = np.clip(np.round(sx), 0, w - 1).astype(int)
    return arr[iy, ix]


def bilinear(img: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
    chans = [ndimage.map_coordinates(img[..., c].astype(np.float64), [sy, sx], order=1,
                                     mode="nearest") for c in range(img.shape[2])]  # fmt: skip
    return np.clip(np.round(np.stack(chans, -1)), 0, 255).astype(np.uint8)


def warp_labels(t: Target, sy: np.ndarray, sx: np.ndarray) -> tuple[np.ndarray, ...]:
    s = t.sample
    return (sample_at(s.seg, sy, sx).astype(np.uint8), sample_at(s.inst, sy, sx).astype(np.uint16),
            sample_at(s.depth, sy, sx).astype(np.float32))  # fmt: skip


def put_warped_labels(t: Target, seg: np.ndarray, inst: np.ndarray, depth: np.ndarray) -> bool:
    s = t.sample
    if np.array_equal(seg, s.seg) and np.array_equal(inst, s.inst):
        return False
    meta = t.meta
    meta["objects"] = relabel(meta["objects"], inst)
    t.put_labels(seg=seg, inst=inst, depth=depth)
    put_meta_derived(t, meta)
    return True


def object_classes(meta: dict) -> dict[int, str]:
    return {int(o["instance_id"]): o["class"] for o in meta["objects"]}


def same_camera(t: Target, entries: list[Entry]) -> list[Entry]:
    cam = t.entry.meta["camera"]["name"]
    return [e for e in entries if e.meta["camera"]["name"] == cam and "clip" not in e.meta]


def previous_frame(t: Target) -> Entry | None:
    """The frame before this one of the same camera (None for a scenario's first frame)."""
    return t.neighbour(-1)


def set_clip_series(meta: dict, name: str, fn: Callable[[float], float]) -> None:
    ego = clip_ego(meta)
    if ego is not None and isinstance(ego.get(name), list):
        ego[name] = [fn(float(v)) for v in ego[name]]


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    return m


def peak_limited(x: np.ndarray) -> np.ndarray:
    """Scaled down only where needed to stay within full scale (a limiter at 0.99)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (0.99 / peak) if peak > 0.99 else x


# ---------------------------------------------------------------- label_misalignment


# closest earlier: v5 label_pass_zoomed (a zoom about the principal point)
@fault("label_misalignment", SEG_FILE, INST_FILE, DEPTH_FILE, JSON_FILE, TXT_FILE)
def labels_camera_roll(t: Target) -> dict | None:
    s = t.sample
    if is_clip(t):
        return None
    h, w = s.seg.shape
    deg = sign(t) * float(t.rng.uniform(3.0, 7.0))
    a = math.radians(deg)
    cx, cy = float(s.meta["camera"]["cx"]), float(s.meta["camera"]["cy"])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    # output pixel p shows the source pixel R(-a) (p - c) + c
    sx = cx + math.cos(a) * (xx - cx) + math.sin(a) * (yy - cy)
    sy = cy - math.sin(a) * (xx - cx) + math.cos(a) * (yy - cy)
    if not put_warped_labels(t, *warp_labels(t, sy, sx)):
        return None
    return {"roll_deg": r(deg, 3)}


# closest earlier: v4 depth_edge_blended (depth wrong at object boundaries only)
@fault("label_misalignment", DEPTH_FILE)
def depth_actor_free_pass(t: Target) -> dict | None:
    s = t.sample
    classes = object_classes(s.meta)
    actors = [i for i, c in classes.items() if c in ACTORS]
    layer = "actors" if t.rng.random() < 0.6 else "all_objects"
    ids = actors if layer == "actors" else list(classes)
    least = max(1, round(scaled(t, 2.0) ** 2))  # 4 px at 64 px
    gone = np.isin(s.inst, ids) & (s.depth > 0)
    if layer == "actors" and gone.sum() < least:  # no actor in view: the whole prop pass missing
        layer, gone = "all_objects", np.isin(s.inst, list(classes)) & (s.depth > 0)
    keep = ~np.isin(s.inst, list(classes))
    if gone.sum() < least or not keep.any():
        return None
    _, (iy, ix) = ndimage.distance_transform_edt(~keep, return_indices=True)
    out = s.depth.copy()
    out[gone] = s.depth[iy[gone], ix[gone]]
    change = np.abs(out - s.depth)[gone]
    if float(change.mean()) < 0.5:
        return None
    t.put_labels(depth=out.astype(np.float32))
    return {"layer": layer, "pixels": int(gone.sum()), "mean_change_m": r(float(change.mean()), 2)}


# closest earlier: v4 bbox2d_amodal (boxes from the projected 3D box)
@fault("label_misalignment", JSON_FILE, TXT_FILE)
def bbox2d_from_class_mask(t: Target) -> dict | None:
    s, meta = t.sample, t.meta
    ids = class_ids(s.meta)
    with_px = bool(t.rng.random() < 0.5)
    changed = 0
    for o in meta["objects"]:
        cid = ids.get(o["class"])
        if cid is None:
            continue
        ys, xs = np.nonzero(s.seg == cid)
        if xs.size == 0:
            continue
        box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        if box != list(o["bbox2d"]):
            changed += 1
        o["bbox2d"] = box
        if with_px:
            o["visible_px"] = int(xs.size)
    if not changed:
        return None
    put_meta_derived(t, meta)
    return {"visible_px_too": with_px, "boxes_changed": changed}


# closest earlier: v7 objects_border_truncated_dropped (objects at the border dropped)
@fault("label_misalignment", JSON_FILE, TXT_FILE)
def objects_list_capped(t: Target) -> dict | None:
    meta = t.meta
    cap = int(t.rng.choice([4, 6, 8]))
    n = len(meta["objects"])
    if n <= cap:
        cap = 4
        if n <= cap:
            return None
    meta["objects"] = meta["objects"][:cap]
    put_meta_derived(t, meta)
    return {"cap": cap, "dropped": n - cap}


# closest earlier: v5 inst_ids_offset (every id off by a constant)
@fault("label_misalignment", INST_FILE)
def inst_none_as_max(t: Target) -> dict | None:
    inst = t.sample.inst
    if not (inst == 0).any():
        return None
    none = 65535 if t.rng.random() < 0.6 else 255
    if none in set(np.unique(inst).tolist()):
        return None
    t.put_labels(inst=np.where(inst == 0, none, inst).astype(np.uint16))
    return {"none": none}


# closest earlier: v6 bbox2d_padded (boxes grown)
@fault("label_misalignment", JSON_FILE, TXT_FILE)
def bbox2d_half_resolution(t: Target) -> dict | None:
    s, meta = t.sample, t.meta
    if not meta["objects"]:
        return None
    with_px = bool(t.rng.random() < 0.4)
    small = s.inst[::2, ::2]
    changed = 0
    for o in meta["objects"]:
        ys, xs = np.nonzero(small == o["instance_id"])
        if xs.size:
            box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        else:
            x0, y0, x1, y1 = o["bbox2d"]
            bx0, by0 = x0 // 2, y0 // 2
            box = [bx0, by0, max(bx0 + 1, (x1 + 1) // 2), max(by0 + 1, (y1 + 1) // 2)]
        changed += box != list(o["bbox2d"])
        o["bbox2d"] = box
        if with_px:
            o["visible_px"] = max(1, int(xs.size))
    if not changed:
        return None
    put_meta_derived(t, meta)
    return {"visible_px_too": with_px, "boxes_changed": changed}


# closest earlier: v2 label_pass_offset (a uniform 2-3 px translation)
@fault("label_misalignment", SEG_FILE, INST_FILE, DEPTH_FILE, JSON_FILE, TXT_FILE)
def labels_parallax_other_mount(t: Target) -> dict | None:
    s = t.sample
    if is_clip(t):
        return None
    h, w = s.seg.shape
    base = sign(t) * float(t.rng.uniform(0.2, 0.5))  # the label camera this far to the right
    fx = float(s.meta["camera"]["fx"])
    z = s.depth.astype(np.float64)
    shift = np.where(z > 0, fx * base / np.maximum(z, 1e-3), 0.0)
    yy, xx = np.mgrid[0:h, 0:w]
    nx = np.round(xx - shift).astype(int)
    ok = (nx >= 0) & (nx < w)
    # far first, so that nearer surfaces overwrite them (the sky counts as infinitely far)
    order = np.argsort(np.where(z > 0, -z, -np.inf)[ok], kind="stable")
    src_y, src_x, dst_x = yy[ok][order], xx[ok][order], nx[ok][order]
    filled = np.zeros((h, w), bool)
    seg, inst, depth = s.seg.copy(), s.inst.copy(), s.depth.copy()
    seg[src_y, dst_x] = s.seg[src_y, src_x]
    inst[src_y, dst_x] = s.inst[src_y, src_x]
    depth[src_y, dst_x] = s.depth[src_y, src_x]
    filled[src_y, dst_x] = True
    if not filled.all():  # disoccluded pixels: the nearest rendered neighbour
        _, (iy, ix) = ndimage.distance_transform_edt(~filled, return_indices=True)
        seg, inst, depth = seg[iy, ix], inst[iy, ix], depth[iy, ix]
    if not put_warped_labels(t, seg, inst, depth):
        return None
    return {"baseline_m": r(base, 3), "max_shift_px": r(float(np.abs(shift).max()), 2)}


# ---------------------------------------------------------------- stale_swapped


# closest earlier: v1 rgb_other (the whole image of another scenario)
@fault("stale_swapped", RGB)
def rgb_sky_layer_other_scenario(t: Target) -> dict | None:
    s = t.sample
    if is_clip(t):
        return None
    sky = s.seg == class_ids(s.meta).get("sky", 0)
    if sky.mean() < 0.05:
        return None
    w = s.meta["weather"]
    donors = [e for e in same_camera(t, other_scenarios(t))
              if e.meta["weather"]["time_of_day"] != w["time_of_day"]
              or e.meta["weather"]["family"] != w["family"]]  # fmt: skip
    if not donors:
        return None
    d = pick(t, donors)
    other = decoded(d).rgb
    if other.shape != s.rgb.shape:
        return None
    diff = np.abs(other.astype(float) - s.rgb.astype(float))[sky].mean()
    if diff < 10.0:
        return None
    out = s.rgb.copy()
    out[sky] = other[sky]
    t.put_rgb(out)
    return {"donor": d.sid, "sky_share": r(float(sky.mean()), 3), "mean_change": r(diff, 1)}


# closest earlier: v4 rgb_field_interlaced (rows of the adjacent frame)
@fault("stale_swapped", RGB)
def rgb_object_layer_previous_frame(t: Target) -> dict | None:
    if is_clip(t):
        return None
    prev = previous_frame(t)
    if prev is None:
        return None
    p = decoded(prev)
    s = t.sample
    if p.rgb.shape != s.rgb.shape:
        return None
    layer = p.inst > 0
    out = s.rgb.copy()
    out[layer] = p.rgb[layer]
    moved = np.abs(out.astype(int) - s.rgb.astype(int)).max(axis=2) > 12
    if moved.mean() < 0.03:
        return None
    t.put_rgb(out)
    return {"donor": prev.sid, "changed_share": r(float(moved.mean()), 3)}


IDENTITY = ("seed", "dataset_seed", "scenario_id", "split", "frame", "time_s")


# closest earlier: v3 ego_telemetry_lag (the scalar telemetry of the adjacent frame)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def json_record_one_frame_behind(t: Target) -> dict | None:
    if is_clip(t):
        return None
    prev = previous_frame(t)
    if prev is None:
        return None
    meta = copy.deepcopy(prev.meta)
    for k in IDENTITY:
        meta[k] = copy.deepcopy(t.sample.meta[k])
    if meta == t.sample.meta:
        return None
    t.files[TXT_FILE] = meta["captions"][0]["text"].encode("utf-8")
    t.put_meta(meta, recaption=False)
    return {"donor": prev.sid}


# closest earlier: v2 label_buffer_lag (labels and objects of the adjacent frame)
@fault("stale_swapped", RGB, DEPTH_FILE, SEG_FILE, INST_FILE)
def arrays_one_frame_behind_json(t: Target) -> dict | None:
    if is_clip(t):
        return None
    prev = previous_frame(t)
    if prev is None:
        return None
    p = decoded(prev)
    if np.array_equal(p.rgb, t.sample.rgb) or p.rgb.shape != t.sample.rgb.shape:
        return None
    t.put_rgb(p.rgb)
    t.put_labels(seg=p.seg, inst=p.inst, depth=p.depth)
    return {"donor": prev.sid}


# closest earlier: v6 weather_block_other_scenario (the whole weather block)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def sun_position_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    donors = [e for e in other_scenarios(t)
              if e.meta["weather"]["time_of_day"] != w["time_of_day"]]  # fmt: skip
    if not donors:
        return None
    d = pick(t, donors)
    dw = d.meta["weather"]
    w["sun_altitude_deg"], w["sun_azimuth_deg"] = dw["sun_altitude_deg"], dw["sun_azimuth_deg"]
    meta["weather"] = rederive_weather(w)
    put_meta_derived(t, meta)
    return {"donor": d.sid, "time_of_day": meta["weather"]["time_of_day"]}


# closest earlier: v3 box3d_previous_tick (the boxes of the adjacent frame)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def box3d_table_previous_scenario(t: Target) -> dict | None:
    me = int(t.entry.meta["scenario_id"])
    older = [e for e in same_camera(t, t.index) if int(e.meta["scenario_id"]) < me]
    if not older:
        return None
    last = max(int(e.meta["scenario_id"]) for e in older)
    table: dict[int, dict] = {}
    for e in sorted((e for e in older if int(e.meta["scenario_id"]) == last),
                    key=lambda e: int(e.meta["frame"])):  # fmt: skip
        for o in e.meta["objects"]:
            table[int(o["instance_id"])] = o["bbox3d_world"]
    meta = t.meta
    T = matrix(meta["camera"]["T_world_cam"])
    replaced = []
    for o in meta["objects"]:
        old = table.get(int(o["instance_id"]))
        if old is None:
            continue
        if np.linalg.norm(np.subtract(old["center"], o["bbox3d_world"]["center"])) < 2.0:
            continue
        o["bbox3d_world"] = copy.deepcopy(old)
        set_cam_box(o, cam_box(old["center"], old["size"], old["yaw"], T))
        replaced.append(int(o["instance_id"]))
    if not replaced:
        return None
    put_meta_derived(t, meta)
    return {"scenario": last, "replaced": replaced}


# closest earlier: v4 driver_style_other_scenario (json.driver of another scenario)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def vehicle_preset_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    mine = meta.get("vehicle")
    if not isinstance(mine, dict):
        return None
    donors = [e for e in other_scenarios(t)
              if isinstance(e.meta.get("vehicle"), dict) and e.meta["vehicle"] != mine]  # fmt: skip
    if not donors:
        return None
    d = pick(t, donors)
    meta["vehicle"] = copy.deepcopy(d.meta["vehicle"])
    put_meta_derived(t, meta)
    return {"donor": d.sid, "preset": meta["vehicle"].get("preset")}


# ---------------------------------------------------------------- unit_calibration


# closest earlier: v2 intrinsics_other_size (the intrinsics of another resolution)
@fault("unit_calibration", RGB, SEG_FILE, INST_FILE, DEPTH_FILE, JSON_FILE, TXT_FILE)
def images_cropped_intrinsics_stale(t: Target) -> dict | None:
    s = t.sample
    if is_clip(t):
        return None
    h, w = s.seg.shape
    zoom = float(t.rng.uniform(1.12, 1.35))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    sy, sx = cy + (yy - cy) / zoom, cx + (xx - cx) / zoom
    rgb = bilinear(s.rgb, sy, sx)
    seg, inst, depth = warp_labels(t, sy, sx)
    if not put_warped_labels(t, seg, inst, depth):
        return None
    t.put_rgb(rgb)
    return {"zoom": r(zoom, 3)}


# closest earlier: v2 ego_pose_jump (a localisation glitch of 4-25 m)
@fault("unit_calibration", JSON_FILE)
def pose_local_origin(t: Target) -> dict | None:
    first = t.scene[0]
    rig0 = first.meta.get("rig")
    if not isinstance(rig0, dict) or "T_world_ego" not in rig0:
        return None
    with_z = bool(t.rng.random() < 0.4)
    origin = matrix(rig0["T_world_ego"])[:3, 3].copy()
    if not with_z:
        origin[2] = 0.0
    if float(np.linalg.norm(origin)) < 5.0:
        return None
    meta = t.meta

    def moved(values: list) -> list[float]:
        m = matrix(values)
        m[:3, 3] -= origin
        return flat(m)

    meta["camera"]["T_world_cam"] = moved(meta["camera"]["T_world_cam"])
    if isinstance(meta.get("rig"), dict) and "T_world_ego" in meta["rig"]:
        meta["rig"]["T_world_ego"] = moved(meta["rig"]["T_world_ego"])
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("T_world_cam"), list):
        clip["T_world_cam"] = [moved(v) for v in clip["T_world_cam"]]
    t.put_meta(meta, recaption=False)
    return {"with_z": with_z, "origin_m": r(float(np.linalg.norm(origin)), 2)}


# closest earlier: v6 ego_yaw_compass_heading (ego.yaw as a compass heading)
@fault("unit_calibration", JSON_FILE)
def ego_frame_y_forward(t: Target) -> dict | None:
    meta = t.meta
    rig = meta.get("rig")
    cams = [c for c in (rig or {}).get("cameras", []) if c.get("name") == meta["camera"]["name"]]
    if not cams or "T_world_ego" not in rig:
        return None
    turn = sign(t) * 90
    Rz = rot_z(math.radians(turn))
    T_ec = matrix(cams[0]["T_ego_cam"])
    rig["T_world_ego"] = flat(matrix(rig["T_world_ego"]) @ Rz)
    meta["camera"]["T_world_cam"] = flat(matrix(rig["T_world_ego"]) @ T_ec)
    delta = np.linalg.inv(T_ec) @ Rz @ T_ec
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("T_world_cam"), list):
        clip["T_world_cam"] = [flat(matrix(v) @ delta) for v in clip["T_world_cam"]]
        clip["T_world_cam"][-1] = list(meta["camera"]["T_world_cam"])
    t.put_meta(meta, recaption=False)
    return {"turn_deg": turn}


# closest earlier: v3 road_curvature_sign (a road field's sign convention)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def road_lateral_offset_lane_relative(t: Target) -> dict | None:
    meta = t.meta
    road = meta["road"]
    lanes, lane = int(road.get("lanes", 0)), int(road.get("lane_index", 0))
    if lanes < 1 or not 0 <= lane < lanes:
        return None
    width = 3.5  # sim.road.RoadConfig's lane width
    half = lanes * width / 2.0
    lateral = float(road["lateral_offset_m"])
    ref = "lane_centre" if t.rng.random() < 0.6 else "right_edge"
    new = lateral - (-half + (lane + 0.5) * width) if ref == "lane_centre" else lateral + half
    if abs(new - lateral) < 1.0:
        return None
    road["lateral_offset_m"] = new
    put_meta_derived(t, meta)
    return {"reference": ref, "lateral_offset_m": r(new, 3)}


# closest earlier: v3 sun_azimuth_mirrored (the azimuth measured the other way round)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def sun_azimuth_radians(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    az = float(w["sun_azimuth_deg"])
    if az < 20.0:
        return None
    wind_too = bool(t.rng.random() < 0.4) and float(w.get("wind_direction_deg", 0)) >= 20.0
    w["sun_azimuth_deg"] = math.radians(az)
    if wind_too:
        w["wind_direction_deg"] = math.radians(float(w["wind_direction_deg"]))
    meta["weather"] = rederive_weather(w)
    put_meta_derived(t, meta)
    return {"azimuth": r(w["sun_azimuth_deg"], 4), "wind_too": wind_too}


# closest earlier: v2 speed_unit (ego.speed_mps in km/h or mph)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def speed_limit_kmh(t: Target) -> dict | None:
    meta = t.meta
    v = float(meta["road"].get("speed_limit_mps", 0))
    if v <= 1.0:
        return None
    unit, k = ("km/h", 3.6) if t.rng.random() < 0.65 else ("mph", 2.236936)
    meta["road"]["speed_limit_mps"] = v * k
    put_meta_derived(t, meta)
    return {"unit": unit}


# closest earlier: v2 yaw_rate_degrees (ego.yaw_rate in deg/s)
@fault("unit_calibration", JSON_FILE)
def yaw_rate_per_tick(t: Target) -> dict | None:
    meta = t.meta
    yr = float(meta["ego"].get("yaw_rate", 0.0))
    if abs(yr) < 0.03:
        return None
    per, k = ("control_tick", 1 / 60) if t.rng.random() < 0.6 else ("physics_step", 1 / 240)
    meta["ego"]["yaw_rate"] = yr * k
    set_clip_series(meta, "yaw_rate", lambda v: v * k)
    t.put_meta(meta, recaption=False)
    return {"per": per}


# closest earlier: v5 steer_sign_convention (the steer sign flipped)
@fault("unit_calibration", JSON_FILE)
def steer_wheel_angle_degrees(t: Target) -> dict | None:
    meta = t.meta
    st = float(meta["ego"].get("steer", 0.0))
    if abs(st) < 0.05:
        return None
    lock = float(t.rng.uniform(30.0, 38.0))
    meta["ego"]["steer"] = st * lock
    set_clip_series(meta, "steer", lambda v: v * lock)
    t.put_meta(meta, recaption=False)
    return {"lock_deg": r(lock, 2)}


# ---------------------------------------------------------------- degraded_optics


# closest earlier: v2 vignetting (a smooth light falloff)
@fault("degraded_optics", *IMAGE)
def rgb_image_circle_clipped(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    rho = float(t.rng.uniform(0.78, 0.95))
    soft = scaled(t, float(t.rng.uniform(1.0, 3.0)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    d = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    radius = rho * math.hypot(h / 2, w / 2)
    gain = np.clip((radius - d) / soft + 0.5, 0.0, 1.0)[..., None]

    def fn(img: np.ndarray) -> np.ndarray:
        return np.clip(np.round(img.astype(np.float64) * gain), 0, 255).astype(np.uint8)

    return {"circle": r(rho, 3), "edge_px": r(soft, 2)} if put_image(t, fn) else None


# closest earlier: v5 rgb_temporal_ghost (the previous frame blended in)
@fault("degraded_optics", *IMAGE)
def rgb_filter_double_image(t: Target) -> dict | None:
    g = float(t.rng.uniform(0.15, 0.35))
    dist = scaled(t, float(t.rng.uniform(2.0, 5.0)))
    ang = float(t.rng.uniform(0, 2 * math.pi))
    dy, dx = dist * math.sin(ang), dist * math.cos(ang)

    def fn(img: np.ndarray) -> np.ndarray:
        lin = linear(img.astype(np.float64) / 255.0)
        ghost = ndimage.shift(lin, (dy, dx, 0), order=1, mode="nearest")
        out = (lin + g * ghost) / (1.0 + 0.5 * g)
        return np.clip(np.round(gamma(out) * 255.0), 0, 255).astype(np.uint8)

    return {"ghost": r(g, 3), "offset_px": r(dist, 2)} if put_image(t, fn) else None


# closest earlier: v5 rgb_bayer_phase_wrong (another Bayer phase)
@fault("degraded_optics", *IMAGE)
def rgb_green_imbalance_checker(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    a = float(t.rng.uniform(0.06, 0.15))
    yy, xx = np.mgrid[0:h, 0:w]
    gain = np.where((yy + xx) % 2 == 0, 1.0 + a, 1.0 - a)

    def fn(img: np.ndarray) -> np.ndarray:
        out = img.astype(np.float64)
        out[..., 1] = out[..., 1] * gain
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    return {"imbalance": r(a, 3)} if put_image(t, fn) else None


# closest earlier: v1 dead_pixels (isolated dead pixels)
@fault("degraded_optics", *IMAGE)
def rgb_dead_columns(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    n = int(t.rng.integers(1, 4))
    cols = sorted(int(c) for c in t.rng.choice(w, size=n, replace=False))
    level = float(pick(t, [0.0, 255.0, float(t.rng.uniform(90, 170))]))
    start = 0 if t.rng.random() < 0.6 else int(t.rng.integers(0, h // 2))

    def fn(img: np.ndarray) -> np.ndarray:
        out = img.copy()
        for c in cols:
            out[start:, c, :] = int(round(level))
        return out

    if not put_image(t, fn):
        return None
    return {"columns": cols, "level": r(level, 1), "from_row": start}


# closest earlier: v3 rgb_gamma_missing (the encoding left out)
@fault("degraded_optics", *IMAGE)
def rgb_gamma_doubled(t: Target) -> dict | None:
    def fn(img: np.ndarray) -> np.ndarray:
        return np.clip(np.round(gamma(img.astype(np.float64) / 255.0) * 255.0), 0, 255).astype(
            np.uint8
        )

    return {"encodings": 2} if put_image(t, fn) else None


# closest earlier: v3 rgb_row_pitch_shear (a steady per-row shift)
@fault("degraded_optics", *IMAGE)
def rgb_line_sync_jitter(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    k = max(1, int(round(scaled(t, float(t.rng.integers(1, 4))))))
    shifts = t.rng.integers(-k, k + 1, size=h)

    def fn(img: np.ndarray) -> np.ndarray:
        out = img.copy()
        for y, d in enumerate(shifts):
            if d > 0:
                out[y, d:] = img[y, :-d]
                out[y, :d] = img[y, :1]
            elif d < 0:
                out[y, :d] = img[y, -d:]
                out[y, d:] = img[y, -1:]
        return out

    if not put_image(t, fn):
        return None
    return {"max_px": k, "rows_shifted": int((shifts != 0).sum())}


# closest earlier: v4 audio_lowpass_wrong_cutoff (a filter at the wrong cutoff)
@fault("degraded_optics", AUDIO_FILE)
def audio_housing_resonance(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    rate = t.sample.sample_rate
    f0 = float(t.rng.uniform(800.0, 3000.0))
    q = float(t.rng.uniform(6.0, 16.0))
    db = float(t.rng.uniform(15.0, 25.0))
    b, den = signal.iirpeak(f0, q, fs=rate)
    band = signal.lfilter(b, den, a)
    out = peak_limited(a + (10 ** (db / 20.0) - 1.0) * band)
    put_audio(t, np.clip(out, -1.0, 1.0))
    return {"f0_hz": r(f0, 1), "q": r(q, 2), "gain_db": r(db, 2)}


# closest earlier: v3 audio_engine_muted (the bus muted to a noise floor)
@fault("degraded_optics", AUDIO_FILE)
def audio_gain_attenuated(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a) or float(np.sqrt(np.mean(a**2))) < 1e-3:
        return None
    db = float(t.rng.uniform(18.0, 28.0))
    put_audio(t, a * 10 ** (-db / 20.0))
    return {"attenuation_db": r(db, 2)}


# ---------------------------------------------------------------- metadata_contradiction


# closest earlier: v6 weather_road_dry (the road said dry while wet)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def weather_phantom_snow_cover(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    if (float(w.get("snow_cover", 0)) > 0.1 or w.get("precip_type") == "snow"
            or w.get("family") == "snow" or float(w.get("ice", 0)) >= 0.5):  # fmt: skip
        return None
    cover = float(t.rng.uniform(0.55, 0.9))
    w["snow_cover"] = cover
    meta["weather"] = rederive_weather(w)
    put_meta_derived(t, meta)
    return {"snow_cover": r(cover, 3), "surface": meta["weather"]["surface"]}


# closest earlier: v4 time_of_day_clock_offset (json.weather.time_of_day shifted)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def captions_time_of_day_default(t: Target) -> dict | None:
    meta = t.meta
    tod = meta["weather"]["time_of_day"]
    if tod == "day":
        return None
    source = copy.deepcopy(meta)
    source["weather"]["time_of_day"] = "day"
    caps = regenerate_captions(source)
    if caps == meta["captions"]:
        return None
    meta["captions"] = caps
    t.files[TXT_FILE] = caps[0]["text"].encode("utf-8")
    t.put_meta(meta, recaption=False)
    return {"time_of_day": tod}


# closest earlier: v6 road_shape_mislabelled (road.shape of another segment)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def road_kind_default(t: Target) -> dict | None:
    meta = t.meta
    kind = meta["road"].get("kind")
    if kind not in ("circuit", "open"):
        return None
    meta["road"]["kind"] = "open" if kind == "circuit" else "circuit"
    put_meta_derived(t, meta)
    return {"kind": meta["road"]["kind"]}


# closest earlier: v6 road_shape_mislabelled (a road field of another segment)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def road_lanes_per_direction(t: Target) -> dict | None:
    meta = t.meta
    road = meta["road"]
    lanes, lane = int(road.get("lanes", 0)), int(road.get("lane_index", 0))
    if lanes < 1:
        return None
    halved = lanes // 2
    variant = "per_direction" if t.rng.random() < 0.5 and halved > lane else "both_directions"
    road["lanes"] = halved if variant == "per_direction" else 2 * lanes
    put_meta_derived(t, meta)
    return {"variant": variant, "lanes": road["lanes"]}


# closest earlier: v3 time_s_physics_ticks (time_s scaled)
@fault("metadata_contradiction", JSON_FILE)
def time_s_warmup_offset(t: Target) -> dict | None:
    meta = t.meta
    warm = round(float(t.rng.uniform(1.0, 5.0)) * 60) / 60  # whole control ticks
    meta["time_s"] = float(meta["time_s"]) + warm
    for e in meta.get("events", []):
        if isinstance(e, dict) and isinstance(e.get("time_s"), (int, float)):
            e["time_s"] = float(e["time_s"]) + warm
    clip = meta.get("clip")
    if isinstance(clip, dict):
        for k in ("t0", "t1"):
            clip[k] = float(clip[k]) + warm
        clip["times_s"] = [float(v) + warm for v in clip["times_s"]]
    t.put_meta(meta, recaption=False)
    return {"warmup_s": r(warm, 4)}


# closest earlier: v1 speed_wrong (a standing car said to drive: the other way)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def ego_speed_wheel_dropout(t: Target) -> dict | None:
    meta = t.meta
    v = float(meta["ego"].get("speed_mps", 0.0))
    if v < 3.0:
        return None
    held = "zero" if t.rng.random() < 0.6 else "creep"
    meta["ego"]["speed_mps"] = 0.0 if held == "zero" else float(t.rng.uniform(0.1, 0.6))
    put_meta_derived(t, meta)
    return {"held": held, "speed_mps": r(meta["ego"]["speed_mps"], 3)}


# closest earlier: v2 ego_pose_jump (ego.position and the poses jump sideways)
@fault("metadata_contradiction", JSON_FILE)
def ego_altitude_datum(t: Target) -> dict | None:
    meta = t.meta
    pos = meta["ego"].get("position")
    if not isinstance(pos, list) or len(pos) != 3:
        return None
    dz = float(t.rng.uniform(25.0, 60.0))
    meta["ego"]["position"] = [float(pos[0]), float(pos[1]), float(pos[2]) + dz]
    t.put_meta(meta, recaption=False)
    return {"dz_m": r(dz, 2)}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying

FAULT_SET = FaultSet("v8", CLASSES, REGISTRY, SEED_TAG)
sample_rng = FAULT_SET.sample_rng
apply_fault = FAULT_SET.apply_fault
inject = FAULT_SET.inject
main = FAULT_SET.main

if __name__ == "__main__":
    main()
