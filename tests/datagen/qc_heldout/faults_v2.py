"""Held-out fault set v2: pipeline failures injected into a copy of a generated data set.

Written from the sample schema and the simulator only (docs/internals.md, datagen/sample.py,
datagen/builder.py, sim/), independently of QC's checks, to measure them. ``inject`` copies
a data set folder (shards, ``manifest.json``, ``.shards/`` sidecars, ``card/``), breaks about
``fraction`` of its samples with one fault each and returns the ground truth::

    {"faults": {"SHARD.tar/KEY": {"class", "fault", "params", "files"}}, "seed", ...}

(``files``: the members the fault rewrote). The same source, fraction and seed give the same
bytes. Rewritten shards keep their member order and tar headers; untouched samples and
shards stay byte-identical; the manifest and the sidecars get the new sha256, sizes and
label statistics, the card its new byte count.

Each fault is one function that mimics one upstream bug and keeps the sample consistent
where the real pipeline would: labels derived from a broken mask get their boxes recomputed
from it, and metadata that is wrong upstream gets captions regenerated from it (the
builder's caption generator and seed). Every fault leaves evidence in the sample itself or
in its neighbours of the same scenario (the other frames). Magnitudes (at 64 px unless
said otherwise; image-space sizes scale with the width):

label_misalignment
  label_buffer_lag          seg, inst, depth and objects of the frame before/after (+-1
                            frame = 0.2 s, 2-3 m of ego travel): an asynchronous read-back.
  label_pass_offset         seg, inst and depth translated by 2-3 px (<= 5 % of the width)
                            along at least one axis: a label pass with another principal point.
  label_lowres_nearest      labels rendered at 1/2-1/4 of the resolution, blown up by nearest
                            neighbour (blocky masks, up to 2 px shifted edges).
  label_mirror_x            seg and inst mirrored left-right (a flipped x axis in the
                            segmentation decoder); bbox2d recomputed from the mirrored mask.
  bbox2d_xywh               every bbox2d written as [x, y, w, h] instead of [x0, y0, x1, y1].
stale_swapped
  audio_other_frame         the clip of another frame of the same scenario (0.2-0.6 s off).
  audio_other_scenario      the clip of another scenario, same weather preset when possible.
  caption_similar_weather   txt and json.captions of a sample of another scenario with the
                            same weather family and time of day (a cache keyed by weather).
  rgb_stale_buffer          rgb byte-identical to the previous frame while the camera moved
                            >= 0.5 m (a camera driver returning its last buffer).
  rgb_bgr                   rgb channels in BGR order (an OpenCV hand-over).
unit_calibration
  depth_range_as_z          depth holds the ray length instead of z (x1.0 at the centre to
                            x1.29 in the corners at 60 deg; beyond the far plane: no hit).
  depth_wrong_far           the depth buffer linearised with a far plane of 60-150 m instead
                            of 200 m (non-linear: 100 m reads 46-86 m, 2 m stays ~2 m).
  intrinsics_other_size     fx, fy, cx, cy (camera and rig) of the same camera at x0.5 or x2
                            the resolution.
  pose_translation_units    every pose translation (T_world_cam, T_world_ego, T_ego_cam) in
                            cm or mm; ego.position stays in metres.
  camera_height_wrong       the camera's mount height off by 0.25-0.6 m (either sign) in
                            T_ego_cam and T_world_cam.
  mount_pitch_error         the camera's pitch off by 2-5 deg (either sign) in T_ego_cam and
                            T_world_cam.
degraded_optics (rgb only; parameters are redrawn until the change is visible: the 95th
percentile of the per-pixel change >= 8 grey levels)
  vignetting                corner light falloff 35-60 % (0.6-1.3 stops), exponent 2-4,
                            centre decentred by up to 5 %.
  directional_motion_blur   linear blur 5-12 % of the width (3-8 px) at a random angle.
  jpeg_blocking             a JPEG round trip at quality 8-20, 4:2:0 chroma (8x8 blocks).
  veiling_glare             a bright source near/above the frame: halo peak +0.3-0.7 of full
                            scale (linear light), veil +0.02-0.06, two tinted ghosts 0.05-0.12.
  lens_smudge               a grease smear: ellipse of 18-35 % of the width, blur 1.5-3 px,
                            25-50 % of its light replaced by the scene's scattered light.
  rolling_shutter_banding   row gain 1 +- 15-35 % (linear light), period 10-30 % of the height
                            (LED flicker under a rolling shutter).
  half_defocus              one half (left/right/top/bottom) blurred by 1.0-2.2 px (a tilted
                            sensor), soft transition of 20 % of the image.
  chromatic_aberration      lateral CA: red magnified and blue shrunk by 1.5-3 px at the
                            corners.
metadata_contradiction (captions regenerated from the wrong metadata where they state it)
  sun_altitude_sign         the sun's altitude with the wrong sign; time_of_day (and the
                            captions) derived from it flip between day and night.
  speed_unit                ego.speed_mps holds km/h (x3.6) or mph (x2.237); velocity,
                            rpm and poses stay in m/s.
  gear_off_by_one           ego.gear (and gear_shift events) 0-based vs 1-based: +-1.
  timestamp_stale           time_s is another frame's of the same scenario (out of order).
  ego_pose_jump             ego.position, T_world_ego and T_world_cam jump 4-25 m sideways
                            (a localisation glitch); objects' world boxes do not.
  weather_params_wrong_preset  the continuous weather fields of a preset of another family
                            (preset name and sun kept); family/visibility/surface follow.
  yaw_rate_degrees          ego.yaw_rate in deg/s (x57.3), |yaw rate| >= 0.01 rad/s.
"""

from __future__ import annotations

import copy
import io
import json
import math
import shutil
import tarfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from datagen.captions import generate_captions
from datagen.manifest import MANIFEST, SIDECAR_DIR, label_stats, merge_stats
from datagen.sample import (
    DEPTH_DTYPE,
    DEPTH_FILE,
    INST_DTYPE,
    INST_FILE,
    KEY_FIELD,
    RGB_FILES,
    SEG_FILE,
    Sample,
    decode_sample,
    encode_image,
    encode_json,
    encode_npy,
)
from datagen.shards import sha256_of, tar_member
from sim.atomic import atomic_write_json
from sim.labels import mask_boxes
from sim.seeding import rng_for
from sim.weather.metadata import weather_metadata
from sim.weather.params import WeatherParams
from sim.weather.presets import get_preset, preset_names

CLASSES = (
    "label_misalignment",
    "stale_swapped",
    "unit_calibration",
    "degraded_optics",
    "metadata_contradiction",
)
AUDIO_FILE, TXT_FILE, JSON_FILE = "audio.flac", "txt", "json"
LABEL_FILES = (SEG_FILE, INST_FILE, DEPTH_FILE)
SEED_TAG = 0x5EED_F2  # separates this module's draws from any other use of the same seed
DERIVED_WEATHER = ("family", "time_of_day", "visibility_m", "surface")
MIN_CAMERA_MOVE_M = 0.5
# An optics fault must change the image visibly: the 95th percentile of the per-pixel change
# (mean over channels) at least this many grey levels; otherwise other parameters are drawn
# (a blur over a uniform sky changes nothing), up to OPTICS_TRIES times.
MIN_VISIBLE_LEVELS = 8.0
OPTICS_TRIES = 4


# ---------------------------------------------------------------- data set index


@dataclass(frozen=True)
class Entry:
    """One sample of the source data set: where it is and its metadata."""

    sid: str  # "SHARD.tar/KEY"
    shard: Path
    key: str
    meta: dict

    @property
    def scene(self) -> tuple[int, str]:
        return int(self.meta["scenario_id"]), str(self.meta["camera"]["name"])


def read_members(path: Path) -> list[tuple[str, bytes]]:
    """Every file member of a tar as (name, bytes), in tar order."""
    with tarfile.open(path, "r:") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]


def group_samples(members: Iterable[tuple[str, bytes]]) -> dict[str, dict[str, bytes]]:
    """Members grouped by sample key (``KEY.EXT``), in tar order."""
    samples: dict[str, dict[str, bytes]] = {}
    for name, data in members:
        key, _, ext = name.partition(".")
        samples.setdefault(key, {})[ext] = data
    return samples


def read_index(shards: Sequence[Path]) -> list[Entry]:
    entries = []
    for shard in shards:
        for key, files in group_samples(read_members(shard)).items():
            entries.append(Entry(f"{shard.name}/{key}", shard, key, json.loads(files[JSON_FILE])))
    return entries


def member_of(entry: Entry, ext: str) -> bytes:
    with tarfile.open(entry.shard, "r:") as tar:
        return tar.extractfile(f"{entry.key}.{ext}").read()


# ---------------------------------------------------------------- one sample under repair


@dataclass
class Target:
    """The sample a fault rewrites, its scenario's other frames and the whole index.

    Faults read ``sample`` (decoded, never mutated) and write through ``put_*``; ``files``
    holds the sample's members, replaced ones included.
    """

    entry: Entry
    files: dict[str, bytes]
    scene: list[Entry]  # the samples of its scenario and camera, frame order, itself included
    index: list[Entry]
    rng: np.random.Generator
    params: dict = field(default_factory=dict)  # the applied fault's, set by try_fault
    _sample: Sample | None = field(default=None, repr=False)

    @property
    def sample(self) -> Sample:
        if self._sample is None:
            self._sample = decode_sample({KEY_FIELD: self.entry.key, **self.files})
        return self._sample

    @property
    def meta(self) -> dict:
        """A fresh deep copy of the sample's json, to edit and ``put_meta``."""
        return copy.deepcopy(self.sample.meta)

    @property
    def rgb_file(self) -> str:
        return next(n for n in RGB_FILES if n in self.files)

    @property
    def pos(self) -> int:
        return next(i for i, e in enumerate(self.scene) if e.sid == self.entry.sid)

    def neighbour(self, offset: int) -> Entry | None:
        i = self.pos + offset
        return self.scene[i] if 0 <= i < len(self.scene) else None

    def others_in_scene(self) -> list[Entry]:
        return [e for e in self.scene if e.sid != self.entry.sid]

    def copy_member(self, ext: str, donor: Entry) -> None:
        self.files[ext] = member_of(donor, ext)

    def put_rgb(self, rgb: np.ndarray) -> None:
        fmt = "PNG" if self.rgb_file.endswith("png") else "JPEG"
        self.files[self.rgb_file] = encode_image(np.ascontiguousarray(rgb, np.uint8), fmt)

    def put_labels(self, seg=None, inst=None, depth=None) -> None:
        if seg is not None:
            self.files[SEG_FILE] = encode_image(np.ascontiguousarray(seg, np.uint8))
        if inst is not None:
            self.files[INST_FILE] = encode_npy(inst, INST_DTYPE)
        if depth is not None:
            self.files[DEPTH_FILE] = encode_npy(depth, DEPTH_DTYPE)

    def put_meta(self, meta: dict, recaption: bool = True) -> None:
        """Store ``meta``; with ``recaption`` its captions and txt are regenerated from it
        the way the builder does (same generator, same families), as a pipeline whose
        metadata is wrong upstream would."""
        if recaption:
            meta["captions"] = regenerate_captions(meta)
            self.files[TXT_FILE] = meta["captions"][0]["text"].encode("utf-8")
        self.files[JSON_FILE] = encode_json(meta)


def regenerate_captions(meta: dict) -> list[dict]:
    families = list(dict.fromkeys(c["family"] for c in meta["captions"]))
    rng = rng_for(meta["seed"], "captions", meta["frame"], meta["camera"]["name"])
    return generate_captions(meta, rng, families)


# ---------------------------------------------------------------- helpers


def to_float(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) / 255.0


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


def linear(img: np.ndarray) -> np.ndarray:
    return np.power(np.clip(img, 0.0, 1.0), 2.2)


def gamma(lin: np.ndarray) -> np.ndarray:
    return np.power(np.clip(lin, 0.0, 1.0), 1.0 / 2.2)


def px(t: Target, at_64: float) -> float:
    """A size given for a 64 px image, at this image's width."""
    return at_64 * t.sample.rgb.shape[1] / 64.0


def grid(t: Target) -> tuple[np.ndarray, np.ndarray]:
    h, w = t.sample.rgb.shape[:2]
    return np.mgrid[0:h, 0:w].astype(np.float64)


def relabel(objects: list[dict], inst: np.ndarray) -> list[dict]:
    """``objects`` with bbox2d and visible_px recomputed from ``inst`` (sim.labels'
    mask_boxes, as the labeller does); objects without pixels left are dropped."""
    ids, counts, boxes = mask_boxes(inst)
    found = {
        int(i): (int(c), [int(v) for v in b]) for i, c, b in zip(ids, counts, boxes, strict=True)
    }
    return [{**o, "visible_px": found[o["instance_id"]][0], "bbox2d": found[o["instance_id"]][1]}
            for o in objects if o["instance_id"] in found]  # fmt: skip


def matrix(values: Sequence[float]) -> np.ndarray:
    return np.reshape(np.asarray(values, dtype=np.float64), (4, 4))


def flat(m: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(m).ravel()]


def rig_camera(meta: dict) -> dict | None:
    rig = meta.get("rig")
    if not rig:
        return None
    return next((c for c in rig["cameras"] if c["name"] == meta["camera"]["name"]), None)


def set_extrinsics(meta: dict, T_ego_cam: np.ndarray) -> None:
    """Write a (mis)calibrated T_ego_cam to the rig and the T_world_cam it implies."""
    cam = rig_camera(meta)
    assert cam is not None
    cam["T_ego_cam"] = flat(T_ego_cam)
    meta["camera"]["T_world_cam"] = flat(matrix(meta["rig"]["T_world_ego"]) @ T_ego_cam)


def rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def camera_moved(a: dict, b: dict) -> float:
    ta, tb = matrix(a["camera"]["T_world_cam"]), matrix(b["camera"]["T_world_cam"])
    return float(np.linalg.norm(ta[:3, 3] - tb[:3, 3]))


def rederive_weather(weather: dict) -> dict:
    """json.weather with its derived labels recomputed from its continuous fields."""
    names = set(WeatherParams.__dataclass_fields__)
    params = WeatherParams(**{k: v for k, v in weather.items() if k in names})
    return {**weather, **{k: weather_metadata(params)[k] for k in DERIVED_WEATHER}}


def r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


# ---------------------------------------------------------------- the faults

FaultFn = Callable[[Target], "dict | None"]
REGISTRY: dict[str, tuple[str, tuple[str, ...], FaultFn]] = {}


def fault(cls: str, *touches: str) -> Callable[[FaultFn], FaultFn]:
    """Register a fault of class ``cls`` that may rewrite the members ``touches``
    ("rgb" stands for rgb.png or rgb.jpg). A fault returns its parameters, or None when it
    does not apply to the sample."""
    assert cls in CLASSES

    def register(fn: FaultFn) -> FaultFn:
        REGISTRY[fn.__name__] = (cls, touches, fn)
        return fn

    return register


# --- label_misalignment


@fault("label_misalignment", *LABEL_FILES, JSON_FILE, TXT_FILE)
def label_buffer_lag(t: Target) -> dict | None:
    lags = [d for d in (-1, 1) if t.neighbour(d) is not None]
    if not lags:
        return None
    lag = int(t.rng.choice(lags))
    donor = t.neighbour(lag)
    for name in LABEL_FILES:
        t.copy_member(name, donor)
    meta = t.meta
    meta["objects"] = copy.deepcopy(donor.meta["objects"])
    t.put_meta(meta)
    return {"lag_frames": lag, "labels_of_frame": int(donor.meta["frame"])}


def shifted(arr: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``arr`` translated by (dy, dx) pixels, the uncovered border replicated."""
    h, w = arr.shape[:2]
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return arr[ys][:, xs]


@fault("label_misalignment", *LABEL_FILES, JSON_FILE, TXT_FILE)
def label_pass_offset(t: Target) -> dict | None:
    s = t.sample
    most = max(2, round(0.05 * s.rgb.shape[1]))
    while True:
        dy, dx = (int(v) for v in t.rng.integers(-most, most + 1, size=2))
        if max(abs(dy), abs(dx)) >= 2:
            break
    inst = shifted(s.inst, dy, dx)
    t.put_labels(seg=shifted(s.seg, dy, dx), inst=inst, depth=shifted(s.depth, dy, dx))
    meta = t.meta
    meta["objects"] = relabel(meta["objects"], inst)
    t.put_meta(meta)
    return {"dy_px": dy, "dx_px": dx}


def nearest_upsampled(arr: np.ndarray, factor: int) -> np.ndarray:
    """What a render at 1/factor of the size (sampling each low-res pixel's centre) looks
    like blown up by nearest neighbour to ``arr``'s size."""
    h, w = arr.shape[:2]
    ys = np.minimum((np.arange(h) // factor) * factor + factor // 2, h - 1)
    xs = np.minimum((np.arange(w) // factor) * factor + factor // 2, w - 1)
    return arr[ys][:, xs]


@fault("label_misalignment", *LABEL_FILES, JSON_FILE, TXT_FILE)
def label_lowres_nearest(t: Target) -> dict | None:
    s = t.sample
    factors = [f for f in (2, 3, 4) if s.rgb.shape[1] // f >= 8]
    if not factors:
        return None
    f = int(t.rng.choice(factors))
    inst = nearest_upsampled(s.inst, f)
    t.put_labels(seg=nearest_upsampled(s.seg, f), inst=inst, depth=nearest_upsampled(s.depth, f))
    meta = t.meta
    meta["objects"] = relabel(meta["objects"], inst)
    t.put_meta(meta)
    return {"factor": f, "label_size": [s.rgb.shape[0] // f, s.rgb.shape[1] // f]}


@fault("label_misalignment", SEG_FILE, INST_FILE, JSON_FILE, TXT_FILE)
def label_mirror_x(t: Target) -> dict | None:
    s = t.sample
    inst = s.inst[:, ::-1]
    t.put_labels(seg=s.seg[:, ::-1], inst=inst)
    meta = t.meta
    meta["objects"] = relabel(meta["objects"], inst)
    t.put_meta(meta)
    return {"axis": "x"}


@fault("label_misalignment", JSON_FILE)
def bbox2d_xywh(t: Target) -> dict | None:
    meta = t.meta
    if not meta["objects"]:
        return None
    for o in meta["objects"]:
        x0, y0, x1, y1 = o["bbox2d"]
        o["bbox2d"] = [x0, y0, x1 - x0, y1 - y0]
    t.put_meta(meta, recaption=False)  # captions never state 2D boxes
    return {"objects": len(meta["objects"])}


# --- stale_swapped


@fault("stale_swapped", AUDIO_FILE)
def audio_other_frame(t: Target) -> dict | None:
    others = t.others_in_scene()
    if not others:
        return None
    donor = others[int(t.rng.integers(len(others)))]
    t.copy_member(AUDIO_FILE, donor)
    return {"audio_of_frame": int(donor.meta["frame"]),
            "offset_s": r(donor.meta["time_s"] - t.sample.meta["time_s"])}  # fmt: skip


def donors(t: Target, keys: Sequence[Callable[[dict], object]]) -> list[Entry]:
    """Samples of other scenarios agreeing with this one on the first of ``keys`` that any
    of them agrees on (the last resort: any other scenario)."""
    own = t.sample.meta
    pool = [e for e in t.index if e.meta["scenario_id"] != own["scenario_id"]]
    for key in keys:
        same = [e for e in pool if key(e.meta) == key(own)]
        if same:
            return same
    return pool


@fault("stale_swapped", AUDIO_FILE)
def audio_other_scenario(t: Target) -> dict | None:
    pool = donors(t, [lambda m: m["weather"]["preset"], lambda m: m["weather"]["family"]])
    if not pool:
        return None
    donor = pool[int(t.rng.integers(len(pool)))]
    t.copy_member(AUDIO_FILE, donor)
    return {"audio_of": donor.sid, "donor_preset": donor.meta["weather"]["preset"]}


@fault("stale_swapped", TXT_FILE, JSON_FILE)
def caption_similar_weather(t: Target) -> dict | None:
    own = t.sample.meta
    pool = donors(t, [lambda m: (m["weather"]["family"], m["weather"]["time_of_day"]),
                      lambda m: m["weather"]["family"]])  # fmt: skip
    pool = [e for e in pool if e.meta["captions"][0]["text"] != own["captions"][0]["text"]]
    if not pool:
        return None
    donor = pool[int(t.rng.integers(len(pool)))]
    meta = t.meta
    meta["captions"] = copy.deepcopy(donor.meta["captions"])
    t.files[TXT_FILE] = meta["captions"][0]["text"].encode("utf-8")
    t.put_meta(meta, recaption=False)
    return {"captions_of": donor.sid, "donor_weather": donor.meta["weather"]["family"],
            "donor_time_of_day": donor.meta["weather"]["time_of_day"]}  # fmt: skip


@fault("stale_swapped", "rgb")
def rgb_stale_buffer(t: Target) -> dict | None:
    prev = t.neighbour(-1)
    if prev is None or camera_moved(prev.meta, t.sample.meta) < MIN_CAMERA_MOVE_M:
        return None
    t.copy_member(t.rgb_file, prev)
    return {"rgb_of_frame": int(prev.meta["frame"]),
            "camera_moved_m": r(camera_moved(prev.meta, t.sample.meta), 3)}  # fmt: skip


@fault("stale_swapped", "rgb")
def rgb_bgr(t: Target) -> dict | None:
    t.put_rgb(t.sample.rgb[..., ::-1])
    return {"channel_order": "bgr"}


# --- unit_calibration


def ray_factor(cam: dict, shape: tuple[int, int]) -> np.ndarray:
    """Ray length / z of every pixel: sqrt(1 + ((u - cx) / fx)^2 + ((v - cy) / fy)^2)."""
    v, u = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return np.sqrt(1.0 + ((u - cam["cx"]) / cam["fx"]) ** 2 + ((v - cam["cy"]) / cam["fy"]) ** 2)


@fault("unit_calibration", DEPTH_FILE)
def depth_range_as_z(t: Target) -> dict | None:
    s, cam = t.sample, t.sample.meta["camera"]
    k = ray_factor(cam, s.depth.shape)
    rng_m = s.depth.astype(np.float64) * k
    hit = (s.depth > 0) & (rng_m <= cam["far"])  # a range sensor: beyond far is no return
    t.put_labels(depth=np.where(hit, rng_m, 0.0).astype(np.float32))
    return {"max_factor": r(k.max())}


@fault("unit_calibration", DEPTH_FILE)
def depth_wrong_far(t: Target) -> dict | None:
    s, cam = t.sample, t.sample.meta["camera"]
    near, far = float(cam["near"]), float(cam["far"])
    wrong = float(t.rng.uniform(0.3, 0.75)) * far  # 60-150 m for the default 200 m
    z = s.depth.astype(np.float64)
    hit = z > 0
    buf = (far - far * near / np.where(hit, z, 1.0)) / (far - near)  # the renderer's z-buffer
    z_wrong = wrong * near / (wrong - (wrong - near) * buf)
    t.put_labels(depth=np.where(hit, z_wrong, 0.0).astype(np.float32))
    return {"far_used_m": r(wrong, 2), "far_true_m": far}


@fault("unit_calibration", JSON_FILE)
def intrinsics_other_size(t: Target) -> dict | None:
    scale = float(t.rng.choice([0.5, 2.0]))
    meta = t.meta
    cams = [meta["camera"]] + ([rig_camera(meta)] if rig_camera(meta) else [])
    for cam in cams:
        w, h = cam["width"], cam["height"]
        cam["fx"], cam["fy"] = cam["fx"] * scale, cam["fy"] * scale
        cam["cx"] = (cam["cx"] - w / 2) + scale * w / 2  # the renderer's offset is kept
        cam["cy"] = (cam["cy"] - h / 2) + scale * h / 2
    t.put_meta(meta, recaption=False)
    size = [int(meta["camera"]["width"] * scale), int(meta["camera"]["height"] * scale)]
    return {"scale": scale, "intrinsics_for_size": size}


@fault("unit_calibration", JSON_FILE)
def pose_translation_units(t: Target) -> dict | None:
    unit, scale = [("cm", 100.0), ("mm", 1000.0)][int(t.rng.integers(2))]
    meta = t.meta
    poses = [(meta["camera"], "T_world_cam")]
    if meta.get("rig"):
        poses += [(meta["rig"], "T_world_ego")] + [(c, "T_ego_cam") for c in meta["rig"]["cameras"]]
    for holder, name in poses:
        m = matrix(holder[name])
        m[:3, 3] *= scale
        holder[name] = flat(m)
    t.put_meta(meta, recaption=False)
    return {"unit": unit, "scale": scale}


@fault("unit_calibration", JSON_FILE)
def camera_height_wrong(t: Target) -> dict | None:
    meta = t.meta
    cam = rig_camera(meta)
    if cam is None:
        return None
    dz = float(t.rng.uniform(0.25, 0.6)) * float(t.rng.choice([-1.0, 1.0]))
    T = matrix(cam["T_ego_cam"])
    T[2, 3] += dz
    set_extrinsics(meta, T)
    t.put_meta(meta, recaption=False)
    return {"height_error_m": r(dz, 3), "height_written_m": r(T[2, 3], 3)}


@fault("unit_calibration", JSON_FILE)
def mount_pitch_error(t: Target) -> dict | None:
    meta = t.meta
    cam = rig_camera(meta)
    if cam is None:
        return None
    deg = float(t.rng.uniform(2.0, 5.0)) * float(t.rng.choice([-1.0, 1.0]))
    T = matrix(cam["T_ego_cam"])
    T[:3, :3] = T[:3, :3] @ rot_x(math.radians(deg))  # about the camera's x (right) axis
    set_extrinsics(meta, T)
    t.put_meta(meta, recaption=False)
    return {"pitch_error_deg": r(deg, 3)}


# --- degraded_optics


@fault("degraded_optics", "rgb")
def vignetting(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    strength, power = float(t.rng.uniform(0.35, 0.6)), float(t.rng.uniform(2.0, 4.0))
    cy = (h - 1) / 2 + float(t.rng.uniform(-0.05, 0.05)) * h
    cx = (w - 1) / 2 + float(t.rng.uniform(-0.05, 0.05)) * w
    yy, xx = grid(t)
    radius = np.hypot(yy - cy, xx - cx) / math.hypot(h / 2, w / 2)
    gain = 1.0 - strength * np.clip(radius, 0.0, 1.2) ** power
    t.put_rgb(to_uint8(gamma(linear(to_float(t.sample.rgb)) * gain[..., None])))
    return {"corner_falloff": r(strength, 3), "power": r(power, 3),
            "centre_px": [r(cx, 2), r(cy, 2)]}  # fmt: skip


def line_kernel(length: float, angle: float) -> np.ndarray:
    size = int(math.ceil(length)) | 1
    size += 2
    kernel = np.zeros((size, size))
    c = size // 2
    steps = np.linspace(-length / 2, length / 2, max(8, int(8 * length)))
    ys = np.round(c + steps * math.sin(angle)).astype(int)
    xs = np.round(c + steps * math.cos(angle)).astype(int)
    np.add.at(kernel, (ys, xs), 1.0)
    return kernel / kernel.sum()


def blur_channels(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.stack([ndimage.convolve(img[..., c], kernel, mode="nearest") for c in range(3)], -1)


@fault("degraded_optics", "rgb")
def directional_motion_blur(t: Target) -> dict | None:
    w = t.sample.rgb.shape[1]
    length = max(3.0, float(t.rng.uniform(0.05, 0.12)) * w)
    angle = float(t.rng.uniform(0.0, math.pi))
    blurred = blur_channels(linear(to_float(t.sample.rgb)), line_kernel(length, angle))
    t.put_rgb(to_uint8(gamma(blurred)))
    return {"length_px": r(length, 2), "angle_deg": r(math.degrees(angle), 1)}


@fault("degraded_optics", "rgb")
def jpeg_blocking(t: Target) -> dict | None:
    quality = int(t.rng.integers(8, 21))
    buf = io.BytesIO()
    Image.fromarray(t.sample.rgb).save(buf, format="JPEG", quality=quality, subsampling=2)
    with Image.open(io.BytesIO(buf.getvalue())) as image:
        t.put_rgb(np.asarray(image.convert("RGB")))
    return {"quality": quality, "subsampling": "4:2:0"}


def disc(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, radius: float) -> np.ndarray:
    """A disc of ``radius`` with a one-pixel soft edge."""
    return np.clip(radius + 0.5 - np.hypot(yy - cy, xx - cx), 0.0, 1.0)


@fault("degraded_optics", "rgb")
def veiling_glare(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    rng = t.rng
    sy, sx = float(rng.uniform(-0.2, 0.5)) * h, float(rng.uniform(-0.2, 1.2)) * w
    peak, spread = float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.1, 0.25)) * w
    veil = float(rng.uniform(0.02, 0.06))
    yy, xx = grid(t)
    halo = peak * np.exp(-np.hypot(yy - sy, xx - sx) / spread) + veil
    glare = halo[..., None] * np.array([1.0, 0.95, 0.85])  # warm, like the sun
    cy, cx = (h - 1) / 2, (w - 1) / 2
    for g, tint in ((0.5, (0.6, 1.0, 0.7)), (1.1, (0.9, 0.6, 1.0))):  # ghosts across the axis
        radius, level = float(rng.uniform(0.05, 0.12)) * w, float(rng.uniform(0.05, 0.12))
        ghost = level * disc(yy, xx, cy + g * (cy - sy), cx + g * (cx - sx), radius)
        glare += ghost[..., None] * np.array(tint)
    t.put_rgb(to_uint8(gamma(linear(to_float(t.sample.rgb)) + glare)))
    return {"source_px": [r(sx, 1), r(sy, 1)], "peak": r(peak, 3), "spread_px": r(spread, 2),
            "veil": r(veil, 3)}  # fmt: skip


@fault("degraded_optics", "rgb")
def lens_smudge(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    rng = t.rng
    cy, cx = float(rng.uniform(0.15, 0.85)) * h, float(rng.uniform(0.15, 0.85)) * w
    ry, rx = (float(v) * w for v in rng.uniform(0.18, 0.35, size=2))
    sigma, haze = px(t, float(rng.uniform(1.5, 3.0))), float(rng.uniform(0.25, 0.5))
    yy, xx = grid(t)
    mask = np.clip(1.5 * (1.0 - np.hypot((yy - cy) / ry, (xx - cx) / rx)), 0.0, 1.0)[..., None]
    lin = linear(to_float(t.sample.rgb))
    scattered = ndimage.gaussian_filter(lin, sigma=(0.25 * w, 0.25 * w, 0))  # light of the scene
    blurred = ndimage.gaussian_filter(lin, sigma=(sigma, sigma, 0))
    smeared = blurred * (1 - haze) + 1.5 * haze * scattered
    t.put_rgb(to_uint8(gamma(lin * (1 - mask) + smeared * mask)))
    return {"centre_px": [r(cx, 1), r(cy, 1)], "radii_px": [r(rx, 1), r(ry, 1)],
            "blur_px": r(sigma, 2), "haze": r(haze, 3)}  # fmt: skip


@fault("degraded_optics", "rgb")
def rolling_shutter_banding(t: Target) -> dict | None:
    h = t.sample.rgb.shape[0]
    amp, period = float(t.rng.uniform(0.15, 0.35)), float(t.rng.uniform(0.1, 0.3)) * h
    phase = float(t.rng.uniform(0.0, 2 * math.pi))
    gain = 1.0 + amp * np.sin(2 * math.pi * np.arange(h) / period + phase)
    t.put_rgb(to_uint8(gamma(linear(to_float(t.sample.rgb)) * gain[:, None, None])))
    return {"amplitude": r(amp, 3), "period_rows": r(period, 2)}


@fault("degraded_optics", "rgb")
def half_defocus(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    side = ("left", "right", "top", "bottom")[int(t.rng.integers(4))]
    sigma = px(t, float(t.rng.uniform(1.0, 2.2)))
    yy, xx = grid(t)
    along = {"left": 1 - xx / (w - 1), "right": xx / (w - 1),
             "top": 1 - yy / (h - 1), "bottom": yy / (h - 1)}[side]  # fmt: skip
    weight = np.clip((along - 0.4) / 0.2, 0.0, 1.0)[..., None]  # 0 before 40 %, 1 after 60 %
    lin = linear(to_float(t.sample.rgb))
    blurred = ndimage.gaussian_filter(lin, sigma=(sigma, sigma, 0))
    t.put_rgb(to_uint8(gamma(lin * (1 - weight) + blurred * weight)))
    return {"side": side, "blur_px": r(sigma, 2)}


@fault("degraded_optics", "rgb")
def chromatic_aberration(t: Target) -> dict | None:
    h, w = t.sample.rgb.shape[:2]
    corner_px = px(t, float(t.rng.uniform(1.5, 3.0)))
    k = corner_px / math.hypot(h / 2, w / 2)
    yy, xx = grid(t)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    img = to_float(t.sample.rgb)
    out = img.copy()
    for channel, mag in ((0, 1 + k), (2, 1 - k)):  # red magnified, blue shrunk
        coords = [cy + (yy - cy) / mag, cx + (xx - cx) / mag]
        out[..., channel] = ndimage.map_coordinates(img[..., channel], coords, order=1,
                                                    mode="nearest")  # fmt: skip
    t.put_rgb(to_uint8(out))
    return {"corner_shift_px": r(corner_px, 3)}


# --- metadata_contradiction


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def sun_altitude_sign(t: Target) -> dict | None:
    meta = t.meta
    weather = meta["weather"]
    weather["sun_altitude_deg"] = -weather["sun_altitude_deg"]
    meta["weather"] = rederive_weather(weather)
    before = t.sample.meta["weather"]["time_of_day"]
    if meta["weather"]["time_of_day"] == before:
        return None
    t.put_meta(meta)
    return {
        "sun_altitude_written_deg": r(weather["sun_altitude_deg"], 2),
        "time_of_day_true": before,
        "time_of_day_written": meta["weather"]["time_of_day"],
    }


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def speed_unit(t: Target) -> dict | None:
    meta = t.meta
    if abs(meta["ego"]["speed_mps"]) < 2.0:
        return None
    unit, factor = [("km/h", 3.6), ("mph", 2.23694)][int(t.rng.integers(2))]
    meta["ego"]["speed_mps"] *= factor
    t.put_meta(meta)
    return {"unit": unit, "factor": factor, "speed_written": r(meta["ego"]["speed_mps"], 3)}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def gear_off_by_one(t: Target) -> dict | None:
    meta = t.meta
    if abs(meta["ego"]["speed_mps"]) < 3.0:
        return None
    offset = int(t.rng.choice([-1, 1]))
    if meta["ego"]["gear"] + offset < 0:
        return None
    meta["ego"]["gear"] += offset
    for event in meta["events"]:  # the same gearbox index feeds the shift events
        if event.get("type") == "gear_shift":
            event["from"], event["to"] = event["from"] + offset, event["to"] + offset
    t.put_meta(meta)
    return {"offset": offset, "gear_written": meta["ego"]["gear"]}


@fault("metadata_contradiction", JSON_FILE)
def timestamp_stale(t: Target) -> dict | None:
    others = [e for e in t.others_in_scene() if e.meta["time_s"] != t.sample.meta["time_s"]]
    if not others:
        return None
    donor = others[int(t.rng.integers(len(others)))]
    meta = t.meta
    meta["time_s"] = donor.meta["time_s"]
    t.put_meta(meta, recaption=False)
    return {"time_s_written": meta["time_s"], "time_s_true": t.sample.meta["time_s"],
            "timestamp_of_frame": int(donor.meta["frame"])}  # fmt: skip


@fault("metadata_contradiction", JSON_FILE)
def ego_pose_jump(t: Target) -> dict | None:
    meta = t.meta
    dist, heading = float(t.rng.uniform(4.0, 25.0)), float(t.rng.uniform(0.0, 2 * math.pi))
    jump = np.array([dist * math.cos(heading), dist * math.sin(heading), 0.0])
    if "position" in meta["ego"]:
        meta["ego"]["position"] = flat(np.asarray(meta["ego"]["position"]) + jump)
    holders = [(meta["camera"], "T_world_cam")] + ([(meta["rig"], "T_world_ego")]
                                                   if meta.get("rig") else [])  # fmt: skip
    for holder, name in holders:
        m = matrix(holder[name])
        m[:3, 3] += jump
        holder[name] = flat(m)
    t.put_meta(meta, recaption=False)
    return {"jump_m": r(dist, 3), "heading_deg": r(math.degrees(heading), 1)}


@fault("metadata_contradiction", JSON_FILE, TXT_FILE)
def weather_params_wrong_preset(t: Target) -> dict | None:
    meta = t.meta
    own = meta["weather"]
    choices = [n for n in preset_names()
               if weather_metadata(get_preset(n))["family"] != own["family"]]  # fmt: skip
    donor = choices[int(t.rng.integers(len(choices)))]
    keep = {k: own[k] for k in ("preset", "sun_altitude_deg", "sun_azimuth_deg")}
    meta["weather"] = rederive_weather({**own, **get_preset(donor).continuous(), **keep})
    t.put_meta(meta)
    return {"params_of_preset": donor, "family_written": meta["weather"]["family"],
            "family_true": own["family"]}  # fmt: skip


@fault("metadata_contradiction", JSON_FILE)
def yaw_rate_degrees(t: Target) -> dict | None:
    meta = t.meta
    if abs(meta["ego"]["yaw_rate"]) < 0.01:
        return None
    meta["ego"]["yaw_rate"] = math.degrees(meta["ego"]["yaw_rate"])
    t.put_meta(meta, recaption=False)
    return {"yaw_rate_written": r(meta["ego"]["yaw_rate"], 4)}


FAULTS: dict[str, str] = {name: cls for name, (cls, _, _) in REGISTRY.items()}
TOUCHES: dict[str, tuple[str, ...]] = {name: touches for name, (_, touches, _) in REGISTRY.items()}


# ---------------------------------------------------------------- choosing and applying


def sample_rng(seed: int, sid: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, SEED_TAG, zlib.crc32(sid.encode())]))


Broken = tuple[str, dict, dict[str, bytes]]  # fault name, its parameters, the new members


def visible_change(before: np.ndarray, after: np.ndarray) -> float:
    """The 95th percentile of the per-pixel change of an rgb image, in grey levels."""
    diff = np.abs(before.astype(np.float64) - after.astype(np.float64)).mean(axis=-1)
    return float(np.percentile(diff, 95))


def try_fault(name: str, make: Callable[[], Target]) -> Target | None:
    """A fresh target with fault ``name`` applied (its params in ``target.params``), or None
    when the fault does not apply or (optics) stays invisible after OPTICS_TRIES draws."""
    optics = FAULTS[name] == "degraded_optics"
    for _ in range(OPTICS_TRIES if optics else 1):
        target = make()
        params = REGISTRY[name][2](target)
        if params is None:
            return None
        if optics:
            after = decode_sample({KEY_FIELD: target.entry.key, **target.files}).rgb
            if visible_change(target.sample.rgb, after) < MIN_VISIBLE_LEVELS:
                continue
        target.params = params
        return target
    return None


def break_sample(entry: Entry, files: dict[str, bytes], scene: list[Entry], index: list[Entry],
                 seed: int, pool: Sequence[str]) -> Broken | None:  # fmt: skip
    """One fault applied to a sample: a class drawn uniformly, then a fault of it; the next
    one in the draw when a fault does not apply (or would change nothing)."""
    rng = sample_rng(seed, entry.sid)
    classes = [c for c in CLASSES if any(FAULTS[n] == c for n in pool)]
    for ci in rng.permutation(len(classes)):
        names = [n for n in pool if FAULTS[n] == classes[ci]]
        for ni in rng.permutation(len(names)):
            name = names[ni]
            target = try_fault(name, lambda: Target(entry, dict(files), scene, index, rng))
            if target is not None and any(target.files[k] != files[k] for k in target.files):
                return name, target.params, target.files
    return None


def changed_members(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    return sorted(k for k in after if after[k] != before.get(k))


def rewrite_shard(src: Path, dst: Path, replaced: dict[str, bytes]) -> None:
    """``src`` copied to ``dst`` member by member (same order, the writer's headers), with
    the members named in ``replaced`` (``KEY.EXT``) swapped for new bytes."""
    tmp = dst.with_name(f".{dst.name}.partial")
    with tarfile.open(src, "r:") as tin, tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as out:
        for member in tin:
            if not member.isfile():
                continue
            data = replaced.get(member.name, tin.extractfile(member).read())
            out.addfile(tar_member(member.name, len(data)), io.BytesIO(data))
    tmp.replace(dst)


def copy_extras(src: Path, dst: Path) -> None:
    """The manifest, the sidecars and the card (anything but the shards)."""
    for path in src.iterdir():
        hidden = path.name.startswith(".") and path.name != SIDECAR_DIR  # locks, partial files
        if path.suffix == ".tar" or hidden:
            continue
        if path.is_dir():
            shutil.copytree(path, dst / path.name)
        else:
            shutil.copyfile(path, dst / path.name)


def update_bookkeeping(dst: Path, rewritten: Sequence[str]) -> None:
    """sha256, sizes and label statistics of rewritten shards in the manifest, the sidecars
    and the card's byte counts."""
    if not rewritten:
        return
    shards = sorted(dst.glob("*.tar"))
    stats = {p.name: label_stats(json.loads(d) for n, d in read_members(p) if n.endswith(".json"))
             for p in shards}  # fmt: skip
    for name in rewritten:
        side = dst / SIDECAR_DIR / f"{name}.json"
        if side.is_file():
            record = json.loads(side.read_text())
            record.update(sha256=sha256_of(dst / name), bytes=(dst / name).stat().st_size,
                          stats=stats[name])  # fmt: skip
            atomic_write_json(side, record)
    manifest_path = dst / MANIFEST
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest.get("shards", []):
            path = dst / entry["name"]
            if entry["name"] in rewritten:
                entry.update(sha256=sha256_of(path), bytes=path.stat().st_size)
        listed = [e["name"] for e in manifest.get("shards", [])]
        manifest.setdefault("totals", {})["bytes"] = sum((dst / n).stat().st_size for n in listed)
        manifest["label_stats"] = merge_stats(stats[n] for n in listed if n in stats)
        atomic_write_json(manifest_path, manifest)


def update_card(src: Path, dst: Path) -> None:
    """The card's ``num_bytes`` per split (shard name prefix) follows the new shard sizes."""
    card = dst / "card" / "README.md"
    if not card.is_file():
        return
    text = card.read_text()
    splits = sorted({p.name.rsplit("-", 1)[0] for p in dst.glob("*.tar")})
    for split in splits:
        old = sum(p.stat().st_size for p in src.glob(f"{split}-*.tar"))
        new = sum(p.stat().st_size for p in dst.glob(f"{split}-*.tar"))
        text = text.replace(f"num_bytes: {old}\n", f"num_bytes: {new}\n")
    card.write_text(text)


def inject(src_dir: Path, dst_dir: Path, fraction: float, seed: int, *,
           faults: Sequence[str] | None = None,
           truth_path: Path | None = None) -> dict:  # fmt: skip
    """Copy the data set ``src_dir`` to ``dst_dir`` (new or empty) with about ``fraction`` of
    its samples broken, one fault each; return the ground truth (also written to
    ``truth_path`` when given). ``faults`` restricts the draw to those fault names (a
    sample none of them applies to stays intact)."""
    src, dst = Path(src_dir), Path(dst_dir)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    pool = list(FAULTS if faults is None else faults)
    unknown = sorted(set(pool) - set(FAULTS))
    if unknown or not pool:
        raise ValueError(f"unknown faults {unknown}; known: {sorted(FAULTS)}")
    shards = sorted(src.glob("*.tar"))
    if not shards:
        raise FileNotFoundError(f"{src} holds no shards (*.tar)")
    if dst.exists() and any(dst.iterdir()):
        raise FileExistsError(f"{dst} exists and is not empty")
    index = read_index(shards)
    scenes: dict[tuple[str, tuple[int, str]], list[Entry]] = {}
    for e in index:
        scenes.setdefault((e.shard.name, e.scene), []).append(e)
    for scene in scenes.values():
        scene.sort(key=lambda e: int(e.meta["frame"]))
    n = min(len(index), max(1, round(fraction * len(index)))) if fraction > 0 else 0
    picked = np.random.default_rng(np.random.SeedSequence([seed, SEED_TAG])).choice(
        len(index), size=n, replace=False
    )
    chosen = {index[i].sid for i in picked}

    dst.mkdir(parents=True, exist_ok=True)
    copy_extras(src, dst)
    truth: dict[str, dict] = {}
    rewritten = []
    for shard in shards:
        mine = [e for e in index if e.shard == shard and e.sid in chosen]
        if not mine:
            shutil.copyfile(shard, dst / shard.name)
            continue
        samples = group_samples(read_members(shard))
        replaced: dict[str, bytes] = {}
        for e in mine:
            files = samples[e.key]
            done = break_sample(e, files, scenes[(shard.name, e.scene)], index, seed, pool)
            if done is None:
                continue
            name, params, new = done
            changed = changed_members(files, new)
            replaced.update({f"{e.key}.{ext}": new[ext] for ext in changed})
            truth[e.sid] = {"class": FAULTS[name], "fault": name, "params": params,
                            "files": changed}  # fmt: skip
        if replaced:
            rewrite_shard(shard, dst / shard.name, replaced)
            rewritten.append(shard.name)
        else:
            shutil.copyfile(shard, dst / shard.name)
    update_bookkeeping(dst, rewritten)
    update_card(src, dst)
    result = {"version": "faults_v2", "source": str(src), "seed": seed, "fraction": fraction,
              "samples": len(index), "classes": list(CLASSES), "faults": truth}  # fmt: skip
    if truth_path is not None:
        Path(truth_path).write_text(json.dumps(result, indent=2, sort_keys=True))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Inject the v2 held-out faults into a copy "
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
