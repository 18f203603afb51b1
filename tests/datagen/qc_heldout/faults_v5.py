"""Held-out fault set v5: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (README.md "What a sample holds", docs/internals.md on the
label files and clip samples, datagen/sample.py, datagen/schema.py, datagen/builder.py and
generated shards), without reading QC's rules, its tests or its results, and never tuned
against QC. The plumbing (index, targets, shard rewriting, manifest/sidecar/card bookkeeping,
the class-then-fault draw) is v2's, v3's and v4's, imported unchanged; ``inject`` has their
interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault mimics one plausible bug, keeps each file decodable, and draws its magnitude (or
its variant) from the seed. Faults that degrade the camera apply to every frame of a clip
sample (``frames.npy.gz``) as well, so the key frame stays equal to ``rgb.png``; faults that
need clip samples do not apply to single-frame ones. Image sizes are for a 64 px image and
scale with the width.

No fault repeats a mechanism of v1 (faults.py), v2, v3 or v4. Closest earlier fault where a
symptom is shared: seg_linear_interpolated (v2 label_lowres_nearest), labels_column_major
(v2 label_mirror_x), label_pass_zoomed (v1 mask_grown, v3 intrinsics_diagonal_fov),
inst_ids_offset (v3 instance_ids_renumbered), inst_painter_order (v4 instances_merged),
box3d_half_extent (v3 box3d_lw_swapped), bbox2d_yx_order (v2 bbox2d_xywh), audio_ring_rotated
(v3 audio_reversed), audio_double_buffer_stale (v2 audio_other_frame), audio_stutter_repeat
(v3 audio_buffer_underrun), txt_stale_handle (v1 caption_other, v4 captions_adjacent_frame),
seg_cached_first_frame (v2 label_buffer_lag, v3 depth_previous_frame), rgb_tile_stale (v3
rgb_torn_frame), rgb_temporal_ghost (v4 rgb_field_interlaced), clip_frame_repeated (v2
rgb_stale_buffer), clip_frames_out_of_order (v1 rgb_stale), depth_as_disparity (v1
depth_unit), depth_uint16_wrapped (v1 depth_unit), intrinsics_principal_point_units (v2
intrinsics_other_size), pose_column_major (v4 pose_inverted), pose_rear_axle_origin (v2
camera_height_wrong), box3d_yaw_degrees (v4 box3d_heading_flipped), box3d_world_y_up (v3
box3d_in_ego_frame), ego_accel_in_g (v2 speed_unit), rgb_bayer_phase_wrong (v2
chromatic_aberration), rgb_low_bit_depth (v4 audio_8bit_pcm), rgb_oversharpened (v1 blur, the
other way), rgb_lens_distortion (v2 chromatic_aberration), audio_mains_hum (v3
audio_dc_offset), audio_zero_order_hold (v3 audio_rate_mismatch), audio_agc_pumping (v4
audio_peak_normalised), audio_bus_echo (v4 audio_downmix_phase_inverted), ego_velocity_body_frame
(v2 speed_unit), camera_size_default_config (v2 intrinsics_other_size),
audio_events_accumulated (v1 event_wrong, v4 audio_phantom_rain_bed), steer_sign_convention
(v3 road_curvature_sign), throttle_brake_swapped (v1 speed_wrong), weather_visibility_km (v4
weather_density_percent), clip_ego_series_reversed (v3 audio_reversed, for json).

label_misalignment (labels out of alignment with the image)
  seg_linear_interpolated   seg.png resampled by a 0.25-0.75 px sub-pixel warp with linear
                            instead of nearest interpolation: class ids averaged at every
                            boundary (sky|vehicle gives some other class) and edges moved.
  labels_column_major       seg.png and inst.npy.gz written column-major (transposed; square
                            images only); bbox2d and visible_px follow the instance mask.
  label_pass_zoomed         seg, inst and depth rendered with a field of view off by a zoom
                            of 1.06-1.2 (either way) about the principal point; boxes follow.
  inst_ids_offset           every id in inst.npy.gz off by +1..3 (a base conversion applied
                            twice); json.objects keeps the true ids.
  inst_painter_order        in the instance pass a farther object drawn over a nearer one
                            (a depth sort reversed): the nearer object's pixels inside the
                            farther one's projected box get its id; boxes follow.
  box3d_half_extent         bbox3d size written as half extents (a CARLA-style extent
                            where the schema means the full size); corners rebuilt.
  bbox2d_yx_order           every bbox2d as [y0, x0, y1, x1] (a TF detection API order).
stale_swapped (a frame, a clip, audio or a caption of another sample or time)
  audio_ring_rotated        the clip read from its ring buffer at a wrong start index: rotated
                            by 10-50 % of its length (the newest audio first).
  audio_double_buffer_stale one of the 2 or 4 buffers the clip is assembled from holds the
                            adjacent frame's audio at that place (a buffer not refreshed).
  audio_stutter_repeat      2-5 blocks of 20-60 ms replaced by the block before (a capture
                            queue repeating its last buffer).
  txt_stale_handle          txt holds the previous sample's primary caption (in write order);
                            json.captions current.
  seg_cached_first_frame    seg.png of the scenario's first frame (a cache keyed by scenario
                            and camera, not frame).
  rgb_tile_stale            one tile (1/4 or 1/16 of the image) from the previous frame (a
                            tiled renderer that skipped a tile).
  rgb_temporal_ghost        a temporal denoiser blending 30-60 % of the previous frame.
  clip_frame_repeated       one non-key frame of frames.npy.gz equal to the frame before (a
                            capture stall).
  clip_frames_out_of_order  two consecutive non-key frames of frames.npy.gz swapped (an
                            out-of-order queue).
unit_calibration (depth scale, intrinsics, pose, units)
  depth_as_disparity        depth holds fx * B / z (a stereo disparity, baseline 0.12-0.6 m).
  depth_uint16_wrapped      depth through uint16 millimetres without saturation: beyond
                            65.535 m it wraps to near values.
  intrinsics_principal_point_units  cx, cy (camera and rig) normalised by the image size or
                            relative to the image centre; fx, fy in pixels.
  pose_column_major         every 4x4 pose (camera, rig, clip) written column-major (transposed).
  pose_rear_axle_origin     the ego reference point at the rear axle, 1.1-1.7 m behind the
                            schema's: T_world_ego and the camera poses shifted back.
  box3d_yaw_degrees         bbox3d_world.yaw written in degrees; corners and camera boxes
                            derived from it as radians.
  box3d_world_y_up          bbox3d_world centres in a y-up world frame ([x, z, -y], or
                            [x, z, y] for a left-handed engine); camera boxes current.
  ego_accel_in_g            ego.accel_mps2 (and the clip's) in g.
degraded_optics (image and audio sensor degradations)
  rgb_bayer_phase_wrong     an RGGB raw image demosaiced with another Bayer phase.
  rgb_low_bit_depth         an RGB565, RGB444 or RGB332 frame buffer (banding).
  rgb_oversharpened         an unsharp mask of amount 1.5-3 (halos), sigma 0.6-1.2 px.
  rgb_lens_distortion       radial distortion k1 = +-0.12-0.3 left uncorrected.
  audio_mains_hum           50/60 Hz hum with harmonics at -30..-18 dBFS (a ground loop).
  audio_zero_order_hold     the clip captured at 1/2-1/4 of the rate and upsampled by sample
                            repetition (imaging, no anti-alias filter).
  audio_agc_pumping         an automatic gain control with a 5-30 ms time constant, max gain
                            4-10 (the floor pumps up between sounds).
  audio_bus_echo            a feedback echo of 30-150 ms at gain 0.3-0.6 (a bus fed back).
metadata_contradiction (json that contradicts the sensors)
  ego_velocity_body_frame   ego.velocity in the ego body frame instead of the world frame.
  camera_size_default_config  json.camera width/height of another configured size (a
                            default not overridden); intrinsics and images current.
  audio_events_accumulated  json.audio.events plus 1-3 sound events of other scenarios (a
                            list not cleared between scenarios in a worker).
  steer_sign_convention     ego.steer (and the clip's) with the opposite sign convention.
  throttle_brake_swapped    ego.throttle and ego.brake (and the clip's) swapped (crossed
                            pedal channels).
  weather_visibility_km     weather.visibility_m holds kilometres (or statute miles).
  clip_ego_series_reversed  json.clip.ego series and lead distances newest first.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage, signal

from datagen.sample import DEPTH_FILE, FRAMES_DTYPE, FRAMES_FILE, INST_FILE, SEG_FILE, encode_npy
from qc_heldout.faults_v2 import (
    JSON_FILE,
    TXT_FILE,
    Target,
    flat,
    matrix,
    r,
    relabel,
    rig_camera,
)
from qc_heldout.faults_v3 import (
    AUDIO_FILE,
    RGB,
    adjacent,
    audible,
    cam_box,
    decoded,
    put_audio,
    set_cam_box,
)
from qc_heldout.faults_v4 import project_box
from qc_heldout.injection import FaultSet

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip
SEED_TAG = 0x5EED_F5  # separates this module's draws from v2's, v3's and v4's for the same seed
G = 9.80665

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


def scaled(t: Target, at_64: float) -> float:
    return at_64 * t.sample.rgb.shape[1] / 64.0


def is_clip(t: Target) -> bool:
    return t.sample.frames is not None and "clip" in t.sample.meta


def put_frames(t: Target, frames: np.ndarray) -> None:
    t.files[FRAMES_FILE] = encode_npy(np.ascontiguousarray(frames, np.uint8), FRAMES_DTYPE)


def put_image(t: Target, fn: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Apply a camera degradation ``fn`` to rgb and, for a clip, to every frame; False
    when it changes nothing."""
    out = fn(t.sample.rgb)
    if np.array_equal(out, t.sample.rgb):
        return False
    t.put_rgb(out)
    if t.sample.frames is not None:
        frames = np.stack([fn(f) for f in t.sample.frames])
        frames[-1] = out
        put_frames(t, frames)
    return True


def put_key_rgb(t: Target, out: np.ndarray) -> None:
    """A new key frame image; a clip's last frame follows it."""
    t.put_rgb(out)
    if t.sample.frames is not None:
        frames = t.sample.frames.copy()
        frames[-1] = out
        put_frames(t, frames)


def previous_image(t: Target) -> np.ndarray | None:
    """The camera's previous image: a clip's frame before the key frame, else the adjacent
    frame's rgb."""
    if t.sample.frames is not None and len(t.sample.frames) >= 2:
        return t.sample.frames[-2]
    donor = adjacent(t)
    return None if donor is None else decoded(donor).rgb


def put_meta_derived(t: Target, meta: dict) -> None:
    """Store ``meta``; captions of a single-frame sample are regenerated from it (they are
    derived downstream of the json), a clip's stay."""
    t.put_meta(meta, recaption=not is_clip(t))


def clip_ego(meta: dict) -> dict | None:
    clip = meta.get("clip")
    return clip.get("ego") if isinstance(clip, dict) else None


def rebox(o: dict, world: dict, T_world_cam: np.ndarray) -> None:
    o["bbox3d_world"] = world
    set_cam_box(o, cam_box(world["center"], world["size"], world["yaw"], T_world_cam))


def sine(n: int, rate: float, hz: float, phase: float) -> np.ndarray:
    return np.sin(2.0 * math.pi * hz * np.arange(n) / rate + phase)


# ---------------------------------------------------------------- label_misalignment


@fault("label_misalignment", SEG_FILE)
def seg_linear_interpolated(t: Target) -> dict | None:
    seg = t.sample.seg
    d = [float(t.rng.uniform(0.25, 0.75)) * (1 if t.rng.random() < 0.5 else -1) for _ in "yx"]
    out = ndimage.shift(seg.astype(np.float64), d, order=1, mode="nearest")
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    n = int((out != seg).sum())
    if not n:
        return None
    t.put_labels(seg=out)
    return {"shift_px": [r(v, 3) for v in d], "pixels": n}


@fault("label_misalignment", SEG_FILE, INST_FILE, JSON_FILE)
def labels_column_major(t: Target) -> dict | None:
    seg, inst = t.sample.seg, t.sample.inst
    if seg.shape[0] != seg.shape[1]:
        return None
    if np.array_equal(seg, seg.T) and np.array_equal(inst, inst.T):
        return None
    out_inst = np.ascontiguousarray(inst.T)
    meta = t.meta
    meta["objects"] = relabel(meta["objects"], out_inst)
    t.put_labels(seg=np.ascontiguousarray(seg.T), inst=out_inst)
    t.put_meta(meta, recaption=False)
    return {"pixels": int((seg.T != seg).sum())}


@fault("label_misalignment", SEG_FILE, INST_FILE, DEPTH_FILE, JSON_FILE, TXT_FILE)
def label_pass_zoomed(t: Target) -> dict | None:
    cam = t.sample.meta["camera"]
    h, w = t.sample.seg.shape
    z = float(t.rng.uniform(1.06, 1.2))
    z = z if t.rng.random() < 0.5 else 1.0 / z
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    sy = np.clip(np.floor(cam["cy"] + (yy - cam["cy"]) / z), 0, h - 1).astype(int)
    sx = np.clip(np.floor(cam["cx"] + (xx - cam["cx"]) / z), 0, w - 1).astype(int)
    seg, inst, depth = t.sample.seg[sy, sx], t.sample.inst[sy, sx], t.sample.depth[sy, sx]
    if np.array_equal(seg, t.sample.seg) and np.array_equal(inst, t.sample.inst):
        return None
    meta = t.meta
    before = len(meta["objects"])
    meta["objects"] = relabel(meta["objects"], inst)
    t.put_labels(seg=seg, inst=inst, depth=depth.astype(np.float32))
    if len(meta["objects"]) != before:
        put_meta_derived(t, meta)
    else:
        t.put_meta(meta, recaption=False)
    return {"zoom": r(z, 4), "objects_dropped": before - len(meta["objects"])}


@fault("label_misalignment", INST_FILE)
def inst_ids_offset(t: Target) -> dict | None:
    inst = t.sample.inst
    if not (inst > 0).any():
        return None
    k = int(t.rng.integers(1, 4))
    if int(inst.max()) + k > 65535:
        return None
    out = np.where(inst > 0, inst.astype(np.int64) + k, 0).astype(np.uint16)
    t.put_labels(inst=out)
    return {"offset": k}


@fault("label_misalignment", INST_FILE, JSON_FILE, TXT_FILE)
def inst_painter_order(t: Target) -> dict | None:
    meta = t.meta
    inst = t.sample.inst
    cam = meta["camera"]
    pairs = []
    for near in meta["objects"]:
        for far in meta["objects"]:
            if far["distance_m"] <= near["distance_m"] + 0.5:
                continue
            box = project_box(far, cam)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            region = np.zeros_like(inst, dtype=bool)
            region[y0:y1, x0:x1] = True
            region &= inst == near["instance_id"]
            if region.any():
                pairs.append((near["instance_id"], far["instance_id"], region))
    if not pairs:
        return None
    near_id, far_id, region = pairs[int(t.rng.integers(len(pairs)))]
    out = inst.copy()
    out[region] = far_id
    before = len(meta["objects"])
    meta["objects"] = relabel(meta["objects"], out)
    t.put_labels(inst=out)
    if len(meta["objects"]) != before:
        put_meta_derived(t, meta)
    else:
        t.put_meta(meta, recaption=False)
    return {"near_id": near_id, "far_id": far_id, "pixels": int(region.sum())}


@fault("label_misalignment", JSON_FILE)
def box3d_half_extent(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    T_world_cam = matrix(meta["camera"]["T_world_cam"])
    for o in meta["objects"]:
        w = copy.deepcopy(o["bbox3d_world"])
        w["size"] = [float(v) / 2.0 for v in w["size"]]
        rebox(o, w, T_world_cam)
    t.put_meta(meta, recaption=False)
    return {"objects": len(meta["objects"])}


@fault("label_misalignment", JSON_FILE)
def bbox2d_yx_order(t: Target) -> dict | None:
    meta, n = t.meta, 0
    for o in meta["objects"]:
        x0, y0, x1, y1 = o["bbox2d"]
        if [y0, x0, y1, x1] != o["bbox2d"]:
            o["bbox2d"], n = [y0, x0, y1, x1], n + 1
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"objects": n}


# ---------------------------------------------------------------- stale_swapped


@fault("stale_swapped", AUDIO_FILE)
def audio_ring_rotated(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    k = int(float(t.rng.uniform(0.1, 0.5)) * a.size)
    put_audio(t, np.roll(a, -k))
    return {"rotated_by": k, "of": int(a.size)}


@fault("stale_swapped", AUDIO_FILE)
def audio_double_buffer_stale(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    a = t.sample.audio.astype(np.float64)
    b = decoded(donor).audio.astype(np.float64)
    if b.size != a.size:
        return None
    n = int(t.rng.choice([2, 4]))
    order = t.rng.permutation(n)
    for i in order:  # the first buffer (in the draw) that the swap changes
        lo, hi = a.size * int(i) // n, a.size * (int(i) + 1) // n
        if not np.array_equal(a[lo:hi], b[lo:hi]):
            break
    else:
        return None
    out = a.copy()
    out[lo:hi] = b[lo:hi]
    put_audio(t, out)
    return {"buffers": n, "stale_buffer": int(i), "of_frame": int(donor.meta["frame"])}


@fault("stale_swapped", AUDIO_FILE)
def audio_stutter_repeat(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    rate = t.sample.sample_rate
    out = a.copy()
    blocks = []
    for _ in range(int(t.rng.integers(2, 6))):
        n = int(float(t.rng.uniform(0.02, 0.06)) * rate)
        start = int(t.rng.integers(n, a.size - n))
        out[start : start + n] = out[start - n : start]
        blocks.append([start, n])
    if np.array_equal(out, a):
        return None
    put_audio(t, out)
    return {"blocks": blocks}


@fault("stale_swapped", TXT_FILE)
def txt_stale_handle(t: Target) -> dict | None:
    i = next(k for k, e in enumerate(t.index) if e.sid == t.entry.sid)
    j = i - 1 if i > 0 else i + 1
    if not 0 <= j < len(t.index):
        return None
    donor = t.index[j]
    text = donor.meta["captions"][0]["text"].encode("utf-8")
    if text == t.files[TXT_FILE]:
        return None
    t.files[TXT_FILE] = text
    return {"txt_of": donor.sid}


@fault("stale_swapped", SEG_FILE)
def seg_cached_first_frame(t: Target) -> dict | None:
    first = t.scene[0]
    if first.sid == t.entry.sid:
        return None
    seg = decoded(first).seg
    if seg.shape != t.sample.seg.shape or np.array_equal(seg, t.sample.seg):
        return None
    t.put_labels(seg=seg)
    return {"seg_of_frame": int(first.meta["frame"])}


@fault("stale_swapped", RGB, FRAMES_FILE)
def rgb_tile_stale(t: Target) -> dict | None:
    prev = previous_image(t)
    rgb = t.sample.rgb
    if prev is None or prev.shape != rgb.shape:
        return None
    n = int(t.rng.choice([2, 4]))
    h, w = rgb.shape[0] // n, rgb.shape[1] // n
    ty, tx = int(t.rng.integers(n)), int(t.rng.integers(n))
    out = rgb.copy()
    out[ty * h : (ty + 1) * h, tx * w : (tx + 1) * w] = prev[ty * h : (ty + 1) * h,
                                                             tx * w : (tx + 1) * w]  # fmt: skip
    if np.array_equal(out, rgb):
        return None
    put_key_rgb(t, out)
    return {"grid": n, "tile": [ty, tx]}


@fault("stale_swapped", RGB, FRAMES_FILE)
def rgb_temporal_ghost(t: Target) -> dict | None:
    prev = previous_image(t)
    rgb = t.sample.rgb
    if prev is None or prev.shape != rgb.shape:
        return None
    a = float(t.rng.uniform(0.3, 0.6))
    out = np.round((1 - a) * rgb.astype(np.float64) + a * prev).astype(np.uint8)
    if np.abs(out.astype(int) - rgb).max() < 4:
        return None
    put_key_rgb(t, out)
    return {"history_weight": r(a, 3)}


@fault("stale_swapped", FRAMES_FILE)
def clip_frame_repeated(t: Target) -> dict | None:
    if not is_clip(t) or len(t.sample.frames) < 3:
        return None
    frames = t.sample.frames.copy()
    i = int(t.rng.integers(1, len(frames) - 1))
    if np.array_equal(frames[i], frames[i - 1]):
        return None
    frames[i] = frames[i - 1]
    put_frames(t, frames)
    return {"frame": i}


@fault("stale_swapped", FRAMES_FILE)
def clip_frames_out_of_order(t: Target) -> dict | None:
    if not is_clip(t) or len(t.sample.frames) < 3:
        return None
    frames = t.sample.frames.copy()
    i = int(t.rng.integers(0, len(frames) - 2))
    if np.array_equal(frames[i], frames[i + 1]):
        return None
    frames[[i, i + 1]] = frames[[i + 1, i]]
    put_frames(t, frames)
    return {"frames": [i, i + 1]}


# ---------------------------------------------------------------- unit_calibration


@fault("unit_calibration", DEPTH_FILE)
def depth_as_disparity(t: Target) -> dict | None:
    depth = t.sample.depth.astype(np.float64)
    hit = depth > 0
    if not hit.any():
        return None
    base = float(t.rng.uniform(0.12, 0.6))
    fx = float(t.sample.meta["camera"]["fx"])
    out = np.where(hit, fx * base / np.where(hit, depth, 1.0), 0.0).astype(np.float32)
    t.put_labels(depth=out)
    return {"baseline_m": r(base, 3)}


@fault("unit_calibration", DEPTH_FILE)
def depth_uint16_wrapped(t: Target) -> dict | None:
    depth = t.sample.depth.astype(np.float64)
    if not (depth > 65.535).any():
        return None
    mm = np.round(depth * 1000.0).astype(np.int64) % 65536
    out = (mm / 1000.0).astype(np.float32)
    t.put_labels(depth=out)
    return {"wrapped_px": int((depth > 65.535).sum())}


@fault("unit_calibration", JSON_FILE)
def intrinsics_principal_point_units(t: Target) -> dict | None:
    meta = t.meta
    mode = "normalised" if t.rng.random() < 0.5 else "centred"
    for c in filter(None, (meta["camera"], rig_camera(meta))):
        w, h = float(c["width"]), float(c["height"])
        if mode == "normalised":
            c["cx"], c["cy"] = float(c["cx"]) / w, float(c["cy"]) / h
        else:
            c["cx"], c["cy"] = float(c["cx"]) - w / 2.0, float(c["cy"]) - h / 2.0
    t.put_meta(meta, recaption=False)
    return {"convention": mode, "cx": r(meta["camera"]["cx"]), "cy": r(meta["camera"]["cy"])}


@fault("unit_calibration", JSON_FILE)
def pose_column_major(t: Target) -> dict | None:
    meta = t.meta
    meta["camera"]["T_world_cam"] = flat(matrix(meta["camera"]["T_world_cam"]).T)
    if meta.get("rig") and "T_world_ego" in meta["rig"]:
        meta["rig"]["T_world_ego"] = flat(matrix(meta["rig"]["T_world_ego"]).T)
    if isinstance(meta.get("clip"), dict) and meta["clip"].get("T_world_cam"):
        meta["clip"]["T_world_cam"] = [flat(matrix(m).T) for m in meta["clip"]["T_world_cam"]]
    t.put_meta(meta, recaption=False)
    return {"rig": bool(meta.get("rig"))}


def translate(x: float, y: float, z: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


@fault("unit_calibration", JSON_FILE)
def pose_rear_axle_origin(t: Target) -> dict | None:
    meta = t.meta
    d = float(t.rng.uniform(1.1, 1.7))
    cam = rig_camera(meta)
    if cam is not None:
        T_ego_cam = matrix(cam["T_ego_cam"])
        meta["rig"]["T_world_ego"] = flat(matrix(meta["rig"]["T_world_ego"]) @ translate(-d, 0, 0))
        # a camera pose moved by the same shift of the ego frame
        shift = np.linalg.inv(T_ego_cam) @ translate(-d, 0, 0) @ T_ego_cam
    else:
        shift = translate(0, 0, -d)  # without a rig: back along the optical axis
    meta["camera"]["T_world_cam"] = flat(matrix(meta["camera"]["T_world_cam"]) @ shift)
    if isinstance(meta.get("clip"), dict) and meta["clip"].get("T_world_cam"):
        meta["clip"]["T_world_cam"] = [flat(matrix(m) @ shift) for m in meta["clip"]["T_world_cam"]]
    t.put_meta(meta, recaption=False)
    return {"offset_m": r(d, 3), "rig": cam is not None}


@fault("unit_calibration", JSON_FILE)
def box3d_yaw_degrees(t: Target) -> dict | None:
    meta, n = t.meta, 0
    T_world_cam = matrix(meta["camera"]["T_world_cam"])
    for o in meta["objects"]:
        w = copy.deepcopy(o["bbox3d_world"])
        rad = float(w["yaw"])
        if abs(math.remainder(math.degrees(rad) - rad, math.pi / 2)) < 0.05:
            continue  # the same box either way (a multiple of 90 deg apart)
        w["yaw"] = math.degrees(rad)
        rebox(o, w, T_world_cam)
        n += 1
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"objects": n}


@fault("unit_calibration", JSON_FILE)
def box3d_world_y_up(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    left_handed = bool(t.rng.random() < 0.5)  # Unity-style (left-handed) or right-handed
    for o in meta["objects"]:
        x, y, z = (float(v) for v in o["bbox3d_world"]["center"])
        o["bbox3d_world"]["center"] = [x, z, y] if left_handed else [x, z, -y]
    t.put_meta(meta, recaption=False)
    return {"objects": len(meta["objects"]), "left_handed": left_handed}


@fault("unit_calibration", JSON_FILE)
def ego_accel_in_g(t: Target) -> dict | None:
    meta = t.meta
    a = float(meta["ego"].get("accel_mps2", 0.0))
    if abs(a) < 0.3:
        return None
    meta["ego"]["accel_mps2"] = a / G
    series = clip_ego(meta)
    if series and "accel_mps2" in series:
        series["accel_mps2"] = [float(v) / G for v in series["accel_mps2"]]
    t.put_meta(meta, recaption=False)
    return {"accel": [r(a, 3), r(a / G, 4)]}


# ---------------------------------------------------------------- degraded_optics

BAYER = {"RGGB": ((0, 1), (1, 2)), "BGGR": ((2, 1), (1, 0)), "GRBG": ((1, 0), (2, 1)),
         "GBRG": ((1, 2), (0, 1))}  # fmt: skip


def bayer_masks(shape: tuple[int, int], pattern: str) -> np.ndarray:
    h, w = shape
    p = np.asarray(BAYER[pattern])
    ch = p[np.arange(h)[:, None] % 2, np.arange(w)[None, :] % 2]
    return np.stack([ch == c for c in range(3)], -1)


def demosaic(raw: np.ndarray, pattern: str) -> np.ndarray:
    masks = bayer_masks(raw.shape, pattern).astype(np.float64)
    k = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    out = np.empty(raw.shape + (3,))
    for c in range(3):
        m = masks[..., c]
        num = ndimage.convolve(raw * m, k, mode="mirror")
        den = ndimage.convolve(m, k, mode="mirror")
        out[..., c] = np.where(m > 0, raw, num / np.maximum(den, 1e-9))
    return np.round(np.clip(out, 0, 255)).astype(np.uint8)


@fault("degraded_optics", RGB, FRAMES_FILE)
def rgb_bayer_phase_wrong(t: Target) -> dict | None:
    wrong = ("BGGR", "GRBG", "GBRG")[int(t.rng.integers(3))]

    def fn(img: np.ndarray) -> np.ndarray:
        raw = (img.astype(np.float64) * bayer_masks(img.shape[:2], "RGGB")).sum(-1)
        return demosaic(raw, wrong)

    if not put_image(t, fn):
        return None
    return {"sensor": "RGGB", "demosaiced_as": wrong}


@fault("degraded_optics", RGB, FRAMES_FILE)
def rgb_low_bit_depth(t: Target) -> dict | None:
    bits = [(5, 6, 5), (4, 4, 4), (3, 3, 2)][int(t.rng.integers(3))]

    def fn(img: np.ndarray) -> np.ndarray:
        out = np.empty_like(img)
        for c, b in enumerate(bits):
            v = img[..., c] >> (8 - b)
            out[..., c] = np.round(v * 255.0 / (2**b - 1)).astype(np.uint8)
        return out

    if not put_image(t, fn):
        return None
    return {"bits": list(bits)}


@fault("degraded_optics", RGB, FRAMES_FILE)
def rgb_oversharpened(t: Target) -> dict | None:
    amount = float(t.rng.uniform(1.5, 3.0))
    sigma = max(0.5, scaled(t, float(t.rng.uniform(0.6, 1.2))))

    def fn(img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float64)
        blur = ndimage.gaussian_filter(x, (sigma, sigma, 0), mode="nearest")
        return np.round(np.clip(x + amount * (x - blur), 0, 255)).astype(np.uint8)

    if not put_image(t, fn):
        return None
    return {"amount": r(amount, 3), "sigma_px": r(sigma, 3)}


@fault("degraded_optics", RGB, FRAMES_FILE)
def rgb_lens_distortion(t: Target) -> dict | None:
    cam = t.sample.meta["camera"]
    k1 = float(t.rng.uniform(0.12, 0.3)) * (1 if t.rng.random() < 0.5 else -1)
    h, w = t.sample.rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    xn, yn = (xx - cam["cx"]) / cam["fx"], (yy - cam["cy"]) / cam["fy"]
    f = 1.0 + k1 * (xn**2 + yn**2)
    sx, sy = cam["cx"] + xn * f * cam["fx"] - 0.5, cam["cy"] + yn * f * cam["fy"] - 0.5

    def fn(img: np.ndarray) -> np.ndarray:
        chans = [ndimage.map_coordinates(img[..., c].astype(np.float64), [sy, sx], order=1,
                                         mode="nearest") for c in range(3)]  # fmt: skip
        return np.round(np.clip(np.stack(chans, -1), 0, 255)).astype(np.uint8)

    if not put_image(t, fn):
        return None
    return {"k1": r(k1, 4)}


@fault("degraded_optics", AUDIO_FILE)
def audio_mains_hum(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    hz = float(t.rng.choice([50.0, 60.0]))
    dbfs = float(t.rng.uniform(-30.0, -18.0))
    amp = 10 ** (dbfs / 20) * math.sqrt(2)
    rate = t.sample.sample_rate
    hum = sum(amp / k * sine(a.size, rate, hz * k, float(t.rng.uniform(0, 2 * math.pi)))
              for k in range(1, 5))  # fmt: skip
    put_audio(t, np.clip(a + hum, -1.0, 1.0))
    return {"hz": hz, "dbfs": r(dbfs, 1)}


@fault("degraded_optics", AUDIO_FILE)
def audio_zero_order_hold(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    d = int(t.rng.integers(2, 5))
    out = np.repeat(a[::d], d)[: a.size]
    if np.abs(out - a).max() < 1e-3:
        return None
    put_audio(t, out)
    return {"factor": d, "captured_hz": t.sample.sample_rate // d}


@fault("degraded_optics", AUDIO_FILE)
def audio_agc_pumping(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    rate = t.sample.sample_rate
    tau = float(t.rng.uniform(0.005, 0.03))
    gmax = float(t.rng.uniform(4.0, 10.0))
    target = 0.25
    alpha = 1.0 - math.exp(-1.0 / (tau * rate))
    power = signal.lfilter([alpha], [1.0, alpha - 1.0], a**2)
    gain = np.minimum(gmax, target / np.sqrt(np.maximum(power, 1e-12)))
    out = np.clip(a * gain, -1.0, 1.0)
    if np.abs(out - a).max() < 0.01:
        return None
    put_audio(t, out)
    return {"tau_ms": r(1000 * tau, 2), "max_gain": r(gmax, 2)}


@fault("degraded_optics", AUDIO_FILE)
def audio_bus_echo(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    delay = int(float(t.rng.uniform(0.03, 0.15)) * t.sample.sample_rate)
    g = float(t.rng.uniform(0.3, 0.6))
    den = np.zeros(delay + 1)
    den[0], den[delay] = 1.0, -g
    put_audio(t, np.clip(signal.lfilter([1.0], den, a), -1.0, 1.0))
    return {"delay_ms": r(1000.0 * delay / t.sample.sample_rate, 2), "gain": r(g, 3)}


# ---------------------------------------------------------------- metadata_contradiction


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def ego_velocity_body_frame(t: Target) -> dict | None:
    meta = t.meta
    ego = meta["ego"]
    if "velocity" not in ego or "yaw" not in ego:
        return None
    v = np.asarray(ego["velocity"], np.float64)
    c, s = math.cos(float(ego["yaw"])), math.sin(float(ego["yaw"]))
    body = np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1], v[2]])
    if float(np.linalg.norm(body - v)) < 1.0:
        return None
    ego["velocity"] = [float(x) for x in body]
    put_meta_derived(t, meta)
    return {"yaw_deg": r(math.degrees(float(ego["yaw"])), 2)}


@fault("metadata_contradiction", JSON_FILE)
def camera_size_default_config(t: Target) -> dict | None:
    meta = t.meta
    cam = meta["camera"]
    w, h = int(cam["width"]), int(cam["height"])
    sizes = [s for s in (64, 128, 224, 256, 512) if s != w]
    new = sizes[int(t.rng.integers(len(sizes)))]
    cam["width"], cam["height"] = new, int(round(h * new / w))
    t.put_meta(meta, recaption=False)
    return {"size": [[w, h], [cam["width"], cam["height"]]]}


KNOWN_SOUNDS = ("engine", "tire_roll", "tire_squeal", "wet_hiss", "wind", "rain", "thunder")


@fault("metadata_contradiction", JSON_FILE)
def audio_events_accumulated(t: Target) -> dict | None:
    meta = t.meta
    mine = list(meta["audio"].get("events", []))
    seen = {s for e in t.index if e.meta["scenario_id"] != meta["scenario_id"]
            for s in e.meta["audio"].get("events", [])}  # fmt: skip
    pool = sorted((seen | set(KNOWN_SOUNDS)) - set(mine))
    if not pool:
        return None
    k = int(t.rng.integers(1, min(3, len(pool)) + 1))
    added = [pool[i] for i in sorted(t.rng.choice(len(pool), size=k, replace=False))]
    meta["audio"]["events"] = mine + added
    t.put_meta(meta, recaption=False)
    return {"added": added}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def steer_sign_convention(t: Target) -> dict | None:
    meta = t.meta
    s = float(meta["ego"].get("steer", 0.0))
    if abs(s) < 0.02:
        return None
    meta["ego"]["steer"] = -s
    series = clip_ego(meta)
    if series and "steer" in series:
        series["steer"] = [-float(v) for v in series["steer"]]
    put_meta_derived(t, meta)
    return {"steer": [r(s), r(-s)]}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def throttle_brake_swapped(t: Target) -> dict | None:
    meta = t.meta
    ego = meta["ego"]
    th, br = float(ego.get("throttle", 0.0)), float(ego.get("brake", 0.0))
    if abs(th - br) < 0.05:
        return None
    ego["throttle"], ego["brake"] = br, th
    series = clip_ego(meta)
    if series and "throttle" in series and "brake" in series:
        series["throttle"], series["brake"] = series["brake"], series["throttle"]
    put_meta_derived(t, meta)
    return {"throttle": [r(th), r(br)]}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def weather_visibility_km(t: Target) -> dict | None:
    meta = t.meta
    v = meta["weather"].get("visibility_m")
    if v is None or float(v) < 1.0:
        return None
    unit, per = (("km", 1000.0), ("mi", 1609.344))[int(t.rng.integers(2))]
    meta["weather"]["visibility_m"] = float(v) / per
    put_meta_derived(t, meta)
    return {"unit": unit, "visibility": [r(v, 2), r(float(v) / per, 5)]}


@fault("metadata_contradiction", JSON_FILE)
def clip_ego_series_reversed(t: Target) -> dict | None:
    meta = t.meta
    series = clip_ego(meta)
    if not series:
        return None
    n = 0
    for k, v in series.items():
        if isinstance(v, list) and v != v[::-1]:
            series[k], n = v[::-1], n + 1
    lead = meta["clip"].get("lead_distance_m")
    if isinstance(lead, list):
        meta["clip"]["lead_distance_m"] = lead[::-1]
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"series": n}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying

FAULT_SET = FaultSet("v5", CLASSES, REGISTRY, SEED_TAG)
sample_rng = FAULT_SET.sample_rng
apply_fault = FAULT_SET.apply_fault
inject = FAULT_SET.inject
main = FAULT_SET.main

if __name__ == "__main__":
    main()
