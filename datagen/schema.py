"""The shard sample schema (docs/design.md and docs/internals.md) and its validator.

:func:`sample_problems` lists everything wrong with a sample as :class:`SampleError`s
(``"<key>: <field>: <problem>"``); :func:`validate_sample` raises the first one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from datagen.sample import (
    DEPTH_FILE,
    FRAMES_FILE,
    INST_FILE,
    INSTANCE_ENCODING,
    KEY_FIELD,
    MAX_INSTANCE_ID,
    SEG_FILE,
    Sample,
    SampleError,
    SampleFiles,
    decode_sample,
    depth_encoding,
)
from sim import vocabulary
from sim.classes import CLASS_IDS, class_table

KEY_RE = re.compile(r"^(\d{8})_([a-z0-9]+)_(c?)(\d{5})$")  # c: a clip sample's clip index
NUM, INT, STR, LIST, ANY = "number", "integer", "string", "list", "any"
VEC3 = "vec3"

REQUIRED_JSON: dict = {
    "seed": INT, "dataset_seed": INT, "scenario_id": INT, "split": STR, "frame": INT,
    "time_s": NUM,
    "weather": {"preset": STR, "family": STR, "time_of_day": STR, "visibility_m": NUM,
                "surface": STR},
    "driver": {"style": STR, "policy_id": ANY},
    "road": {"kind": STR, "shape": STR, "curvature_ahead": NUM, "lanes": INT,
             "lane_index": INT, "lateral_offset_m": NUM, "speed_limit_mps": NUM},
    "ego": {"speed_mps": NUM, "accel_mps2": NUM, "yaw_rate": NUM, "steer": NUM,
            "throttle": NUM, "brake": NUM, "gear": INT, "rpm": NUM,
            "wheel_slip": {"ratio": LIST, "angle": LIST},
            "damage": {"front": NUM, "rear": NUM, "left": NUM, "right": NUM}},
    "camera": {"name": STR, "width": INT, "height": INT, "fx": NUM, "fy": NUM, "cx": NUM,
               "cy": NUM, "T_world_cam": LIST, "near": NUM, "far": NUM,
               "depth": {"file": STR, "dtype": STR, "unit": STR, "scale": NUM, "kind": STR,
                         "no_hit": NUM, "max_m": NUM},
               "instances": {"file": STR, "dtype": STR, "none": INT, "max_id": INT}},
    "objects": LIST, "events": LIST,
    "audio": {"sample_rate": INT, "duration_s": NUM, "events": LIST},
    "captions": LIST, "classes": LIST,
}  # fmt: skip
REQUIRED_OBJECT: dict = {
    "instance_id": INT, "class": STR, "bbox2d": LIST, "visible_px": INT, "distance_m": NUM,
    "bbox3d_world": {"center": VEC3, "size": VEC3, "yaw": NUM},
    "bbox3d_cam": {"center": VEC3, "size": VEC3, "corners": LIST},
}  # fmt: skip
ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("weather", "family"): frozenset(vocabulary.WEATHER_FAMILIES),
    ("weather", "time_of_day"): frozenset(vocabulary.TIMES_OF_DAY),
    ("weather", "surface"): frozenset(vocabulary.SURFACES),
    ("driver", "style"): frozenset(vocabulary.DRIVER_STYLES),
    ("road", "kind"): frozenset(vocabulary.ROAD_KINDS),
    ("road", "shape"): frozenset(vocabulary.ROAD_SHAPES),
}
AUDIO_LENGTH_TOLERANCE = 1  # samples
FAR_TOLERANCE = 1e-3  # relative: float32 rounding of the depth buffer near the far plane
Problem = tuple[str, str]  # (field, problem)


def type_problem(value: object, kind: str) -> str | None:
    t = type(value)
    if kind == NUM:
        ok = t is float or t is int or (isinstance(value, (int, float)) and t is not bool)
    elif kind == INT:
        ok = t is int or (isinstance(value, int) and t is not bool)
    elif kind == STR:
        ok = isinstance(value, str)
    elif kind == LIST:
        ok = isinstance(value, list)
    elif kind == VEC3:
        ok = isinstance(value, list) and len(value) == 3
    elif kind == ANY:
        ok = True
    else:
        raise KeyError(kind)
    return None if ok else f"expected {kind}, got {type(value).__name__} {value!r:.40}"


def field_problems(obj: Mapping, spec: dict, path: str) -> list[Problem]:
    """Missing or mistyped fields of ``obj`` against a nested ``spec``."""
    problems: list[Problem] = []
    for name, kind in spec.items():
        where = f"{path}.{name}"
        if name not in obj:
            problems.append((where, "missing field"))
        elif isinstance(kind, dict):
            if isinstance(obj[name], Mapping):
                problems += field_problems(obj[name], kind, where)
            else:
                problems.append((where, f"expected an object, got {type(obj[name]).__name__}"))
        elif (problem := type_problem(obj[name], kind)) is not None:
            problems.append((where, problem))
    return problems


def _all_finite(obj: object) -> bool:
    """True when :func:`nonfinite_problems` finds nothing: a walk over the plain types of a
    sample's json without building paths (other types are left to :func:`_nonfinite`)."""
    t = type(obj)
    if t is float:
        return obj - obj == 0.0  # inf - inf and nan - nan are nan
    if t is dict:
        for v in obj.values():
            if not _all_finite(v):
                return False
        return True
    if t is list:
        for v in obj:
            if not _all_finite(v):
                return False
        return True
    if t is int or t is str or t is bool or t is tuple or obj is None:
        return True
    return not _nonfinite(obj, "json")


def nonfinite_problems(obj: object, path: str = "json") -> list[Problem]:
    """Every NaN or infinite float in ``obj`` (mappings and lists), with its path."""
    return [] if _all_finite(obj) else _nonfinite(obj, path)


def _nonfinite(obj: object, path: str) -> list[Problem]:
    if isinstance(obj, float) and not math.isfinite(obj):
        return [(path, f"{obj} is not finite")]
    if isinstance(obj, Mapping):
        return [p for k, v in obj.items() for p in _nonfinite(v, f"{path}.{k}")]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _nonfinite(v, f"{path}[{i}]")]
    return []


def enum_problems(meta: Mapping) -> list[Problem]:
    return [
        (f"json.{sec}.{name}", f"{meta[sec][name]!r} is not one of {sorted(valid)}")
        for (sec, name), valid in ENUMS.items()
        if meta[sec][name] not in valid
    ]


def key_problems(key: str, meta: Mapping) -> list[Problem]:
    m = KEY_RE.match(key)
    if m is None:
        return [("__key__", f"{key!r} does not match {{scenario:08d}}_{{camera}}_{{frame:05d}} "
                            "or, for a clip, {scenario:08d}_{camera}_c{clip:05d}")]  # fmt: skip
    clip = meta.get("clip")
    if m[3] and not isinstance(clip, Mapping):
        return [("__key__", f"{key!r} names a clip but json has no clip")]
    if not m[3] and clip is not None:
        return [("__key__", f"{key!r} names a frame but json has a clip (key _c{{clip:05d}})")]
    number, what = ("clip.index", clip.get("index")) if m[3] else ("frame", meta["frame"])
    expected = (meta["scenario_id"], meta["camera"]["name"], what)
    if (int(m[1]), m[2], int(m[4])) != expected:
        return [("__key__", f"disagrees with json scenario_id/camera.name/{number} {expected}")]
    return []


def meta_problems(key: str, meta: Mapping) -> list[Problem]:
    """Fields, types, enums, finiteness, camera matrix, class table, captions."""
    problems = field_problems(meta, REQUIRED_JSON, "json") + nonfinite_problems(meta)
    if problems:
        return problems
    problems = enum_problems(meta) + key_problems(key, meta)
    t = meta["camera"]["T_world_cam"]
    if len(t) != 16 or any(type_problem(v, NUM) for v in t):
        problems.append(("json.camera.T_world_cam", "expected 16 numbers (4x4 row-major)"))
    cam = meta["camera"]
    if cam["depth"] != depth_encoding(cam["far"]):
        problems.append(("json.camera.depth", f"{cam['depth']} != {depth_encoding(cam['far'])}"))
    if cam["instances"] != INSTANCE_ENCODING:
        problems.append(("json.camera.instances", f"{cam['instances']} != {INSTANCE_ENCODING}"))
    if meta["classes"] != class_table():
        problems.append(("json.classes", "differs from sim.classes.class_table()"))
    caps = meta["captions"]
    if not caps or any(
        not isinstance(c, Mapping) or field_problems(c, {"text": STR, "family": STR}, "c")
        for c in caps
    ):
        problems.append(("json.captions", "expected a non-empty list of {text, family}"))
    return problems


def array_problems(s: Sample) -> list[Problem]:
    specs = (("rgb", s.rgb, np.uint8, 3), (DEPTH_FILE, s.depth, np.float32, 2),
             (SEG_FILE, s.seg, np.uint8, 2), (INST_FILE, s.inst, np.uint16, 2),
             ("audio.flac", s.audio, np.float32, 1))  # fmt: skip
    problems = [
        (name, f"expected {ndim}-d {np.dtype(dtype)}, got {arr.ndim}-d {arr.dtype}")
        for name, arr, dtype, ndim in specs
        if arr.dtype != dtype or arr.ndim != ndim
    ]
    if problems:
        return problems
    if s.rgb.shape[2] != 3:
        problems.append(("rgb", f"expected 3 channels, got {s.rgb.shape[2]}"))
    hw = s.rgb.shape[:2]
    for name, arr in ((DEPTH_FILE, s.depth), (SEG_FILE, s.seg), (INST_FILE, s.inst)):
        if arr.shape != hw:
            problems.append((name, f"size {arr.shape} differs from rgb {hw}"))
    return problems


def depth_problems(s: Sample) -> list[Problem]:
    """Depth is metres, finite, 0 (no hit) or a hit no farther than the camera's far plane."""
    d, far = s.depth, float(s.meta["camera"]["far"])
    if not np.all(np.isfinite(d)):
        return [(DEPTH_FILE, "NaN or infinite depth")]
    if d.size and float(d.min()) < 0:
        return [(DEPTH_FILE, f"negative depth {float(d.min())}")]
    if d.size and float(d.max()) > far * (1 + FAR_TOLERANCE):
        return [(DEPTH_FILE, f"depth {float(d.max()):.6g} m beyond the far plane {far} m "
                             "(wrong unit?)")]  # fmt: skip
    return []


def camera_problems(s: Sample) -> list[Problem]:
    cam, (h, w) = s.meta["camera"], s.rgb.shape[:2]
    if (cam["width"], cam["height"]) != (w, h):
        return [("json.camera", f"width x height {cam['width']}x{cam['height']} != image {w}x{h}")]
    return []


RIG_CAMERA = {"name": STR, "T_ego_cam": LIST, "width": INT, "height": INT, "fx": NUM,
              "fy": NUM, "cx": NUM, "cy": NUM}  # fmt: skip
RIG_TOLERANCE = 1e-6  # relative: T_world_cam vs T_world_ego @ T_ego_cam (json: 10 digits)


def rig_problems(s: Sample) -> list[Problem]:
    """``json.rig`` (optional, sim.camera.rig_metadata): well formed, the sample's camera in
    it, and that camera's pose equal to the ego pose times its extrinsics."""
    rig = s.meta.get("rig")
    if rig is None:
        return []
    if not isinstance(rig, Mapping):
        return [("json.rig", f"expected an object, got {type(rig).__name__}")]
    problems = field_problems(rig, {"frame": STR, "T_world_ego": LIST, "cameras": LIST}, "json.rig")
    if problems:
        return problems
    cams = rig["cameras"]
    for i, cam in enumerate(cams):
        if not isinstance(cam, Mapping):
            return [(f"json.rig.cameras[{i}]", "expected an object")]
        problems += field_problems(cam, RIG_CAMERA, f"json.rig.cameras[{i}]")
    mats = [rig["T_world_ego"]] + [c["T_ego_cam"] for c in cams if isinstance(c, Mapping)]
    if any(len(m) != 16 or any(type_problem(v, NUM) for v in m) for m in mats):
        problems.append(("json.rig", "poses must be 16 numbers (4x4 row-major)"))
    if problems:
        return problems
    mine = [c for c in cams if c["name"] == s.meta["camera"]["name"]]
    if len(mine) != 1:
        return [("json.rig.cameras", f"camera {s.meta['camera']['name']!r} is not in the rig once")]
    T = np.reshape(rig["T_world_ego"], (4, 4)) @ np.reshape(mine[0]["T_ego_cam"], (4, 4))
    T_cam = np.reshape(s.meta["camera"]["T_world_cam"], (4, 4))
    err = float(np.abs(T - T_cam).max())
    if err > RIG_TOLERANCE * max(1.0, float(np.abs(T_cam).max())):
        problems.append(("json.rig", f"T_world_ego @ T_ego_cam differs from "
                                     f"json.camera.T_world_cam by {err:.3g}"))  # fmt: skip
    return problems


def seg_problems(s: Sample) -> list[Problem]:
    bad = np.unique(s.seg[s.seg >= len(CLASS_IDS)])
    return [(SEG_FILE, f"unknown class ids {bad.tolist()[:8]}")] if bad.size else []


def object_problems(s: Sample, i: int, obj: Mapping, pixels: dict | None = None
                    ) -> list[Problem]:  # fmt: skip
    """``json.objects[i]``: fields, box, class, ids, and its instance mask (``pixels``:
    :func:`instance_pixels` of the sample, computed here when not given)."""
    where = f"json.objects[{i}]"
    problems = field_problems(obj, REQUIRED_OBJECT, where)
    if problems:
        return problems
    h, w = s.inst.shape
    x0, y0, x1, y1 = (obj["bbox2d"] + [0, 0, 0, 0])[:4]
    if len(obj["bbox2d"]) != 4 or not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        problems.append((f"{where}.bbox2d", f"{obj['bbox2d']} is not inside the {w}x{h} image"))
    if obj["class"] not in CLASS_IDS:
        problems.append((f"{where}.class", f"unknown class {obj['class']!r}"))
    corners = obj["bbox3d_cam"]["corners"]
    if len(corners) != 8 or any(not isinstance(c, list) or len(c) != 3 for c in corners):
        problems.append((f"{where}.bbox3d_cam.corners", "expected 8 x [x, y, z]"))
    if not 1 <= obj["instance_id"] <= MAX_INSTANCE_ID:
        problems.append((f"{where}.instance_id", f"{obj['instance_id']} is not in "
                                                 f"[1, {MAX_INSTANCE_ID}]"))  # fmt: skip
    if obj["distance_m"] < 0:
        problems.append((f"{where}.distance_m", f"negative distance {obj['distance_m']}"))
    return problems or mask_problems(s, where, obj, pixels)


def instance_pixels(inst: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Rows and columns of every instance id's pixels (id 0, none, left out), in raster
    order as ``np.nonzero(inst == id)`` gives them: one sort of the labelled pixels instead
    of a pass over the image per object."""
    w = inst.shape[1]
    flat = inst.ravel()
    where = np.flatnonzero(flat)
    ids = flat[where]
    order = np.argsort(ids, kind="stable")  # stable: raster order within each id
    where, ids = where[order], ids[order]
    found, starts = np.unique(ids, return_index=True)
    bounds = [*starts.tolist(), int(ids.size)]
    ys, xs = np.divmod(where, w)
    return {k: (ys[a:b], xs[a:b]) for k, a, b in zip(found.tolist(), bounds, bounds[1:])}


def mask_problems(s: Sample, where: str, obj: Mapping, pixels: dict | None = None
                  ) -> list[Problem]:  # fmt: skip
    """The object's instance mask: non-empty, tight bbox2d, pixel count, semantic class."""
    if pixels is None:
        ys, xs = np.nonzero(s.inst == obj["instance_id"])
    else:
        ys, xs = pixels.get(obj["instance_id"], (np.zeros(0, np.intp), np.zeros(0, np.intp)))
    if xs.size == 0:
        return [(f"{where}.instance_id", f"{obj['instance_id']} has no pixels in {INST_FILE}")]
    problems = []
    tight = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    if list(obj["bbox2d"]) != tight:
        problems.append((f"{where}.bbox2d", f"{obj['bbox2d']} != tight mask box {tight}"))
    if obj["visible_px"] != xs.size:
        problems.append((f"{where}.visible_px", f"{obj['visible_px']} != mask size {xs.size}"))
    if obj["class"] in CLASS_IDS and np.any(s.seg[ys, xs] != CLASS_IDS[obj["class"]]):
        problems.append((f"{where}.class", f"{SEG_FILE} disagrees with {obj['class']!r}"))
    return problems


def objects_problems(s: Sample) -> list[Problem]:
    objects = s.meta["objects"]
    if any(not isinstance(o, Mapping) for o in objects):
        return [("json.objects", "expected a list of objects")]
    pixels = instance_pixels(s.inst)
    problems = [p for i, o in enumerate(objects) for p in object_problems(s, i, o, pixels)]
    ids = [o.get("instance_id") for o in objects]
    if len(set(ids)) != len(ids):
        problems.append(("json.objects", "duplicate instance_id"))
    in_image = set(pixels)
    absent = sorted(in_image - set(ids))
    if absent:
        problems.append((INST_FILE, f"instance ids {absent[:8]} absent from json.objects"))
    return problems


def audio_problems(s: Sample) -> list[Problem]:
    a, info = s.audio, s.meta["audio"]
    if not np.all(np.isfinite(a)):
        return [("audio.flac", "NaN or infinite samples")]
    problems = []
    if a.size and float(np.max(np.abs(a))) > 1.0:
        problems.append(("audio.flac", "samples outside [-1, 1]"))
    expected = round(info["duration_s"] * info["sample_rate"])
    if abs(a.size - expected) > AUDIO_LENGTH_TOLERANCE:
        problems.append(("audio.flac", f"{a.size} samples, json.audio.duration_s implies "
                                       f"{expected}"))  # fmt: skip
    return problems


def text_problems(s: Sample) -> list[Problem]:
    if not s.txt.strip():
        return [("txt", "empty caption")]
    if s.txt != s.meta["captions"][0]["text"]:
        return [("txt", "differs from json.captions[0].text")]
    return []


CLIP_JSON: dict = {
    "index": INT, "frames": INT, "rate_hz": NUM, "key_frame": INT, "t0": NUM, "t1": NUM,
    "duration_s": NUM, "frame_indices": LIST, "times_s": LIST, "file": STR, "dtype": STR,
    "labels": STR,
    "ego": {"speed_mps": LIST, "accel_mps2": LIST, "throttle": LIST, "brake": LIST,
            "steer": LIST, "yaw_rate": LIST, "rpm": LIST, "gear": LIST,
            "lateral_offset_m": LIST},
    "lead_distance_m": LIST, "T_world_cam": LIST,
}  # fmt: skip
CLIP_TIME_TOLERANCE = 1e-6  # s (json keeps 10 significant digits)


def _per_frame_problems(clip: Mapping, n: int) -> list[Problem]:
    """Every per-frame list of ``json.clip`` has ``n`` entries of the right type."""
    lists = [("frame_indices", clip["frame_indices"], INT), ("times_s", clip["times_s"], NUM),
             *((f"ego.{k}", v, INT if k == "gear" else NUM) for k, v in clip["ego"].items()),
             ("lead_distance_m", clip["lead_distance_m"], "lead"),
             ("T_world_cam", clip["T_world_cam"], "pose")]  # fmt: skip
    problems = []
    for name, values, kind in lists:
        if not isinstance(values, list) or len(values) != n:
            size = len(values) if isinstance(values, list) else type(values).__name__
            problems.append((f"json.clip.{name}", f"expected {n} per-frame values "
                                                  f"(json.clip.frames), got {size}"))  # fmt: skip
            continue
        for v in values:
            if kind == "lead":
                bad = v is not None and (type_problem(v, NUM) or v <= 0)
            elif kind == "pose":
                bad = (
                    not isinstance(v, list) or len(v) != 16 or any(type_problem(x, NUM) for x in v)
                )
            else:
                bad = type_problem(v, kind) is not None
            if bad:
                problems.append((f"json.clip.{name}", f"bad per-frame value {v!r:.40}"))
                break
    return problems


def clip_problems(s: Sample) -> list[Problem]:
    """A clip sample (``frames.npy.gz`` with ``json.clip``; docs/internals.md "Clip
    samples"): T consistent everywhere, the window's times, the key frame, the audio."""
    clip = s.meta.get("clip")
    if clip is None and s.frames is None:
        return []
    if clip is None:
        return [(FRAMES_FILE, "a clip's frames without json.clip")]
    if s.frames is None:
        return [(FRAMES_FILE, "missing file (json.clip says this is a clip sample)")]
    if not isinstance(clip, Mapping):
        return [("json.clip", f"expected an object, got {type(clip).__name__}")]
    problems = field_problems(clip, CLIP_JSON, "json.clip")
    if problems:
        return problems
    n, f = clip["frames"], s.frames
    if n < 2:
        return [("json.clip.frames", f"a clip has at least 2 frames, got {n}")]
    if f.dtype != np.uint8 or f.ndim != 4 or f.shape[3] != 3:
        return [(FRAMES_FILE, f"expected T x H x W x 3 uint8, got {f.shape} {f.dtype}")]
    if f.shape[0] != n:
        return [(FRAMES_FILE, f"{f.shape[0]} frames, json.clip.frames says {n}")]
    if f.shape[1:3] != s.rgb.shape[:2]:
        return [(FRAMES_FILE, f"frame size {f.shape[1:3]} differs from rgb {s.rgb.shape[:2]}")]
    problems = _per_frame_problems(clip, n)
    if problems:
        return problems
    if clip["key_frame"] != n - 1:
        problems.append(("json.clip.key_frame", f"expected the last frame {n - 1}, "
                                                f"got {clip['key_frame']}"))  # fmt: skip
    elif not np.array_equal(f[n - 1], s.rgb):
        problems.append((FRAMES_FILE, "the key frame differs from rgb"))
    elif clip["T_world_cam"][n - 1] != s.meta["camera"]["T_world_cam"]:
        problems.append(("json.clip.T_world_cam", "the key frame's pose is not "
                                                  "json.camera.T_world_cam"))  # fmt: skip
    expected = {"file": FRAMES_FILE, "dtype": "uint8", "labels": "key_frame"}
    for name, value in expected.items():
        if clip[name] != value:
            problems.append((f"json.clip.{name}", f"expected {value!r}, got {clip[name]!r}"))
    problems += _clip_time_problems(s.meta, clip, n)
    return problems


def _clip_time_problems(meta: Mapping, clip: Mapping, n: int) -> list[Problem]:
    """Window times: rate > 0, frames at t0 + (i+1)/rate, t1 the key frame's time (json.time_s),
    duration T/rate = the audio's, frame indices consecutive up to json.frame, events inside."""
    rate, tol = clip["rate_hz"], CLIP_TIME_TOLERANCE
    if not rate > 0:
        return [("json.clip.rate_hz", f"must be > 0, got {rate}")]
    t0, t1, duration = clip["t0"], clip["t1"], clip["duration_s"]
    problems = []
    if abs(duration - n / rate) > tol or abs((t1 - t0) - duration) > tol:
        problems.append(("json.clip.duration_s", f"{duration} s: expected t1 - t0 = frames / "
                                                 f"rate_hz = {n / rate}"))  # fmt: skip
    times = clip["times_s"]
    want = [t0 + (i + 1) / rate for i in range(n)]
    if any(abs(a - b) > tol * max(1.0, abs(b)) for a, b in zip(times, want)):
        problems.append(("json.clip.times_s", f"expected t0 + (i+1)/rate_hz, got {times[:4]}"))
    if abs(t1 - meta["time_s"]) > tol or abs(times[-1] - t1) > tol:
        problems.append(("json.clip.t1", f"{t1} is not the key frame's json.time_s "
                                         f"{meta['time_s']}"))  # fmt: skip
    idx = clip["frame_indices"]
    if idx != list(range(meta["frame"] - n + 1, meta["frame"] + 1)):
        problems.append(("json.clip.frame_indices", "expected consecutive frames up to "
                         f"json.frame {meta['frame']}, got {idx}"))  # fmt: skip
    if abs(meta["audio"]["duration_s"] - duration) > tol:
        problems.append(("json.audio.duration_s", f"{meta['audio']['duration_s']} s is not the "
                                                  f"clip's window {duration} s"))  # fmt: skip
    outside = [e for e in meta["events"] if isinstance(e, Mapping)
               and not t0 - tol < float(e.get("time_s", t0)) <= t1 + tol]  # fmt: skip
    if outside:
        problems.append(("json.events", f"event at {outside[0].get('time_s')} s outside the "
                                        f"clip window ({t0}, {t1}]"))  # fmt: skip
    return problems


def sample_problems(sample: Sample | SampleFiles) -> list[SampleError]:
    """Everything wrong with a sample (file dict or :class:`Sample`); empty when valid."""
    if not isinstance(sample, Sample):
        try:
            sample = decode_sample(sample)
        except SampleError as exc:
            return [exc]
    key = sample.key
    problems = meta_problems(key, sample.meta)
    if not problems:
        problems = array_problems(sample)
    if not problems:
        checks = (camera_problems, depth_problems, seg_problems, objects_problems,
                  audio_problems, text_problems, rig_problems, clip_problems)  # fmt: skip
        problems = [p for check in checks for p in check(sample)]
    return [SampleError(key, field, problem) for field, problem in problems]


def validate_sample(sample: Sample | SampleFiles) -> Sample:
    """The decoded, valid sample; raises the first :class:`SampleError` otherwise."""
    decoded = sample if isinstance(sample, Sample) else decode_sample(sample)
    problems = sample_problems(decoded)
    if problems:
        raise problems[0]
    return decoded


__all__ = ["KEY_FIELD", "REQUIRED_JSON", "SampleError", "sample_problems", "validate_sample"]
