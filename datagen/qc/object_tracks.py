"""Each object against the same object in its scenario's other frames: ``object_identity``.

An instance id names one object for the whole scenario (same split, ``scenario_id`` and
camera): its class and its box size (``bbox3d_world.size``, length, width, height) do not
change from frame to frame, and an object that stands still (its world centre the same in the
other frames) stays where it is. For every attribute of every object, the frames holding that
id vote; a frame whose value is held by fewer frames than another value (a strict minority)
disagrees. Where only two frames hold an id, neither is in a minority; a frame that ties in
this way with two or more other frames, which do not disagree with each other, is the odd one.
The finding names the ids, what differs and the frames voting against it: class tables
shifted, ids renumbered per frame, length and width swapped, a static object that moved.

Within each frame, ``untracked_objects``: seg.png and inst.npy.gz describe the same objects,
so every pixel of a class that has instances (vehicle, pedestrian, barrier, building,
vegetation, pole) carries an instance id (measured on 1 280 clean frames: not one such pixel
without). A frame with more than ``max_untracked_px`` such pixels lost objects from its
instance pass (culled, never written) while the segmentation still shows them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from datagen.qc.flag import Flag, flag

Attr = tuple[str, object]


@dataclass(frozen=True)
class ObjectTracksConfig:
    size_tol: float = 0.01  # relative difference of box sizes that still counts as the same
    still_m: float = 0.05  # world centres closer than this count as the same place
    min_disagreements: int = 1  # objects in a minority before a frame is flagged
    max_untracked_px: int = 2  # pixels of an instance class without an instance id

    def __post_init__(self) -> None:
        if not self.max_untracked_px >= 0:
            raise ValueError(f"ObjectTracksConfig.max_untracked_px must be >= 0, got "
                             f"{self.max_untracked_px}")
        for name in ("size_tol", "still_m", "min_disagreements"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"ObjectTracksConfig.{name} must be > 0, got {value}")


@dataclass
class ObjectFrame:
    key: str
    shard: str
    scenario: tuple[str, str, str]
    objects: dict[int, tuple[str, np.ndarray, np.ndarray]]  # id -> class, size, centre
    untracked: dict[str, int] = field(default_factory=dict)  # class -> pixels without an id


def _untracked(s) -> dict[str, int]:
    """Pixels per instance class of seg.png where inst.npy.gz holds no instance id."""
    from sim.classes import CLASSES

    seg, inst = getattr(s, "seg", None), getattr(s, "inst", None)
    if seg is None or inst is None or seg.shape != inst.shape:
        return {}
    counts = np.bincount(seg[inst == 0].ravel().astype(np.int64), minlength=256)
    return {c.name: int(counts[c.id]) for c in CLASSES if c.has_instances and counts[c.id]}


def summarize(s) -> ObjectFrame | None:
    m = s.meta
    if not isinstance(m, dict) or not isinstance(m.get("objects"), list):
        return None
    objects = {}
    for o in m["objects"]:
        try:
            box = o["bbox3d_world"]
            objects[int(o["instance_id"])] = (str(o["class"]),
                                              np.asarray(box["size"], dtype=np.float64),
                                              np.asarray(box["center"], dtype=np.float64))
        except (KeyError, TypeError, ValueError):
            continue
    cam = m.get("camera", {}) if isinstance(m.get("camera"), dict) else {}
    scenario = (str(m.get("split", s.shard.rsplit("-", 1)[0])), str(m.get("scenario_id")),
                str(cam.get("name", "")))
    return ObjectFrame(s.key, s.shard, scenario, objects, _untracked(s))


def _same(what: str, a: object, b: object, cfg: ObjectTracksConfig) -> bool:
    if what == "class":
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if what == "size":
        return bool(np.all(np.abs(a - b) <= cfg.size_tol * np.maximum(np.abs(a), np.abs(b))))
    return float(np.linalg.norm(a - b)) <= cfg.still_m


def _groups(what: str, values: list, cfg: ObjectTracksConfig) -> list[int]:
    """A group label per value: values that are the same (as :func:`_same`) share a label."""
    labels: list[int] = []
    for i, v in enumerate(values):
        labels.append(next((labels[j] for j in range(i) if _same(what, values[j], v, cfg)), i))
    return labels


def _votes(frames: list[ObjectFrame], oid: int, cfg: ObjectTracksConfig
           ) -> tuple[dict[int, list[str]], list[tuple[int, int, str]]]:  # fmt: skip
    """(frame index -> attributes in a strict minority, two-frame disagreements) for one id."""
    holders = [i for i, f in enumerate(frames) if oid in f.objects]
    minority: dict[int, list[str]] = {}
    ties: list[tuple[int, int, str]] = []
    for a, what in enumerate(("class", "size")):
        labels = _groups(what, [frames[i].objects[oid][a] for i in holders], cfg)
        counts = Counter(labels)
        if len(counts) < 2:
            continue
        if len(holders) == 2:
            ties.append((holders[0], holders[1], what))
            continue
        top = max(counts.values())
        for i, lab in zip(holders, labels):
            if counts[lab] < top:
                minority.setdefault(i, []).append(what)
    return minority, ties


def _renamed(frames: list[ObjectFrame], i: int, cfg: ObjectTracksConfig) -> list[str]:
    """``"id N was M"`` for each object of frame ``i`` that at least two other frames, more
    than hold it under its own id, hold in the same place with the same class and size under
    another id M."""
    out = []
    for oid, (cls, size, centre) in frames[i].objects.items():
        ids = Counter()
        for g in frames[:i] + frames[i + 1:]:
            ids.update(k for k, (c2, s2, p2) in g.objects.items()
                       if c2 == cls and _same("size", size, s2, cfg)
                       and _same("centre", centre, p2, cfg))  # fmt: skip
        other = max((k for k in ids if k != oid), key=lambda k: ids[k], default=None)
        if other is not None and ids[other] >= 2 and ids[other] > ids[oid]:
            out.append(f"id {oid} was {other}")
    return out


def _scenario(frames: list[ObjectFrame], cfg: ObjectTracksConfig) -> dict[int, list[str]]:
    """Frame index -> ``"id N: what"`` disagreements of each frame of one scenario."""
    found: dict[int, list[str]] = {}
    for i in range(len(frames)):
        if renamed := _renamed(frames, i, cfg):
            found[i] = renamed
    tie_pairs: dict[int, dict[int, list[str]]] = {}
    for oid in sorted({k for f in frames for k in f.objects}):
        minority, ties = _votes(frames, oid, cfg)
        for i, whats in minority.items():
            found.setdefault(i, []).append(f"id {oid}: {'/'.join(whats)}")
        for a, b, what in ties:
            tie_pairs.setdefault(a, {}).setdefault(b, []).append(f"id {oid}: {what}")
            tie_pairs.setdefault(b, {}).setdefault(a, []).append(f"id {oid}: {what}")
    for i, partners in tie_pairs.items():
        others = sorted(partners)
        clash = any(b in tie_pairs.get(a, {}) for a in others for b in others if a != b)
        if len(others) >= 2 and not clash:
            found.setdefault(i, []).extend(sorted({d for ds in partners.values() for d in ds}))
    return found


def untracked(f: ObjectFrame, cfg: ObjectTracksConfig) -> Flag | None:
    """``untracked_objects``: seg.png shows instance classes where inst.npy.gz has no id."""
    total = sum(f.untracked.values())
    if total <= cfg.max_untracked_px:
        return None
    shown = ", ".join(f"{c} {n} px" for c, n in sorted(f.untracked.items(), key=lambda x: -x[1]))
    return flag("untracked_objects", f"seg.png shows objects that inst.npy.gz does not hold "
                f"(instance id 0 under {shown}); pixels", total,
                f"every pixel of a class with instances carries an id; allowed "
                f"<= {cfg.max_untracked_px}", "d")  # fmt: skip


def judge(summaries: list[ObjectFrame], cfg: ObjectTracksConfig) -> list[tuple[str, str, Flag]]:
    """(key, shard, flag) of frames whose objects disagree with the same ids elsewhere, and of
    frames whose segmentation shows objects without instance ids."""
    out = [(f.key, f.shard, fl) for f in summaries if (fl := untracked(f, cfg)) is not None]
    groups: dict[tuple[str, str, str], list[ObjectFrame]] = {}
    for f in summaries:
        groups.setdefault(f.scenario, []).append(f)
    for frames in groups.values():
        for i, bad in sorted(_scenario(frames, cfg).items()):
            if len(bad) < cfg.min_disagreements:
                continue
            f = frames[i]
            shown = "; ".join(bad[:4]) + ("; ..." if len(bad) > 4 else "")
            out.append((f.key, f.shard, flag(
                "object_identity", f"objects unlike the same instance id in the scenario's other "
                f"{len(frames) - 1} frames ({shown}); objects", len(bad),
                f"class, box size and a still object's place agree across frames; allowed "
                f"< {cfg.min_disagreements}", "d")))  # fmt: skip
    return out
