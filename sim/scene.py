"""The scene registry: which semantic class and instance every visible body belongs to.

Cameras decode PyBullet's segmentation buffer (``uid + ((link + 1) << 24)``) through this
registry: every link of a body shares the body's class and instance. Object classes (those
with ``has_instances`` in :mod:`sim.classes`) get an instance id in 1..65535, unique within
the registry, and a 3D box (size l, w, h and the box centre's offset in the body frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.classes import CLASSES, class_id

MAX_INSTANCES = 65535
UID_MASK = (1 << 24) - 1


@dataclass(frozen=True)
class BodyInfo:
    """What the registry knows about one PyBullet body."""

    body_id: int
    class_id: int
    class_name: str
    instance_id: int
    size_lwh: tuple[float, float, float]
    center_offset: tuple[float, float, float]


class SceneRegistry:
    """Body uid -> semantic class, instance id, 3D box size and box centre offset."""

    def __init__(self) -> None:
        self._bodies: dict[int, BodyInfo] = {}
        self._by_instance: dict[int, BodyInfo] = {}
        self._next_instance = 1
        self._reserved: dict[int, str] = {}  # instance id -> class, body not yet registered
        self._luts: tuple[np.ndarray, np.ndarray] | None = None

    def register(
        self,
        body_id: int,
        cls: str,
        size_lwh: tuple[float, float, float],
        center_offset: tuple[float, float, float] = (0.0, 0.0, 0.0),
        instance: bool = True,
        instance_id: int | None = None,
    ) -> int:
        """Register a body; return its new instance id, or 0 for stuff classes / no instance.

        ``instance_id``: an id from :meth:`reserve_instance` for this class (a body created
        later than its id was handed out keeps the id it was planned with; 0: none).
        Raises ValueError for an unknown class, a body registered twice, a negative size
        or when the 65535 instance ids are used up.
        """
        cid = class_id(cls)
        if body_id < 0 or body_id > UID_MASK:
            raise ValueError(f"SceneRegistry.body_id must be in [0, {UID_MASK}], got {body_id}")
        if body_id in self._bodies:
            raise ValueError(f"SceneRegistry.body_id {body_id} is already registered")
        size = tuple(float(v) for v in size_lwh)
        if len(size) != 3 or min(size) < 0:
            raise ValueError(f"SceneRegistry.size_lwh must be 3 values >= 0, got {size_lwh}")
        offset = tuple(float(v) for v in center_offset)
        if len(offset) != 3:
            raise ValueError(f"SceneRegistry.center_offset must be 3 values, got {offset}")
        inst = 0
        if instance_id:
            if self._reserved.get(instance_id) != cls:
                raise ValueError(f"SceneRegistry.instance_id {instance_id} is not reserved "
                                 f"for class {cls!r}")  # fmt: skip
            del self._reserved[instance_id]
            inst = instance_id
        elif instance_id is None and instance and CLASSES[cid].has_instances:
            inst = self._new_instance()
        info = BodyInfo(body_id, cid, cls, inst, size, offset)  # type: ignore[arg-type]
        self._bodies[body_id] = info
        if inst:
            self._by_instance[inst] = info
        self._luts = None
        return inst

    def _new_instance(self) -> int:
        if self._next_instance > MAX_INSTANCES:
            raise ValueError(f"SceneRegistry: more than {MAX_INSTANCES} instances")
        self._next_instance += 1
        return self._next_instance - 1

    def reserve_instance(self, cls: str) -> int:
        """The instance id the next object of ``cls`` gets, handed out now for a body made
        later (``register(..., instance_id=...)``); 0 for classes without instances."""
        if not CLASSES[class_id(cls)].has_instances:
            return 0
        inst = self._new_instance()
        self._reserved[inst] = cls
        return inst

    def __contains__(self, body_id: int) -> bool:
        return body_id in self._bodies

    def __len__(self) -> int:
        return len(self._bodies)

    def info(self, body_id: int) -> BodyInfo:
        return self._bodies[body_id]

    def by_instance(self, instance_id: int) -> BodyInfo:
        return self._by_instance[instance_id]

    def instances(self) -> list[BodyInfo]:
        return [self._by_instance[i] for i in sorted(self._by_instance)]

    def lookup_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(class_lut uint8, instance_lut uint16) indexed by body uid + 1 (index 0: no hit)."""
        if self._luts is None:
            n = max(self._bodies, default=-1) + 2
            cls_lut = np.zeros(n, dtype=np.uint8)
            inst_lut = np.zeros(n, dtype=np.uint16)
            for uid, info in self._bodies.items():
                cls_lut[uid + 1] = info.class_id
                inst_lut[uid + 1] = info.instance_id
            self._luts = (cls_lut, inst_lut)
        return self._luts

    def decode(self, seg_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map a raw segmentation buffer to (semantic uint8, instance uint16) images.

        Pixels with no hit (-1) or an unregistered body become sky (0) and instance 0.
        """
        cls_lut, inst_lut = self.lookup_tables()
        idx = (np.asarray(seg_raw) & UID_MASK) + 1  # no hit (-1) becomes 2**24
        idx[idx >= len(cls_lut)] = 0
        return cls_lut.take(idx), inst_lut.take(idx)
