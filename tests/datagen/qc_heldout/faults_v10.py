"""Held-out fault set v10: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (README's "What a sample holds", docs/internals.md,
datagen/schema.py, datagen/sample.py, sim/vocabulary.py, the earlier fault sets and generated
shards), without reading QC's rules, its tests or its results, and never tuned against QC. The
plumbing (index, targets, shard rewriting, manifest/sidecar/card bookkeeping, the
class-then-fault draw) is injection.FaultSet's, as v9 uses it; ``inject`` has v2's-v9's
interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault mimics one plausible bug of a data factory, keeps each file decodable, and draws
its magnitude (or its variant) from the seed where the bug has one. Camera degradations apply
to every frame of a clip sample, so the key frame stays equal to ``rgb.png``;
rgb_chroma_planes_previous_frame takes a clip's frame chroma from the frame before it (the
first frame unchanged). Every fault applies to single-frame samples; the faults that need the
previous frame or an earlier scenario apply where there is one. Image sizes are for a 64 px
image and scale with the width. v10 leans on members earlier sets touched little: the audio,
the weather block, the classes table, the events, the objects' 3D boxes and the caption slots.

No fault repeats a mechanism of v1 (faults.py), v2, v3, v4, v5, v6, v7, v8 or v9. Closest
earlier fault, and how each differs: inst_track_ids_swapped (v7 objects_sort_ids_misaligned:
the records re-sorted with the id column left behind; here two objects' ids exchanged in the
instance mask only, a tracker identity switch), box3d_cam_metric_scale_drift (v3
object_depth_feet: a unit, x3.28; here a 3-8 % metric scale error of a monocular 3D labeller),
box3d_world_yaw_ego_relative (v5 box3d_yaw_degrees: a unit; here the yaw relative to the ego
heading instead of the world), object_distance_nearest_corner (v9 object_distance_ego_origin:
from the ego origin; here from the camera to the box's nearest corner instead of its centre),
box3d_corners_yaw_ignored (v4 box3d_heading_flipped: yaw + 180 deg; here the corners built
with yaw 0 while centre and yaw stay), box3d_cam_pitch_calibration_stale (v2
mount_pitch_error: the camera pose pitched; here the pose right and the camera-frame boxes
rotated by a stale pitch calibration), bbox2d_bottom_left_origin (v5 bbox2d_yx_order: the
coordinates' order; here y measured from the bottom edge), classes_colors_two_swapped (v6
seg_object_class_table_rotated: seg's classes rotated per object; here two colours of the json
classes table exchanged, ids and seg right), txt_from_other_caption_family (v5
txt_stale_handle: the previous sample's caption; here this sample's caption of another
family slot), rgb_chroma_planes_previous_frame (v6 rgb_channel_previous_frame: one RGB
channel stale; here both chroma planes of a YCbCr buffer stale, luma current),
weather_sun_angles_swapped (v5 throttle_brake_swapped: two pedal channels; here the sun's
altitude and azimuth crossed), rgb_awb_state_previous_scenario (v3 rgb_white_balance_stuck:
fixed wrong gains; here the previous scenario's grey-world gains carried over, partly
converged), weather_preset_name_previous_scenario (v6 weather_block_other_scenario: the whole
block; here only the preset and family names, the parameters current),
ego_velocity_vector_previous_frame (v3 ego_telemetry_lag: the scalars lagging, the velocity
current; here the velocity vector lagging, the scalars current), ego_pedals_percent (v5
throttle_brake_swapped: the pedals crossed; here a pedal in percent), wind_direction_to_convention
(v7 wind_speed_kmh: the speed's unit; here the direction's convention),
ego_velocity_ned_axes (v5 ego_velocity_body_frame: another frame's axes by rotation; here
another axis convention, NED or z down), camera_near_plane_mm (v9 camera_far_field_default: the
far plane of another configuration; here the near plane in mm or cm),
road_lateral_offset_right_positive (v8 road_lateral_offset_lane_relative: another reference
line; here the sign convention), wheel_slip_ratio_percent (v7 wheel_slip_angle_degrees: the
angles in degrees; here the ratios in percent), weather_cloudiness_oktas (v7
weather_cloudiness_inverted: 1 - c; here in oktas or tenths), audio_alternator_whine (v5
audio_mains_hum: a fixed 50/60 Hz hum; here a whine tracking the engine's rpm),
audio_loose_mount_rattle (v4 audio_buffer_clicks: one-sample clicks; here decaying mechanical
ring bursts), audio_popcorn_noise (v3 audio_dc_offset: a constant offset; here a random
telegraph offset switching between two levels), rgb_chroma_denoise_bleed (v7
rgb_median_denoised: a median over all channels; here chroma-only smoothing, colour bleeding
over edges), rgb_polariser_sky_darkening (v9 rgb_windshield_shade_band: a tinted band over
the top rows; here a polarising filter darkening the skylight with a cos^2 pattern across the
image), rgb_hdr_merge_ratio_wrong (v9 rgb_highlights_wb_after_clip: highlights clipped before
white balance; here the short exposure merged with a wrong exposure ratio above a knee),
rgb_field_curvature_soft_corners (v2 half_defocus: one half blurred; here blur growing with
the squared image radius), ego_gear_invalid_as_neutral (v2 gear_off_by_one: one gear off; here
an invalid CAN value decoded as neutral while moving), events_gear_shift_direction_swapped (v1
event_wrong: a crash or thunder added or lost; here the gear shift's from and to crossed),
classes_table_entry_dropped (v6 seg_object_class_table_rotated: seg's classes rotated; here an
entry of a class present in seg missing from the table), camera_slot_name_other (v6
seg_hood_mask_other_rig: another rig's hood mask; here the camera's slot name of another slot
while the rig and the image are the front camera's), audio_events_surface_sound_mislabelled
(v7 audio_events_list_other_scenario: another scenario's list; here the surface sound of this
list mapped through a wrong surface key), split_field_other_split (v4 scenario_id_repeated:
another scenario's id; here the split field of another split than the shard's),
events_list_dropped_on_serialise (v1 event_wrong: one crash or thunder lost with its sound;
here the whole events list written empty, audio.events kept).

label_misalignment (labels out of alignment with the image)
  inst_track_ids_swapped    two objects' instance ids exchanged in inst.npy.gz (a tracker
                            identity switch at the mask writer); json current.
  box3d_cam_metric_scale_drift  bbox3d_cam centres and corners scaled about the camera by
                            1.03-1.08 or its inverse; world boxes and distance_m current.
  box3d_world_yaw_ego_relative  bbox3d_world.yaw written relative to the ego heading
                            (yaw - ego.yaw).
  object_distance_nearest_corner  distance_m to the box's nearest corner instead of its
                            centre; captions follow.
  box3d_corners_yaw_ignored bbox3d_cam corners built from the world box with yaw 0 (an
                            axis-aligned box); centres and yaw current.
  box3d_cam_pitch_calibration_stale  bbox3d_cam centres and corners rotated about the camera x
                            axis by 1-3 deg either way (a stale pitch calibration in the 3D
                            label export); poses current.
  bbox2d_bottom_left_origin every bbox2d's y measured from the bottom edge (h - y1, h - y0).
stale_swapped (a buffer, a record or part of one from another source, time or slot)
  classes_colors_two_swapped  the colours of two classes present in seg exchanged in
                            json.classes (a palette read from a reordered list).
  txt_from_other_caption_family  txt holds the caption of another family slot (terse,
                            dashcam log, ...) instead of captions[0]; json current.
  rgb_chroma_planes_previous_frame  both chroma planes (Cb, Cr; full or 4:2:0) from the
                            previous frame, luma current (a YUV plane double-buffered apart).
  weather_sun_angles_swapped  weather.sun_altitude_deg and sun_azimuth_deg crossed (a
                            positional tuple unpacked in the wrong order); captions follow.
  rgb_awb_state_previous_scenario  the previous scenario's grey-world white balance carried
                            over, 40-90 % converged to the new scene's gains.
  weather_preset_name_previous_scenario  weather.preset and weather.family of the previous
                            scenario, the parameters current; captions follow.
  ego_velocity_vector_previous_frame  ego.velocity of the previous frame; speed and the
                            other telemetry current.
unit_calibration (depth scale, intrinsics, pose, units, calibration)
  ego_pedals_percent        ego.throttle and/or ego.brake in percent (0-100) instead of 0-1.
  wind_direction_to_convention  weather.wind_direction_deg in the "blowing to" convention
                            (+180) or counter-clockwise from east (270 - d).
  ego_velocity_ned_axes     ego.velocity in NED ([y, x, -z]) or with z down ([x, -y, -z]).
  camera_near_plane_mm      json.camera.near in mm (x1000) or cm (x100).
  road_lateral_offset_right_positive  road.lateral_offset_m (and a clip's series) with the
                            other sign convention.
  wheel_slip_ratio_percent  ego.wheel_slip.ratio in percent (x100).
  weather_cloudiness_oktas  weather.cloudiness in oktas (x8) or tenths (x10); captions follow.
degraded_optics (lens, sensor, ISP and microphone degradations)
  audio_alternator_whine    an alternator whine at rpm / 60 x pulley 2.5-3.2 x 6 poles (and
                            its second harmonic) at -40..-30 dBFS on the microphone line.
  audio_loose_mount_rattle  a loose microphone mount: 150-400 Hz bursts decaying over 5-15 ms,
                            3-10 a second, at 15-40 % of the clip's peak.
  audio_popcorn_noise       popcorn (random telegraph) noise of a defective input stage: an
                            offset switching between 0 and 0.004-0.02 at 4-20 Hz.
  rgb_chroma_denoise_bleed  chroma noise reduction too strong: Cb, Cr blurred with sigma 1.5-3
                            px, luma sharp (colour bleeds over edges).
  rgb_polariser_sky_darkening  a polarising filter left on: the sky darkened by 25-50 % with a
                            cos^2 pattern across the image.
  rgb_hdr_merge_ratio_wrong an HDR merge using the short exposure above a knee (0.2-0.5
                            linear) with an exposure ratio 12-30 % off: a step at the knee.
  rgb_field_curvature_soft_corners  field curvature: blur growing with the squared radius up
                            to sigma 1-2.5 px in the corners.
metadata_contradiction (json that contradicts the sensors)
  ego_gear_invalid_as_neutral  ego.gear 0 (neutral) while moving at >= 2 m/s (an invalid CAN
                            value decoded as neutral); captions follow.
  events_gear_shift_direction_swapped  the gear_shift events' from and to crossed.
  classes_table_entry_dropped  one class present in seg.png missing from json.classes.
  camera_slot_name_other    json.camera.name of another slot (rear, left, right, front_wide)
                            while the rig and the image are the front camera's.
  audio_events_surface_sound_mislabelled  json.audio.events' surface sound (wet_hiss,
                            snow_crunch) mapped through the wrong surface key, or one added.
  split_field_other_split   json.split names another split than the shard's.
  events_list_dropped_on_serialise  json.events written empty; audio.events kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from datagen.sample import FRAMES_FILE, INST_FILE
from qc_heldout.faults_v2 import JSON_FILE, TXT_FILE, Target, gamma, linear, matrix, r
from qc_heldout.faults_v3 import AUDIO_FILE, RGB, audible, cam_box, decoded, put_audio
from qc_heldout.faults_v5 import (
    clip_ego,
    previous_image,
    put_frames,
    put_image,
    put_meta_derived,
    scaled,
)
from qc_heldout.faults_v6 import class_ids
from qc_heldout.faults_v7 import previous_scenario
from qc_heldout.faults_v8 import peak_limited, pick, previous_frame, sign
from qc_heldout.injection import FaultSet

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip
SEED_TAG = 0x5EED_FA  # separates this module's draws from earlier sets' for the same seed
IMAGE = (RGB, FRAMES_FILE)  # a camera fault rewrites rgb and, for a clip, its frames

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


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return yy, xx


def to_lin(img: np.ndarray) -> np.ndarray:
    return linear(img.astype(np.float64) / 255.0)


def from_lin(lin: np.ndarray) -> np.ndarray:
    return np.clip(np.round(gamma(np.clip(lin, 0.0, None)) * 255.0), 0, 255).astype(np.uint8)


def luma(lin: np.ndarray) -> np.ndarray:
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return img.astype(np.float64)
    return ndimage.gaussian_filter(img.astype(np.float64), (sigma, sigma, 0)[: img.ndim])


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def ycc(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ YCC.T


def rgb_of(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y @ np.linalg.inv(YCC).T), 0, 255).astype(np.uint8)


def cam_points(meta: dict, fn: Callable[[list], list[float]]) -> None:
    for o in meta["objects"]:
        box = o["bbox3d_cam"]
        box["center"] = fn(box["center"])
        box["corners"] = [fn(c) for c in box["corners"]]


# ---------------------------------------------------------------- label_misalignment


# closest earlier: v7 objects_sort_ids_misaligned (records and ids out of step)
@fault("label_misalignment", INST_FILE)
def inst_track_ids_swapped(t: Target) -> dict | None:
    s = t.sample
    ids = [int(o["instance_id"]) for o in s.meta["objects"]
           if int((s.inst == int(o["instance_id"])).sum()) >= 1]  # fmt: skip
    if len(ids) < 2:
        return None
    a, b = (int(v) for v in t.rng.choice(ids, size=2, replace=False))
    out = s.inst.copy()
    out[s.inst == a], out[s.inst == b] = b, a
    t.put_labels(inst=out.astype(np.uint16))
    return {"swapped": sorted([a, b])}


# closest earlier: v3 object_depth_feet (the camera boxes in feet)
@fault("label_misalignment", JSON_FILE)
def box3d_cam_metric_scale_drift(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    k = float(t.rng.uniform(1.03, 1.08))
    k = k if t.rng.random() < 0.5 else 1.0 / k
    cam_points(meta, lambda p: [float(v) * k for v in p])
    t.put_meta(meta, recaption=False)
    return {"scale": r(k, 4)}


# closest earlier: v5 box3d_yaw_degrees (the world yaw in degrees)
@fault("label_misalignment", JSON_FILE)
def box3d_world_yaw_ego_relative(t: Target) -> dict | None:
    meta = t.meta
    ego_yaw = float(meta["ego"].get("yaw", 0.0))
    if abs(ego_yaw) < 0.005 or not meta["objects"]:
        return None
    for o in meta["objects"]:
        o["bbox3d_world"]["yaw"] = float(o["bbox3d_world"]["yaw"]) - ego_yaw
    t.put_meta(meta, recaption=False)
    return {"ego_yaw_rad": r(ego_yaw, 4)}


# closest earlier: v9 object_distance_ego_origin (from the ego reference point)
@fault("label_misalignment", JSON_FILE, TXT_FILE)
def object_distance_nearest_corner(t: Target) -> dict | None:
    meta = t.meta
    most = 0.0
    for o in meta["objects"]:
        corners = np.asarray(o["bbox3d_cam"]["corners"], np.float64)
        if corners.shape != (8, 3):
            continue
        new = float(np.linalg.norm(corners, axis=1).min())
        most = max(most, abs(new - float(o["distance_m"])))
        o["distance_m"] = new
    if most < 0.2:
        return None
    put_meta_derived(t, meta)
    return {"max_change_m": r(most, 3)}


# closest earlier: v4 box3d_heading_flipped (yaw + 180 deg)
@fault("label_misalignment", JSON_FILE)
def box3d_corners_yaw_ignored(t: Target) -> dict | None:
    meta = t.meta
    T = matrix(meta["camera"]["T_world_cam"])
    most = 0.0
    for o in meta["objects"]:
        w = o["bbox3d_world"]
        box = cam_box(w["center"], w["size"], 0.0, T)
        old = np.asarray(o["bbox3d_cam"]["corners"], np.float64)
        new = np.asarray(box["corners"], np.float64)
        most = max(most, float(np.abs(new - old).max()))
        o["bbox3d_cam"]["corners"] = box["corners"]
    if most < 0.05:
        return None
    t.put_meta(meta, recaption=False)
    return {"max_corner_change_m": r(most, 3)}


# closest earlier: v2 mount_pitch_error (the camera pose pitched)
@fault("label_misalignment", JSON_FILE)
def box3d_cam_pitch_calibration_stale(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    deg = sign(t) * float(t.rng.uniform(1.0, 3.0))
    c, s_ = math.cos(math.radians(deg)), math.sin(math.radians(deg))

    def rot(p: list) -> list[float]:
        x, y, z = (float(v) for v in p)
        return [x, c * y - s_ * z, s_ * y + c * z]

    cam_points(meta, rot)
    t.put_meta(meta, recaption=False)
    return {"pitch_deg": r(deg, 3)}


# closest earlier: v5 bbox2d_yx_order (the box's coordinates in another order)
@fault("label_misalignment", JSON_FILE)
def bbox2d_bottom_left_origin(t: Target) -> dict | None:
    meta = t.meta
    h = int(t.sample.rgb.shape[0])
    changed = 0
    for o in meta["objects"]:
        x0, y0, x1, y1 = (int(v) for v in o["bbox2d"])
        new = [x0, h - y1, x1, h - y0]
        changed += new != o["bbox2d"]
        o["bbox2d"] = new
    if not changed:
        return None
    t.put_meta(meta, recaption=False)
    return {"height": h}


# ---------------------------------------------------------------- stale_swapped


# closest earlier: v6 seg_object_class_table_rotated (ids rotated in the table)
@fault("stale_swapped", JSON_FILE)
def classes_colors_two_swapped(t: Target) -> dict | None:
    meta = t.meta
    present = set(np.unique(t.sample.seg).tolist())
    entries = [c for c in meta["classes"] if int(c["id"]) in present]
    if len(entries) < 2:
        return None
    i, j = (int(v) for v in t.rng.choice(len(entries), size=2, replace=False))
    a, b = entries[i], entries[j]
    if a["color"] == b["color"]:
        return None
    a["color"], b["color"] = b["color"], a["color"]
    t.put_meta(meta, recaption=False)
    return {"classes": sorted([a["name"], b["name"]])}


# closest earlier: v5 txt_stale_handle (the previous sample's primary caption)
@fault("stale_swapped", TXT_FILE)
def txt_from_other_caption_family(t: Target) -> dict | None:
    caps = t.sample.meta.get("captions", [])
    slots = [i for i in range(1, len(caps)) if caps[i]["text"] != caps[0]["text"]]
    if not slots:
        return None
    i = int(pick(t, slots))
    t.files[TXT_FILE] = caps[i]["text"].encode("utf-8")
    return {"slot": i, "family": caps[i]["family"]}


def chroma_from(cur: np.ndarray, prev: np.ndarray, sub: bool) -> np.ndarray:
    a, b = ycc(cur), ycc(prev)
    if sub:  # the stale chroma planes were stored 4:2:0
        h, w = b.shape[:2]
        small = b[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3))
        b = np.repeat(np.repeat(small, 2, 0), 2, 1)
        b = np.pad(b, ((0, h - b.shape[0]), (0, w - b.shape[1]), (0, 0)), mode="edge")
    a[..., 1:] = b[..., 1:]
    return rgb_of(a)


# closest earlier: v6 rgb_channel_previous_frame (one RGB channel stale)
@fault("stale_swapped", *IMAGE)
def rgb_chroma_planes_previous_frame(t: Target) -> dict | None:
    s = t.sample
    sub = bool(t.rng.random() < 0.5)
    if s.frames is not None and len(s.frames) >= 2:
        frames = s.frames.copy()
        for i in range(1, len(frames)):
            frames[i] = chroma_from(s.frames[i], s.frames[i - 1], sub)
        if max_diff(frames[-1], s.rgb) < 3:
            return None
        t.put_rgb(frames[-1])
        put_frames(t, frames)
        return {"subsampled": sub}
    prev = previous_image(t)
    if prev is None or prev.shape != s.rgb.shape:
        return None
    out = chroma_from(s.rgb, prev, sub)
    if max_diff(out, s.rgb) < 3:
        return None
    t.put_rgb(out)
    return {"subsampled": sub}


# closest earlier: v5 throttle_brake_swapped (two pedal channels crossed)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def weather_sun_angles_swapped(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    alt, az = w.get("sun_altitude_deg"), w.get("sun_azimuth_deg")
    if not isinstance(alt, (int, float)) or not isinstance(az, (int, float)):
        return None
    if abs(float(alt) - float(az)) < 5.0:
        return None
    w["sun_altitude_deg"], w["sun_azimuth_deg"] = float(az), float(alt)
    put_meta_derived(t, meta)
    return {"altitude_deg": r(float(az), 3)}


def last_of_previous_scenario(t: Target):
    """The last sample (same camera, clip or not) of the nearest earlier scenario, or None."""
    me, cam = int(t.entry.meta["scenario_id"]), t.entry.meta["camera"]["name"]
    older = [e for e in t.index if int(e.meta["scenario_id"]) < me
             and e.meta["camera"]["name"] == cam]  # fmt: skip
    if not older:
        return None
    return max(older, key=lambda e: (int(e.meta["scenario_id"]), int(e.meta["frame"])))


def grey_gains(img: np.ndarray) -> np.ndarray:
    m = to_lin(img).reshape(-1, 3).mean(0) + 1e-6
    return m[1] / m


# closest earlier: v3 rgb_white_balance_stuck (fixed wrong gains)
@fault("stale_swapped", *IMAGE)
def rgb_awb_state_previous_scenario(t: Target) -> dict | None:
    donor = last_of_previous_scenario(t)
    if donor is None:
        return None
    prev = decoded(donor).rgb
    converged = float(t.rng.uniform(0.4, 0.9))  # share of the way to the new scene's gains
    ratio = (grey_gains(prev) / grey_gains(t.sample.rgb)) ** (1.0 - converged)
    ratio = ratio / ratio[1]

    def fn(img: np.ndarray) -> np.ndarray:
        return from_lin(to_lin(img) * ratio)

    if max_diff(fn(t.sample.rgb), t.sample.rgb) < 4 or not put_image(t, fn):
        return None
    return {"donor": donor.sid, "converged": r(converged, 3),
            "gains_rb": [r(ratio[0], 4), r(ratio[2], 4)]}  # fmt: skip


# closest earlier: v6 weather_block_other_scenario (the whole weather block)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def weather_preset_name_previous_scenario(t: Target) -> dict | None:
    donor = previous_scenario(t)
    if donor is None:
        return None
    meta = t.meta
    old = donor.meta["weather"]
    keys = ("preset", "family")
    if all(old.get(k) == meta["weather"].get(k) for k in keys):
        return None
    for k in keys:
        meta["weather"][k] = old.get(k)
    put_meta_derived(t, meta)
    return {"donor": donor.sid, "preset": old.get("preset")}


# closest earlier: v3 ego_telemetry_lag (the scalar telemetry of the adjacent frame)
@fault("stale_swapped", JSON_FILE)
def ego_velocity_vector_previous_frame(t: Target) -> dict | None:
    prev = previous_frame(t)
    if prev is None:
        return None
    meta = t.meta
    old, cur = prev.meta["ego"].get("velocity"), meta["ego"].get("velocity")
    if not isinstance(old, list) or not isinstance(cur, list):
        return None
    diff = float(np.linalg.norm(np.subtract(old, cur)))
    if diff < 0.05:
        return None
    meta["ego"]["velocity"] = list(old)
    t.put_meta(meta, recaption=False)
    return {"donor": prev.sid, "change_mps": r(diff, 4)}


# ---------------------------------------------------------------- unit_calibration


# closest earlier: v5 throttle_brake_swapped (the two pedal channels crossed)
@fault("unit_calibration", JSON_FILE)
def ego_pedals_percent(t: Target) -> dict | None:
    meta = t.meta
    ego = meta["ego"]
    pedals = [k for k in ("throttle", "brake") if float(ego.get(k, 0.0)) > 0.01]
    if not pedals:
        return None
    which = pedals if len(pedals) == 1 or t.rng.random() < 0.5 else [str(pick(t, pedals))]
    for k in which:
        ego[k] = float(ego[k]) * 100.0
    t.put_meta(meta, recaption=False)
    return {"pedals": which}


# closest earlier: v7 wind_speed_kmh (the wind speed's unit)
@fault("unit_calibration", JSON_FILE)
def wind_direction_to_convention(t: Target) -> dict | None:
    meta = t.meta
    d = meta["weather"].get("wind_direction_deg")
    if not isinstance(d, (int, float)):
        return None
    conv = "blowing_to" if t.rng.random() < 0.5 else "math_ccw_from_east"
    new = (float(d) + 180.0) % 360.0 if conv == "blowing_to" else (270.0 - float(d)) % 360.0
    if abs((new - float(d) + 180.0) % 360.0 - 180.0) < 5.0:
        return None
    meta["weather"]["wind_direction_deg"] = new
    t.put_meta(meta, recaption=False)
    return {"convention": conv, "deg": r(new, 3)}


# closest earlier: v5 ego_velocity_body_frame (the velocity in the body frame)
@fault("unit_calibration", JSON_FILE)
def ego_velocity_ned_axes(t: Target) -> dict | None:
    meta = t.meta
    v = meta["ego"].get("velocity")
    if not isinstance(v, list) or len(v) != 3:
        return None
    x, y, z = (float(a) for a in v)
    conv = "ned_from_enu" if t.rng.random() < 0.5 else "z_down"
    new = [y, x, -z] if conv == "ned_from_enu" else [x, -y, -z]
    if max(abs(a - b) for a, b in zip(new, v)) < 0.02:
        return None
    meta["ego"]["velocity"] = new
    t.put_meta(meta, recaption=False)
    return {"convention": conv}


# closest earlier: v9 camera_far_field_default (the far plane of another configuration)
@fault("unit_calibration", JSON_FILE)
def camera_near_plane_mm(t: Target) -> dict | None:
    meta = t.meta
    near = meta["camera"].get("near")
    if not isinstance(near, (int, float)) or near <= 0:
        return None
    unit, k = ("mm", 1000.0) if t.rng.random() < 0.6 else ("cm", 100.0)
    meta["camera"]["near"] = float(near) * k
    t.put_meta(meta, recaption=False)
    return {"unit": unit, "near": r(meta["camera"]["near"], 3)}


# closest earlier: v8 road_lateral_offset_lane_relative (another reference line)
@fault("unit_calibration", JSON_FILE)
def road_lateral_offset_right_positive(t: Target) -> dict | None:
    meta = t.meta
    off = meta["road"].get("lateral_offset_m")
    if not isinstance(off, (int, float)) or abs(off) < 0.1:
        return None
    meta["road"]["lateral_offset_m"] = -float(off)
    ego = clip_ego(meta)
    if ego is not None and isinstance(ego.get("lateral_offset_m"), list):
        ego["lateral_offset_m"] = [-float(v) for v in ego["lateral_offset_m"]]
    t.put_meta(meta, recaption=False)
    return {"lateral_offset_m": r(-float(off), 3)}


# closest earlier: v7 wheel_slip_angle_degrees (the slip angles in degrees)
@fault("unit_calibration", JSON_FILE)
def wheel_slip_ratio_percent(t: Target) -> dict | None:
    meta = t.meta
    ratio = meta["ego"].get("wheel_slip", {}).get("ratio")
    if not isinstance(ratio, list) or max((abs(float(v)) for v in ratio), default=0) < 1e-4:
        return None
    meta["ego"]["wheel_slip"]["ratio"] = [float(v) * 100.0 for v in ratio]
    t.put_meta(meta, recaption=False)
    return {"max_ratio": r(max(abs(float(v)) * 100.0 for v in ratio), 4)}


# closest earlier: v7 weather_cloudiness_inverted (cloudiness as 1 - c)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def weather_cloudiness_oktas(t: Target) -> dict | None:
    meta = t.meta
    c = meta["weather"].get("cloudiness")
    if not isinstance(c, (int, float)) or c < 0.02:
        return None
    unit, k = ("oktas", 8.0) if t.rng.random() < 0.6 else ("tenths", 10.0)
    meta["weather"]["cloudiness"] = float(c) * k
    put_meta_derived(t, meta)
    return {"unit": unit, "cloudiness": r(float(c) * k, 4)}


# ---------------------------------------------------------------- degraded_optics


# closest earlier: v5 audio_mains_hum (a fixed 50/60 Hz hum)
@fault("degraded_optics", AUDIO_FILE)
def audio_alternator_whine(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    rpm = float(t.sample.meta["ego"].get("rpm", 0.0))
    if not audible(a) or rpm < 300:
        return None
    rate = t.sample.sample_rate
    pulley = float(t.rng.uniform(2.5, 3.2))
    f0 = rpm / 60.0 * pulley * 6.0  # six pole pairs
    level = float(t.rng.uniform(-40.0, -30.0))
    amp = 10 ** (level / 20.0)
    n = np.arange(a.size) / rate
    whine = amp * np.sin(2 * math.pi * f0 * n)
    if 2 * f0 < rate / 2:  # the second harmonic where it is below Nyquist
        whine += 0.4 * amp * np.sin(4 * math.pi * f0 * n + 1.0)
    put_audio(t, peak_limited(a + whine))
    return {"f0_hz": r(f0, 2), "level_dbfs": r(level, 2)}


# closest earlier: v4 audio_buffer_clicks (single-sample clicks at buffer edges)
@fault("degraded_optics", AUDIO_FILE)
def audio_loose_mount_rattle(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    rate = t.sample.sample_rate
    hz = float(t.rng.uniform(3.0, 10.0))
    f = float(t.rng.uniform(150.0, 400.0))
    tau = float(t.rng.uniform(0.005, 0.015))
    gain = float(t.rng.uniform(0.15, 0.4)) * float(np.max(np.abs(a)))
    m = int(rate * tau * 5)
    k = np.arange(m) / rate
    burst = np.sin(2 * math.pi * f * k) * np.exp(-k / tau)
    out = a.copy()
    n_hits = max(1, int(a.size / rate * hz))
    for start in np.sort(t.rng.integers(0, max(1, a.size - m), n_hits)):
        out[start:start + m] += gain * float(t.rng.uniform(0.5, 1.0)) * burst[: a.size - start]
    put_audio(t, peak_limited(out))
    return {"rate_hz": r(hz, 2), "ring_hz": r(f, 1), "decay_ms": r(tau * 1000, 2),
            "hits": n_hits}  # fmt: skip


# closest earlier: v3 audio_dc_offset (a constant offset)
@fault("degraded_optics", AUDIO_FILE)
def audio_popcorn_noise(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    rate = t.sample.sample_rate
    hz = float(t.rng.uniform(4.0, 20.0))  # mean switching rate of the defective input stage
    step = float(t.rng.uniform(0.004, 0.02))
    n_sw = max(2, int(round(a.size / rate * hz)))
    edges = np.sort(t.rng.integers(0, a.size, n_sw))
    state = np.zeros(a.size)
    state[edges] = 1.0
    level = (np.cumsum(state) % 2) * step  # a random telegraph signal between 0 and step
    level = signal_smooth(level, max(1, int(rate * 0.0005)))
    put_audio(t, peak_limited(a + level))
    return {"rate_hz": r(hz, 2), "step": r(step, 4), "switches": int(n_sw)}


def signal_smooth(x: np.ndarray, n: int) -> np.ndarray:
    return np.convolve(x, np.ones(n) / n, mode="same") if n > 1 else x


# closest earlier: v7 rgb_median_denoised (a median filter over all channels)
@fault("degraded_optics", *IMAGE)
def rgb_chroma_denoise_bleed(t: Target) -> dict | None:
    sigma = scaled(t, float(t.rng.uniform(1.5, 3.0)))

    def fn(img: np.ndarray) -> np.ndarray:
        y = ycc(img)
        y[..., 1:] = blur(y[..., 1:], sigma)
        return rgb_of(y)

    if max_diff(fn(t.sample.rgb), t.sample.rgb) < 4 or not put_image(t, fn):
        return None
    return {"sigma_px": r(sigma, 3)}


# closest earlier: v9 rgb_windshield_shade_band (a tinted band over the top rows)
@fault("degraded_optics", *IMAGE)
def rgb_polariser_sky_darkening(t: Target) -> dict | None:
    s = t.sample
    ids = class_ids(s.meta)
    if "sky" not in ids:
        return None
    sky = s.seg == ids["sky"]
    if sky.mean() < 0.05:
        return None
    h, w = sky.shape
    depth = float(t.rng.uniform(0.25, 0.5))  # extinction of the polarised skylight
    phase = float(t.rng.uniform(0, math.pi))
    xx = np.arange(w, dtype=np.float64) / w * math.pi
    gain = 1.0 - depth * np.cos(xx + phase) ** 2
    mask = ndimage.gaussian_filter(sky.astype(np.float64), scaled(t, 0.7))
    g = (1.0 - mask * (1.0 - gain[None, :]))[..., None]

    def fn(img: np.ndarray) -> np.ndarray:
        return from_lin(to_lin(img) * g)

    if max_diff(fn(s.rgb), s.rgb) < 4 or not put_image(t, fn):
        return None
    return {"extinction": r(depth, 3), "phase_rad": r(phase, 3)}


# closest earlier: v9 rgb_highlights_wb_after_clip (highlights clipped before white balance)
@fault("degraded_optics", *IMAGE)
def rgb_hdr_merge_ratio_wrong(t: Target) -> dict | None:
    knee = float(t.rng.uniform(0.2, 0.5))
    err = float(t.rng.uniform(0.7, 0.88))
    err = err if t.rng.random() < 0.5 else 1.0 / err

    def fn(img: np.ndarray) -> np.ndarray:
        lin = to_lin(img)
        short = lin.max(axis=2, keepdims=True) > knee  # the long exposure saturated here
        return from_lin(np.where(short, lin * err, lin))

    out = fn(t.sample.rgb)
    if int((np.abs(out.astype(int) - t.sample.rgb.astype(int)).max(axis=2) > 4).sum()) < 3:
        return None
    if not put_image(t, fn):
        return None
    return {"knee_linear": r(knee, 3), "ratio_error": r(err, 4)}


# closest earlier: v2 half_defocus (one half of the image defocused)
@fault("degraded_optics", *IMAGE)
def rgb_field_curvature_soft_corners(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    s_max = scaled(t, float(t.rng.uniform(1.0, 2.5)))
    yy, xx = grid(h, w)
    rad = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2) / math.hypot(h / 2, w / 2)
    sigma = s_max * np.clip(rad, 0, 1) ** 2
    levels = np.linspace(0.0, s_max, 5)
    pos = sigma / s_max * (len(levels) - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, len(levels) - 2)
    frac = (pos - lo)[..., None]

    def fn(img: np.ndarray) -> np.ndarray:
        stack = np.stack([blur(img, s) for s in levels])
        a = np.take_along_axis(stack, lo[None, ..., None], 0)[0]
        b = np.take_along_axis(stack, lo[None, ..., None] + 1, 0)[0]
        return np.clip(np.round(a * (1 - frac) + b * frac), 0, 255).astype(np.uint8)

    return {"corner_sigma_px": r(s_max, 3)} if put_image(t, fn) else None


# ---------------------------------------------------------------- metadata_contradiction


# closest earlier: v2 gear_off_by_one (the gear one off)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def ego_gear_invalid_as_neutral(t: Target) -> dict | None:
    meta = t.meta
    if float(meta["ego"].get("speed_mps", 0.0)) < 2.0 or int(meta["ego"].get("gear", 0)) == 0:
        return None
    old = int(meta["ego"]["gear"])
    meta["ego"]["gear"] = 0
    put_meta_derived(t, meta)
    return {"gear_was": old}


# closest earlier: v1 event_wrong (a phantom or lost crash/thunder)
@fault("metadata_contradiction", JSON_FILE)
def events_gear_shift_direction_swapped(t: Target) -> dict | None:
    meta = t.meta
    shifts = [e for e in meta.get("events", []) if e.get("type") == "gear_shift"
              and e.get("from") != e.get("to")]  # fmt: skip
    if not shifts:
        return None
    for e in shifts:
        e["from"], e["to"] = e["to"], e["from"]
    t.put_meta(meta, recaption=False)
    return {"shifts": len(shifts)}


# closest earlier: v6 seg_object_class_table_rotated (the table's ids rotated)
@fault("metadata_contradiction", JSON_FILE)
def classes_table_entry_dropped(t: Target) -> dict | None:
    meta = t.meta
    present = set(np.unique(t.sample.seg).tolist())
    entries = [c for c in meta["classes"] if int(c["id"]) in present]
    if not entries:
        return None
    gone = entries[int(t.rng.integers(len(entries)))]
    meta["classes"] = [c for c in meta["classes"] if c is not gone]
    t.put_meta(meta, recaption=False)
    return {"dropped": gone["name"]}


# closest earlier: v6 seg_hood_mask_other_rig (another rig's hood mask)
@fault("metadata_contradiction", JSON_FILE)
def camera_slot_name_other(t: Target) -> dict | None:
    meta = t.meta
    name = meta["camera"].get("name")
    choices = [n for n in ("rear", "left", "right", "front_wide") if n != name]
    meta["camera"]["name"] = str(pick(t, choices))
    t.put_meta(meta, recaption=False)
    return {"name": meta["camera"]["name"]}


SURFACE_SOUNDS = ("wet_hiss", "snow_crunch")


# closest earlier: v7 audio_events_list_other_scenario (another scenario's list)
@fault("metadata_contradiction", JSON_FILE)
def audio_events_surface_sound_mislabelled(t: Target) -> dict | None:
    meta = t.meta
    events = meta.get("audio", {}).get("events")
    if not isinstance(events, list):
        return None
    have = [e for e in events if e in SURFACE_SOUNDS]
    if have:
        other = {"wet_hiss": "snow_crunch", "snow_crunch": "wet_hiss"}
        new = [other.get(e, e) for e in events]
        new = list(dict.fromkeys(new))
        how = "swapped"
    else:
        add = str(pick(t, list(SURFACE_SOUNDS)))
        new = [*events, add]
        how = f"added_{add}"
    meta["audio"]["events"] = new
    t.put_meta(meta, recaption=False)
    return {"how": how}


# closest earlier: v4 scenario_id_repeated (the scenario id of another scenario)
@fault("metadata_contradiction", JSON_FILE)
def split_field_other_split(t: Target) -> dict | None:
    meta = t.meta
    split = meta.get("split")
    if not isinstance(split, str):
        return None
    meta["split"] = str(pick(t, [s for s in ("train", "val", "test") if s != split]))
    t.put_meta(meta, recaption=False)
    return {"split": meta["split"]}


# closest earlier: v1 event_wrong (one crash or thunder event lost)
@fault("metadata_contradiction", JSON_FILE)
def events_list_dropped_on_serialise(t: Target) -> dict | None:
    meta = t.meta
    if not meta.get("events"):
        return None
    n = len(meta["events"])
    meta["events"] = []
    t.put_meta(meta, recaption=False)
    return {"dropped": n}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying

FAULT_SET = FaultSet("v10", CLASSES, REGISTRY, SEED_TAG)
sample_rng = FAULT_SET.sample_rng
apply_fault = FAULT_SET.apply_fault
inject = FAULT_SET.inject
main = FAULT_SET.main

if __name__ == "__main__":
    main()
