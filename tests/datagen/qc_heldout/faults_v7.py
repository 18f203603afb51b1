"""Held-out fault set v7: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (docs/internals.md, datagen/schema.py, datagen/sample.py,
sim/weather/ for the derived weather labels, and generated shards), without reading QC's
rules, its tests or its results, and never tuned against QC. The plumbing (index, targets,
shard rewriting, manifest/sidecar/card bookkeeping, the class-then-fault draw) is v2's-v6's,
reused unchanged; ``inject`` has their interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault mimics one plausible bug, keeps each file decodable, and draws its magnitude (or
its variant) from the seed where the bug has one. Camera degradations apply to every frame of
a clip sample as well, so the key frame stays equal to ``rgb.png``. Every fault applies to
single-frame samples; a few (the first frame's stale buffers, the audio pre-roll) only to
them. Image sizes are for a 64 px image and scale with the width.

No fault repeats a mechanism of v1 (faults.py), v2, v3, v4, v5 or v6. Closest earlier fault
where a symptom is shared: labels_row_flip_off_by_one (v2 label_pass_offset), inst_byteswapped
(v5 inst_ids_offset), objects_border_truncated_dropped (v3 instances_culled_far),
label_pass_short_far_plane (v3 instances_culled_far), objects_sort_ids_misaligned (v1
records_swapped), seg_boundary_ignore_label (v5 seg_linear_interpolated), seg_coarse_class_map
(v3 seg_stuff_swapped), inst_previous_frame (v2 label_buffer_lag),
objects_block_other_scenario (v6 ego_record_other_scenario), road_block_other_scenario (v6
road_shape_mislabelled), pose_cached_first_frame (v3 pose_one_frame_late),
audio_events_list_other_scenario (v5 audio_events_accumulated),
rgb_previous_scenario_last_frame (v1 rgb_other), audio_preroll_previous_scenario (v6
audio_unflushed_tail), depth_zbuffer_raw (v3 depth_zbuffer_16bit), intrinsics_full_fov_tangent
(v3 intrinsics_diagonal_fov), pose_world_axis_mirrored (v5 box3d_world_y_up),
pose_camera_is_mount_pose (v4 pose_inverted), rpm_angular_units (v1 rpm_wrong),
object_distance_feet (v3 object_depth_feet), wheel_slip_angle_degrees (v2 yaw_rate_degrees),
wind_speed_kmh (v2 speed_unit), rgb_raindrops_on_lens (v2 lens_smudge), rgb_saturation_wrong
(v6 rgb_hue_rotated), rgb_lens_condensation (v2 veiling_glare), rgb_median_denoised (v1 blur),
rgb_sensor_dust (v1 lens_occluded), rgb_ir_cut_missing (v3 rgb_white_balance_stuck),
rgb_color_shading (v2 vignetting), weather_fog_fields_lost (v4 weather_density_percent),
weather_precip_type_unknown (v3 precip_type_swapped), weather_cloudiness_inverted (v4
weather_density_percent), visibility_clear_air_default (v5 weather_visibility_km),
sun_altitude_as_zenith (v2 sun_altitude_sign), ego_accel_sign_flipped (v5
steer_sign_convention), rpm_stuck_idle (v1 rpm_wrong).

label_misalignment (labels out of alignment with the image)
  labels_row_flip_off_by_one  seg, inst (and depth) flipped with row H - i instead of
                            H - 1 - i: one row off, the edge row wrapped to the other side.
  inst_byteswapped          inst.npy.gz written big-endian but declared little-endian: every
                            id x 256 (mod 65536); json.objects keeps the true ids.
  objects_border_truncated_dropped  json.objects loses the objects whose box touches the
                            image border (within 0-2 px): an exporter filtering truncated
                            objects; the masks keep them; captions follow.
  label_pass_short_far_plane  the label pass rendered with a far plane of 40-150 m (the
                            colour pass 200 m): seg sky, inst 0, depth 0 beyond; objects
                            from the culled instance mask; captions follow.
  objects_sort_ids_misaligned  json.objects sorted by distance (nearest or farthest first)
                            with the instance_id column left in the old order.
  seg_boundary_ignore_label  seg.png's class boundaries (1-2 px) written as an ignore label
                            (255) or as sky (0): a training-format exporter run on the data.
  seg_coarse_class_map      one or two classes of seg.png merged into another (lane marking
                            -> road, sidewalk -> road, terrain -> vegetation, pole -> building,
                            barrier -> building): a coarser class map of another tool.
stale_swapped (a frame, audio or part of the json of another sample or time)
  inst_previous_frame       inst.npy.gz of the adjacent frame of the same camera (a stale
                            instance buffer); seg, depth and json current.
  objects_block_other_scenario  json.objects of another scenario (a list reused across
                            workers); captions follow.
  road_block_other_scenario  json.road of another scenario with another shape (a stale road
                            lookup); captions follow.
  pose_cached_first_frame   T_world_cam and rig.T_world_ego (and ego.position in one variant)
                            of the scenario's first frame (a pose cached at scenario start).
  audio_events_list_other_scenario  json.audio.events of another scenario (a list not
                            rebuilt).
  rgb_previous_scenario_last_frame  the first frame's rgb is the last frame of the previous
                            scenario (a worker's frame buffer not cleared between scenarios).
  audio_preroll_previous_scenario  the silent pre-roll of an early frame (the window before
                            t = 0) holds 30-100 % of its length of the previous scenario's
                            last audio (a ring buffer not cleared between scenarios).
unit_calibration (depth scale, intrinsics, pose, units)
  depth_zbuffer_raw         depth holds the raw [0, 1] z-buffer value (D3D or OpenGL style,
                            never linearised) for every hit.
  intrinsics_full_fov_tangent  fx (and fy, or fx only) from W / 2 / tan(fov) instead of
                            tan(fov / 2) (x0.33 at 60 deg).
  pose_world_axis_mirrored  T_world_cam and the rig's poses from a left-handed engine with its
                            world y (or x) axis mirrored: S T S with S = diag(-1 on that axis).
  pose_camera_is_mount_pose  T_world_cam holds the camera's T_ego_cam (the mount pose), and in
                            one variant rig.T_world_ego the identity.
  rpm_angular_units         ego.rpm (and the clip's) in rad/s (x pi/30) or rev/s (x 1/60).
  object_distance_feet      objects' distance_m in feet (x3.28) or yards (x1.09); captions
                            follow.
  wheel_slip_angle_degrees  ego.wheel_slip.angle in degrees (x57.3) for every wheel (and in
                            one variant the slip ratio in percent).
  wind_speed_kmh            weather.wind_speed_mps in km/h (x3.6) or knots (x1.94).
degraded_optics (lens, sensor and ISP degradation of the image)
  rgb_raindrops_on_lens     2-6 water drops of radius 2-6 px on the lens: a blurred, inverted,
                            shrunken view of their surroundings with soft edges.
  rgb_saturation_wrong      the ISP saturation at 0-0.4 (near grey) or 1.6-2.4 (garish).
  rgb_lens_condensation     a milky veil: 30-70 % of the light scattered (blur sigma 3-6 px
                            plus a grey floor) by condensation inside the lens.
  rgb_median_denoised       a 3x3 or 5x5 per-channel median denoiser left at maximum
                            strength (textures gone, thin structures erased).
  rgb_sensor_dust           3-8 soft dark spots of radius 1-3 px, 15-45 % darker (dust on
                            the sensor's cover glass).
  rgb_ir_cut_missing        no IR-cut filter: 15-50 % of an IR signal added to red and blue
                            in linear light (magenta, washed out).
  rgb_color_shading         colour lens shading of another lens: green and magenta gains of
                            +-15-40 % towards the corners.
metadata_contradiction (json that contradicts the sensors)
  weather_fog_fields_lost   weather.fog_density and fog_falloff lost (zero) or swapped (a
                            field mapping); family, visibility and captions follow.
  weather_precip_type_unknown  a precipitation type unknown to the writer (an old enum without
                            hail and snow, or capitalised names matched case-sensitively)
                            mapped to "none" with intensity 0; family and captions follow.
  weather_cloudiness_inverted  weather.cloudiness as the clear-sky fraction (1 - c); family and
                            captions follow.
  visibility_clear_air_default  weather.visibility_m of clear air (no fog, precipitation or
                            dust) or a 10/20/30 km default; captions follow.
  sun_altitude_as_zenith    weather.sun_altitude_deg holds the zenith angle (90 - altitude);
                            time_of_day and captions follow.
  ego_accel_sign_flipped    ego.accel_mps2 (and the clip's) as deceleration (sign flipped).
  rpm_stuck_idle            ego.rpm (and the clip's) stuck at an idle of 700-950 rpm while
                            driving (a CAN signal that stopped updating).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from datagen.sample import DEPTH_FILE, FRAMES_FILE, INST_FILE, SEG_FILE
from qc_heldout.faults_v2 import (
    JSON_FILE,
    TXT_FILE,
    Entry,
    Target,
    camera_moved,
    flat,
    gamma,
    linear,
    matrix,
    r,
    rederive_weather,
    relabel,
)
from qc_heldout.faults_v3 import AUDIO_FILE, RGB, adjacent, audible, decoded, put_audio
from qc_heldout.faults_v5 import (
    clip_ego,
    is_clip,
    put_image,
    put_key_rgb,
    put_meta_derived,
    scaled,
)
from qc_heldout.faults_v6 import all_cams, class_ids, fit, luma, other_scenarios
from qc_heldout.injection import FaultSet
from sim.weather.optics import visibility_m
from sim.weather.params import WeatherParams

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip
SEED_TAG = 0x5EED_F7  # separates this module's draws from earlier sets' for the same seed
IMAGE = (RGB, FRAMES_FILE)  # a camera fault rewrites rgb and, for a clip, its frames
COARSE_MAP = (("lane_marking", "road"), ("sidewalk", "road"), ("terrain", "vegetation"),
              ("pole", "building"), ("barrier", "building"))  # fmt: skip

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


def previous_scenario(t: Target) -> Entry | None:
    """The last frame (same camera) of the scenario written before this one in the data set:
    the nearest lower scenario id, else None."""
    me = int(t.entry.meta["scenario_id"])
    cam = t.entry.meta["camera"]["name"]
    older = [e for e in t.index if int(e.meta["scenario_id"]) < me
             and e.meta["camera"]["name"] == cam and "clip" not in e.meta]  # fmt: skip
    if not older:
        return None
    last = max(int(e.meta["scenario_id"]) for e in older)
    return max((e for e in older if int(e.meta["scenario_id"]) == last),
               key=lambda e: int(e.meta["frame"]))  # fmt: skip


def set_clip_series(meta: dict, name: str, fn: Callable[[float], float]) -> None:
    ego = clip_ego(meta)
    if ego is not None and isinstance(ego.get(name), list):
        ego[name] = [fn(float(v)) for v in ego[name]]


def soft_disc(h: int, w: int, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    d = np.hypot(yy - cy, xx - cx)
    return np.clip((radius - d) / max(1.0, 0.35 * radius) + 0.5, 0.0, 1.0)


def blur_img(img: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(img.astype(np.float64), (sigma, sigma, 0), mode="nearest")


def weather_params(w: dict) -> WeatherParams:
    names = set(WeatherParams.__dataclass_fields__)
    return WeatherParams(**{k: v for k, v in w.items() if k in names})


# ---------------------------------------------------------------- label_misalignment


# closest earlier: v2 label_pass_offset (2-3 px translation without wrap)
@fault("label_misalignment", SEG_FILE, INST_FILE, DEPTH_FILE)
def labels_row_flip_off_by_one(t: Target) -> dict | None:
    d = 1 if t.rng.random() < 0.5 else -1
    depth_too = bool(t.rng.random() < 0.5)
    s = t.sample
    seg, inst = np.roll(s.seg, d, axis=0), np.roll(s.inst, d, axis=0)
    if np.array_equal(seg, s.seg) and np.array_equal(inst, s.inst):
        return None
    t.put_labels(seg=seg, inst=inst, depth=np.roll(s.depth, d, axis=0) if depth_too else None)
    return {"rows": d, "depth_too": depth_too}


# closest earlier: v5 inst_ids_offset (ids + 1..3)
@fault("label_misalignment", INST_FILE)
def inst_byteswapped(t: Target) -> dict | None:
    inst = t.sample.inst
    if not (inst > 0).any():
        return None
    out = inst.astype(np.uint16).byteswap()
    t.put_labels(inst=out)
    return {"max_id": int(out.max())}


# closest earlier: v3 instances_culled_far (far objects gone from inst and json)
@fault("label_misalignment", JSON_FILE, TXT_FILE)
def objects_border_truncated_dropped(t: Target) -> dict | None:
    meta = t.meta
    h, w = t.sample.seg.shape
    m = int(t.rng.integers(0, 3))

    def at_border(o: dict) -> bool:
        x0, y0, x1, y1 = o["bbox2d"]
        return x0 <= m or y0 <= m or x1 >= w - m or y1 >= h - m

    dropped = [o["instance_id"] for o in meta["objects"] if at_border(o)]
    if not dropped:
        return None
    meta["objects"] = [o for o in meta["objects"] if not at_border(o)]
    put_meta_derived(t, meta)
    return {"margin_px": m, "dropped": dropped}


# closest earlier: v3 instances_culled_far (instance pass only, seg kept)
@fault("label_misalignment", SEG_FILE, INST_FILE, DEPTH_FILE, JSON_FILE, TXT_FILE)
def label_pass_short_far_plane(t: Target) -> dict | None:
    s = t.sample
    z = s.depth
    if not (z > 0).any():
        return None
    far = float(t.rng.uniform(40, 150))
    if float(z.max()) <= far + 1.0:  # nothing beyond: a far plane short of this scene's depth
        if float(z.max()) < 45.0:
            return None
        far = float(t.rng.uniform(40, float(z.max()) - 1.0))
    beyond = z > far
    sky = class_ids(s.meta).get("sky", 0)
    inst = np.where(beyond, 0, s.inst).astype(np.uint16)
    meta = t.meta
    meta["objects"] = relabel(meta["objects"], inst)
    t.put_labels(seg=np.where(beyond, sky, s.seg).astype(np.uint8), inst=inst,
                 depth=np.where(beyond, 0.0, z).astype(np.float32))  # fmt: skip
    put_meta_derived(t, meta)
    return {"far_m": r(far, 2), "pixels": int(beyond.sum())}


# closest earlier: v1 records_swapped (two records exchanged)
@fault("label_misalignment", JSON_FILE)
def objects_sort_ids_misaligned(t: Target) -> dict | None:
    meta = t.meta
    objs = meta["objects"]
    if len(objs) < 2:
        return None
    far_first = bool(t.rng.random() < 0.5)
    ids = [o["instance_id"] for o in objs]
    ordered = sorted(objs, key=lambda o: float(o["distance_m"]), reverse=far_first)
    for o, i in zip(ordered, ids, strict=True):
        o["instance_id"] = i
    if ordered == t.sample.meta["objects"]:
        return None
    meta["objects"] = ordered
    t.put_meta(meta, recaption=False)
    return {"order": "farthest_first" if far_first else "nearest_first"}


# closest earlier: v5 seg_linear_interpolated (ids averaged at boundaries)
@fault("label_misalignment", SEG_FILE)
def seg_boundary_ignore_label(t: Target) -> dict | None:
    seg = t.sample.seg
    edge = np.zeros(seg.shape, bool)
    edge[1:] |= seg[1:] != seg[:-1]
    edge[:-1] |= seg[1:] != seg[:-1]
    edge[:, 1:] |= seg[:, 1:] != seg[:, :-1]
    edge[:, :-1] |= seg[:, 1:] != seg[:, :-1]
    width = int(t.rng.integers(1, 3))
    if width > 1:
        edge = ndimage.binary_dilation(edge, iterations=width - 1)
    label = 255 if t.rng.random() < 0.6 else 0
    out = np.where(edge, label, seg).astype(np.uint8)
    n = int((out != seg).sum())
    if not n:
        return None
    t.put_labels(seg=out)
    return {"label": label, "width_px": width, "pixels": n}


# closest earlier: v3 seg_stuff_swapped (two stuff ids exchanged)
@fault("label_misalignment", SEG_FILE)
def seg_coarse_class_map(t: Target) -> dict | None:
    seg, ids = t.sample.seg, class_ids(t.sample.meta)
    usable = [(a, b) for a, b in COARSE_MAP if a in ids and b in ids and (seg == ids[a]).any()]
    if not usable:
        return None
    k = min(len(usable), int(t.rng.integers(1, 3)))
    chosen = [usable[i] for i in sorted(t.rng.choice(len(usable), size=k, replace=False))]
    out = seg.copy()
    for a, b in chosen:
        out[seg == ids[a]] = ids[b]
    t.put_labels(seg=out)
    return {"merged": [f"{a}->{b}" for a, b in chosen], "pixels": int((out != seg).sum())}


# ---------------------------------------------------------------- stale_swapped


# closest earlier: v2 label_buffer_lag (seg, inst, depth and objects of the adjacent frame)
@fault("stale_swapped", INST_FILE)
def inst_previous_frame(t: Target) -> dict | None:
    donor = adjacent(t)
    if donor is None:
        return None
    d = decoded(donor)
    if d.inst.shape != t.sample.inst.shape or np.array_equal(d.inst, t.sample.inst):
        return None
    t.put_labels(inst=d.inst)
    return {"donor": donor.sid, "pixels": int((d.inst != t.sample.inst).sum())}


# closest earlier: v6 ego_record_other_scenario (json.ego of another scenario)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def objects_block_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    donors = [e for e in other_scenarios(t) if e.meta["objects"] != meta["objects"]
              and e.meta["camera"]["name"] == meta["camera"]["name"]]  # fmt: skip
    if not donors:
        return None
    d = pick(t, donors)
    meta["objects"] = copy.deepcopy(d.meta["objects"])
    put_meta_derived(t, meta)
    return {"donor": d.sid, "objects": len(meta["objects"])}


# closest earlier: v6 road_shape_mislabelled (only the shape wrong)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def road_block_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    donors = [e for e in other_scenarios(t)
              if e.meta["road"].get("shape") != meta["road"].get("shape")]  # fmt: skip
    if not donors:
        return None
    d = pick(t, donors)
    meta["road"] = copy.deepcopy(d.meta["road"])
    put_meta_derived(t, meta)
    return {"donor": d.sid, "shape": meta["road"].get("shape")}


# closest earlier: v3 pose_one_frame_late (the adjacent frame's pose)
@fault("stale_swapped", JSON_FILE)
def pose_cached_first_frame(t: Target) -> dict | None:
    first = t.scene[0]
    if first.sid == t.entry.sid or camera_moved(first.meta, t.entry.meta) < 0.5:
        return None
    meta = t.meta
    with_position = bool(t.rng.random() < 0.4)
    T = list(first.meta["camera"]["T_world_cam"])
    meta["camera"]["T_world_cam"] = T
    if isinstance(meta.get("rig"), dict) and "T_world_ego" in first.meta.get("rig", {}):
        meta["rig"]["T_world_ego"] = list(first.meta["rig"]["T_world_ego"])
    if with_position:
        meta["ego"]["position"] = list(first.meta["ego"]["position"])
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("T_world_cam"), list):
        clip["T_world_cam"] = [list(T) for _ in clip["T_world_cam"]]
    t.put_meta(meta, recaption=False)
    return {"from": first.sid, "ego_position_too": with_position,
            "moved_m": r(camera_moved(first.meta, t.entry.meta), 2)}  # fmt: skip


# closest earlier: v5 audio_events_accumulated (other scenarios' events appended)
@fault("stale_swapped", JSON_FILE)
def audio_events_list_other_scenario(t: Target) -> dict | None:
    meta = t.meta
    mine = meta["audio"].get("events", [])
    donors = [e for e in other_scenarios(t)
              if sorted(e.meta["audio"].get("events", [])) != sorted(mine)]  # fmt: skip
    if not donors:
        return None
    d = pick(t, donors)
    meta["audio"]["events"] = list(d.meta["audio"]["events"])
    t.put_meta(meta, recaption=False)
    return {"donor": d.sid, "events": meta["audio"]["events"]}


# closest earlier: v1 rgb_other (rgb of a random other scenario)
@fault("stale_swapped", RGB)
def rgb_previous_scenario_last_frame(t: Target) -> dict | None:
    if is_clip(t) or t.scene[0].sid != t.entry.sid:
        return None
    donor = previous_scenario(t)
    if donor is None:
        return None
    img = decoded(donor).rgb
    if img.shape != t.sample.rgb.shape or np.array_equal(img, t.sample.rgb):
        return None
    put_key_rgb(t, img)
    return {"donor": donor.sid}


# closest earlier: v6 audio_unflushed_tail (the adjacent frame's audio of the same scenario)
@fault("stale_swapped", AUDIO_FILE)
def audio_preroll_previous_scenario(t: Target) -> dict | None:
    a, meta = t.sample.audio, t.sample.meta
    if is_clip(t):
        return None
    rate = t.sample.sample_rate
    preroll_s = float(meta["audio"]["duration_s"]) - float(meta["time_s"])
    loud = np.flatnonzero(np.abs(a) > 1e-3)
    n_pre = min(int(round(preroll_s * rate)), int(loud[0]) if loud.size else a.size)
    if n_pre < int(0.05 * rate):  # the window before t = 0 is silent in a clean sample
        return None
    donor = previous_scenario(t)
    if donor is None:
        return None
    other = decoded(donor).audio.astype(np.float64)
    if not audible(other):
        return None
    share = float(t.rng.uniform(0.3, 1.0))
    n = max(1, int(share * n_pre))
    out = a.astype(np.float64).copy()
    out[n_pre - n : n_pre] = fit(other[-n:], n)
    put_audio(t, np.clip(out, -1.0, 1.0))
    return {"donor": donor.sid, "ms": r(1000 * n / rate, 1)}


# ---------------------------------------------------------------- unit_calibration


# closest earlier: v3 depth_zbuffer_16bit (linearised from a quantised z-buffer)
@fault("unit_calibration", DEPTH_FILE)
def depth_zbuffer_raw(t: Target) -> dict | None:
    z = t.sample.depth.astype(np.float64)
    hit = z > 0
    if not hit.any():
        return None
    cam = t.sample.meta["camera"]
    n, f = float(cam["near"]), float(cam["far"])
    style = "d3d" if t.rng.random() < 0.5 else "opengl"
    zz = np.where(hit, z, 1.0)
    if style == "d3d":
        d = f / (f - n) * (1.0 - n / zz)
    else:
        d = 0.5 * ((f + n) / (f - n) - 2.0 * f * n / ((f - n) * zz)) + 0.5
    out = np.where(hit, np.clip(d, 0.0, 1.0), 0.0).astype(np.float32)
    t.put_labels(depth=out)
    return {"style": style}


# closest earlier: v3 intrinsics_diagonal_fov (the diagonal field of view)
@fault("unit_calibration", JSON_FILE)
def intrinsics_full_fov_tangent(t: Target) -> dict | None:
    meta = t.meta
    fov = meta["camera"].get("fov_deg")
    if not isinstance(fov, (int, float)) or not 0 < fov < 89:
        return None
    fx_only = bool(t.rng.random() < 0.35)
    for c in all_cams(meta):
        f = c["width"] / 2.0 / math.tan(math.radians(fov))
        c["fx"] = f
        if not fx_only:
            c["fy"] = f
    t.put_meta(meta, recaption=False)
    return {"fx_only": fx_only, "fx": r(meta["camera"]["fx"], 3)}


# closest earlier: v5 box3d_world_y_up (boxes in a y-up world)
@fault("unit_calibration", JSON_FILE)
def pose_world_axis_mirrored(t: Target) -> dict | None:
    meta = t.meta
    axis = "y" if t.rng.random() < 0.6 else "x"
    S = np.diag([-1.0 if a == axis else 1.0 for a in "xyz"] + [1.0])
    S_cam = np.diag([1.0, -1.0, 1.0, 1.0])  # the mirrored camera's y axis flipped back

    def mirror(values: list) -> list[float]:
        return flat(S @ matrix(values) @ S_cam)

    before = matrix(meta["camera"]["T_world_cam"])
    meta["camera"]["T_world_cam"] = mirror(meta["camera"]["T_world_cam"])
    rig = meta.get("rig")
    if isinstance(rig, dict) and "T_world_ego" in rig:
        T_we = matrix(rig["T_world_ego"])
        rig["T_world_ego"] = flat(S @ T_we @ S)
        for c in rig.get("cameras", []):
            c["T_ego_cam"] = flat(S @ matrix(c["T_ego_cam"]) @ S_cam)
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("T_world_cam"), list):
        clip["T_world_cam"] = [mirror(v) for v in clip["T_world_cam"]]
    if np.allclose(matrix(meta["camera"]["T_world_cam"]), before, atol=1e-3):
        return None
    t.put_meta(meta, recaption=False)
    return {"axis": axis}


# closest earlier: v4 pose_inverted (T_ego_world written as T_world_ego)
@fault("unit_calibration", JSON_FILE)
def pose_camera_is_mount_pose(t: Target) -> dict | None:
    meta = t.meta
    rig = meta.get("rig")
    cams = [c for c in (rig or {}).get("cameras", []) if c.get("name") == meta["camera"]["name"]]
    if not cams:
        return None
    T = list(cams[0]["T_ego_cam"])
    if np.allclose(T, meta["camera"]["T_world_cam"], atol=1e-3):
        return None
    ego_identity = bool(t.rng.random() < 0.5)
    meta["camera"]["T_world_cam"] = T
    if ego_identity:
        rig["T_world_ego"] = flat(np.eye(4))
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("T_world_cam"), list):
        clip["T_world_cam"] = [list(T) for _ in clip["T_world_cam"]]
    t.put_meta(meta, recaption=False)
    return {"ego_identity": ego_identity}


# closest earlier: v1 rpm_wrong (a gear ratio or scaling factor of 0.4-2.5)
@fault("unit_calibration", JSON_FILE)
def rpm_angular_units(t: Target) -> dict | None:
    meta = t.meta
    rpm = meta["ego"].get("rpm")
    if not isinstance(rpm, (int, float)) or rpm <= 0:
        return None
    unit, k = ("rad_per_s", math.pi / 30.0) if t.rng.random() < 0.5 else ("rev_per_s", 1 / 60)
    meta["ego"]["rpm"] = float(rpm) * k
    set_clip_series(meta, "rpm", lambda v: v * k)
    t.put_meta(meta, recaption=False)
    return {"unit": unit}


# closest earlier: v3 object_depth_feet (depth of object pixels in feet)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def object_distance_feet(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    unit, k = ("ft", 3.28084) if t.rng.random() < 0.7 else ("yd", 1.09361)
    for o in meta["objects"]:
        o["distance_m"] = float(o["distance_m"]) * k
    put_meta_derived(t, meta)
    return {"unit": unit}


# closest earlier: v2 yaw_rate_degrees (ego.yaw_rate in deg/s)
@fault("unit_calibration", JSON_FILE)
def wheel_slip_angle_degrees(t: Target) -> dict | None:
    meta = t.meta
    slip = meta["ego"].get("wheel_slip")
    if not isinstance(slip, dict) or not isinstance(slip.get("angle"), list):
        return None
    if max(abs(float(v)) for v in slip["angle"]) < 1e-3:
        return None
    also_ratio = bool(t.rng.random() < 0.3)  # the ratio as a percentage in the same commit
    slip["angle"] = [math.degrees(float(v)) for v in slip["angle"]]
    if also_ratio:
        slip["ratio"] = [100.0 * float(v) for v in slip["ratio"]]
    t.put_meta(meta, recaption=False)
    return {"ratio_percent_too": also_ratio}


# closest earlier: v2 speed_unit (ego.speed_mps in km/h or mph)
@fault("unit_calibration", JSON_FILE)
def wind_speed_kmh(t: Target) -> dict | None:
    meta = t.meta
    v = float(meta["weather"].get("wind_speed_mps", 0))
    if v < 0.5:
        return None
    unit, k = ("km/h", 3.6) if t.rng.random() < 0.6 else ("kn", 1.943844)
    meta["weather"]["wind_speed_mps"] = v * k
    t.put_meta(meta, recaption=False)
    return {"unit": unit}


# ---------------------------------------------------------------- degraded_optics


# closest earlier: v2 lens_smudge (a blurred grease ellipse)
@fault("degraded_optics", *IMAGE)
def rgb_raindrops_on_lens(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    n = int(t.rng.integers(2, 7))
    drops = [(float(t.rng.uniform(0, h)), float(t.rng.uniform(0, w)),
              scaled(t, float(t.rng.uniform(2, 6)))) for _ in range(n)]  # fmt: skip

    def fn(img: np.ndarray) -> np.ndarray:
        src = blur_img(img, scaled(t, 1.2))
        out = img.astype(np.float64)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        for cy, cx, rad in drops:
            m = soft_disc(h, w, cy, cx, rad)[..., None]
            sy = np.clip(np.round(cy - 0.5 * (yy - cy)), 0, h - 1).astype(int)
            sx = np.clip(np.round(cx - 0.5 * (xx - cx)), 0, w - 1).astype(int)
            lens = src[sy, sx] * 1.08 + 6.0
            out = out * (1 - m) + lens * m
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    return {"drops": n, "radii_px": [r(d[2], 2) for d in drops]} if put_image(t, fn) else None


# closest earlier: v6 rgb_hue_rotated (hue, not saturation)
@fault("degraded_optics", *IMAGE)
def rgb_saturation_wrong(t: Target) -> dict | None:
    s = float(t.rng.uniform(0.0, 0.4) if t.rng.random() < 0.5 else t.rng.uniform(1.6, 2.4))

    def fn(img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float64)
        y = luma(img)[..., None]
        return np.clip(np.round(y + s * (x - y)), 0, 255).astype(np.uint8)

    return {"saturation": r(s, 3)} if put_image(t, fn) else None


# closest earlier: v2 veiling_glare (a halo from a bright source)
@fault("degraded_optics", *IMAGE)
def rgb_lens_condensation(t: Target) -> dict | None:
    a = float(t.rng.uniform(0.3, 0.7))
    sigma = scaled(t, float(t.rng.uniform(3, 6)))
    floor = float(t.rng.uniform(0.35, 0.7))

    def fn(img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float64)
        veil = 0.7 * blur_img(img, sigma) + 0.3 * 255.0 * floor
        return np.clip(np.round((1 - a) * x + a * veil), 0, 255).astype(np.uint8)

    return {"scatter": r(a, 3), "sigma_px": r(sigma, 2)} if put_image(t, fn) else None


# closest earlier: v1 blur (Gaussian or motion blur)
@fault("degraded_optics", *IMAGE)
def rgb_median_denoised(t: Target) -> dict | None:
    size = int(t.rng.choice([3, 5]))

    def fn(img: np.ndarray) -> np.ndarray:
        return ndimage.median_filter(img, size=(size, size, 1), mode="nearest").astype(np.uint8)

    return {"size": size} if put_image(t, fn) else None


# closest earlier: v1 lens_occluded (one large dark blob)
@fault("degraded_optics", *IMAGE)
def rgb_sensor_dust(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    n = int(t.rng.integers(3, 9))
    spots = [(float(t.rng.uniform(0, h)), float(t.rng.uniform(0, w)),
              scaled(t, float(t.rng.uniform(1, 3))), float(t.rng.uniform(0.15, 0.45)))
             for _ in range(n)]  # fmt: skip
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    gain = np.ones((h, w))
    for cy, cx, rad, k in spots:
        gain *= 1.0 - k * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (rad / 1.5) ** 2))

    def fn(img: np.ndarray) -> np.ndarray:
        return np.clip(np.round(img.astype(np.float64) * gain[..., None]), 0, 255).astype(np.uint8)

    if not put_image(t, fn):
        return None
    return {"spots": n, "max_darkening": r(max(s[3] for s in spots), 3)}


# closest earlier: v3 rgb_white_balance_stuck (red/blue gains)
@fault("degraded_optics", *IMAGE)
def rgb_ir_cut_missing(t: Target) -> dict | None:
    k = float(t.rng.uniform(0.15, 0.5))

    def fn(img: np.ndarray) -> np.ndarray:
        lin = linear(img.astype(np.float64) / 255.0)
        ir = lin @ np.array([0.6, 0.3, 0.1])  # near-IR follows red-heavy scene brightness
        out = lin + k * ir[..., None] * np.array([1.0, 0.35, 0.8])
        return np.clip(np.round(gamma(out) * 255.0), 0, 255).astype(np.uint8)

    return {"ir": r(k, 3)} if put_image(t, fn) else None


# closest earlier: v2 vignetting (luminance falloff)
@fault("degraded_optics", *IMAGE)
def rgb_color_shading(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    a = float(t.rng.uniform(0.15, 0.4)) * (1 if t.rng.random() < 0.5 else -1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r2 = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / ((h / 2) ** 2 + (w / 2) ** 2)
    g = np.stack([1 - a * r2, 1 + a * r2, 1 - a * r2], -1)  # green vs magenta corners

    def fn(img: np.ndarray) -> np.ndarray:
        lin = linear(img.astype(np.float64) / 255.0) * g
        return np.clip(np.round(gamma(lin) * 255.0), 0, 255).astype(np.uint8)

    return {"corner_green_gain": r(a, 3)} if put_image(t, fn) else None


# ---------------------------------------------------------------- metadata_contradiction


# closest earlier: v4 weather_density_percent (a density /100, derived labels kept)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def weather_fog_fields_lost(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    if float(w.get("fog_density", 0)) < 0.01:
        return None
    variant = "lost" if t.rng.random() < 0.6 else "swapped"
    if variant == "lost":
        w["fog_density"], w["fog_falloff"] = 0.0, 0.0
    else:
        w["fog_density"], w["fog_falloff"] = float(w["fog_falloff"]), float(w["fog_density"])
    new = rederive_weather(w)
    if new["visibility_m"] < 1.5 * float(t.sample.meta["weather"]["visibility_m"]):
        return None
    meta["weather"] = new
    put_meta_derived(t, meta)
    return {"variant": variant, "family": new["family"]}


# closest earlier: v3 precip_type_swapped (rain/hail <-> snow)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def weather_precip_type_unknown(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    kind = w.get("precip_type")
    if kind in (None, "none") or float(w.get("precip_intensity", 0)) < 0.05:
        return None
    # the writer's enum: an older one without hail and snow, or one matched case-sensitively
    # against another tool's capitalised names (every type unknown)
    old_enum = kind in ("hail", "snow") and t.rng.random() < 0.5
    unknown = ("hail", "snow") if old_enum else (kind.capitalize(),)
    w["precip_type"], w["precip_intensity"] = "none", 0.0
    meta["weather"] = rederive_weather(w)
    put_meta_derived(t, meta)
    return {"unknown_types": list(unknown), "family": meta["weather"]["family"]}


# closest earlier: v4 weather_density_percent (cloudiness /100 among others)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def weather_cloudiness_inverted(t: Target) -> dict | None:
    meta = t.meta
    c = float(meta["weather"].get("cloudiness", 0))
    if abs(1 - 2 * c) < 0.3:
        return None
    meta["weather"]["cloudiness"] = 1.0 - c
    meta["weather"] = rederive_weather(meta["weather"])
    put_meta_derived(t, meta)
    return {"cloudiness": r(1.0 - c, 3)}


# closest earlier: v5 weather_visibility_km (visibility in km or miles)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def visibility_clear_air_default(t: Target) -> dict | None:
    meta = t.meta
    w = meta["weather"]
    if t.rng.random() < 0.5:
        clear = weather_params({**w, "fog_density": 0.0, "precip_intensity": 0.0,
                                "precip_type": "none", "dust": 0.0})  # fmt: skip
        variant, vis = "clear_air", round(float(visibility_m(clear)), 3)
    else:
        variant, vis = "default", float(t.rng.choice([10000.0, 20000.0, 30000.0]))
    if vis < 2.0 * float(w["visibility_m"]):
        return None
    w["visibility_m"] = vis
    put_meta_derived(t, meta)
    return {"variant": variant, "visibility_m": vis}


# closest earlier: v2 sun_altitude_sign (altitude negated)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def sun_altitude_as_zenith(t: Target) -> dict | None:
    meta = t.meta
    alt = float(meta["weather"]["sun_altitude_deg"])
    if not 0.0 <= alt <= 90.0 or abs(90.0 - 2 * alt) < 10.0:
        return None
    meta["weather"]["sun_altitude_deg"] = 90.0 - alt
    meta["weather"] = rederive_weather(meta["weather"])
    put_meta_derived(t, meta)
    return {"altitude_deg": r(90.0 - alt, 3), "time_of_day": meta["weather"]["time_of_day"]}


# closest earlier: v5 steer_sign_convention (steer sign flipped)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def ego_accel_sign_flipped(t: Target) -> dict | None:
    meta = t.meta
    acc = meta["ego"].get("accel_mps2")
    if not isinstance(acc, (int, float)) or abs(acc) < 0.3:
        return None
    meta["ego"]["accel_mps2"] = -float(acc)
    set_clip_series(meta, "accel_mps2", lambda v: -v)
    put_meta_derived(t, meta)
    return {"accel_mps2": r(-float(acc), 3)}


# closest earlier: v1 rpm_wrong (rpm scaled)
@fault("metadata_contradiction", JSON_FILE)
def rpm_stuck_idle(t: Target) -> dict | None:
    meta = t.meta
    ego = meta["ego"]
    idle = float(t.rng.uniform(700, 950))
    if float(ego.get("speed_mps", 0)) < 3.0 or float(ego.get("rpm", 0)) < 1.5 * idle:
        return None
    ego["rpm"] = idle
    set_clip_series(meta, "rpm", lambda v: idle)
    t.put_meta(meta, recaption=False)
    return {"idle_rpm": r(idle, 1)}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying

FAULT_SET = FaultSet("v7", CLASSES, REGISTRY, SEED_TAG)
sample_rng = FAULT_SET.sample_rng
apply_fault = FAULT_SET.apply_fault
inject = FAULT_SET.inject
main = FAULT_SET.main

if __name__ == "__main__":
    main()
