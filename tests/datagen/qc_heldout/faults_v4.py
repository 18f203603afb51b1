"""Held-out fault set v4: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (docs/design.md, docs/internals.md, datagen/sample.py,
datagen/builder.py, sim/labels.py, datagen/captions/facts.py for what captions state),
without reading QC's rules, its tests or its results, and never tuned against QC. Every
mechanism differs from v1 (faults.py), v2 (faults_v2.py) and v3 (faults_v3.py); the data-set
plumbing (index, targets, shard rewriting, manifest/sidecar/card bookkeeping) is v2's and
v3's, imported unchanged. ``inject`` has their interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault keeps each file decodable and plausible by itself; metadata that a real pipeline
derives downstream (captions from json, boxes from masks) follows the bug where it would.
Image sizes below are for a 64 px image and scale with the width.

The classes are issue 20's five. (The set was first written with v3's grouping, label_geometry,
sensor_render, audio, text_metadata and cross_modal; the code is still laid out that way.)
Audio signal faults count as degraded_optics (a degraded sensor chain) and the audio
fault that contradicts the weather as metadata_contradiction.

No fault repeats an earlier set's mechanism. Some share a symptom with an earlier fault:
captions_adjacent_frame (v1 caption_other, v2 caption_similar_weather: captions of another
scenario), box3d_cam_stale_pose (v3 box3d_previous_tick: for static objects both give the
camera boxes of the previous pose), rgb_field_interlaced (v3 rgb_torn_frame),
depth_float16_roundtrip (v3 depth_zbuffer_16bit), rgb_chroma_plane_shifted (v2
chromatic_aberration), rgb_video_range (v1 exposure), rgb_buffer_offset (v1 labels_shifted,
v2 label_pass_offset), time_of_day_clock_offset (v2 sun_altitude_sign), inst_mask_eroded (v1
mask_grown, the other way).

label_misalignment (labels out of alignment with the image)
  bbox2d_amodal             bbox2d from the projected 3D box corners (amodal, clipped to the
                            image) instead of the tight box of the visible mask: occluded and
                            truncated objects keep their full extent.
  box3d_heading_flipped     bbox3d_world.yaw + 180 deg (heading of the wrong end) for every
                            object with |l - w| > 10 %; camera corners rebuilt (permuted).
  box3d_center_at_bottom    bbox3d centre z at the bottom face (a KITTI-style origin written
                            where the schema means the centre); camera box and distance too.
  inst_mask_eroded          inst.npy.gz eroded by one pixel (3x3) per object; bbox2d and
                            visible_px from the eroded mask, objects without pixels dropped.
  seg_link_misclassified    the upper half of the largest object's pixels in seg.png carry
                            another object class (one link of a body registered wrongly).
  instances_merged          two objects of one class share one instance id in inst.npy.gz
                            (an id hash collision); the survivor's 2D box is their union,
                            the other record is gone.
  depth_edge_blended        depth at object boundaries with a depth step > 1 m averaged over
                            3x3 (flying pixels of a filtered depth buffer).
  rgb_buffer_offset         the frame buffer read 1-6 px late: every row shifted right, its
                            first pixels the end of the row above (a start-address offset).
stale_swapped (a frame, caption, pose or record of another frame)
  rgb_field_interlaced      odd or even rows from the adjacent frame (fields woven from two
                            frames: combing).
  captions_adjacent_frame   txt and json.captions of the adjacent frame of the same camera.
  ego_position_stale_tick   ego.position from 3-9 control ticks earlier (extrapolated back
                            along the velocity); poses current.
  box3d_cam_stale_pose      bbox3d_cam and distance_m from the adjacent frame's camera pose
                            (world boxes current); captions follow.
  object_ghost_record       json.objects gains the record of an object seen in the adjacent
                            frame but not in this one (not in the masks); captions follow.
unit_calibration (depth scale, intrinsics, pose)
  depth_origin_offset       every hit's depth + 0.3-1.5 m (measured from the ego reference
                            point behind the lens), clipped to the far plane.
  depth_float16_roundtrip   depth through a float16 buffer (steps of 3 cm at 32 m, 12.5 cm
                            beyond 128 m).
  intrinsics_focal_mm       fx and fy (camera and rig) as the focal length in millimetres
                            (x sensor width / image width, for a 4.8-7.2 mm wide sensor); cx
                            and cy stay in pixels (a unit mix-up in the calibration export).
  pose_inverted             the pose written inverted: rig.T_world_ego holds T_ego_world and
                            the camera's T_world_cam derived from it (without a rig:
                            T_world_cam holds T_cam_world); ego.position current.
degraded_optics (the camera's and the microphone's signal chain)
  rgb_channel_stuck         one colour channel held at a constant level 32-224 (a stuck ISP
                            register).
  rgb_histogram_equalised   luminance histogram equalisation (an auto-contrast stage left on).
  rgb_chroma_plane_shifted  Cb and Cr planes shifted 2-3 px sideways relative to luma (a
                            misaligned chroma plane in a YCbCr hand-over).
  rgb_video_range           full-range values squeezed to 16-235 (washed out), or limited
                            range expanded to 0-255 (crushed).
  audio_downmix_phase_inverted  a stereo mix with the right channel 0.25-1 ms late downmixed
                            as (L - R) / 2 (a polarity error: a comb filter eats the lows).
  audio_buffer_clicks       a one-sample click of 0.2-0.6 at every 256/512/1024-sample buffer
                            boundary (resampler state reset per buffer).
  audio_peak_normalised     each clip normalised to its own peak (0.99 full scale), gain >= 1.4.
  audio_lowpass_wrong_cutoff  an anti-alias low-pass at 1-2.5 kHz (designed for another rate).
  audio_8bit_pcm            the clip passed through 8-bit PCM (quantised to 1/127).
  audio_clip_faded          a 50-200 ms raised-cosine fade-in and fade-out on every clip (each
                            clip treated as a file of its own).
metadata_contradiction (json, txt or audio contradicting the sensors)
  time_of_day_clock_offset  weather.time_of_day shifted one phase on (dawn -> day -> dusk ->
                            night -> dawn; a clock offset), sun kept; captions follow.
  driver_style_other_scenario  json.driver (style, policy id) of another scenario with another
                            style (a worker's cached driver); captions follow.
  scenario_id_repeated      json.scenario_id of another scenario (a counter not advanced);
                            key, seed and everything else current.
  events_time_clip_relative  json.events time_s relative to the clip window start instead
                            of the scenario time.
  txt_truncated_buffer      txt cut at 40-80 bytes (a fixed-size char buffer); json.captions
                            intact.
  caption_family_shifted    json.captions' family tags rotated by one (texts in place).
  weather_density_percent   one of fog_density, precip_intensity, cloudiness, road_wetness
                            divided by 100 again (a percent conversion done twice); derived
                            family, visibility and surface kept.
  audio_phantom_rain_bed    a rain hiss bed (-34..-26 dBFS high-passed noise) mixed into a
                            clip of a scenario without precipitation.
  caption_phantom_object    captions from the objects plus a vehicle or pedestrian 4-15 m
                            away that is not in the frame (a stale detector list).
  caption_sides_mirrored    captions with every object's left/right mirrored (a sign flip in
                            the caption writer).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage, signal

from datagen.sample import DEPTH_FILE, INST_FILE, SEG_FILE
from qc_heldout.faults_v2 import (
    JSON_FILE,
    TXT_FILE,
    Target,
    flat,
    matrix,
    r,
    relabel,
    rig_camera,
    shifted,
    to_uint8,
)
from qc_heldout.faults_v3 import (
    AUDIO_FILE,
    RGB,
    adjacent,
    audible,
    cam_box,
    decoded,
    put_audio,
    put_captions,
    set_cam_box,
)
from qc_heldout.injection import FaultSet
from sim.classes import CLASS_IDS

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip
SEED_TAG = 0x5EED_F4  # separates this module's draws from v2's and v3's for the same seed
THINGS = ("vehicle", "pedestrian", "barrier", "building", "vegetation", "pole")
PHASES = ("dawn", "day", "dusk", "night")
DENSITIES = ("fog_density", "precip_intensity", "cloudiness", "road_wetness")
CONTROL_HZ = 60.0

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


def scaled(t: Target, at_64: float) -> int:
    """A size in pixels given for a 64 px image, at this image's width (at least 1)."""
    return max(1, int(round(at_64 * t.sample.rgb.shape[1] / 64.0)))


def project_box(o: dict, cam: dict) -> list[int] | None:
    """The image box [x0, y0, x1, y1] of an object's 3D camera corners, clipped to the image
    (None when a corner lies behind the camera)."""
    pts = np.asarray(o["bbox3d_cam"]["corners"], np.float64)
    if (pts[:, 2] <= float(cam["near"])).any():
        return None
    u = cam["fx"] * pts[:, 0] / pts[:, 2] + cam["cx"]
    v = cam["fy"] * pts[:, 1] / pts[:, 2] + cam["cy"]
    w, h = int(cam["width"]), int(cam["height"])
    box = [
        int(np.clip(math.floor(u.min()), 0, w)),
        int(np.clip(math.floor(v.min()), 0, h)),
        int(np.clip(math.ceil(u.max()), 0, w)),
        int(np.clip(math.ceil(v.max()), 0, h)),
    ]
    return box if box[2] > box[0] and box[3] > box[1] else None


def rebox(o: dict, world: dict, T_world_cam: np.ndarray) -> None:
    """Store a (wrong) world box and the camera box and distance derived from it."""
    o["bbox3d_world"] = world
    set_cam_box(o, cam_box(world["center"], world["size"], world["yaw"], T_world_cam))


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def to_ycc(rgb: np.ndarray) -> np.ndarray:
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    return rgb.astype(np.float64) @ m.T + np.array([0.0, 128.0, 128.0])


def from_ycc(ycc: np.ndarray) -> np.ndarray:
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    out = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1)
    return np.round(np.clip(out, 0, 255)).astype(np.uint8)


def mean_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


# ---------------------------------------------------------------- label_geometry


@fault("label_misalignment", JSON_FILE)
def bbox2d_amodal(t: Target) -> dict | None:
    meta, n = t.meta, 0
    for o in meta["objects"]:
        box = project_box(o, meta["camera"])
        if box is not None and box != o["bbox2d"]:
            o["bbox2d"], n = box, n + 1
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"objects": n}


@fault("label_misalignment", JSON_FILE)
def box3d_heading_flipped(t: Target) -> dict | None:
    meta, n = t.meta, 0
    T_world_cam = matrix(meta["camera"]["T_world_cam"])
    for o in meta["objects"]:
        w = copy.deepcopy(o["bbox3d_world"])
        l, wd, _ = w["size"]
        if abs(l - wd) <= 0.1 * max(l, wd):
            continue
        w["yaw"] = math.remainder(float(w["yaw"]) + math.pi, 2 * math.pi)
        rebox(o, w, T_world_cam)
        n += 1
    if not n:
        return None
    t.put_meta(meta, recaption=False)
    return {"objects": n}


@fault("label_misalignment", JSON_FILE, TXT_FILE)
def box3d_center_at_bottom(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    T_world_cam = matrix(meta["camera"]["T_world_cam"])
    for o in meta["objects"]:
        w = copy.deepcopy(o["bbox3d_world"])
        w["center"][2] = float(w["center"][2]) - float(w["size"][2]) / 2.0
        rebox(o, w, T_world_cam)
    t.put_meta(meta)
    return {"objects": len(meta["objects"])}


@fault("label_misalignment", INST_FILE, JSON_FILE, TXT_FILE)
def inst_mask_eroded(t: Target) -> dict | None:
    inst = t.sample.inst
    out = np.zeros_like(inst)
    for i in np.unique(inst[inst > 0]):
        out[ndimage.binary_erosion(inst == i, np.ones((3, 3), bool))] = i
    if np.array_equal(out, inst):
        return None
    meta = t.meta
    before = len(meta["objects"])
    meta["objects"] = relabel(meta["objects"], out)
    t.put_labels(inst=out)
    t.put_meta(meta)
    return {"pixels_removed": int((out != inst).sum()), "objects_dropped": before -
            len(meta["objects"])}  # fmt: skip


@fault("label_misalignment", SEG_FILE)
def seg_link_misclassified(t: Target) -> dict | None:
    objs = [o for o in t.sample.meta["objects"] if o["visible_px"] >= 4 and o["class"] in THINGS]
    if not objs:
        return None
    o = max(objs, key=lambda o: (o["visible_px"], -o["instance_id"]))
    x0, y0, x1, y1 = o["bbox2d"]
    mask = t.sample.inst == o["instance_id"]
    mask[(y0 + y1) // 2 :] = False
    if not mask.any():
        return None
    others = [c for c in THINGS if c != o["class"]]
    new = others[int(t.rng.integers(len(others)))]
    seg = t.sample.seg.copy()
    seg[mask] = CLASS_IDS[new]
    t.put_labels(seg=seg)
    return {"instance_id": o["instance_id"], "class": [o["class"], new],
            "pixels": int(mask.sum())}  # fmt: skip


@fault("unit_calibration", DEPTH_FILE)
def depth_origin_offset(t: Target) -> dict | None:
    depth = t.sample.depth
    hit = depth > 0
    if not hit.any():
        return None
    off = float(t.rng.uniform(0.3, 1.5))
    far = float(t.sample.meta["camera"]["far"])
    out = np.where(hit, np.minimum(depth.astype(np.float64) + off, far), 0.0)
    t.put_labels(depth=out.astype(np.float32))
    return {"offset_m": r(off, 3)}


def merge_pair(objects: list[dict]) -> tuple[dict, dict] | None:
    """The two objects of one class whose 2D box centres lie closest together."""
    best, pair = math.inf, None
    for i, a in enumerate(objects):
        for b in objects[i + 1 :]:
            if a["class"] != b["class"]:
                continue
            ca = np.add(a["bbox2d"][:2], a["bbox2d"][2:]) / 2
            cb = np.add(b["bbox2d"][:2], b["bbox2d"][2:]) / 2
            d = float(np.linalg.norm(ca - cb))
            if d < best:
                best, pair = d, (a, b)
    return pair


@fault("label_misalignment", INST_FILE, JSON_FILE, TXT_FILE)
def instances_merged(t: Target) -> dict | None:
    meta = t.meta
    pair = merge_pair(meta["objects"])
    if pair is None:
        return None
    keep, gone = pair
    inst = t.sample.inst.copy()
    inst[inst == gone["instance_id"]] = keep["instance_id"]
    meta["objects"] = relabel(meta["objects"], inst)
    t.put_labels(inst=inst)
    t.put_meta(meta)
    return {"class": keep["class"], "ids": [keep["instance_id"], gone["instance_id"]]}


# ---------------------------------------------------------------- camera model


def moved_by(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Distance (m) between the origins of two poses and the angle (deg) between them."""
    dr = a[:3, :3].T @ b[:3, :3]
    cos = float(np.clip((np.trace(dr) - 1.0) / 2.0, -1.0, 1.0))
    return float(np.linalg.norm(a[:3, 3] - b[:3, 3])), math.degrees(math.acos(cos))


@fault("unit_calibration", JSON_FILE)
def intrinsics_focal_mm(t: Target) -> dict | None:
    meta = t.meta
    cam = meta["camera"]
    sensor_mm = float(t.rng.uniform(4.8, 7.2))
    factor = sensor_mm / float(cam["width"])
    for holder in filter(None, (cam, rig_camera(meta))):
        holder["fx"], holder["fy"] = holder["fx"] * factor, holder["fy"] * factor
    t.put_meta(meta, recaption=False)
    return {"sensor_width_mm": r(sensor_mm, 3), "fx_mm": r(cam["fx"], 4)}


@fault("unit_calibration", JSON_FILE)
def pose_inverted(t: Target) -> dict | None:
    meta = t.meta
    old = matrix(meta["camera"]["T_world_cam"])
    cam = rig_camera(meta)
    if cam is not None:
        T_ego_world = np.linalg.inv(matrix(meta["rig"]["T_world_ego"]))
        meta["rig"]["T_world_ego"] = flat(T_ego_world)
        meta["camera"]["T_world_cam"] = flat(T_ego_world @ matrix(cam["T_ego_cam"]))
    else:
        meta["camera"]["T_world_cam"] = flat(np.linalg.inv(old))
    dist, angle = moved_by(old, matrix(meta["camera"]["T_world_cam"]))
    if dist < 0.5 and angle < 2.0:
        return None
    t.put_meta(meta, recaption=False)
    return {"rig": cam is not None, "camera_moved_m": r(dist, 3), "rotated_deg": r(angle, 2)}


# ---------------------------------------------------------------- sensor_render


@fault("degraded_optics", RGB)
def rgb_channel_stuck(t: Target) -> dict | None:
    rgb = t.sample.rgb
    ch = int(t.rng.integers(3))
    if float(rgb[..., ch].std()) < 2.0:
        return None
    level = int(t.rng.integers(32, 225))
    out = rgb.copy()
    out[..., ch] = level
    t.put_rgb(out)
    return {"channel": "rgb"[ch], "level": level}


@fault("degraded_optics", RGB)
def rgb_histogram_equalised(t: Target) -> dict | None:
    rgb = t.sample.rgb
    y = luma(rgb)
    levels = np.clip(np.round(y), 0, 255).astype(np.int64)
    cdf = np.cumsum(np.bincount(levels.ravel(), minlength=256)).astype(np.float64)
    lo = cdf[cdf > 0][0]
    if cdf[-1] <= lo:
        return None
    target = np.clip((cdf[levels] - lo) / (cdf[-1] - lo), 0, 1) * 255.0
    out = to_uint8(rgb.astype(np.float64) / 255.0 * (target / np.maximum(y, 1.0))[..., None])
    if mean_change(out, rgb) < 3.0:
        return None
    t.put_rgb(out)
    return {"mean_change": r(mean_change(out, rgb), 2)}


@fault("stale_swapped", RGB)
def rgb_field_interlaced(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    field = int(t.rng.integers(2))
    out = t.sample.rgb.copy()
    out[field::2] = decoded(donor).rgb[field::2]
    if np.array_equal(out, t.sample.rgb):
        return None
    t.put_rgb(out)
    return {"field": "even" if field == 0 else "odd", "rows_of_frame": int(donor.meta["frame"])}


@fault("label_misalignment", RGB)
def rgb_buffer_offset(t: Target) -> dict | None:
    rgb = t.sample.rgb
    k = int(t.rng.integers(1, scaled(t, 6) + 1))
    out = np.roll(rgb.reshape(-1, 3), k, axis=0).reshape(rgb.shape)
    if np.array_equal(out, rgb):
        return None
    t.put_rgb(out)
    return {"offset_px": k}


@fault("degraded_optics", RGB)
def rgb_chroma_plane_shifted(t: Target) -> dict | None:
    rgb = t.sample.rgb
    ycc = to_ycc(rgb)
    d = int(t.rng.integers(scaled(t, 2), scaled(t, 3) + 1)) * (1 if t.rng.random() < 0.5 else -1)
    xs = np.clip(np.arange(rgb.shape[1]) - d, 0, rgb.shape[1] - 1)
    ycc[..., 1:] = ycc[:, xs, 1:]
    out = from_ycc(ycc)
    if mean_change(out, rgb) < 1.0:
        return None
    t.put_rgb(out)
    return {"shift_px": d}


@fault("degraded_optics", RGB)
def rgb_video_range(t: Target) -> dict | None:
    rgb = t.sample.rgb.astype(np.float64)
    squeeze = bool(t.rng.random() < 0.5)
    out = 16.0 + rgb * 219.0 / 255.0 if squeeze else (rgb - 16.0) * 255.0 / 219.0
    out = np.round(np.clip(out, 0, 255)).astype(np.uint8)
    if np.array_equal(out, t.sample.rgb):
        return None
    t.put_rgb(out)
    return {"direction": "full_as_limited" if squeeze else "limited_as_full"}


@fault("unit_calibration", DEPTH_FILE)
def depth_float16_roundtrip(t: Target) -> dict | None:
    depth = t.sample.depth
    out = depth.astype(np.float16).astype(np.float32)
    err = float(np.max(np.abs(out.astype(np.float64) - depth)))
    if err < 0.01:
        return None
    t.put_labels(depth=out)
    return {"max_error_m": r(err, 4)}


@fault("label_misalignment", DEPTH_FILE)
def depth_edge_blended(t: Target) -> dict | None:
    depth, inst = t.sample.depth.astype(np.float64), t.sample.inst
    hit = depth > 0
    edge = np.zeros_like(hit)
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        d2, i2 = shifted(depth, dy, dx), shifted(inst, dy, dx)
        edge |= (i2 != inst) & (np.abs(d2 - depth) > 1.0) & (d2 > 0)
    edge &= hit
    if not edge.any():
        return None
    total = ndimage.uniform_filter(depth, 3, mode="nearest")
    count = ndimage.uniform_filter(hit.astype(np.float64), 3, mode="nearest")
    out = np.where(edge, total / np.maximum(count, 1e-9), depth).astype(np.float32)
    t.put_labels(depth=out)
    return {"pixels": int(edge.sum())}


# ---------------------------------------------------------------- audio


@fault("degraded_optics", AUDIO_FILE)
def audio_downmix_phase_inverted(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    delay_ms = float(t.rng.uniform(0.25, 1.0))
    lag = max(1, int(round(delay_ms * t.sample.sample_rate / 1000.0)))
    right = a[np.maximum(np.arange(a.size) - lag, 0)]
    put_audio(t, 0.5 * (a - right))
    return {"delay_samples": lag}


@fault("degraded_optics", AUDIO_FILE)
def audio_buffer_clicks(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64).copy()
    if not audible(a):
        return None
    block = int(t.rng.choice([256, 512, 1024]))
    amp = float(t.rng.uniform(0.2, 0.6))
    at = np.arange(block, a.size, block)
    a[at] = np.clip(a[at] + amp * np.where(a[at] >= 0, 1.0, -1.0), -1.0, 1.0)
    put_audio(t, a)
    return {"block": block, "amplitude": r(amp, 3), "clicks": int(at.size)}


@fault("degraded_optics", AUDIO_FILE)
def audio_peak_normalised(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    gain = 0.99 / float(np.max(np.abs(a)))
    if gain < 1.4:
        return None
    put_audio(t, np.clip(a * gain, -1.0, 1.0))
    return {"gain": r(gain, 3)}


@fault("metadata_contradiction", AUDIO_FILE)
def audio_phantom_rain_bed(t: Target) -> dict | None:
    meta = t.sample.meta
    wet = meta["weather"].get("precip_type") not in (None, "none")
    if wet or "rain" in meta["audio"]["events"]:
        return None
    a = t.sample.audio.astype(np.float64)
    noise = np.diff(t.rng.normal(0.0, 1.0, a.size + 1))
    dbfs = float(t.rng.uniform(-34.0, -26.0))
    noise *= 10 ** (dbfs / 20) / max(float(np.sqrt(np.mean(noise**2))), 1e-12)
    put_audio(t, np.clip(a + noise, -1.0, 1.0))
    return {"bed_dbfs": r(dbfs, 1)}


@fault("degraded_optics", AUDIO_FILE)
def audio_lowpass_wrong_cutoff(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    cutoff = float(t.rng.uniform(1000.0, 2500.0))
    sos = signal.butter(6, cutoff, "low", fs=t.sample.sample_rate, output="sos")
    put_audio(t, np.clip(signal.sosfilt(sos, a), -1.0, 1.0))
    return {"cutoff_hz": r(cutoff, 1)}


@fault("degraded_optics", AUDIO_FILE)
def audio_8bit_pcm(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    put_audio(t, np.round(np.clip(a, -1.0, 1.0) * 127.0) / 127.0)
    return {"bits": 8}


@fault("degraded_optics", AUDIO_FILE)
def audio_clip_faded(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    n = min(a.size // 2, int(float(t.rng.uniform(0.05, 0.2)) * t.sample.sample_rate))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n))
    env = np.ones(a.size)
    env[:n], env[a.size - n :] = ramp, ramp[::-1]
    put_audio(t, a * env)
    return {"fade_ms": r(1000.0 * n / t.sample.sample_rate, 1)}


# ---------------------------------------------------------------- text_metadata


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def time_of_day_clock_offset(t: Target) -> dict | None:
    meta = t.meta
    old = meta["weather"].get("time_of_day")
    if old not in PHASES:
        return None
    meta["weather"]["time_of_day"] = PHASES[(PHASES.index(old) + 1) % len(PHASES)]
    t.put_meta(meta)
    return {"time_of_day": [old, meta["weather"]["time_of_day"]]}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def driver_style_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    style = meta["driver"]["style"]
    donors = [e for e in t.index if e.meta["driver"]["style"] != style]
    if not donors:
        return None
    donor = donors[int(t.rng.integers(len(donors)))]
    meta["driver"] = copy.deepcopy(donor.meta["driver"])
    t.put_meta(meta)
    return {"style": [style, meta["driver"]["style"]], "of_scenario": donor.meta["scenario_id"]}


@fault("metadata_contradiction", JSON_FILE)
def scenario_id_repeated(t: Target) -> dict | None:
    meta = t.meta
    mine = int(meta["scenario_id"])
    ids = sorted({int(e.meta["scenario_id"]) for e in t.index} - {mine})
    if not ids:
        return None
    before = [i for i in ids if i < mine]
    meta["scenario_id"] = before[-1] if before else ids[0]
    t.put_meta(meta, recaption=False)
    return {"scenario_id": [mine, meta["scenario_id"]]}


@fault("metadata_contradiction", JSON_FILE)
def events_time_clip_relative(t: Target) -> dict | None:
    meta = t.meta
    if not meta.get("events"):
        return None
    start = float(meta["time_s"]) - float(meta["audio"]["duration_s"])
    for e in meta["events"]:
        e["time_s"] = float(e["time_s"]) - start
    t.put_meta(meta, recaption=False)
    return {"window_start_s": r(start, 4), "events": len(meta["events"])}


@fault("metadata_contradiction", TXT_FILE)
def txt_truncated_buffer(t: Target) -> dict | None:
    raw = t.files[TXT_FILE]
    size = int(t.rng.integers(40, 81))
    if len(raw) <= size + 5:
        return None
    t.files[TXT_FILE] = raw[:size].decode("utf-8", errors="ignore").encode("utf-8")
    return {"bytes": size, "of": len(raw)}


@fault("metadata_contradiction", JSON_FILE)
def caption_family_shifted(t: Target) -> dict | None:
    meta = t.meta
    caps = meta["captions"]
    families = [c["family"] for c in caps]
    if len(set(families)) < 2:
        return None
    for c, fam in zip(caps, families[1:] + families[:1], strict=True):
        c["family"] = fam
    t.put_meta(meta, recaption=False)
    return {"captions": len(caps)}


@fault("metadata_contradiction", JSON_FILE)
def weather_density_percent(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    fields = [k for k in DENSITIES if float(w.get(k, 0.0)) >= 0.1]
    if not fields:
        return None
    k = fields[int(t.rng.integers(len(fields)))]
    old = float(w[k])
    w[k] = old / 100.0
    t.put_meta(meta, recaption=False)
    return {"field": k, "value": [r(old), r(w[k], 6)]}


# ---------------------------------------------------------------- cross_modal


def phantom(meta: dict, rng: np.random.Generator) -> dict | None:
    present = {o["class"] for o in meta["objects"]}
    classes = [c for c in ("vehicle", "pedestrian") if c not in present]
    if not classes:
        return None
    dist = float(rng.uniform(4.0, 15.0))
    angle = float(rng.uniform(-25.0, 25.0)) * math.pi / 180.0
    center = [dist * math.sin(angle), 1.0, dist * math.cos(angle)]
    ids = [int(o["instance_id"]) for o in meta["objects"]]
    return {
        "instance_id": max(ids, default=0) + 1,
        "class": classes[int(rng.integers(len(classes)))],
        "bbox3d_cam": {"center": center},
        "distance_m": float(np.linalg.norm(center)),
    }


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def caption_phantom_object(t: Target) -> dict | None:
    meta = t.meta
    ghost = phantom(meta, t.rng)
    if ghost is None:
        return None
    source = copy.deepcopy(meta)
    source["objects"].append(ghost)
    put_captions(t, meta, source)
    if meta["captions"] == t.sample.meta["captions"]:
        return None
    return {"class": ghost["class"], "distance_m": r(ghost["distance_m"], 2)}


@fault("stale_swapped", JSON_FILE, TXT_FILE)
def captions_adjacent_frame(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None or donor.meta["captions"] == t.sample.meta["captions"]:
        return None
    meta = t.meta
    meta["captions"] = copy.deepcopy(donor.meta["captions"])
    t.files[TXT_FILE] = meta["captions"][0]["text"].encode("utf-8")
    t.put_meta(meta, recaption=False)
    return {"captions_of_frame": int(donor.meta["frame"])}


@fault("stale_swapped", JSON_FILE)
def ego_position_stale_tick(t: Target) -> dict | None:
    meta = t.meta
    ego = meta["ego"]
    ticks = int(t.rng.integers(3, 10))
    step = np.asarray(ego.get("velocity", [0.0, 0.0, 0.0]), np.float64) * ticks / CONTROL_HZ
    if float(np.linalg.norm(step)) < 0.3:
        return None
    ego["position"] = [float(v) for v in np.asarray(ego["position"], np.float64) - step]
    t.put_meta(meta, recaption=False)
    return {"ticks": ticks, "lag_m": r(float(np.linalg.norm(step)), 3)}


@fault("stale_swapped", JSON_FILE, TXT_FILE)
def box3d_cam_stale_pose(t: Target) -> dict | None:
    donor = adjacent(t)
    meta = t.meta
    if donor is None or not meta["objects"]:
        return None
    T_old = matrix(donor.meta["camera"]["T_world_cam"])
    moved = float(np.linalg.norm(T_old[:3, 3] - matrix(meta["camera"]["T_world_cam"])[:3, 3]))
    if moved < 0.5:
        return None
    for o in meta["objects"]:
        w = o["bbox3d_world"]
        set_cam_box(o, cam_box(w["center"], w["size"], w["yaw"], T_old))
    t.put_meta(meta)
    return {"pose_of_frame": int(donor.meta["frame"]), "camera_moved_m": r(moved, 3)}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def caption_sides_mirrored(t: Target) -> dict | None:
    meta = t.meta
    source = copy.deepcopy(meta)
    for o in source["objects"]:
        c = o["bbox3d_cam"]["center"]
        o["bbox3d_cam"]["center"] = [-float(c[0]), c[1], c[2]]
    put_captions(t, meta, source)
    if meta["captions"] == t.sample.meta["captions"]:
        return None
    return {}


@fault("stale_swapped", JSON_FILE, TXT_FILE)
def object_ghost_record(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    meta = t.meta
    mine = {o["instance_id"] for o in meta["objects"]}
    ghosts = [o for o in donor.meta["objects"] if o["instance_id"] not in mine]
    if not ghosts:
        return None
    ghost = ghosts[int(t.rng.integers(len(ghosts)))]
    meta["objects"].append(copy.deepcopy(ghost))
    t.put_meta(meta)
    return {"instance_id": ghost["instance_id"], "class": ghost["class"],
            "record_of_frame": int(donor.meta["frame"])}  # fmt: skip


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying

FAULT_SET = FaultSet("v4", CLASSES, REGISTRY, SEED_TAG)
sample_rng = FAULT_SET.sample_rng
apply_fault = FAULT_SET.apply_fault
inject = FAULT_SET.inject
main = FAULT_SET.main

if __name__ == "__main__":
    main()
