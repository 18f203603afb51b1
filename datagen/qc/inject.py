"""Fault injection for *tuning* QC: copy a data set, break a known subset, measure QC on it.

Two groups of faults. The per-sample ones mimic failures a sample shows on its own (a black
or blown-out frame, a camera inside a wall, a flipped car, a car off the road, empty or
inconsistent labels, silent or clipped audio, a NaN, sensor noise). The cross-modal ones
break the agreement between parts that each look fine: labels nudged off the image, 3D boxes
too far, depth in millimetres, a doubled focal length, a pitched pose, the rgb/audio/caption
of a neighbouring sample, the json's weather or speed or rpm contradicting the sensors, a
phantom crash, a blurred, defocused, grainy, dark, dimmed, overexposed, smudged or
dead-column frame. The optics family (``OPTICS_FAULTS``) draws a kind and a strength per
sample: blur (defocus or motion), sensor noise (read, shot, colour, impulse), part of the
lens covered (dirt, a film, a smear, glare), exposure off, veiling glare over the whole
frame, defective pixels (scattered, clusters, a stuck line).

This is QC's tuning set. QC is *measured* on a separate, held-out injector written before the
cross-modal checks and never used to tune them (``tests/datagen/qc_heldout``,
``scripts/qc_heldout.py``). :func:`evaluate_qc` reports precision and recall, overall and per
fault.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datagen.qc import access
from datagen.qc.report import LearnedCheck, precision_recall, run_qc, sample_id, shard_paths
from datagen.qc.shardio import RawSample, iter_raw, write_raw
from sim.seeding import rng_for

Fault = Callable[[RawSample, np.random.Generator, list[RawSample]], bool | None]
"""Edits ``raw`` in place (``pool``: original copies of the shard's samples, for donors);
returns False when it does not apply to this sample."""


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _read_png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im).copy()


def _replace(raw: RawSample, ext: str, data: bytes) -> None:
    info, _ = raw.files[ext]
    raw.files[ext] = (info, data)


def _rgb_ext(raw: RawSample) -> str:
    return "rgb.png" if "rgb.png" in raw.files else "rgb.jpg"


def _edit_rgb(raw: RawSample, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    rgb = _read_png(raw.files[_rgb_ext(raw)][1])
    _replace(raw, _rgb_ext(raw), _png(np.clip(fn(rgb), 0, 255).astype(np.uint8)))


def _meta(raw: RawSample) -> dict:
    return json.loads(raw.files["json"][1])


def _edit_json(raw: RawSample, fn: Callable[[dict], None]) -> None:
    meta = _meta(raw)
    fn(meta)
    _replace(raw, "json", json.dumps(meta).encode())


def _edit_audio(raw: RawSample, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    import soundfile

    wave, sr = soundfile.read(io.BytesIO(raw.files["audio.flac"][1]), dtype="float32")
    buf = io.BytesIO()
    soundfile.write(buf, np.clip(fn(wave), -1.0, 1.0), sr, format="FLAC", subtype="PCM_16")
    _replace(raw, "audio.flac", buf.getvalue())


def _label(raw: RawSample, names: tuple[str, ...]) -> tuple[str, np.ndarray]:
    ext = access.first_present(raw.files, names)
    if ext is None:
        raise KeyError(f"{raw.key}: none of {names}")
    return ext, access.read_array(ext, raw.files[ext][1])


def _edit_depth(raw: RawSample, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    ext, stored = _label(raw, access.DEPTH_FILES)
    meta = _meta(raw)
    metres, _ = access.depth_metres(ext, stored, meta)
    new = access.stored_depth(ext, fn(metres), stored.dtype, meta)
    _replace(raw, ext, access.encode_array(ext, new))


# --- per-sample faults ---------------------------------------------------------------------


def black(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_rgb(raw, lambda a: np.minimum(a, rng.integers(0, 4)))


def saturated(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_rgb(raw, lambda a: np.maximum(a, 253))


def noise(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_rgb(raw, lambda a: a + rng.normal(0, 70, a.shape))


def inside_geometry(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_depth(raw, lambda d: rng.uniform(0.02, 0.25, d.shape))


def flipped(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    def flip(m: dict) -> None:  # roll the camera 180 degrees: negate its x and y axes
        t = m["camera"]["T_world_cam"]
        for r in range(3):
            t[4 * r], t[4 * r + 1] = -t[4 * r], -t[4 * r + 1]
    _edit_json(raw, flip)


def off_road(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    def move(m: dict) -> None:
        m.setdefault("road", {})["lateral_offset_m"] = float(rng.uniform(20, 60))
    _edit_json(raw, move)


def empty_labels(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    seg = _read_png(raw.files["seg.png"][1])
    _replace(raw, "seg.png", _png(np.zeros_like(seg)))


def inconsistent_labels(raw: RawSample, rng: np.random.Generator,
                        pool: list[RawSample]) -> None:  # fmt: skip
    def ghost(m: dict) -> None:
        m.setdefault("objects", []).append(
            {"instance_id": 65000, "class": "vehicle", "bbox2d": [0, 0, 4, 4], "visible_px": 16})
    _edit_json(raw, ghost)


def silent(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_audio(raw, lambda w: np.zeros_like(w))


def clipped(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_audio(raw, lambda w: w / (np.abs(w).max() + 1e-9) * 4.0)


def nan(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_json(raw, lambda m: m.setdefault("ego", {}).__setitem__("speed_mps", float("nan")))


# --- cross-modal tuning faults -------------------------------------------------------------


def labels_nudged(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> bool:
    """seg and instances moved 3 px to the right; bbox2d/visible_px follow the moved mask."""
    ie, inst = _label(raw, access.INST_FILES)
    seg = _read_png(raw.files["seg.png"][1])
    inst2, seg2 = np.zeros_like(inst), seg.copy()
    inst2[:, 3:], seg2[:, 3:] = inst[:, :-3], seg[:, :-3]
    _replace(raw, ie, access.encode_array(ie, inst2))
    _replace(raw, "seg.png", _png(seg2))

    def boxes(m: dict) -> None:
        for o in m.get("objects", []):
            ys, xs = np.nonzero(inst2 == int(o["instance_id"]))
            if xs.size:
                o["bbox2d"] = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
                o["visible_px"] = int(xs.size)
        m["objects"] = [o for o in m.get("objects", []) if (inst2 == o["instance_id"]).any()]
    _edit_json(raw, boxes)
    return True


def box3d_far(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> bool:
    """Camera-frame 3D boxes 1.4 x farther than they are."""
    if not _meta(raw).get("objects"):
        return False

    def far(m: dict) -> None:
        for o in m["objects"]:
            c = o["bbox3d_cam"]
            c["center"] = [1.4 * v for v in c["center"]]
            c["corners"] = [[1.4 * v for v in p] for p in c["corners"]]
    _edit_json(raw, far)
    return True


def depth_mm(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """Depth in millimetres where metres are stated."""
    _edit_depth(raw, lambda d: d * 1000.0)


def focal_x2(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    def f(m: dict) -> None:
        m["camera"]["fx"] *= 2.0
        m["camera"]["fy"] *= 2.0
    _edit_json(raw, f)


def pitch_5deg(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    def tilt(m: dict) -> None:
        T = np.array(m["camera"]["T_world_cam"], dtype=np.float64).reshape(4, 4)
        a = math.radians(5.0)
        rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
        T[:3, :3] = T[:3, :3] @ rx
        m["camera"]["T_world_cam"] = T.ravel().tolist()
    _edit_json(raw, tilt)


def _donor(raw: RawSample, pool: list[RawSample], step: int) -> RawSample | None:
    keys = [r.key for r in pool]
    if raw.key not in keys or len(pool) < 2:
        return None
    donor = pool[(keys.index(raw.key) + step) % len(pool)]
    return donor if donor.key != raw.key else None


def _take(raw: RawSample, donor: RawSample | None, ext: str) -> bool:
    if donor is None or ext not in donor.files or donor.files[ext][1] == raw.files[ext][1]:
        return False
    _replace(raw, ext, donor.files[ext][1])
    return True


def rgb_neighbour(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> bool:
    """The rgb of the next sample in the shard (often the scenario's next frame)."""
    return _take(raw, _donor(raw, pool, 1), _rgb_ext(raw))


def audio_neighbour(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> bool:
    return _take(raw, _donor(raw, pool, 5), "audio.flac")


def caption_neighbour(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> bool:
    """The txt of another sample (json.captions kept)."""
    return _take(raw, _donor(raw, pool, 9), "txt")


def weather_noon(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """The json claims clear noon (or dense fog, for a clear-noon sample)."""
    from sim.weather import get_preset
    from sim.weather.metadata import weather_metadata

    def swap(m: dict) -> None:
        name = "dense_fog" if m["weather"].get("preset") == "clear_noon" else "clear_noon"
        m["weather"] = weather_metadata(get_preset(name))
    _edit_json(raw, swap)


def speed_kmh(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_json(raw, lambda m: m["ego"].__setitem__("speed_mps", m["ego"]["speed_mps"] * 3.6))


def rpm_x2(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_json(raw, lambda m: m["ego"].__setitem__("rpm", m["ego"]["rpm"] * 2.0))


def blurred(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    from scipy.ndimage import uniform_filter

    _edit_rgb(raw, lambda a: uniform_filter(a.astype(np.float32), size=(5, 5, 1)))


def dead_column(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    def dead(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a[:, a.shape[1] // 3] = 255
        return a
    _edit_rgb(raw, dead)


def underexposed(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_rgb(raw, lambda a: a.astype(np.float32) * 0.3)


def overexposed(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_rgb(raw, lambda a: a.astype(np.float32) * 1.7)


def dimmed(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_rgb(raw, lambda a: a.astype(np.float32) * 0.55)


def smudge(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """A dark patch (a third of the image wide) at a random place, 75 % opaque."""
    def patch(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32)
        h, w = a.shape[:2]
        ph, pw = h // 3, w // 3
        y, x = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
        a[y:y + ph, x:x + pw] *= 0.25
        return a
    _edit_rgb(raw, patch)


def defocus(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    from scipy.ndimage import gaussian_filter

    _edit_rgb(raw, lambda a: gaussian_filter(a.astype(np.float32), sigma=(1.5, 1.5, 0)))


def grainy(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    _edit_rgb(raw, lambda a: a + rng.normal(0, 20, a.shape))


def phantom_crash(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> bool:
    meta = _meta(raw)
    if any(e.get("type") == "crash" for e in meta.get("events", [])):
        return False

    def crash(m: dict) -> None:
        m.setdefault("events", []).append({"type": "crash", "time_s": m["time_s"] - 0.1,
                                           "impulse_ns": 2500.0, "zone": "front"})
        m["audio"]["events"] = [*m["audio"]["events"], "impact"]
    _edit_json(raw, crash)
    return True


# --- optics: a degraded camera, drawn from a family (kind and strength vary per sample) ---
#
# Each fault picks one variant of a generic degradation and a strength from a range that
# starts at "visible at 64 px" and ends at "obviously broken", so QC is tuned on the family,
# not on one shape or one strength.


def _lin(a: np.ndarray) -> np.ndarray:
    from sim.weather.color import srgb_to_linear

    return srgb_to_linear(np.clip(a, 0, 255).astype(np.uint8))


def _srgb(lin: np.ndarray) -> np.ndarray:
    from sim.weather.color import linear_to_srgb

    return linear_to_srgb(lin).astype(np.float32)


def _blob(h: int, w: int, rng: np.random.Generator, area: tuple[float, float]) -> np.ndarray:
    """A soft-edged ellipse (1 inside, 0 outside, a ramp of a few px) covering a random
    share ``area`` of the frame, centred anywhere in it (it may be cut by the border)."""
    share = rng.uniform(*area)
    aspect = rng.uniform(0.6, 1.6)
    ry = math.sqrt(share * h * w / math.pi / aspect)
    rx = ry * aspect
    cy, cx = rng.uniform(0.15 * h, 0.85 * h), rng.uniform(0.15 * w, 0.85 * w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((yy - cy) / ry, (xx - cx) / rx)
    edge = rng.uniform(0.1, 0.5)  # width of the soft rim, as a share of the radius
    return np.clip((1.0 - r) / edge + 0.5, 0.0, 1.0)


def optics_blur(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """The whole frame out of focus (Gaussian, sigma 0.6-1.8 px) or smeared by motion or
    camera shake (a 3-7 px line in a random direction)."""
    from scipy.ndimage import convolve, gaussian_filter

    if rng.random() < 0.5:
        sigma = rng.uniform(0.6, 1.8)
        _edit_rgb(raw, lambda a: gaussian_filter(a.astype(np.float32), (sigma, sigma, 0)))
        return
    n = int(rng.integers(3, 8))
    angle = rng.uniform(0, math.pi)
    k = np.zeros((n, n), np.float32)
    for t in np.linspace(-(n - 1) / 2, (n - 1) / 2, 4 * n):
        k[int(round((n - 1) / 2 + t * math.sin(angle))),
          int(round((n - 1) / 2 + t * math.cos(angle)))] = 1.0
    k /= k.sum()
    _edit_rgb(raw, lambda a: np.stack([convolve(a[..., c].astype(np.float32), k, mode="nearest")
                                       for c in range(3)], -1))  # fmt: skip


def optics_noise(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """A noisy sensor: Gaussian read noise (sigma 8-30 DN), signal-dependent shot noise,
    colour (per-channel) noise, or impulse noise on 0.5-3 % of the pixels."""
    kind = int(rng.integers(0, 4))

    def edit(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32)
        if kind == 0:
            return a + rng.normal(0, rng.uniform(8, 30), a.shape[:2])[..., None]
        if kind == 1:
            return a + rng.normal(0, 1, a.shape) * np.sqrt(np.maximum(a, 4.0)) * rng.uniform(1.2, 3)
        if kind == 2:
            return a + rng.normal(0, rng.uniform(8, 25), a.shape)
        hit = rng.random(a.shape[:2]) < rng.uniform(0.005, 0.03)
        a[hit] = rng.choice([0.0, 255.0], size=(int(hit.sum()), 1)) if rng.random() < 0.5 \
            else rng.uniform(0, 255, (int(hit.sum()), 3))  # fmt: skip
        return a
    _edit_rgb(raw, edit)


def optics_occlusion(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """Part of the lens covered (8-35 % of the frame, soft rim): opaque dirt or a leaf,
    a translucent film, a smear (the region blurred and veiled), or a bright glare spot."""
    from scipy.ndimage import gaussian_filter

    kind = int(rng.integers(0, 4))

    def edit(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32)
        h, w = a.shape[:2]
        m = _blob(h, w, rng, (0.08, 0.35))[..., None]
        if kind == 0:  # dirt: dark brown-grey, nearly opaque
            colour = rng.uniform(10, 90) * np.array([1.0, 0.9, 0.75]) * rng.uniform(0.8, 1.2, 3)
            return a * (1 - m * rng.uniform(0.75, 1.0)) + colour * m * rng.uniform(0.75, 1.0)
        if kind == 1:  # translucent film: washes the region towards a grey
            alpha = rng.uniform(0.5, 0.85)
            return a * (1 - alpha * m) + rng.uniform(90, 230) * alpha * m
        if kind == 2:  # smear: blurred and slightly veiled
            s = rng.uniform(2.0, 4.0)
            blurred = gaussian_filter(a, (s, s, 0)) * rng.uniform(0.7, 1.15)
            return a * (1 - m) + blurred * m
        lin = _lin(a)  # glare: light added in linear light, falling off from the spot
        return _srgb(lin + rng.uniform(0.4, 1.5) * m**2 * np.array([1.0, 0.97, 0.9]))
    _edit_rgb(raw, edit)


def optics_exposure(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """Exposure off: the linear-light gain x0.3-0.6 (under) or x1.7-3.5 (over, clipping)."""
    gain = rng.uniform(0.3, 0.6) if rng.random() < 0.5 else rng.uniform(1.7, 3.5)
    _edit_rgb(raw, lambda a: _srgb(_lin(a) * gain))


def optics_contrast(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """Veiling glare or a fogged-up lens over the whole frame: every pixel pulled 40-75 %
    of the way towards a flat level (in linear light, so dark parts lift most)."""
    alpha = rng.uniform(0.4, 0.75)

    def edit(a: np.ndarray) -> np.ndarray:
        lin = _lin(a)
        level = float(lin.mean()) * rng.uniform(0.8, 2.0)
        return _srgb(lin * (1 - alpha) + min(level, 1.0) * alpha)
    _edit_rgb(raw, edit)


def optics_pixels(raw: RawSample, rng: np.random.Generator, pool: list[RawSample]) -> None:
    """Defective pixels: scattered hot/dead pixels (0.4-2 %, any colour), a cluster of
    stuck pixels, or a stuck row or column of a mid colour."""
    kind = int(rng.integers(0, 3))

    def edit(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32).copy()
        h, w = a.shape[:2]
        if kind == 0:
            hit = rng.random((h, w)) < rng.uniform(0.004, 0.02)
            hot = rng.random(int(hit.sum())) < 0.5
            a[hit] = np.where(hot[:, None], rng.uniform(200, 255, (hot.size, 3)),
                              rng.uniform(0, 40, (hot.size, 3)))  # fmt: skip
        elif kind == 1:
            s = int(rng.integers(2, 5))
            for _ in range(int(rng.integers(2, 6))):
                y, x = int(rng.integers(0, h - s)), int(rng.integers(0, w - s))
                a[y:y + s, x:x + s] = rng.choice([0.0, 255.0])
        else:
            i = int(rng.integers(2, (h if rng.random() < 0.5 else w) - 2))
            colour = rng.uniform(30, 220, 3)
            if rng.random() < 0.5:
                a[min(i, h - 1)] = colour
            else:
                a[:, min(i, w - 1)] = colour
        return a
    _edit_rgb(raw, edit)


OPTICS_FAULTS: dict[str, Fault] = {
    "optics_blur": optics_blur, "optics_noise": optics_noise,
    "optics_occlusion": optics_occlusion, "optics_exposure": optics_exposure,
    "optics_contrast": optics_contrast, "optics_pixels": optics_pixels,
}

SAMPLE_FAULTS: dict[str, Fault] = {
    "black": black, "saturated": saturated, "noise": noise, "inside_geometry": inside_geometry,
    "flipped": flipped, "off_road": off_road, "empty_labels": empty_labels,
    "inconsistent_labels": inconsistent_labels, "silent": silent, "clipped": clipped,
    "nan": nan,
}
CROSS_FAULTS: dict[str, Fault] = {
    "labels_nudged": labels_nudged, "box3d_far": box3d_far, "depth_mm": depth_mm,
    "focal_x2": focal_x2, "pitch_5deg": pitch_5deg, "rgb_neighbour": rgb_neighbour,
    "audio_neighbour": audio_neighbour, "caption_neighbour": caption_neighbour,
    "weather_noon": weather_noon, "speed_kmh": speed_kmh, "rpm_x2": rpm_x2,
    "blurred": blurred, "dead_column": dead_column, "underexposed": underexposed,
    "phantom_crash": phantom_crash, "overexposed": overexposed, "dimmed": dimmed,
    "smudge": smudge, "defocus": defocus, "grainy": grainy,
}
FAULTS: dict[str, Fault] = {**SAMPLE_FAULTS, **CROSS_FAULTS, **OPTICS_FAULTS}


def _copy(raw: RawSample) -> RawSample:
    return RawSample(raw.key, dict(raw.files))


def inject_faults(src: Path, dst: Path, fraction: float, seed: int,
                  faults: dict[str, Fault] | None = None) -> dict[str, str]:  # fmt: skip
    """Copy ``src``'s shards to ``dst`` breaking ``fraction`` of samples; sample id
    (:func:`datagen.qc.report.sample_id`) -> fault name. Faults take turns; one that does
    not apply to a sample hands it to the next."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    faults = FAULTS if faults is None else faults
    rng = rng_for(seed, "qc_inject")
    shards = {}
    for path in shard_paths(src):  # every shard readable before anything is written
        try:
            shards[path] = list(iter_raw(path))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ValueError(f"shard {path} is unreadable ({str(exc).splitlines()[0]}); "
                             "fault injection needs readable shards") from None  # fmt: skip
    dst.mkdir(parents=True, exist_ok=False)
    names = list(faults)
    truth: dict[str, str] = {}
    turn = 0
    for path, samples in shards.items():
        pool = [_copy(r) for r in samples]
        for raw in samples:
            if rng.random() >= fraction:
                continue
            for k in range(len(names)):
                name = names[(turn + k) % len(names)]
                if faults[name](raw, rng, pool) is not False:
                    truth[sample_id(path.name, raw.key)] = name
                    break
            turn += 1
        write_raw(dst / path.name, samples)
    for extra in src.iterdir():
        if extra.is_file() and extra.suffix != ".tar":
            shutil.copy2(extra, dst / extra.name)
    return truth


def evaluate_qc(src: Path, work: Path, fraction: float = 0.1, seed: int = 0,
                faults: dict[str, Fault] | None = None,
                learned: LearnedCheck | None = None) -> dict:  # fmt: skip
    """Inject faults into a copy of ``src`` under ``work``; QC's precision/recall on them."""
    truth = inject_faults(src, work, fraction, seed, faults)
    report = run_qc(work, learned=learned)
    result = precision_recall(report.flagged, set(truth))
    per_fault: dict[str, list[int]] = {}
    for key, fault in truth.items():
        per_fault.setdefault(fault, [0, 0])[0] += key in report.flagged
        per_fault[fault][1] += 1
    result["recall_by_fault"] = {f: hit / n for f, (hit, n) in sorted(per_fault.items())}
    result["false_alarms"] = sorted(report.flagged - set(truth))
    return result
