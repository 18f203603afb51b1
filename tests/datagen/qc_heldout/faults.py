"""A held-out fault injector for measuring ``drivesynth qc`` on faults it was not tuned to.

Written before QC's cross-modal checks and independently of them: nothing here imports
``datagen.qc``, and no threshold of QC is chosen by looking at these faults (QC is tuned on
its own injector, ``datagen.qc.inject``). Each fault mimics a failure of a real simulation
pipeline and keeps the sample self-consistent where the pipeline would (labels derived from a
misregistered mask get their boxes from that mask; metadata that is wrong gets captions
generated from the wrong metadata), so that only the agreement between modalities betrays it.

Classes and faults (magnitudes are drawn from the ranges named in each function):

- ``label_misalignment``: label images shifted, 2D boxes off, one mask grown, instance
  records swapped between objects, 3D boxes moved;
- ``stale_swapped``: rgb, depth, audio or caption from another scenario, rgb from an earlier
  frame of the same scenario;
- ``unit_calibration``: depth in the wrong unit, wrong intrinsics, perturbed camera pose;
- ``degraded_optics``: blur, noise, dead pixels, exposure, an occluded lens;
- ``metadata_contradiction``: weather, speed, rpm or events that the sensors contradict.

Encodings: the label files may be ``.png``, ``.npy``, ``.npy.gz`` or ``.npz`` (the schema is
changing);
this module reads and writes whichever a sample has, with its own codec.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CLASSES = ("label_misalignment", "stale_swapped", "unit_calibration", "degraded_optics",
           "metadata_contradiction")  # fmt: skip


# --- the samples of a data set, as bytes -----------------------------------------------------


@dataclass
class Item:
    """One sample: its members in tar order (``files[ext] = bytes``)."""

    shard: str
    key: str
    infos: dict[str, tarfile.TarInfo] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    scenario: tuple[str, int] = ("", -1)
    frame: int = -1
    size: tuple[int, int] = (0, 0)

    @property
    def sample_id(self) -> str:
        return f"{self.shard}/{self.key}"


def read_items(root: Path) -> list[Item]:
    items: list[Item] = []
    for path in sorted(root.glob("*.tar")):
        current: Item | None = None
        with tarfile.open(path) as tar:
            for info in tar:
                if not info.isfile():
                    continue
                key, _, ext = info.name.partition(".")
                if current is None or current.key != key:
                    current = Item(path.name, key)
                    items.append(current)
                current.infos[ext] = info
                current.files[ext] = tar.extractfile(info).read()  # type: ignore[union-attr]
    for it in items:
        meta = json.loads(it.files["json"])
        split = str(meta.get("split", it.shard.rsplit("-", 1)[0]))
        it.scenario = (split, int(meta["scenario_id"]))
        it.frame = int(meta["frame"])
        cam = meta.get("camera", {})
        it.size = (int(cam.get("height", 0)), int(cam.get("width", 0)))
    return items


def write_items(root: Path, items: list[Item]) -> None:
    by_shard: dict[str, list[Item]] = {}
    for it in items:
        by_shard.setdefault(it.shard, []).append(it)
    for shard, group in by_shard.items():
        with tarfile.open(root / shard, "w") as tar:
            for it in group:
                for ext, data in it.files.items():
                    old = it.infos[ext]
                    info = tarfile.TarInfo(old.name)
                    info.size, info.mtime, info.mode = len(data), old.mtime, old.mode
                    tar.addfile(info, io.BytesIO(data))


# --- codecs ------------------------------------------------------------------------------------


def _png_read(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
        if im.mode.startswith("I;16") or im.mode == "I":
            arr = arr.astype(np.uint16)
        return arr.copy()


def _png_write(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    return buf.getvalue()


LABEL_EXTS = ("png", "npy", "npy.gz", "npz")


def label_ext(files: dict[str, bytes], base: str) -> str | None:
    return next((f"{base}.{e}" for e in LABEL_EXTS if f"{base}.{e}" in files), None)


def read_label(files: dict[str, bytes], base: str) -> tuple[str, np.ndarray]:
    """(ext, array) of ``depth``/``seg``/``inst`` whatever its encoding."""
    ext = label_ext(files, base)
    if ext is None:
        raise KeyError(f"no {base} file")
    data = files[ext]
    if ext.endswith(".png"):
        return ext, _png_read(data)
    if ext.endswith(".npy"):
        return ext, np.load(io.BytesIO(data), allow_pickle=False)
    if ext.endswith(".npy.gz"):
        return ext, np.load(io.BytesIO(gzip.decompress(data)), allow_pickle=False)
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return ext, z[z.files[0]]


def write_label(files: dict[str, bytes], ext: str, arr: np.ndarray) -> None:
    if ext.endswith(".png"):
        files[ext] = _png_write(arr)
        return
    buf = io.BytesIO()
    if ext.endswith(".npy"):
        np.save(buf, arr, allow_pickle=False)
    elif ext.endswith(".npy.gz"):
        np.save(buf, arr, allow_pickle=False)
        buf = io.BytesIO(gzip.compress(buf.getvalue(), mtime=0))
    else:
        with np.load(io.BytesIO(files[ext]), allow_pickle=False) as z:
            name = z.files[0]
            others = {k: z[k] for k in z.files[1:]}
        np.savez_compressed(buf, **{name: arr}, **others)
    files[ext] = buf.getvalue()


def rgb_ext(files: dict[str, bytes]) -> str:
    return "rgb.png" if "rgb.png" in files else "rgb.jpg"


def read_rgb(files: dict[str, bytes]) -> np.ndarray:
    return _png_read(files[rgb_ext(files)])[..., :3]


def write_rgb(files: dict[str, bytes], arr: np.ndarray) -> None:
    from PIL import Image

    ext = rgb_ext(files)
    arr = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    if ext == "rgb.png":
        files[ext] = _png_write(arr)
    else:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=95)
        files[ext] = buf.getvalue()


def read_meta(files: dict[str, bytes]) -> dict:
    return json.loads(files["json"])


def write_meta(files: dict[str, bytes], meta: dict) -> None:
    files["json"] = json.dumps(meta, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode("utf-8")  # fmt: skip


def regenerate_captions(files: dict[str, bytes], meta: dict, rng: np.random.Generator) -> None:
    """Captions made by the project's own generator from (wrong) metadata, as the pipeline
    would make them; the primary one is the ``txt``."""
    from datagen.captions import generate_captions

    families = list(dict.fromkeys(c.get("family") for c in meta.get("captions", [])))
    meta["captions"] = generate_captions(meta, rng, [f for f in families if f] or None)
    files["txt"] = meta["captions"][0]["text"].encode("utf-8")


def _shift(arr: np.ndarray, dy: int, dx: int, fill: int | None) -> np.ndarray:
    """``arr`` moved by (dy, dx) pixels; uncovered pixels get ``fill`` (None: nearest edge)."""
    h, w = arr.shape[:2]
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    out = arr[ys][:, xs].copy()
    if fill is not None:
        yy, xx = np.arange(h) - dy, np.arange(w) - dx
        out[(yy < 0) | (yy >= h)] = fill
        out[:, (xx < 0) | (xx >= w)] = fill
    return out


def tight_box(mask: np.ndarray) -> tuple[list[int], int] | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1], int(xs.size)


def refresh_boxes(meta: dict, inst: np.ndarray) -> bool:
    """bbox2d/visible_px from ``inst`` for every object; objects without pixels are removed.
    True when the object list changed."""
    kept = []
    for o in meta.get("objects", []):
        found = tight_box(inst == int(o["instance_id"]))
        if found is not None:
            o["bbox2d"], o["visible_px"] = found
            kept.append(o)
    changed = len(kept) != len(meta.get("objects", []))
    meta["objects"] = kept
    return changed


def _two_ranges(rng: np.random.Generator, lo: tuple[float, float],
                hi: tuple[float, float]) -> float:  # fmt: skip
    a, b = lo if rng.random() < 0.5 else hi
    return float(rng.uniform(a, b))


def _T(meta: dict) -> np.ndarray:
    return np.array(meta["camera"]["T_world_cam"], dtype=np.float64).reshape(4, 4)


# --- the context a fault may draw on -----------------------------------------------------------


@dataclass
class Context:
    """Original (unfaulted) bytes of every sample, for donors and earlier frames."""

    items: list[Item]
    original: dict[str, dict[str, bytes]] = field(default_factory=dict)
    by_scenario: dict[tuple[str, int], dict[int, Item]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for it in self.items:
            self.original[it.sample_id] = dict(it.files)
            self.by_scenario.setdefault(it.scenario, {})[it.frame] = it

    def donor(self, item: Item, rng: np.random.Generator) -> dict[str, bytes] | None:
        """The original files of a sample of another scenario, with the same image size."""
        pool = [it for it in self.items if it.scenario != item.scenario and it.size == item.size]
        if not pool:
            return None
        return self.original[pool[int(rng.integers(len(pool)))].sample_id]

    def earlier(self, item: Item, rng: np.random.Generator) -> dict[str, bytes] | None:
        """The original files of the same scenario 1 or 2 frames earlier."""
        frames = self.by_scenario[item.scenario]
        back = [b for b in (1, 2) if item.frame - b in frames]
        if not back:
            return None
        b = back[int(rng.integers(len(back)))]
        return self.original[frames[item.frame - b].sample_id]


Fault = Callable[[dict[str, bytes], Item, Context, np.random.Generator], str | None]
"""A fault edits ``files`` in place and returns a short description, or None when it does
not apply to this sample (then another fault is tried)."""


# --- label_misalignment ------------------------------------------------------------------------


def labels_shifted(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """seg and inst moved together by 6-15 % of the image size (misregistered label render);
    boxes re-derived from the moved mask."""
    ie, inst = read_label(files, "inst")
    se, seg = read_label(files, "seg")
    h, w = inst.shape
    mag, ang = rng.uniform(0.06, 0.15) * max(h, w), rng.uniform(0, 2 * math.pi)
    dy, dx = round(mag * math.sin(ang)), round(mag * math.cos(ang))
    if dy == 0 and dx == 0:
        dx = 2
    inst, seg = _shift(inst, dy, dx, 0), _shift(seg, dy, dx, None)
    write_label(files, ie, inst)
    write_label(files, se, seg)
    meta = read_meta(files)
    if refresh_boxes(meta, inst):
        regenerate_captions(files, meta, rng)
    write_meta(files, meta)
    return f"labels shifted by ({dx}, {dy}) px"


def box2d_off(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Some objects' bbox2d shifted by 2-8 px (at 64 px, scaled with the image) and/or
    scaled by 1.2-1.8 about its centre, clipped to the image."""
    meta = read_meta(files)
    objs = meta.get("objects", [])
    if not objs:
        return None
    w, h = int(meta["camera"]["width"]), int(meta["camera"]["height"])
    unit = max(w, h) / 64.0
    n = int(rng.integers(1, len(objs) + 1))
    changed = 0
    for i in rng.permutation(len(objs))[:n]:
        x0, y0, x1, y1 = (float(v) for v in objs[i]["bbox2d"])
        if rng.random() < 0.6:
            d = rng.uniform(2, 8) * unit * rng.choice([-1, 1], size=2)
            x0, x1, y0, y1 = x0 + d[0], x1 + d[0], y0 + d[1], y1 + d[1]
        if rng.random() < 0.6:
            s = rng.uniform(1.2, 1.8)
            cx, cy, bw, bh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * s, (y1 - y0) * s
            x0, x1, y0, y1 = cx - bw / 2, cx + bw / 2, cy - bh / 2, cy + bh / 2
        box = [int(np.clip(round(x0), 0, w - 1)), int(np.clip(round(y0), 0, h - 1)),
               int(np.clip(round(x1), 1, w)), int(np.clip(round(y1), 1, h))]  # fmt: skip
        box[2], box[3] = max(box[2], box[0] + 1), max(box[3], box[1] + 1)
        if box != list(objs[i]["bbox2d"]):
            objs[i]["bbox2d"] = box
            changed += 1
    if not changed:
        return None
    write_meta(files, meta)
    return f"{changed} bbox2d moved/scaled"


def mask_grown(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """One object's mask (inst and seg) scaled up by 1.4-2.2 about its centroid; boxes
    re-derived from the masks."""
    meta = read_meta(files)
    objs = [o for o in meta.get("objects", []) if int(o.get("visible_px", 0)) >= 4]
    if not objs:
        return None
    o = objs[int(rng.integers(len(objs)))]
    ie, inst = read_label(files, "inst")
    se, seg = read_label(files, "seg")
    oid = int(o["instance_id"])
    ys, xs = np.nonzero(inst == oid)
    cy, cx = ys.mean(), xs.mean()
    s = rng.uniform(1.4, 2.2)
    h, w = inst.shape
    gy, gx = np.mgrid[0:h, 0:w]
    sy = np.clip(np.round(cy + (gy - cy) / s), 0, h - 1).astype(int)
    sx = np.clip(np.round(cx + (gx - cx) / s), 0, w - 1).astype(int)
    grown = inst[sy, sx] == oid
    cls = int(np.bincount(seg[ys, xs].astype(np.int64)).argmax())
    if grown.sum() <= xs.size:
        return None
    inst = inst.copy()
    seg = seg.copy()
    inst[grown], seg[grown] = oid, cls
    write_label(files, ie, inst)
    write_label(files, se, seg)
    if refresh_boxes(meta, inst):
        regenerate_captions(files, meta, rng)
    write_meta(files, meta)
    return f"mask of {oid} grown x{s:.2f}"


def records_swapped(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Two objects' records (class, 3D boxes, distance) swapped: the mask id points at the
    wrong object."""
    meta = read_meta(files)
    objs = meta.get("objects", [])
    if len(objs) < 2:
        return None
    i, j = (int(v) for v in rng.choice(len(objs), size=2, replace=False))
    a, b = objs[i], objs[j]
    ca, cb = np.array(a["bbox3d_cam"]["center"]), np.array(b["bbox3d_cam"]["center"])
    if np.linalg.norm(ca - cb) < 1.0:
        return None
    for k in ("class", "bbox3d_world", "bbox3d_cam", "distance_m"):
        a[k], b[k] = b[k], a[k]
    regenerate_captions(files, meta, rng)
    write_meta(files, meta)
    return f"records of {a['instance_id']} and {b['instance_id']} swapped"


def box3d_moved(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Some objects' 3D boxes moved sideways by 1.5-5 m or their range scaled by 0.6-0.8 or
    1.25-1.6 (world, camera, corners and distance kept consistent)."""
    meta = read_meta(files)
    objs = meta.get("objects", [])
    if not objs:
        return None
    T = _T(meta)
    n = int(rng.integers(1, len(objs) + 1))
    for i in rng.permutation(len(objs))[:n]:
        o = objs[i]
        c = np.array(o["bbox3d_cam"]["center"], dtype=np.float64)
        corners = np.array(o["bbox3d_cam"]["corners"], dtype=np.float64)
        if rng.random() < 0.5:
            d = np.array([rng.uniform(1.5, 5) * rng.choice([-1, 1]), 0.0, 0.0])
        else:
            d = c * (_two_ranges(rng, (0.6, 0.8), (1.25, 1.6)) - 1.0)
        c, corners = c + d, corners + d
        o["bbox3d_cam"]["center"] = c.tolist()
        o["bbox3d_cam"]["corners"] = corners.tolist()
        o["bbox3d_world"]["center"] = (T[:3, :3] @ c + T[:3, 3]).tolist()
        o["distance_m"] = float(np.linalg.norm(c))
    regenerate_captions(files, meta, rng)
    write_meta(files, meta)
    return f"{n} 3D boxes moved"


# --- stale_swapped -----------------------------------------------------------------------------


def _take(files: dict, donor: dict | None, exts: list[str]) -> bool:
    if donor is None or any(e not in donor or e not in files for e in exts):
        return False
    if all(files[e] == donor[e] for e in exts):
        return False
    for e in exts:
        files[e] = donor[e]
    return True


def rgb_other(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """The rgb of a sample of another scenario."""
    return "rgb from another scenario" if _take(files, ctx.donor(item, rng),
                                                [rgb_ext(files)]) else None  # fmt: skip


def rgb_stale(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """The rgb of the same scenario 1-2 frames earlier (frame buffer not updated)."""
    return "rgb of an earlier frame" if _take(files, ctx.earlier(item, rng),
                                              [rgb_ext(files)]) else None  # fmt: skip


def depth_other(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """The depth of a sample of another scenario."""
    ext = label_ext(files, "depth")
    return "depth from another scenario" if ext and _take(files, ctx.donor(item, rng),
                                                          [ext]) else None  # fmt: skip


def audio_other(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """The audio clip of a sample of another scenario."""
    return "audio from another scenario" if _take(files, ctx.donor(item, rng),
                                                  ["audio.flac"]) else None  # fmt: skip


def caption_other(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """The captions (txt and json.captions) of a sample of another scenario."""
    donor = ctx.donor(item, rng)
    if donor is None or donor["txt"] == files["txt"]:
        return None
    meta = read_meta(files)
    meta["captions"] = read_meta(donor)["captions"]
    files["txt"] = donor["txt"]
    write_meta(files, meta)
    return "captions from another scenario"


# --- unit_calibration --------------------------------------------------------------------------

DEPTH_FACTORS = (0.001, 0.01, 0.3048, 3.2808, 100.0, 1000.0)  # m<->mm, m<->cm, ft<->m


def depth_unit(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Depth written in the wrong unit: stored values multiplied by one of DEPTH_FACTORS."""
    ext, d = read_label(files, "depth")
    f = float(rng.choice(DEPTH_FACTORS))
    if np.issubdtype(d.dtype, np.floating):
        out = (d.astype(np.float64) * f).astype(d.dtype)
    else:
        info = np.iinfo(d.dtype)
        out = np.clip(np.round(d.astype(np.float64) * f), info.min, info.max).astype(d.dtype)
    if np.array_equal(out, d):
        return None
    write_label(files, ext, out)
    return f"depth x{f:g}"


def intrinsics_wrong(files: dict, item: Item, ctx: Context,
                     rng: np.random.Generator) -> str | None:  # fmt: skip
    """One of: focal length x0.55-0.8 or x1.25-1.8 (wrong field of view); principal point at
    the origin; principal point off by 8-20 % of the image; intrinsics of another resolution
    (all four x0.5 or x2)."""
    meta = read_meta(files)
    cam = meta["camera"]
    w, h = float(cam["width"]), float(cam["height"])
    kind = int(rng.integers(4))
    if kind == 0:
        f = _two_ranges(rng, (0.55, 0.8), (1.25, 1.8))
        cam["fx"], cam["fy"] = cam["fx"] * f, cam["fy"] * f
        desc = f"focal x{f:.2f}"
    elif kind == 1:
        cam["cx"], cam["cy"] = 0.0, 0.0
        desc = "principal point at origin"
    elif kind == 2:
        if rng.random() < 0.5:
            cam["cx"] = cam["cx"] + rng.uniform(0.08, 0.2) * w * rng.choice([-1, 1])
        else:
            cam["cy"] = cam["cy"] + rng.uniform(0.08, 0.2) * h * rng.choice([-1, 1])
        desc = "principal point off"
    else:
        f = float(rng.choice([0.5, 2.0]))
        for k in ("fx", "fy", "cx", "cy"):
            cam[k] = cam[k] * f
        desc = f"intrinsics of another resolution (x{f:g})"
    write_meta(files, meta)
    return desc


def _rot(axis: int, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def pose_wrong(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """T_world_cam perturbed: rotated 3-10 degrees about one camera axis, or moved 1-4 m; half
    the time the objects' camera-frame boxes are then recomputed from the wrong pose (the
    label pipeline trusted it)."""
    meta = read_meta(files)
    T = _T(meta)
    delta = np.eye(4)
    if rng.random() < 0.6:
        axis, deg = int(rng.integers(3)), rng.uniform(3, 10) * rng.choice([-1, 1])
        delta[:3, :3] = _rot(axis, deg)
        desc = f"pose rotated {deg:.1f} deg about camera axis {'xyz'[axis]}"
    else:
        v = rng.normal(size=3)
        v *= rng.uniform(1, 4) / np.linalg.norm(v)
        delta[:3, 3] = v
        desc = f"pose moved {np.linalg.norm(v):.1f} m"
    T2 = T @ delta
    meta["camera"]["T_world_cam"] = [float(x) for x in T2.ravel()]
    if rng.random() < 0.5:
        inv = np.linalg.inv(T2)
        for o in meta.get("objects", []):
            c = np.array(o["bbox3d_cam"]["center"], dtype=np.float64)
            k = np.array(o["bbox3d_cam"]["corners"], dtype=np.float64)
            cw, kw = T[:3, :3] @ c + T[:3, 3], k @ T[:3, :3].T + T[:3, 3]
            o["bbox3d_cam"]["center"] = (inv[:3, :3] @ cw + inv[:3, 3]).tolist()
            o["bbox3d_cam"]["corners"] = (kw @ inv[:3, :3].T + inv[:3, 3]).tolist()
            o["distance_m"] = float(np.linalg.norm(o["bbox3d_cam"]["center"]))
        regenerate_captions(files, meta, rng)
        desc += ", camera-frame boxes recomputed"
    write_meta(files, meta)
    return desc


# --- degraded_optics ---------------------------------------------------------------------------


def blur(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Defocus (Gaussian, sigma 1-3 px at 64 px) or motion blur (5-12 px at 64 px)."""
    from PIL import Image, ImageFilter

    rgb = read_rgb(files)
    unit = max(rgb.shape[:2]) / 64.0
    if rng.random() < 0.5:
        sigma = rng.uniform(1.0, 3.0) * unit
        out = np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(sigma)))
        desc = f"gaussian blur sigma {sigma:.1f}"
    else:
        n = max(2, round(rng.uniform(5, 12) * unit))
        ang = rng.uniform(0, math.pi)
        acc = np.zeros(rgb.shape, np.float64)
        for t in np.linspace(-n / 2, n / 2, n):
            acc += _shift(rgb, round(t * math.sin(ang)), round(t * math.cos(ang)), None)
        out = acc / n
        desc = f"motion blur {n} px"
    write_rgb(files, out)
    return desc


def noise(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Gaussian read noise (sigma 12-35 DN) or salt-and-pepper on 2-6 % of pixels."""
    rgb = read_rgb(files).astype(np.float64)
    if rng.random() < 0.6:
        sigma = rng.uniform(12, 35)
        out = rgb + rng.normal(0, sigma, rgb.shape)
        desc = f"gaussian noise sigma {sigma:.0f}"
    else:
        p = rng.uniform(0.02, 0.06)
        hit = rng.random(rgb.shape[:2]) < p
        out = rgb.copy()
        out[hit] = rng.choice([0.0, 255.0], size=(int(hit.sum()), 1))
        desc = f"salt and pepper {p:.0%}"
    write_rgb(files, out)
    return desc


def dead_pixels(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Stuck pixels (0.5-3 % at 0, 255 or a random colour) or 1-3 dead columns/rows."""
    rgb = read_rgb(files).copy()
    h, w = rgb.shape[:2]
    if rng.random() < 0.5:
        p = rng.uniform(0.005, 0.03)
        hit = rng.random((h, w)) < p
        rgb[hit] = rng.choice([0, 255], size=(int(hit.sum()), 3))
        desc = f"{int(hit.sum())} stuck pixels"
    else:
        n = int(rng.integers(1, 4))
        value = int(rng.choice([0, 255]))
        if rng.random() < 0.5:
            rgb[:, rng.choice(w, n, replace=False)] = value
            desc = f"{n} dead columns"
        else:
            rgb[rng.choice(h, n, replace=False)] = value
            desc = f"{n} dead rows"
    write_rgb(files, rgb)
    return desc


def exposure(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Wrong exposure: linear-light gain x0.2-0.45 or x2.2-5, clipped."""
    rgb = read_rgb(files).astype(np.float64) / 255.0
    g = _two_ranges(rng, (0.2, 0.45), (2.2, 5.0))
    out = np.clip((rgb**2.2) * g, 0, 1) ** (1 / 2.2) * 255.0
    write_rgb(files, out)
    return f"exposure x{g:.2f}"


def lens_occluded(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """Dirt on the lens: a soft dark blob with radius 15-30 % of the image, 60-90 % opaque."""
    rgb = read_rgb(files).astype(np.float64)
    h, w = rgb.shape[:2]
    r = rng.uniform(0.15, 0.3) * max(h, w)
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    gy, gx = np.mgrid[0:h, 0:w]
    dist = np.sqrt((gy - cy) ** 2 + (gx - cx) ** 2)
    alpha = np.clip((r - dist) / (0.3 * r), 0, 1) * rng.uniform(0.6, 0.9)
    tint = rng.uniform(10, 50)
    out = rgb * (1 - alpha[..., None]) + tint * alpha[..., None]
    write_rgb(files, out)
    return f"lens occluded (radius {r:.0f} px)"


# --- metadata_contradiction --------------------------------------------------------------------


def weather_wrong(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """json.weather of another preset with another family or time of day (captions made from
    it): e.g. the json says fog or night while the image is clear and lit."""
    from sim.weather.metadata import weather_metadata
    from sim.weather.presets import get_preset, preset_names

    meta = read_meta(files)
    w = meta["weather"]
    options = []
    for name in preset_names():
        wm = weather_metadata(get_preset(name))
        if wm["family"] != w.get("family") or wm["time_of_day"] != w.get("time_of_day"):
            options.append(wm)
    new = options[int(rng.integers(len(options)))]
    meta["weather"] = new
    regenerate_captions(files, meta, rng)
    write_meta(files, meta)
    return f"weather {w.get('preset')} -> {new['preset']}"


def speed_wrong(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """ego.speed_mps (and velocity) wrong: km/h<->m/s, x0.3-0.6 or x1.7-3, or 8-25 m/s for a
    car that stands still; captions made from it."""
    meta = read_meta(files)
    ego = meta["ego"]
    s = float(ego["speed_mps"])
    if abs(s) < 2.0:
        new = float(rng.uniform(8, 25))
    else:
        kind = int(rng.integers(3))
        f = (3.6, 1 / 3.6, _two_ranges(rng, (0.3, 0.6), (1.7, 3.0)))[kind]
        new = s * f
    ego["speed_mps"] = new
    v = ego.get("velocity")
    if isinstance(v, list) and len(v) == 3:
        if abs(s) > 1e-6:
            ego["velocity"] = [float(x) * new / s for x in v]
        else:
            yaw = float(ego.get("yaw", 0.0))
            ego["velocity"] = [new * math.cos(yaw), new * math.sin(yaw), 0.0]
    regenerate_captions(files, meta, rng)
    write_meta(files, meta)
    return f"speed {s:.1f} -> {new:.1f} m/s"


def rpm_wrong(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """ego.rpm x0.4-0.65 or x1.6-2.5 (wrong gear ratio or sensor scaling)."""
    meta = read_meta(files)
    f = _two_ranges(rng, (0.4, 0.65), (1.6, 2.5))
    old = float(meta["ego"]["rpm"])
    meta["ego"]["rpm"] = old * f
    write_meta(files, meta)
    return f"rpm {old:.0f} -> {old * f:.0f}"


def event_wrong(files: dict, item: Item, ctx: Context, rng: np.random.Generator) -> str | None:
    """A crash or thunder in the json (events, audio.events, captions) that did not happen; or,
    where the clip has such an event, the json loses it."""
    meta = read_meta(files)
    have = {e.get("type") for e in meta.get("events", [])}
    heard = set(meta.get("audio", {}).get("events", []))
    t = float(meta["time_s"])
    if ({"crash", "thunder"} & have) and rng.random() < 0.5:
        meta["events"] = [e for e in meta["events"] if e.get("type") not in ("crash", "thunder")]
        meta["audio"]["events"] = [n for n in meta["audio"]["events"]
                                   if n not in ("impact", "thunder")]  # fmt: skip
        desc = "event removed"
    elif "crash" not in have and "impact" not in heard:
        meta.setdefault("events", []).append({
            "type": "crash", "time_s": round(t - rng.uniform(0.05, 0.8), 6),
            "impulse_ns": float(rng.uniform(800, 6000)),
            "zone": str(rng.choice(["front", "rear", "left", "right"]))})  # fmt: skip
        meta["audio"]["events"] = [*meta["audio"].get("events", []), "impact"]
        desc = "phantom crash"
    elif "thunder" not in have and "thunder" not in heard:
        meta.setdefault("events", []).append({
            "type": "thunder", "time_s": round(t - rng.uniform(0.05, 0.8), 6),
            "distance_m": float(rng.uniform(300, 3000))})  # fmt: skip
        meta["audio"]["events"] = [*meta["audio"].get("events", []), "thunder"]
        desc = "phantom thunder"
    else:
        return None
    regenerate_captions(files, meta, rng)
    write_meta(files, meta)
    return desc


FAULTS: dict[str, tuple[str, Fault]] = {
    "labels_shifted": ("label_misalignment", labels_shifted),
    "box2d_off": ("label_misalignment", box2d_off),
    "mask_grown": ("label_misalignment", mask_grown),
    "records_swapped": ("label_misalignment", records_swapped),
    "box3d_moved": ("label_misalignment", box3d_moved),
    "rgb_other": ("stale_swapped", rgb_other),
    "rgb_stale": ("stale_swapped", rgb_stale),
    "depth_other": ("stale_swapped", depth_other),
    "audio_other": ("stale_swapped", audio_other),
    "caption_other": ("stale_swapped", caption_other),
    "depth_unit": ("unit_calibration", depth_unit),
    "intrinsics_wrong": ("unit_calibration", intrinsics_wrong),
    "pose_wrong": ("unit_calibration", pose_wrong),
    "blur": ("degraded_optics", blur),
    "noise": ("degraded_optics", noise),
    "dead_pixels": ("degraded_optics", dead_pixels),
    "exposure": ("degraded_optics", exposure),
    "lens_occluded": ("degraded_optics", lens_occluded),
    "weather_wrong": ("metadata_contradiction", weather_wrong),
    "speed_wrong": ("metadata_contradiction", speed_wrong),
    "rpm_wrong": ("metadata_contradiction", rpm_wrong),
    "event_wrong": ("metadata_contradiction", event_wrong),
}


def faults_of(cls: str) -> list[str]:
    return [n for n, (c, _) in FAULTS.items() if c == cls]


def inject(src: Path, dst: Path, fraction: float, seed: int,
           classes: tuple[str, ...] = CLASSES) -> dict[str, dict]:  # fmt: skip
    """Copy ``src`` to ``dst`` breaking about ``fraction`` of the samples; returns
    ``{shard/key: {"class", "fault", "detail"}}``. Classes take turns, and so do the faults
    within a class; a fault that does not apply to a sample hands it to the next one."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    unknown = set(classes) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown fault classes {sorted(unknown)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20, 7]))
    items = read_items(src)
    ctx = Context(items)
    dst.mkdir(parents=True, exist_ok=False)
    order = [(c, n) for c in classes for n in faults_of(c)]
    # interleave: class by class, each class's faults in turn
    per_class = {c: faults_of(c) for c in classes}
    turn = {c: 0 for c in classes}
    truth: dict[str, dict] = {}
    k = 0
    for it in items:
        if rng.random() >= fraction:
            continue
        cls = classes[k % len(classes)]
        names = per_class[cls][turn[cls]:] + per_class[cls][:turn[cls]]
        names += [n for c, n in order if c != cls]
        for name in names:
            files = dict(it.files)
            desc = FAULTS[name][1](files, it, ctx, rng)
            if desc is not None and files != it.files:
                it.files = files
                truth[it.sample_id] = {"class": FAULTS[name][0], "fault": name, "detail": desc}
                break
        k += 1
        turn[cls] = (turn[cls] + 1) % len(per_class[cls])
    write_items(dst, items)
    for extra in src.iterdir():
        if extra.is_file() and extra.suffix != ".tar":
            shutil.copy2(extra, dst / extra.name)
    return truth
