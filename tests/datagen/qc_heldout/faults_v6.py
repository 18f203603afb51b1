"""Held-out fault set v6: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (README.md's schema section, datagen/schema.py,
datagen/builder.py and generated shards), without reading QC's rules, its tests or its
results, and never tuned against QC. The plumbing (index, targets, shard rewriting,
manifest/sidecar/card bookkeeping, the class-then-fault draw) is v2's-v5's, reused unchanged;
``inject`` has their interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault mimics one plausible bug, keeps each file decodable, and draws its magnitude (or
its variant) from the seed. Camera degradations apply to every frame of a clip sample as
well, so the key frame stays equal to ``rgb.png``. All faults apply to single-frame samples.

No fault repeats a mechanism of v1 (faults.py), v2, v3, v4 or v5. Closest earlier fault where
a symptom is shared: seg_object_class_table_rotated (v3 class_enum_shift), bbox2d_padded (v1
box2d_off), inst_ids_as_class (v3 instance_ids_renumbered), seg_hood_mask_other_rig (v1
lens_occluded), visible_px_box_area (v4 bbox2d_amodal), seg_median_filtered (v5
seg_linear_interpolated), inst_small_masks_zeroed (v4 instances_culled_far),
ego_record_other_scenario (v4 ego_position_stale_tick), weather_block_other_scenario (v2
weather_params_wrong_preset), rgb_channel_previous_frame (v5 rgb_temporal_ghost),
labels_keyed_by_frame_index (v5 seg_cached_first_frame), audio_unflushed_tail (v5
audio_double_buffer_stale), audio_bus_crosstalk (v2 audio_other_scenario), depth_log_encoded
(v1 depth_unit), fov_deg_in_radians (v3 intrinsics_diagonal_fov), intrinsics_pixel_aspect (v4
intrinsics_focal_mm), intrinsics_cy_bottom_origin (v5 intrinsics_principal_point_units),
pose_euler_order_wrong (v4 pose_inverted), pose_quaternion_order (v5 pose_column_major),
box3d_size_centimetres (v3 object_depth_feet), ego_yaw_compass_heading (v2 yaw_rate_degrees),
rgb_column_fpn (v1 noise), rgb_nearest_upscaled (v2 label_lowres_nearest), rgb_sensor_blooming
(v2 veiling_glare), rgb_hue_rotated (v3 rgb_white_balance_stuck), audio_wow_flutter (v3
audio_rate_mismatch), audio_preamp_hiss (v3 audio_dc_offset), audio_mulaw_undecoded (v4
audio_8bit_pcm), audio_wind_rumble (v4 audio_phantom_rain_bed), ego_off_road_inverted (v3
road_curvature_sign), ego_surface_stale (v3 precip_type_swapped), ego_damage_phantom (v1
event_wrong), road_shape_mislabelled (v3 road_curvature_sign), audio_events_truncated (v5
audio_events_accumulated), audio_duration_field_wrong (v3 audio_rate_mismatch),
weather_road_dry (v4 weather_density_percent).

label_misalignment (labels out of alignment with the image)
  seg_object_class_table_rotated  each object's pixels in seg.png get the class of the next
                            object in json.objects (a per-instance class table off by one).
  bbox2d_padded             every bbox2d grown by a detector-style margin of 10-30 % of its
                            size on each side (at least 1 px), clipped to the image.
  inst_ids_as_class         inst.npy.gz holds the semantic class ids (the wrong render target
                            bound), everywhere or on object pixels only.
  seg_hood_mask_other_rig   the bottom 8-20 % of seg.png painted as the ego class (a hood mask
                            of another rig); the image shows no hood.
  visible_px_box_area       objects' visible_px is their bbox2d area (exclusive or inclusive)
                            instead of the mask's pixel count.
  seg_median_filtered       seg.png through a 3x3 or 5x5 median filter (a denoiser meant for
                            depth run on the label map): thin classes vanish, ids mix.
  inst_small_masks_zeroed   instance masks under 6-30 px (at 64 px) cleared in inst.npy.gz;
                            json.objects keeps them.
stale_swapped (a frame, audio or metadata of another sample or time)
  ego_record_other_scenario json.ego copied from another scenario's sample (a shared dict
                            reused across workers); captions follow.
  weather_block_other_scenario  json.weather of another scenario with another preset (a
                            stale cache); captions follow; the image is current.
  rgb_channel_previous_frame  one colour channel of rgb from the previous frame (one of three
                            per-channel buffers not swapped).
  labels_keyed_by_frame_index  seg.png and inst.npy.gz of another scenario's sample with the
                            same frame number (a cache keyed by frame index only).
  audio_unflushed_tail      the first 40-250 ms of the clip holds the end of the adjacent
                            frame's audio (a buffer not flushed before capture).
  audio_bus_crosstalk       another scenario's audio mixed in at gain 0.2-0.5 (a mixer bus
                            shared between workers).
unit_calibration (depth scale, intrinsics, pose, units)
  depth_log_encoded         depth holds log(1 + z) (natural or base 10), a compressed encoding
                            never decoded.
  fov_deg_in_radians        json.camera.fov_deg in radians, or the half angle in degrees.
  intrinsics_pixel_aspect   fy = fx * 0.8-0.93 or 1.07-1.25 (a non-square pixel aspect in the
                            camera and rig intrinsics); the images are rendered square.
  intrinsics_cy_bottom_origin  cy (and optionally cx) measured from the bottom (right) edge:
                            cy' = h - cy.
  pose_euler_order_wrong    T_world_cam's rotation decomposed in one Euler order and rebuilt in
                            another (xyz/ZYX or extrinsic/intrinsic).
  pose_quaternion_order     camera and rig rotations through a quaternion read with the scalar
                            at the other end (wxyz vs xyzw).
  box3d_size_centimetres    bbox3d sizes (world and camera) in centimetres or millimetres;
                            corners current.
  ego_yaw_compass_heading   ego.yaw as a compass heading (clockwise from north, pi/2 - yaw),
                            in radians or degrees.
degraded_optics (image and audio sensor degradations)
  rgb_column_fpn            fixed-pattern column noise: a per-column offset of sigma 3-12
                            levels (uncalibrated column amplifiers).
  rgb_nearest_upscaled      the image rendered at 1/2 or 1/4 resolution and upscaled by pixel
                            repetition.
  rgb_sensor_blooming       the brightest pixels bleed vertically 3-12 px (at 64 px) at strength
                            0.5-0.9 (CCD smear).
  rgb_hue_rotated           the ISP hue rotated by 15-45 degrees either way.
  audio_wow_flutter         a sinusoidal time warp of 0.5-4 Hz and 0.5-3 ms depth (a drifting
                            capture clock).
  audio_preamp_hiss         white noise at -42..-26 dBFS RMS (a preamp gain set too high).
  audio_mulaw_undecoded     the clip mu-law (mu 255) or A-law-like (mu 87.6) companded and
                            never expanded.
  audio_wind_rumble         low-passed (60-200 Hz) noise bursts at -22..-12 dBFS (wind
                            buffeting an unshielded microphone).
metadata_contradiction (json that contradicts the sensors)
  ego_off_road_inverted     ego.off_road negated (a flag with inverted polarity).
  ego_surface_stale         ego.surface another surface than the weather's (a default never
                            updated).
  ego_damage_phantom        ego.damage of 0.2-0.9 on one side with no collision event.
  road_shape_mislabelled    road.shape another shape than the curvature says (a segment
                            lookup off by one).
  audio_events_truncated    json.audio.events cut to its first 0-2 entries (a fixed-size list).
  audio_duration_field_wrong  json.audio.duration_s 1/4, 1/2, 2 or 4 times the flac's length
                            (a configured clip length, not the captured one).
  weather_road_dry          weather.road_wetness and puddles scaled by 0-0.1 and
                            weather.surface "dry" while it rains or is wet; captions follow.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage, signal
from scipy.spatial.transform import Rotation

from datagen.sample import DEPTH_FILE, INST_FILE, SEG_FILE
from qc_heldout.faults_v2 import (
    JSON_FILE,
    TXT_FILE,
    Entry,
    Target,
    flat,
    matrix,
    r,
)
from qc_heldout.faults_v3 import (
    AUDIO_FILE,
    RGB,
    adjacent,
    audible,
    decoded,
    put_audio,
)
from qc_heldout.faults_v5 import previous_image, put_image, put_key_rgb, put_meta_derived, scaled
from qc_heldout.injection import FaultSet
from sim.vocabulary import ROAD_SHAPES, SURFACES

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip
SEED_TAG = 0x5EED_F6  # separates this module's draws from earlier sets' for the same seed

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


def sign(t: Target) -> int:
    return 1 if t.rng.random() < 0.5 else -1


def class_ids(meta: dict) -> dict[str, int]:
    return {c["name"]: int(c["id"]) for c in meta.get("classes", [])}


def other_scenarios(t: Target) -> list[Entry]:
    me = t.entry.meta["scenario_id"]
    return [e for e in t.index if e.meta["scenario_id"] != me]


def fit(a: np.ndarray, n: int) -> np.ndarray:
    a = np.asarray(a, np.float64)[:n]
    return np.pad(a, (0, n - a.size))


def luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


# ---------------------------------------------------------------- label_misalignment


@fault("label_misalignment", SEG_FILE)
def seg_object_class_table_rotated(t: Target) -> dict | None:
    objs, ids = t.meta["objects"], class_ids(t.meta)
    if len({o["class"] for o in objs}) < 2 or any(o["class"] not in ids for o in objs):
        return None
    seg, inst = t.sample.seg.copy(), t.sample.inst
    k = int(t.rng.integers(1, len(objs)))
    for i, o in enumerate(objs):
        seg[inst == o["instance_id"]] = ids[objs[(i + k) % len(objs)]["class"]]
    n = int((seg != t.sample.seg).sum())
    if not n:
        return None
    t.put_labels(seg=seg)
    return {"rotation": k, "pixels": n}


@fault("label_misalignment", JSON_FILE)
def bbox2d_padded(t: Target) -> dict | None:
    meta = t.meta
    h, w = t.sample.seg.shape
    p = float(t.rng.uniform(0.1, 0.3))
    changed = 0
    for o in meta["objects"]:
        x0, y0, x1, y1 = o["bbox2d"]
        dx, dy = max(1, round(p * (x1 - x0))), max(1, round(p * (y1 - y0)))
        box = [max(0, x0 - dx), max(0, y0 - dy), min(w, x1 + dx), min(h, y1 + dy)]
        changed += box != list(o["bbox2d"])
        o["bbox2d"] = box
    if not changed:
        return None
    t.put_meta(meta, recaption=False)
    return {"pad": r(p, 3), "boxes": changed}


@fault("label_misalignment", INST_FILE)
def inst_ids_as_class(t: Target) -> dict | None:
    inst, seg = t.sample.inst, t.sample.seg.astype(np.uint16)
    variant = "objects" if t.rng.random() < 0.5 else "everywhere"
    out = np.where(inst > 0, seg, 0).astype(np.uint16) if variant == "objects" else seg
    if np.array_equal(out, inst):
        return None
    t.put_labels(inst=out)
    return {"variant": variant}


@fault("label_misalignment", SEG_FILE)
def seg_hood_mask_other_rig(t: Target) -> dict | None:
    ego = class_ids(t.meta).get("ego")
    if ego is None:
        return None
    seg = t.sample.seg.copy()
    frac = float(t.rng.uniform(0.08, 0.2))
    rows = max(1, round(frac * seg.shape[0]))
    seg[-rows:] = ego
    if np.array_equal(seg, t.sample.seg):
        return None
    t.put_labels(seg=seg)
    return {"rows": rows, "fraction": r(frac, 3)}


@fault("label_misalignment", JSON_FILE)
def visible_px_box_area(t: Target) -> dict | None:
    meta = t.meta
    extra = int(t.rng.integers(0, 2))
    changed = 0
    for o in meta["objects"]:
        x0, y0, x1, y1 = o["bbox2d"]
        area = (x1 - x0 + extra) * (y1 - y0 + extra)
        changed += area != o.get("visible_px")
        o["visible_px"] = int(area)
    if not changed:
        return None
    t.put_meta(meta, recaption=False)
    return {"inclusive": bool(extra), "objects": changed}


@fault("label_misalignment", SEG_FILE)
def seg_median_filtered(t: Target) -> dict | None:
    size = int(t.rng.choice([3, 5]))
    out = ndimage.median_filter(t.sample.seg, size=size, mode="nearest").astype(np.uint8)
    n = int((out != t.sample.seg).sum())
    if not n:
        return None
    t.put_labels(seg=out)
    return {"size": size, "pixels": n}


@fault("label_misalignment", INST_FILE)
def inst_small_masks_zeroed(t: Target) -> dict | None:
    inst = t.sample.inst
    thr = scaled(t, float(t.rng.uniform(6, 30)))
    ids, counts = np.unique(inst[inst > 0], return_counts=True)
    small = [int(i) for i, c in zip(ids, counts, strict=True) if c < thr]
    if not small:
        return None
    t.put_labels(inst=np.where(np.isin(inst, small), 0, inst).astype(np.uint16))
    return {"threshold_px": r(thr, 2), "cleared": small}


# ---------------------------------------------------------------- stale_swapped


@fault("stale_swapped", JSON_FILE, TXT_FILE)
def ego_record_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    donors = [e for e in other_scenarios(t) if e.meta["ego"] != meta["ego"]]
    if not donors:
        return None
    d = donors[int(t.rng.integers(len(donors)))]
    meta["ego"] = copy.deepcopy(d.meta["ego"])
    put_meta_derived(t, meta)
    return {"donor": d.sid}


@fault("stale_swapped", JSON_FILE, TXT_FILE)
def weather_block_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    donors = [e for e in other_scenarios(t)
              if e.meta["weather"].get("preset") != meta["weather"].get("preset")]  # fmt: skip
    if not donors:
        return None
    d = donors[int(t.rng.integers(len(donors)))]
    meta["weather"] = copy.deepcopy(d.meta["weather"])
    put_meta_derived(t, meta)
    return {"donor": d.sid, "preset": d.meta["weather"].get("preset")}


@fault("stale_swapped", RGB)
def rgb_channel_previous_frame(t: Target) -> dict | None:
    prev = previous_image(t)
    if prev is None or prev.shape != t.sample.rgb.shape:
        return None
    c = int(t.rng.integers(3))
    out = t.sample.rgb.copy()
    out[..., c] = prev[..., c]
    if np.array_equal(out, t.sample.rgb):
        return None
    put_key_rgb(t, out)
    return {"channel": "rgb"[c]}


@fault("stale_swapped", SEG_FILE, INST_FILE)
def labels_keyed_by_frame_index(t: Target) -> dict | None:
    me = t.entry.meta
    donors = [e for e in other_scenarios(t) if e.meta.get("frame") == me.get("frame")
              and e.meta["camera"]["name"] == me["camera"]["name"]]  # fmt: skip
    if not donors:
        return None
    donor = donors[int(t.rng.integers(len(donors)))]
    d = decoded(donor)
    if d.seg.shape != t.sample.seg.shape or np.array_equal(d.seg, t.sample.seg):
        return None
    t.put_labels(seg=d.seg, inst=d.inst)
    return {"frame": me.get("frame"), "donor": donor.sid}


@fault("stale_swapped", AUDIO_FILE)
def audio_unflushed_tail(t: Target) -> dict | None:
    a, donor = t.sample.audio, adjacent(t)
    if donor is None or not audible(a):
        return None
    other = fit(decoded(donor).audio, a.size)
    ms = float(t.rng.uniform(40, 250))
    n = min(a.size // 2, int(ms / 1000 * t.sample.sample_rate))
    out = a.astype(np.float64).copy()
    out[:n] = other[-n:]
    if np.allclose(out, a, atol=1e-4):
        return None
    put_audio(t, out)
    return {"ms": r(ms, 1), "donor": donor.sid}


@fault("stale_swapped", AUDIO_FILE)
def audio_bus_crosstalk(t: Target) -> dict | None:
    a = t.sample.audio
    donors = other_scenarios(t)
    if not donors or not audible(a):
        return None
    d = donors[int(t.rng.integers(len(donors)))]
    other = fit(decoded(d).audio, a.size)
    if not audible(other):
        return None
    g = float(t.rng.uniform(0.2, 0.5))
    put_audio(t, np.clip(a + g * other, -1.0, 1.0))
    return {"gain": r(g, 3), "donor": d.sid}


# ---------------------------------------------------------------- unit_calibration


@fault("unit_calibration", DEPTH_FILE)
def depth_log_encoded(t: Target) -> dict | None:
    z = t.sample.depth.astype(np.float64)
    if not (z > 0).any():
        return None
    base = "e" if t.rng.random() < 0.5 else "10"
    out = np.log1p(z) if base == "e" else np.log10(1.0 + z)
    t.put_labels(depth=out.astype(np.float32))
    return {"base": base}


@fault("unit_calibration", JSON_FILE)
def fov_deg_in_radians(t: Target) -> dict | None:
    meta = t.meta
    fov = meta["camera"].get("fov_deg")
    if not isinstance(fov, (int, float)):
        return None
    variant = "radians" if t.rng.random() < 0.5 else "half_angle_deg"
    meta["camera"]["fov_deg"] = math.radians(fov) if variant == "radians" else fov / 2.0
    t.put_meta(meta, recaption=False)
    return {"variant": variant}


def all_cams(meta: dict) -> list[dict]:
    rig = meta.get("rig") or {}
    return [meta["camera"], *[c for c in rig.get("cameras", []) if c.get("name") ==
                              meta["camera"]["name"]]]  # fmt: skip


@fault("unit_calibration", JSON_FILE)
def intrinsics_pixel_aspect(t: Target) -> dict | None:
    meta = t.meta
    k = float(t.rng.uniform(0.8, 0.93) if t.rng.random() < 0.5 else t.rng.uniform(1.07, 1.25))
    for c in all_cams(meta):
        c["fy"] = c["fx"] * k
    t.put_meta(meta, recaption=False)
    return {"aspect": r(k, 4)}


@fault("unit_calibration", JSON_FILE)
def intrinsics_cy_bottom_origin(t: Target) -> dict | None:
    meta = t.meta
    cam = meta["camera"]
    both = bool(t.rng.random() < 0.5)
    moves = abs(cam["height"] - 2 * cam["cy"]) >= 0.25
    if not (moves or (both and abs(cam["width"] - 2 * cam["cx"]) >= 0.25)):
        return None
    for c in all_cams(meta):
        c["cy"] = c["height"] - c["cy"]
        if both:
            c["cx"] = c["width"] - c["cx"]
    t.put_meta(meta, recaption=False)
    return {"cx_too": both}


@fault("unit_calibration", JSON_FILE)
def pose_euler_order_wrong(t: Target) -> dict | None:
    meta = t.meta
    T = matrix(meta["camera"]["T_world_cam"])
    orders = [("xyz", "zyx"), ("xyz", "XYZ"), ("ZYX", "XYZ"), ("zyx", "ZYX")]
    a, b = orders[int(t.rng.integers(len(orders)))]
    angles = Rotation.from_matrix(T[:3, :3]).as_euler(a)
    R = Rotation.from_euler(b, angles).as_matrix()
    if np.allclose(R, T[:3, :3], atol=1e-3):
        return None
    T[:3, :3] = R
    meta["camera"]["T_world_cam"] = flat(T)
    t.put_meta(meta, recaption=False)
    return {"decomposed": a, "rebuilt": b}


@fault("unit_calibration", JSON_FILE)
def pose_quaternion_order(t: Target) -> dict | None:
    meta = t.meta
    shift = -1 if t.rng.random() < 0.5 else 1

    def misread(values: Sequence[float]) -> list[float]:
        T = matrix(values)
        q = Rotation.from_matrix(T[:3, :3]).as_quat()
        T[:3, :3] = Rotation.from_quat(np.roll(q, shift)).as_matrix()
        return flat(T)

    before = copy.deepcopy(meta)
    meta["camera"]["T_world_cam"] = misread(meta["camera"]["T_world_cam"])
    if isinstance(meta.get("rig"), dict) and "T_world_ego" in meta["rig"]:
        meta["rig"]["T_world_ego"] = misread(meta["rig"]["T_world_ego"])
    if np.allclose(meta["camera"]["T_world_cam"], before["camera"]["T_world_cam"], atol=1e-3):
        return None
    t.put_meta(meta, recaption=False)
    return {"variant": "xyzw_as_wxyz" if shift == -1 else "wxyz_as_xyzw"}


@fault("unit_calibration", JSON_FILE)
def box3d_size_centimetres(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    unit, k = ("cm", 100.0) if t.rng.random() < 0.5 else ("mm", 1000.0)
    for o in meta["objects"]:
        for b in ("bbox3d_world", "bbox3d_cam"):
            if isinstance(o.get(b), dict) and "size" in o[b]:
                o[b]["size"] = [float(v) * k for v in o[b]["size"]]
    t.put_meta(meta, recaption=False)
    return {"unit": unit}


@fault("unit_calibration", JSON_FILE)
def ego_yaw_compass_heading(t: Target) -> dict | None:
    meta = t.meta
    yaw = float(meta["ego"]["yaw"])
    unit = "rad" if t.rng.random() < 0.5 else "deg"
    heading = (math.pi / 2 - yaw) % (2 * math.pi)
    heading = heading if unit == "rad" else math.degrees(heading)
    if abs(heading - yaw) < 1e-3:
        return None
    meta["ego"]["yaw"] = heading
    t.put_meta(meta, recaption=False)
    return {"unit": unit}


# ---------------------------------------------------------------- degraded_optics


@fault("degraded_optics", RGB)
def rgb_column_fpn(t: Target) -> dict | None:
    sigma = float(t.rng.uniform(3, 12))
    offs = t.rng.normal(0.0, sigma, t.sample.rgb.shape[1])

    def fn(img: np.ndarray) -> np.ndarray:
        out = np.round(img.astype(np.float64) + offs[None, :, None])
        return np.clip(out, 0, 255).astype(np.uint8)

    return {"sigma": r(sigma, 2)} if put_image(t, fn) else None


@fault("degraded_optics", RGB)
def rgb_nearest_upscaled(t: Target) -> dict | None:
    f = int(t.rng.choice([2, 4]))

    def fn(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        return np.repeat(np.repeat(img[::f, ::f], f, axis=0), f, axis=1)[:h, :w]

    return {"factor": f} if put_image(t, fn) else None


@fault("degraded_optics", RGB)
def rgb_sensor_blooming(t: Target) -> dict | None:
    length = max(2, round(scaled(t, float(t.rng.uniform(3, 12)))))
    s = float(t.rng.uniform(0.5, 0.9))

    def fn(img: np.ndarray) -> np.ndarray:
        y = luma(img)
        bright = y >= max(np.percentile(y, 99), 1.0)
        smear = ndimage.maximum_filter1d(bright.astype(np.uint8), size=2 * length + 1, axis=0) > 0
        out = img.astype(np.float64)
        out[smear] = out[smear] * (1 - s) + 255.0 * s
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    return {"length_px": length, "strength": r(s, 3)} if put_image(t, fn) else None


@fault("degraded_optics", RGB)
def rgb_hue_rotated(t: Target) -> dict | None:
    deg = float(t.rng.uniform(15, 45)) * sign(t)
    th = math.radians(deg)
    # rotation about the grey axis (1, 1, 1)
    c, s_, k = math.cos(th), math.sin(th), 1.0 / 3.0
    sq = math.sqrt(k)
    M = np.array([[c + (1 - c) * k, k * (1 - c) - sq * s_, k * (1 - c) + sq * s_],
                  [k * (1 - c) + sq * s_, c + k * (1 - c), k * (1 - c) - sq * s_],
                  [k * (1 - c) - sq * s_, k * (1 - c) + sq * s_, c + k * (1 - c)]])  # fmt: skip

    def fn(img: np.ndarray) -> np.ndarray:
        return np.clip(np.round(img.astype(np.float64) @ M.T), 0, 255).astype(np.uint8)

    return {"degrees": r(deg, 2)} if put_image(t, fn) else None


@fault("degraded_optics", AUDIO_FILE)
def audio_wow_flutter(t: Target) -> dict | None:
    a = t.sample.audio
    if not audible(a):
        return None
    rate = t.sample.sample_rate
    hz, depth_ms = float(t.rng.uniform(0.5, 4)), float(t.rng.uniform(0.5, 3))
    i = np.arange(a.size, dtype=np.float64)
    pos = i + depth_ms / 1000 * rate * np.sin(2 * math.pi * hz * i / rate + t.rng.uniform(0, 6.28))
    put_audio(t, np.interp(np.clip(pos, 0, a.size - 1), i, a))
    return {"hz": r(hz, 3), "depth_ms": r(depth_ms, 3)}


@fault("degraded_optics", AUDIO_FILE)
def audio_preamp_hiss(t: Target) -> dict | None:
    a = t.sample.audio
    db = float(t.rng.uniform(-42, -26))
    noise = t.rng.normal(0.0, 10 ** (db / 20), a.size)
    put_audio(t, np.clip(a + noise, -1.0, 1.0))
    return {"dbfs": r(db, 2)}


@fault("degraded_optics", AUDIO_FILE)
def audio_mulaw_undecoded(t: Target) -> dict | None:
    a = t.sample.audio
    if not audible(a):
        return None
    mu = float(t.rng.choice([255.0, 87.6]))
    x = np.clip(a.astype(np.float64), -1, 1)
    put_audio(t, np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu))
    return {"mu": mu}


@fault("degraded_optics", AUDIO_FILE)
def audio_wind_rumble(t: Target) -> dict | None:
    a = t.sample.audio
    rate = t.sample.sample_rate
    cut, db = float(t.rng.uniform(60, 200)), float(t.rng.uniform(-22, -12))
    b, aa = signal.butter(2, cut / (rate / 2))
    rumble = signal.lfilter(b, aa, t.rng.normal(0, 1, a.size))
    rumble *= 10 ** (db / 20) / max(float(np.sqrt(np.mean(rumble**2))), 1e-12)
    env = np.clip(signal.lfilter([0.001], [1, -0.999], t.rng.normal(0, 1, a.size) > 1.0) * 20, 0, 1)
    put_audio(t, np.clip(a + rumble * (0.3 + env), -1.0, 1.0))
    return {"cutoff_hz": r(cut, 1), "dbfs": r(db, 2)}


# ---------------------------------------------------------------- metadata_contradiction


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def ego_off_road_inverted(t: Target) -> dict | None:
    meta = t.meta
    if not isinstance(meta["ego"].get("off_road"), bool):
        return None
    meta["ego"]["off_road"] = not meta["ego"]["off_road"]
    put_meta_derived(t, meta)
    return {"off_road": meta["ego"]["off_road"]}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def ego_surface_stale(t: Target) -> dict | None:
    meta = t.meta
    pool = sorted(set(SURFACES) - {meta["ego"].get("surface"), meta["weather"].get("surface")})
    if not pool:
        return None
    meta["ego"]["surface"] = pool[int(t.rng.integers(len(pool)))]
    put_meta_derived(t, meta)
    return {"surface": meta["ego"]["surface"]}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def ego_damage_phantom(t: Target) -> dict | None:
    meta = t.meta
    dmg = meta["ego"].get("damage")
    if not isinstance(dmg, dict) or any(dmg.values()) or meta.get("events"):
        return None
    side = sorted(dmg)[int(t.rng.integers(len(dmg)))]
    dmg[side] = float(t.rng.uniform(0.2, 0.9))
    put_meta_derived(t, meta)
    return {"side": side, "damage": r(dmg[side], 3)}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def road_shape_mislabelled(t: Target) -> dict | None:
    meta = t.meta
    pool = [s for s in ROAD_SHAPES if s != meta["road"].get("shape")]
    meta["road"]["shape"] = pool[int(t.rng.integers(len(pool)))]
    put_meta_derived(t, meta)
    return {"shape": meta["road"]["shape"]}


@fault("metadata_contradiction", JSON_FILE)
def audio_events_truncated(t: Target) -> dict | None:
    meta = t.meta
    ev = list(meta["audio"].get("events", []))
    if len(ev) < 2:
        return None
    k = int(t.rng.integers(0, min(2, len(ev) - 1) + 1))
    meta["audio"]["events"] = ev[:k]
    t.put_meta(meta, recaption=False)
    return {"kept": k, "dropped": ev[k:]}


@fault("metadata_contradiction", JSON_FILE)
def audio_duration_field_wrong(t: Target) -> dict | None:
    meta = t.meta
    dur = meta["audio"].get("duration_s")
    if not isinstance(dur, (int, float)) or dur <= 0:
        return None
    k = float(t.rng.choice([0.25, 0.5, 2.0, 4.0]))
    meta["audio"]["duration_s"] = float(dur) * k
    t.put_meta(meta, recaption=False)
    return {"factor": k}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def weather_road_dry(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    if w.get("road_wetness", 0) < 0.2 and w.get("surface") == "dry":
        return None
    k = float(t.rng.uniform(0.0, 0.1))
    w["road_wetness"] = float(w.get("road_wetness", 0)) * k
    w["puddles"] = float(w.get("puddles", 0)) * k
    w["surface"] = "dry"
    put_meta_derived(t, meta)
    return {"scale": r(k, 3)}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying

FAULT_SET = FaultSet("v6", CLASSES, REGISTRY, SEED_TAG)
sample_rng = FAULT_SET.sample_rng
apply_fault = FAULT_SET.apply_fault
inject = FAULT_SET.inject
main = FAULT_SET.main

if __name__ == "__main__":
    main()
