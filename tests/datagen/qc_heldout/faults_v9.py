"""Held-out fault set v9: blind pipeline bugs injected into a copy of a generated data set.

Written from the sample schema only (datagen/schema.py, datagen/sample.py, sim/camera.py for
the camera mount, and generated shards), without reading QC's rules, its tests or its results,
and never tuned against QC. The plumbing
(index, targets, shard rewriting, manifest/sidecar/card bookkeeping, the class-then-fault draw)
is injection.FaultSet's, as v8 uses it; ``inject`` has v2's-v8's interface and ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

Every fault mimics one plausible bug of a data factory, keeps each file decodable, and draws
its magnitude (or its variant) from the seed where the bug has one. Camera degradations apply
to every frame of a clip sample, so the key frame stays equal to ``rgb.png``; faults that only
concern the labelled key frame rewrite the key frame and rgb together. Every fault applies to
single-frame samples; ego_can_state_previous_scenario (a scenario's first frames) does not apply
to clip samples, the two caption faults apply only where the caption generator reproduces the
sample's own captions (not to clips), and time_s_integer_truncated only where time_s is not
already on the tick. Image sizes are for a 64 px image and scale with the width.

No fault repeats a mechanism of v1 (faults.py), v2, v3, v4, v5, v6, v7 or v8. Closest earlier
fault, and how each differs: labels_lens_distortion_applied (v5 label_pass_zoomed: a uniform
zoom of the label pass; here a radial distortion model applied to the label pass only),
labels_anamorphic_stretch (v5 label_pass_zoomed: isotropic; here one axis only),
inst_masks_as_boxes (v4 inst_mask_eroded: masks shrunk; here masks rasterised from boxes),
depth_objects_as_billboards (v8 depth_actor_free_pass: objects missing from depth; here
present but flat), box3d_cam_other_axes (v3 pose_opengl_axes: the pose's axes; here the
camera-frame boxes'), seg_thin_classes_dilated (v1 mask_grown: one instance mask grown; here
conservative rasterisation of the thin classes in seg only), box3d_corners_other_order (v4
box3d_heading_flipped: yaw + 180 deg; here the corner list permuted, boxes unchanged),
rgb_debug_seg_overlay (v6 inst_ids_as_class: a wrong render target; here a preview overlay
blended into the colour image), ego_pose_other_actor_handle (v6 ego_record_other_scenario:
another scenario's ego; here another actor of the same scene), rgb_codec_skip_blocks (v5
rgb_tile_stale: one fixed tile stale; here many small blocks chosen by an encoder's skip test),
objects_2d_fields_previous_frame (v2 label_buffer_lag: masks and records of another frame;
here only the records' 2D fields, masks current), wheel_slip_axle_order_swapped (v5
throttle_brake_swapped: two pedal channels; here the wheel order of the slip lists),
rgb_readout_taps_swapped (v4 rgb_buffer_offset: a read-out started late; here sensor taps
assembled in the wrong order), ego_can_state_previous_scenario (v7
rgb_previous_scenario_last_frame: the image buffer; here the CAN-decoded driving state),
pose_translation_extrinsic_convention (v4 pose_inverted: the whole pose inverted; here only
the translation in the world-to-camera convention), pose_lever_arm_sign_flipped (v5
pose_rear_axle_origin: the ego origin moved; here the camera's lever arm in another body
convention), road_curvature_radius_units (v3 road_curvature_sign: the sign; here the unit),
ego_accel_imu_tilt_uncompensated (v5 ego_accel_in_g: a unit; here a gravity leak from a tilted
IMU), depth_scale_descriptor_mm (v1 depth_unit: the values in another unit; here the values
right and the declared scale wrong), object_distance_ego_origin (v7 object_distance_feet: a
unit; here another reference point), intrinsics_roi_offset_twice (v6
intrinsics_cy_bottom_origin: another origin convention; here a read-out window offset applied
twice), ego_speed_tyre_radius_wrong (v2 speed_unit: km/h or mph; here a few per cent from a
wrong rolling radius), rgb_purple_fringing (v2 chromatic_aberration: lateral colour shift;
here a purple halo next to highlights), rgb_lens_scratch (v2 lens_smudge: a diffuse smear;
here a thin scattering line), rgb_focus_locked_near (v2 half_defocus: one half blurred; here
blur growing with depth), rgb_amp_glow (v2 veiling_glare: a bright source; here a sensor
read-out amplifier's glow from one corner), rgb_highlights_wb_after_clip (v3
rgb_white_balance_stuck: wrong gains everywhere; here gains applied after clipping, so only
highlights turn pink), rgb_windshield_shade_band (v2 vignetting: radial falloff; here a tinted
band along the top), audio_noise_gate_chopping (v5 audio_agc_pumping: gain raised between
sounds; here a gate cutting them down), road_lane_index_from_left (v8
road_lanes_per_direction: the lane count; here the lane index counted from the other side),
frame_index_one_based (v3 seed_off_by_one: the seed; here the frame counter),
captions_speed_from_speed_limit (v3 caption_speed_mph: a unit in the captions; here another
field read), driver_style_default_normal (v4 driver_style_other_scenario: another scenario's
driver; here the style field left at its default while the policy is right),
time_s_integer_truncated (v3 time_s_physics_ticks: time scaled; here truncated to a clock
tick), captions_visibility_km (v5 weather_visibility_km: the json in km; here the json right
and the caption stage reading km), camera_far_field_default (v2 depth_wrong_far: the depth
buffer linearised wrongly; here only json.camera.far of another configuration).

label_misalignment (labels out of alignment with the image)
  labels_lens_distortion_applied  seg, inst and depth rendered through a radial distortion
                            model (k1 = +-0.1-0.25 in focal units) that the colour pass never
                            got; boxes follow the distorted masks.
  labels_anamorphic_stretch  seg, inst and depth stretched by 1.05-1.15 (or squeezed) along x
                            or y about the principal point (a label target of another aspect
                            resampled to the image); boxes follow.
  inst_masks_as_boxes       inst.npy.gz rasterised from the objects' bbox2d (filled rectangles,
                            painted far to near or in list order): a box-supervision converter
                            run on the instance masks; seg and json current.
  depth_objects_as_billboards  every object's depth pixels at one distance (its 3D box centre's
                            z, or its nearest corner's): impostor cards in the depth pass.
  box3d_cam_other_axes      bbox3d_cam centres and corners in OpenGL camera axes ([x, -y, -z])
                            or in a forward-left-up camera body frame ([z, -x, -y]).
  seg_thin_classes_dilated  lane markings and/or poles in seg.png grown by one pixel (3x3 cross
                            or square): conservative rasterisation of thin geometry in the label
                            pass only; inst and json current.
  box3d_corners_other_order  bbox3d_cam.corners in another tool's corner order (top face first,
                            bottom/top pairs, or the other winding); centres, sizes current.
stale_swapped (a buffer, a record or part of one from another source, time or slot)
  rgb_debug_seg_overlay     the labeller's preview overlay (the class palette of seg.png at
                            20-45 % opacity, everywhere or on objects) blended into the key
                            frame's rgb.
  ego_pose_other_actor_handle  ego.position and ego.yaw read from another actor's handle: a
                            vehicle of json.objects (its box centre or its ground point, and
                            its yaw); poses current.
  rgb_codec_skip_blocks     a video encoder's skip decision too lax: 8 px blocks differing from
                            the previous frame by less than 4-14 levels (mean) repeat it.
  objects_2d_fields_previous_frame  bbox2d and visible_px of every object seen in the previous
                            frame from that frame's record (a 2D labeller one frame behind);
                            masks, 3D boxes current.
  wheel_slip_axle_order_swapped  ego.wheel_slip ratio and angle lists in another wheel order
                            (axles swapped, or sides swapped).
  rgb_readout_taps_swapped  a sensor read through 2 or 4 taps reassembled in the wrong order
                            (left/right halves, top/bottom halves or quadrants rotated).
  ego_can_state_previous_scenario  the first 1-2 frames of a scenario carry the previous
                            scenario's last gear, rpm, throttle, brake and steer (a CAN decoder
                            not reset); speed, poses current; captions follow.
unit_calibration (depth scale, intrinsics, pose, units, calibration)
  pose_translation_extrinsic_convention  T_world_cam's (and a clip's) translation written as the
                            world-to-camera t = -R^T C while the rotation is camera-to-world; in
                            one variant rig.T_world_ego too.
  pose_lever_arm_sign_flipped  the camera's T_ego_cam translation in another body convention
                            (x backward, or forward-right-down: y and z negated); T_world_cam
                            derived from it.
  road_curvature_radius_units  road.curvature_ahead (and the clip's) per km (x1000) or as the
                            radius in metres (1/k); captions follow.
  ego_accel_imu_tilt_uncompensated  ego.accel_mps2 (and the clip's) from an IMU pitched 2-6 deg
                            either way without compensation: a cos + g sin(tilt).
  depth_scale_descriptor_mm  json.camera.depth declares mm (scale 0.001) or cm (scale 0.01)
                            while depth.npy.gz holds metres.
  object_distance_ego_origin  objects' distance_m from the ego reference point (3D, or on the
                            ground plane) instead of the camera; captions follow.
  intrinsics_roi_offset_twice  cx, cy (camera and rig) minus a read-out window origin of 1-6 px
                            (at 64 px) per axis applied a second time.
  ego_speed_tyre_radius_wrong  ego.speed_mps (and the clip's) from wheel speed with another
                            tyre's rolling radius: x1.04-1.15 or its inverse; captions follow.
degraded_optics (lens, sensor, ISP and microphone degradations)
  rgb_purple_fringing       purple fringes on the dark side of contrast edges: the light of
                            brighter neighbours within 0.8-2 px spilt into red and blue at
                            0.6-1.5x (axial chromatic aberration of a fast lens).
  rgb_lens_scratch          a scratch on the front element: a thin line (0.6-1.2 px) of
                            scattered light at 15-40 % across the image at a random angle.
  rgb_focus_locked_near     autofocus locked at 0.8-3 m: blur growing with depth up to sigma
                            1-2.5 px at infinity (the sky).
  rgb_amp_glow              read-out amplifier glow: a magenta additive glow of 4-12 % (linear)
                            decaying over 6-16 px from one corner or side.
  rgb_highlights_wb_after_clip  the raw clipped at the white level of a sensor mode 1 or 2 bits
                            shallower (x2 or x4 too low) and white balance (red x1.6-2.3, blue
                            x1.2-1.8) applied after the clip: highlights turn pink and flat.
  rgb_windshield_shade_band  a tinted windshield shade band over the top 12-30 % of rows,
                            transmission 55-80 %, a 2-5 px soft edge.
  audio_noise_gate_chopping  a noise gate set for a louder cabin, at -22..-15 dBFS (5 ms
                            envelope), closing by 20-40 dB with a 5-20 ms release: the quieter
                            stretches of the engine and road noise chopped.
metadata_contradiction (json that contradicts the sensors)
  road_lane_index_from_left  road.lane_index counted from the left (lanes - 1 - i); captions
                            follow.
  frame_index_one_based     json.frame (and a clip's frame_indices) 1-based.
  captions_speed_from_speed_limit  captions (and txt) written from road.speed_limit_mps instead
                            of ego.speed_mps (a wrong field reference); json current.
  driver_style_default_normal  driver.style left at its default "normal" while the policy (and
                            the driving) is cautious or erratic; captions follow.
  time_s_integer_truncated  time_s truncated to a whole second or half second (an integer
                            clock); events and a clip's times current.
  captions_visibility_km    captions (and txt) written from weather.visibility_m read as km
                            (or miles); json current.
  camera_far_field_default  json.camera.far of another configuration (100-1000 m) while the
                            depth and its descriptor keep the render's far plane.
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
    Target,
    flat,
    gamma,
    linear,
    matrix,
    r,
    regenerate_captions,
)
from qc_heldout.faults_v3 import AUDIO_FILE, RGB, audible, decoded, put_audio
from qc_heldout.faults_v5 import (
    clip_ego,
    is_clip,
    put_frames,
    put_image,
    put_key_rgb,
    put_meta_derived,
    scaled,
)
from qc_heldout.faults_v6 import class_ids
from qc_heldout.faults_v7 import previous_scenario
from qc_heldout.faults_v8 import pick, previous_frame, put_warped_labels, sign, warp_labels
from qc_heldout.injection import FaultSet

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip
SEED_TAG = 0x5EED_F9  # separates this module's draws from earlier sets' for the same seed
IMAGE = (RGB, FRAMES_FILE)  # a camera fault rewrites rgb and, for a clip, its frames
G = 9.80665  # m/s^2

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
    return np.clip(np.round(gamma(lin) * 255.0), 0, 255).astype(np.uint8)


def luma(lin: np.ndarray) -> np.ndarray:
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def rig_camera(meta: dict) -> dict | None:
    """This sample's camera in json.rig (None without a rig or without it)."""
    rig = meta.get("rig")
    if not isinstance(rig, dict) or "T_world_ego" not in rig:
        return None
    mine = [c for c in rig.get("cameras", []) if c.get("name") == meta["camera"]["name"]]
    return mine[0] if len(mine) == 1 else None


def scale_clip_series(meta: dict, name: str, fn: Callable[[float], float]) -> None:
    ego = clip_ego(meta)
    if ego is not None and isinstance(ego.get(name), list):
        ego[name] = [fn(float(v)) for v in ego[name]]


def recaptioned(t: Target, meta: dict, source: dict) -> bool:
    """Store ``meta`` with captions (and txt) written from ``source`` instead (a caption stage
    reading a wrong value); False when the caption generator does not reproduce the sample's
    own captions from its json, or when ``source`` changes no caption."""
    if regenerate_captions(meta) != meta["captions"]:
        return False
    caps = regenerate_captions(source)
    if caps == meta["captions"]:
        return False
    meta["captions"] = caps
    t.files[TXT_FILE] = caps[0]["text"].encode("utf-8")
    t.put_meta(meta, recaption=False)
    return True


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return img.astype(np.float64)
    return ndimage.gaussian_filter(img.astype(np.float64), (sigma, sigma, 0)[: img.ndim])


# ---------------------------------------------------------------- label_misalignment


# closest earlier: v5 label_pass_zoomed (a uniform zoom of the label pass)
@fault("label_misalignment", SEG_FILE, INST_FILE, DEPTH_FILE, JSON_FILE, TXT_FILE)
def labels_lens_distortion_applied(t: Target) -> dict | None:
    s = t.sample
    cam = s.meta["camera"]
    h, w = s.seg.shape
    k1 = sign(t) * float(t.rng.uniform(0.1, 0.25))
    fx, fy, cx, cy = (float(cam[k]) for k in ("fx", "fy", "cx", "cy"))
    yy, xx = grid(h, w)
    xn, yn = (xx - cx) / fx, (yy - cy) / fy
    f = 1.0 + k1 * (xn**2 + yn**2)
    if not put_warped_labels(t, *warp_labels(t, cy + yn * f * fy, cx + xn * f * fx)):
        return None
    return {"k1": r(k1, 3)}


# closest earlier: v5 label_pass_zoomed (isotropic; here one axis)
@fault("label_misalignment", SEG_FILE, INST_FILE, DEPTH_FILE, JSON_FILE, TXT_FILE)
def labels_anamorphic_stretch(t: Target) -> dict | None:
    s = t.sample
    cam = s.meta["camera"]
    h, w = s.seg.shape
    axis = str(pick(t, ["x", "y"]))
    k = float(t.rng.uniform(1.05, 1.15))
    k = k if t.rng.random() < 0.5 else 1.0 / k
    yy, xx = grid(h, w)
    cx, cy = float(cam["cx"]), float(cam["cy"])
    sx = cx + (xx - cx) / k if axis == "x" else xx
    sy = cy + (yy - cy) / k if axis == "y" else yy
    if not put_warped_labels(t, *warp_labels(t, sy, sx)):
        return None
    return {"axis": axis, "stretch": r(k, 4)}


# closest earlier: v4 inst_mask_eroded (masks shrunk by a pixel)
@fault("label_misalignment", INST_FILE)
def inst_masks_as_boxes(t: Target) -> dict | None:
    s = t.sample
    objects = [o for o in s.meta["objects"] if len(o.get("bbox2d", [])) == 4]
    if not objects:
        return None
    order = "far_to_near" if t.rng.random() < 0.6 else "list_order"
    if order == "far_to_near":
        objects = sorted(objects, key=lambda o: -float(o["distance_m"]))
    out = np.zeros_like(s.inst)
    for o in objects:
        x0, y0, x1, y1 = (int(v) for v in o["bbox2d"])
        out[max(0, y0):y1, max(0, x0):x1] = int(o["instance_id"])
    changed = int((out != s.inst).sum())
    if changed < max(2, round(scaled(t, 2.0) ** 2)):
        return None
    t.put_labels(inst=out.astype(np.uint16))
    return {"order": order, "pixels_changed": changed}


# closest earlier: v8 depth_actor_free_pass (objects missing from the depth pass)
@fault("label_misalignment", DEPTH_FILE)
def depth_objects_as_billboards(t: Target) -> dict | None:
    s = t.sample
    pivot = "centre" if t.rng.random() < 0.6 else "nearest_corner"
    out = s.depth.astype(np.float64).copy()
    for o in s.meta["objects"]:
        m = (s.inst == int(o["instance_id"])) & (s.depth > 0)
        if not m.any():
            continue
        box = o["bbox3d_cam"]
        z = box["center"][2] if pivot == "centre" else min(c[2] for c in box["corners"])
        if z > 0:
            out[m] = float(z)
    change = np.abs(out - s.depth)
    if float(change.max()) < 0.3 or int((change > 0.05).sum()) < 3:
        return None
    t.put_labels(depth=out.astype(np.float32))
    return {"pivot": pivot, "mean_change_m": r(float(change[change > 0].mean()), 3)}


# closest earlier: v3 pose_opengl_axes (the camera pose in OpenGL axes)
@fault("label_misalignment", JSON_FILE, TXT_FILE)
def box3d_cam_other_axes(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    axes = "opengl" if t.rng.random() < 0.6 else "forward_left_up"

    def conv(p: list) -> list[float]:
        x, y, z = (float(v) for v in p)
        return [x, -y, -z] if axes == "opengl" else [z, -x, -y]

    for o in meta["objects"]:
        box = o["bbox3d_cam"]
        box["center"] = conv(box["center"])
        box["corners"] = [conv(c) for c in box["corners"]]
    put_meta_derived(t, meta)
    return {"axes": axes}


# closest earlier: v1 mask_grown (one instance mask grown)
@fault("label_misalignment", SEG_FILE)
def seg_thin_classes_dilated(t: Target) -> dict | None:
    s = t.sample
    ids = class_ids(s.meta)
    present = [c for c in ("lane_marking", "pole") if c in ids and (s.seg == ids[c]).any()]
    if not present:
        return None
    chosen = present if len(present) == 1 else list(pick(t, [present, present[:1], present[1:]]))
    kernel = "cross" if t.rng.random() < 0.5 else "square"
    st = ndimage.generate_binary_structure(2, 1 if kernel == "cross" else 2)
    out = s.seg.copy()
    for c in chosen:
        out[ndimage.binary_dilation(s.seg == ids[c], structure=st)] = ids[c]
    if np.array_equal(out, s.seg):
        return None
    t.put_labels(seg=out)
    return {"classes": chosen, "kernel": kernel, "pixels": int((out != s.seg).sum())}


CORNER_ORDERS = {"top_face_first": [4, 5, 6, 7, 0, 1, 2, 3],
                 "bottom_top_pairs": [0, 4, 1, 5, 2, 6, 3, 7],
                 "other_winding": [0, 3, 2, 1, 4, 7, 6, 5]}  # fmt: skip


# closest earlier: v4 box3d_heading_flipped (yaw + 180 deg, the corners following)
@fault("label_misalignment", JSON_FILE)
def box3d_corners_other_order(t: Target) -> dict | None:
    meta = t.meta
    objs = [o for o in meta["objects"] if len(o["bbox3d_cam"].get("corners", [])) == 8]
    if not objs:
        return None
    order = str(pick(t, sorted(CORNER_ORDERS)))
    for o in objs:
        corners = o["bbox3d_cam"]["corners"]
        o["bbox3d_cam"]["corners"] = [corners[i] for i in CORNER_ORDERS[order]]
    t.put_meta(meta, recaption=False)
    return {"order": order}


# ---------------------------------------------------------------- stale_swapped


# closest earlier: v6 inst_ids_as_class (a wrong render target bound)
@fault("stale_swapped", *IMAGE)
def rgb_debug_seg_overlay(t: Target) -> dict | None:
    s = t.sample
    lut = np.zeros((256, 3), np.float64)
    for c in s.meta.get("classes", []):
        lut[int(c["id"]) % 256] = c["color"]
    alpha = float(t.rng.uniform(0.2, 0.45))
    where = "everywhere" if t.rng.random() < 0.6 else "objects"
    mask = np.ones(s.seg.shape, bool) if where == "everywhere" else s.inst > 0
    if mask.mean() < 0.02:
        return None
    img = s.rgb.astype(np.float64)
    out = img.copy()
    out[mask] = (1 - alpha) * img[mask] + alpha * lut[s.seg[mask]]
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    if np.abs(out.astype(int) - s.rgb.astype(int)).max() < 8:
        return None
    put_key_rgb(t, out)
    return {"alpha": r(alpha, 3), "where": where}


# closest earlier: v6 ego_record_other_scenario (another scenario's ego record)
@fault("stale_swapped", JSON_FILE)
def ego_pose_other_actor_handle(t: Target) -> dict | None:
    meta = t.meta
    pos = meta["ego"].get("position")
    if not isinstance(pos, list) or len(pos) != 3:
        return None
    vehicles = [o for o in meta["objects"] if o["class"] == "vehicle"
                and np.linalg.norm(np.subtract(o["bbox3d_world"]["center"], pos)) >= 2.0]
    if not vehicles:
        return None
    o = vehicles[int(t.rng.integers(len(vehicles)))]
    origin = "box_centre" if t.rng.random() < 0.5 else "ground_point"
    box = o["bbox3d_world"]
    x, y, z = (float(v) for v in box["center"])
    if origin == "ground_point":  # the actor's transform at the bottom of its box
        z -= float(box["size"][2]) / 2.0
    meta["ego"]["position"] = [x, y, z]
    meta["ego"]["yaw"] = float(box["yaw"])
    t.put_meta(meta, recaption=False)
    return {"instance_id": int(o["instance_id"]), "origin": origin}


def skip_blocks(cur: np.ndarray, prev: np.ndarray, b: int, thr: float) -> tuple[np.ndarray, int]:
    out, n = cur.copy(), 0
    h, w = cur.shape[:2]
    for y in range(0, h, b):
        for x in range(0, w, b):
            d = float(np.abs(cur[y:y + b, x:x + b].astype(int)
                             - prev[y:y + b, x:x + b].astype(int)).mean())  # fmt: skip
            if 0 < d < thr:
                out[y:y + b, x:x + b] = prev[y:y + b, x:x + b]
                n += 1
    return out, n


# closest earlier: v5 rgb_tile_stale (one fixed tile of the previous frame)
@fault("stale_swapped", *IMAGE)
def rgb_codec_skip_blocks(t: Target) -> dict | None:
    s = t.sample
    b = max(2, int(round(scaled(t, 8.0))))
    thr = float(t.rng.uniform(4.0, 14.0))
    if s.frames is not None:
        frames = s.frames.copy()
        total = 0
        for i in range(1, len(frames)):
            frames[i], n = skip_blocks(s.frames[i], frames[i - 1], b, thr)
            total += n
        if total < 2 or np.array_equal(frames[-1], s.rgb):
            return None
        t.put_rgb(frames[-1])
        put_frames(t, frames)
        return {"block_px": b, "threshold": r(thr, 2), "blocks_skipped": total}
    prev = previous_frame(t)
    if prev is None:
        return None
    p = decoded(prev).rgb
    if p.shape != s.rgb.shape:
        return None
    out, n = skip_blocks(s.rgb, p, b, thr)
    if n < 2:
        return None
    t.put_rgb(out)
    return {"block_px": b, "threshold": r(thr, 2), "blocks_skipped": n}


# closest earlier: v2 label_buffer_lag (masks and records of the adjacent frame)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def objects_2d_fields_previous_frame(t: Target) -> dict | None:
    prev = previous_frame(t)
    if prev is None:
        return None
    old = {int(o["instance_id"]): o for o in prev.meta["objects"]}
    meta = t.meta
    changed = []
    for o in meta["objects"]:
        p = old.get(int(o["instance_id"]))
        if p is None or (p["bbox2d"] == o["bbox2d"] and p["visible_px"] == o["visible_px"]):
            continue
        o["bbox2d"], o["visible_px"] = list(p["bbox2d"]), int(p["visible_px"])
        changed.append(int(o["instance_id"]))
    if not changed:
        return None
    put_meta_derived(t, meta)
    return {"donor": prev.sid, "changed": len(changed)}


WHEEL_ORDERS = {"axles_swapped": [2, 3, 0, 1], "sides_swapped": [1, 0, 3, 2]}


# closest earlier: v5 throttle_brake_swapped (two pedal channels crossed)
@fault("stale_swapped", JSON_FILE)
def wheel_slip_axle_order_swapped(t: Target) -> dict | None:
    meta = t.meta
    slip = meta["ego"].get("wheel_slip", {})
    lists = {k: slip.get(k) for k in ("ratio", "angle")}
    if any(not isinstance(v, list) or len(v) != 4 for v in lists.values()):
        return None
    order = str(pick(t, sorted(WHEEL_ORDERS)))
    perm = WHEEL_ORDERS[order]
    new = {k: [v[i] for i in perm] for k, v in lists.items()}
    diff = max(abs(float(a) - float(b)) for k in new for a, b in zip(new[k], lists[k]))
    if diff < 1e-3:
        return None
    slip.update(new)
    t.put_meta(meta, recaption=False)
    return {"order": order, "max_change": r(diff, 5)}


# closest earlier: v4 rgb_buffer_offset (the frame buffer read late)
@fault("stale_swapped", *IMAGE)
def rgb_readout_taps_swapped(t: Target) -> dict | None:
    taps = str(pick(t, ["left_right", "top_bottom", "quadrants"]))

    def fn(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        h2, w2 = h // 2, w // 2
        if taps == "left_right":
            return np.concatenate([img[:, w2:], img[:, :w2]], axis=1)
        if taps == "top_bottom":
            return np.concatenate([img[h2:], img[:h2]], axis=0)
        out = img.copy()  # quadrants rotated one place clockwise (even sizes)
        q = [img[:h2, :w2], img[:h2, w2:2 * w2], img[h2:2 * h2, w2:2 * w2], img[h2:2 * h2, :w2]]
        out[:h2, w2:2 * w2], out[h2:2 * h2, w2:2 * w2] = q[0], q[1]
        out[h2:2 * h2, :w2], out[:h2, :w2] = q[2], q[3]
        return out

    return {"taps": taps} if put_image(t, fn) else None


CAN_FIELDS = ("gear", "rpm", "throttle", "brake", "steer")


# closest earlier: v7 rgb_previous_scenario_last_frame (a frame buffer not cleared)
@fault("stale_swapped", JSON_FILE, TXT_FILE)
def ego_can_state_previous_scenario(t: Target) -> dict | None:
    if is_clip(t):
        return None
    frames_stale = int(t.rng.integers(1, 3))
    if t.pos >= frames_stale:
        return None
    donor = previous_scenario(t)
    if donor is None:
        return None
    meta = t.meta
    old = donor.meta["ego"]
    if all(old.get(k) == meta["ego"].get(k) for k in CAN_FIELDS):
        return None
    for k in CAN_FIELDS:
        if k in old:
            meta["ego"][k] = copy.deepcopy(old[k])
    put_meta_derived(t, meta)
    return {"donor": donor.sid, "stale_frames": frames_stale}


# ---------------------------------------------------------------- unit_calibration


# closest earlier: v4 pose_inverted (the whole pose inverted)
@fault("unit_calibration", JSON_FILE)
def pose_translation_extrinsic_convention(t: Target) -> dict | None:
    meta = t.meta
    ego_too = bool(t.rng.random() < 0.4) and isinstance(meta.get("rig"), dict)

    def conv(values: list) -> list[float]:
        m = matrix(values)
        m[:3, 3] = -m[:3, :3].T @ m[:3, 3]
        return flat(m)

    old = matrix(meta["camera"]["T_world_cam"])
    meta["camera"]["T_world_cam"] = conv(meta["camera"]["T_world_cam"])
    if float(np.linalg.norm(matrix(meta["camera"]["T_world_cam"])[:3, 3] - old[:3, 3])) < 1.0:
        return None
    if ego_too and "T_world_ego" in meta["rig"]:
        meta["rig"]["T_world_ego"] = conv(meta["rig"]["T_world_ego"])
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("T_world_cam"), list):
        clip["T_world_cam"] = [conv(v) for v in clip["T_world_cam"]]
    t.put_meta(meta, recaption=False)
    return {"ego_too": ego_too}


# closest earlier: v5 pose_rear_axle_origin (the ego reference point moved)
@fault("unit_calibration", JSON_FILE)
def pose_lever_arm_sign_flipped(t: Target) -> dict | None:
    meta = t.meta
    cam = rig_camera(meta)
    if cam is None:
        return None
    convention = "x_backward" if t.rng.random() < 0.5 else "forward_right_down"
    T_ec = matrix(cam["T_ego_cam"])
    new = T_ec.copy()
    axes = [0] if convention == "x_backward" else [1, 2]
    for a in axes:
        new[a, 3] = -new[a, 3]
    if float(np.abs(new - T_ec).max()) < 0.1:
        return None
    cam["T_ego_cam"] = flat(new)
    meta["camera"]["T_world_cam"] = flat(matrix(meta["rig"]["T_world_ego"]) @ new)
    delta = np.linalg.inv(T_ec) @ new
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("T_world_cam"), list):
        clip["T_world_cam"] = [flat(matrix(v) @ delta) for v in clip["T_world_cam"]]
        clip["T_world_cam"][-1] = list(meta["camera"]["T_world_cam"])
    t.put_meta(meta, recaption=False)
    return {"convention": convention}


# closest earlier: v3 road_curvature_sign (the curvature's sign)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def road_curvature_radius_units(t: Target) -> dict | None:
    meta = t.meta
    k = float(meta["road"].get("curvature_ahead", 0.0))
    if abs(k) < 1e-4:
        return None
    unit = "per_km" if t.rng.random() < 0.5 else "radius_m"

    def conv(v: float) -> float:
        if unit == "per_km":
            return v * 1000.0
        return 1.0 / v if abs(v) > 1e-9 else 0.0

    meta["road"]["curvature_ahead"] = conv(k)
    scale_clip_series(meta, "curvature_ahead", conv)
    put_meta_derived(t, meta)
    return {"unit": unit, "value": r(meta["road"]["curvature_ahead"], 3)}


# closest earlier: v5 ego_accel_in_g (the acceleration in g)
@fault("unit_calibration", JSON_FILE)
def ego_accel_imu_tilt_uncompensated(t: Target) -> dict | None:
    meta = t.meta
    if not isinstance(meta["ego"].get("accel_mps2"), (int, float)):
        return None
    tilt = sign(t) * float(t.rng.uniform(2.0, 6.0))
    c, s_ = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    meta["ego"]["accel_mps2"] = float(meta["ego"]["accel_mps2"]) * c + G * s_
    scale_clip_series(meta, "accel_mps2", lambda v: v * c + G * s_)
    t.put_meta(meta, recaption=False)
    return {"tilt_deg": r(tilt, 3)}


# closest earlier: v1 depth_unit (the depth values in another unit)
@fault("unit_calibration", JSON_FILE)
def depth_scale_descriptor_mm(t: Target) -> dict | None:
    meta = t.meta
    enc = meta["camera"].get("depth")
    if not isinstance(enc, dict) or enc.get("unit") != "m":
        return None
    unit, scale = ("mm", 0.001) if t.rng.random() < 0.6 else ("cm", 0.01)
    enc["unit"], enc["scale"] = unit, scale
    t.put_meta(meta, recaption=False)
    return {"unit": unit, "scale": scale}


# closest earlier: v7 object_distance_feet (distance_m in another unit)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def object_distance_ego_origin(t: Target) -> dict | None:
    meta = t.meta
    rig = meta.get("rig")
    if not isinstance(rig, dict) or "T_world_ego" not in rig or not meta["objects"]:
        return None
    p = matrix(rig["T_world_ego"])[:3, 3]
    plane = "3d" if t.rng.random() < 0.5 else "ground"
    most = 0.0
    for o in meta["objects"]:
        d = np.asarray(o["bbox3d_world"]["center"], np.float64) - p
        new = float(np.linalg.norm(d if plane == "3d" else d[:2]))
        most = max(most, abs(new - float(o["distance_m"])))
        o["distance_m"] = new
    if most < 0.3:
        return None
    put_meta_derived(t, meta)
    return {"plane": plane, "max_change_m": r(most, 3)}


# closest earlier: v6 intrinsics_cy_bottom_origin (cy from the other edge)
@fault("unit_calibration", JSON_FILE)
def intrinsics_roi_offset_twice(t: Target) -> dict | None:
    meta = t.meta
    dx = int(round(scaled(t, float(t.rng.integers(1, 7)))))
    dy = int(round(scaled(t, float(t.rng.integers(0, 7)))))
    if dx == 0 and dy == 0:
        return None
    for cam in [meta["camera"], rig_camera(meta)]:
        if cam is not None:
            cam["cx"], cam["cy"] = float(cam["cx"]) - dx, float(cam["cy"]) - dy
    t.put_meta(meta, recaption=False)
    return {"dx_px": dx, "dy_px": dy}


# closest earlier: v2 speed_unit (ego.speed_mps in km/h or mph)
@fault("unit_calibration", JSON_FILE, TXT_FILE)
def ego_speed_tyre_radius_wrong(t: Target) -> dict | None:
    meta = t.meta
    v = float(meta["ego"].get("speed_mps", 0.0))
    if v < 1.0:
        return None
    k = float(t.rng.uniform(1.04, 1.15))
    k = k if t.rng.random() < 0.5 else 1.0 / k
    meta["ego"]["speed_mps"] = v * k
    scale_clip_series(meta, "speed_mps", lambda x: x * k)
    put_meta_derived(t, meta)
    return {"ratio": r(k, 4)}


# ---------------------------------------------------------------- degraded_optics


# closest earlier: v2 chromatic_aberration (lateral colour, red and blue rescaled)
@fault("degraded_optics", *IMAGE)
def rgb_purple_fringing(t: Target) -> dict | None:
    radius = scaled(t, float(t.rng.uniform(0.8, 2.0)))
    strength = float(t.rng.uniform(0.6, 1.5))

    def fn(img: np.ndarray) -> np.ndarray:
        lin = to_lin(img)
        y = luma(lin)
        spill = np.clip(ndimage.gaussian_filter(y, radius) - y, 0.0, None)  # from brighter nbrs
        out = lin.copy()
        out[..., 0] += 0.7 * strength * spill
        out[..., 2] += strength * spill
        return from_lin(out)

    return {"radius_px": r(radius, 3), "strength": r(strength, 3)} if put_image(t, fn) else None


# closest earlier: v2 lens_smudge (a diffuse grease smear)
@fault("degraded_optics", *IMAGE)
def rgb_lens_scratch(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    ang = float(t.rng.uniform(0, math.pi))
    y0, x0 = float(t.rng.uniform(0.2, 0.8)) * h, float(t.rng.uniform(0.2, 0.8)) * w
    width = scaled(t, float(t.rng.uniform(0.6, 1.2)))
    gain = float(t.rng.uniform(0.15, 0.4))
    yy, xx = grid(h, w)
    d = np.abs((xx - x0) * math.sin(ang) - (yy - y0) * math.cos(ang))
    line = np.exp(-((d / width) ** 2))[..., None]

    def fn(img: np.ndarray) -> np.ndarray:
        lin = to_lin(img)
        scatter = blur(lin, scaled(t, 6.0)) + 0.15  # light scattered by the scratch
        return from_lin(lin * (1 - 0.5 * gain * line) + gain * line * scatter)

    if not put_image(t, fn):
        return None
    return {"angle_deg": r(math.degrees(ang), 2), "width_px": r(width, 3), "gain": r(gain, 3)}


# closest earlier: v2 half_defocus (one half of the image defocused)
@fault("degraded_optics", *IMAGE)
def rgb_focus_locked_near(t: Target) -> dict | None:
    z = t.sample.depth.astype(np.float64)
    focus = float(t.rng.uniform(0.8, 3.0))
    s_max = scaled(t, float(t.rng.uniform(1.0, 2.5)))
    far = np.where(z > 0, z, np.inf)
    sigma = np.clip(s_max * np.abs(1.0 - focus / far), 0.0, s_max)
    levels = np.linspace(0.0, s_max, 5)
    pos = sigma / s_max * (len(levels) - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, len(levels) - 2)
    frac = (pos - lo)[..., None]

    def fn(img: np.ndarray) -> np.ndarray:
        stack = np.stack([blur(img, s) for s in levels])
        a = np.take_along_axis(stack, lo[None, ..., None], 0)[0]
        b = np.take_along_axis(stack, lo[None, ..., None] + 1, 0)[0]
        return np.clip(np.round(a * (1 - frac) + b * frac), 0, 255).astype(np.uint8)

    return {"focus_m": r(focus, 3), "max_sigma_px": r(s_max, 3)} if put_image(t, fn) else None


# closest earlier: v2 veiling_glare (a bright source's halo)
@fault("degraded_optics", *IMAGE)
def rgb_amp_glow(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    spots = {"top_left": (0, 0), "top_right": (0, w - 1), "bottom_left": (h - 1, 0),
             "bottom_right": (h - 1, w - 1), "left": ((h - 1) / 2, 0),
             "right": ((h - 1) / 2, w - 1)}  # fmt: skip
    where = str(pick(t, sorted(spots)))
    length = scaled(t, float(t.rng.uniform(6.0, 16.0)))
    amp = float(t.rng.uniform(0.04, 0.12))
    yy, xx = grid(h, w)
    cy, cx = spots[where]
    glow = amp * np.exp(-np.hypot(yy - cy, xx - cx) / length)[..., None]
    colour = np.array([1.0, 0.35, 0.8])

    def fn(img: np.ndarray) -> np.ndarray:
        return from_lin(to_lin(img) + glow * colour)

    if not put_image(t, fn):
        return None
    return {"from": where, "length_px": r(length, 2), "amplitude": r(amp, 3)}


# closest earlier: v3 rgb_white_balance_stuck (wrong gains over the whole image)
@fault("degraded_optics", *IMAGE)
def rgb_highlights_wb_after_clip(t: Target) -> dict | None:
    gains = np.array([float(t.rng.uniform(1.6, 2.3)), 1.0, float(t.rng.uniform(1.2, 1.8))])
    bits = int(pick(t, [1, 2]))  # the white level of a sensor mode this much shallower
    k = float(2**bits)

    def fn(img: np.ndarray) -> np.ndarray:
        raw = np.clip(to_lin(img) * k / gains, 0.0, 1.0)  # the sensor clips before WB
        return from_lin(raw * gains / k)

    out = fn(t.sample.rgb)
    if int((np.abs(out.astype(int) - t.sample.rgb.astype(int)).max(axis=2) > 6).sum()) < 2:
        return None
    if not put_image(t, fn):
        return None
    return {"gains_rb": [r(gains[0], 3), r(gains[2], 3)], "white_level_bits_short": bits}


# closest earlier: v2 vignetting (a radial light falloff)
@fault("degraded_optics", *IMAGE)
def rgb_windshield_shade_band(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    share = float(t.rng.uniform(0.12, 0.3))
    edge = scaled(t, float(t.rng.uniform(2.0, 5.0)))
    trans = float(t.rng.uniform(0.55, 0.8))
    rows = np.arange(h, dtype=np.float64)
    band = np.clip((share * h - rows) / edge + 0.5, 0.0, 1.0)[:, None, None]
    tint = trans * np.array([0.85, 1.0, 0.95])
    gain = 1.0 - band * (1.0 - tint)

    def fn(img: np.ndarray) -> np.ndarray:
        return from_lin(to_lin(img) * gain)

    if not put_image(t, fn):
        return None
    return {"band_share": r(share, 3), "edge_px": r(edge, 2), "transmission": r(trans, 3)}


# closest earlier: v5 audio_agc_pumping (a gain control lifting the quiet parts)
@fault("degraded_optics", AUDIO_FILE)
def audio_noise_gate_chopping(t: Target) -> dict | None:
    a = t.sample.audio.astype(np.float64)
    if not audible(a):
        return None
    rate = t.sample.sample_rate
    thr = float(t.rng.uniform(-22.0, -15.0))
    depth = float(t.rng.uniform(20.0, 40.0))
    release = float(t.rng.uniform(5.0, 20.0))
    win = max(1, int(rate * 0.005))
    env = np.sqrt(np.convolve(a * a, np.ones(win) / win, mode="same"))
    env_db = 20 * np.log10(env + 1e-12)
    target = np.where(env_db >= thr, 1.0, 10 ** (-depth / 20.0))
    c = math.exp(-1.0 / (rate * release / 1000.0))
    gain = signal.lfilter([1 - c], [1, -c], target, zi=[c * target[0]])[0]
    gain = np.maximum(gain, target)  # opens at once, closes with the release
    sound = np.abs(a) > 1e-4
    gated = (gain < 0.5) & sound
    if gated.sum() < 0.05 * max(1, sound.sum()):
        return None
    put_audio(t, a * gain)
    return {"threshold_dbfs": r(thr, 2), "range_db": r(depth, 2), "release_ms": r(release, 2),
            "gated_share": r(float(gated.sum() / sound.sum()), 3)}  # fmt: skip


# ---------------------------------------------------------------- metadata_contradiction


# closest earlier: v8 road_lanes_per_direction (the lane count)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def road_lane_index_from_left(t: Target) -> dict | None:
    meta = t.meta
    road = meta["road"]
    lanes, lane = int(road.get("lanes", 0)), int(road.get("lane_index", 0))
    if lanes < 2 or lanes - 1 - lane == lane:
        return None
    road["lane_index"] = lanes - 1 - lane
    put_meta_derived(t, meta)
    return {"lane_index": road["lane_index"]}


# closest earlier: v3 seed_off_by_one (json.seed off by one)
@fault("metadata_contradiction", JSON_FILE)
def frame_index_one_based(t: Target) -> dict | None:
    meta = t.meta
    meta["frame"] = int(meta["frame"]) + 1
    clip = meta.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("frame_indices"), list):
        clip["frame_indices"] = [int(i) + 1 for i in clip["frame_indices"]]
    t.put_meta(meta, recaption=False)
    return {"frame": meta["frame"]}


# closest earlier: v3 caption_speed_mph (the speed in the captions in another unit)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def captions_speed_from_speed_limit(t: Target) -> dict | None:
    meta = t.meta
    limit = meta["road"].get("speed_limit_mps")
    if not isinstance(limit, (int, float)):
        return None
    source = copy.deepcopy(meta)
    source["ego"]["speed_mps"] = float(limit)
    if not recaptioned(t, meta, source):
        return None
    return {"speed_mps_captioned": r(limit, 3)}


# closest earlier: v4 driver_style_other_scenario (json.driver of another scenario)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def driver_style_default_normal(t: Target) -> dict | None:
    meta = t.meta
    style = meta["driver"].get("style")
    if style == "normal":
        return None
    meta["driver"]["style"] = "normal"
    put_meta_derived(t, meta)
    return {"style": style}


# closest earlier: v3 time_s_physics_ticks (time_s scaled)
@fault("metadata_contradiction", JSON_FILE)
def time_s_integer_truncated(t: Target) -> dict | None:
    meta = t.meta
    step = 1.0 if t.rng.random() < 0.6 else 0.5
    ts = float(meta["time_s"])
    new = math.floor(ts / step + 1e-9) * step
    if abs(new - ts) < 1e-6:
        return None
    meta["time_s"] = float(new)
    t.put_meta(meta, recaption=False)
    return {"step_s": step, "time_s": r(new, 3)}


# closest earlier: v5 weather_visibility_km (json.weather.visibility_m in km)
@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def captions_visibility_km(t: Target) -> dict | None:
    meta = t.meta
    vis = meta["weather"].get("visibility_m")
    if not isinstance(vis, (int, float)) or vis <= 0:
        return None
    unit, k = ("km", 1000.0) if t.rng.random() < 0.6 else ("mi", 1609.344)
    source = copy.deepcopy(meta)
    source["weather"]["visibility_m"] = float(vis) / k
    if not recaptioned(t, meta, source):
        return None
    return {"read_as": unit}


# closest earlier: v2 depth_wrong_far (the depth linearised with another far plane)
@fault("metadata_contradiction", JSON_FILE)
def camera_far_field_default(t: Target) -> dict | None:
    meta = t.meta
    far = float(meta["camera"].get("far", 0.0))
    choices = [v for v in (100.0, 150.0, 300.0, 500.0, 1000.0) if abs(v - far) > 1.0]
    new = float(pick(t, choices))
    meta["camera"]["far"] = new
    t.put_meta(meta, recaption=False)
    return {"far_m": new}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying

FAULT_SET = FaultSet("v9", CLASSES, REGISTRY, SEED_TAG)
sample_rng = FAULT_SET.sample_rng
apply_fault = FAULT_SET.apply_fault
inject = FAULT_SET.inject
main = FAULT_SET.main

if __name__ == "__main__":
    main()
