"""``drivesynth view DIR --rerun FILE.rrd``: a Rerun recording of a data set.

Per split and scenario (entity ``SPLIT/scenario_NNNNNNNN``: scenario ids restart in each
split), on the timelines ``frame`` (sequence) and ``time`` (simulated seconds)::

    .../world                         z up (Rerun's RIGHT_HAND_Z_UP)
    .../world/CAMERA                  T_world_cam as a transform + the pinhole (OpenCV axes,
                                      json.camera's fx, fy, cx, cy)
    .../world/CAMERA/rgb|depth|seg    the frame, metric depth (meter = 1), class ids
    .../world/objects                 3D boxes in the world (bbox3d_world), class colours
    .../world/ego/path                the ego's positions so far
    .../ego/speed_mps|steer|throttle|brake   scalars
    .../captions                      every caption as a text log (the primary first)

Class names and colours come from ``json.classes`` (an annotation context). Rerun plays no
audio: the clip is not recorded. Samples are read with :func:`datagen.sample.decode_sample`;
the file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SCALARS = ("speed_mps", "steer", "throttle", "brake")


def scenario_path(split: str, scenario_id: int) -> str:
    return f"{split}/scenario_{scenario_id:08d}"


def import_rerun():
    try:
        import rerun as rr
    except ImportError:
        raise ValueError("--rerun needs the Python package 'rerun-sdk': "
                         "pip install 'drivesynth[rerun]'") from None  # fmt: skip
    return rr


def log_sample(rr, rec, sample, split: str, path: list) -> None:
    """Log one decoded sample; ``path`` is the scenario's ego positions so far."""
    meta = sample.meta
    base = scenario_path(split, int(meta["scenario_id"]))
    cam = meta["camera"]
    name = cam.get("name", "camera")
    rec.set_time("frame", sequence=int(meta["frame"]))
    rec.set_time("time", duration=float(meta["time_s"]))
    T = np.asarray(cam["T_world_cam"], np.float64).reshape(4, 4)
    node = f"{base}/world/{name}"
    rec.log(node, rr.Transform3D(translation=T[:3, 3], mat3x3=T[:3, :3]))
    K = [[cam["fx"], 0.0, cam["cx"]], [0.0, cam["fy"], cam["cy"]], [0.0, 0.0, 1.0]]
    rec.log(node, rr.Pinhole(image_from_camera=K, resolution=[cam["width"], cam["height"]],
                             camera_xyz=rr.ViewCoordinates.RDF))  # fmt: skip
    rec.log(f"{node}/rgb", rr.Image(sample.rgb))
    rec.log(f"{node}/depth", rr.DepthImage(sample.depth, meter=1.0))
    rec.log(f"{node}/seg", rr.SegmentationImage(sample.seg))
    ids = {c["name"]: c["id"] for c in meta.get("classes", [])}
    objects = meta.get("objects") or []
    boxes = [o["bbox3d_world"] for o in objects]
    rec.log(f"{base}/world/objects", rr.Boxes3D(
        centers=[b["center"] for b in boxes] or np.zeros((0, 3)),
        half_sizes=[[v / 2 for v in b["size"]] for b in boxes] or np.zeros((0, 3)),
        rotation_axis_angles=[rr.RotationAxisAngle(axis=[0, 0, 1], radians=b["yaw"])
                              for b in boxes],
        class_ids=[ids.get(o["class"], 0) for o in objects],
        labels=[f"{o['class']} #{o['instance_id']}" for o in objects],
    ))  # fmt: skip
    ego = meta.get("ego") or {}
    if "position" in ego:
        path.append([float(v) for v in ego["position"]])
        rec.log(f"{base}/world/ego/path", rr.LineStrips3D([path]))
    for key in SCALARS:
        if key in ego:
            rec.log(f"{base}/ego/{key}", rr.Scalars(float(ego[key])))
    captions = meta.get("captions") or [{"text": sample.txt, "family": "primary"}]
    for c in captions:
        rec.log(f"{base}/captions", rr.TextLog(f"[{c.get('family', '')}] {c['text']}",
                                               level="INFO"))  # fmt: skip


def write_recording(root: str | Path | list, out: str | Path, force: bool = False) -> dict:
    """Write the recording of every sample in ``root`` (a folder or several);
    ``{samples, scenarios, skipped}``."""
    from datagen.sample import SampleError, decode_sample
    from datagen.shards import iter_files
    from datagen.viewer.html import dataset_shards
    from datagen.viewer.records import split_of

    rr = import_rerun()
    roots = [Path(root)] if isinstance(root, Path | str) else [Path(r) for r in root]
    out = Path(out)
    shards = dataset_shards(roots)
    if out.exists() and not force:
        raise ValueError(f"{out} exists: pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    rec = rr.RecordingStream("drivesynth", recording_id="+".join(r.resolve().name for r in roots))
    rec.set_log_time_enabled(False)  # the recording's timelines are the simulation's
    rec.save(tmp)
    logged_context = False
    paths: dict[str, list] = {}
    count = skipped = 0
    try:
        for shard in shards:
            for files in iter_files(shard):
                try:
                    sample = decode_sample(files)
                except SampleError:
                    skipped += 1
                    continue
                split = split_of(shard.name, sample.meta)
                base = scenario_path(split, int(sample.meta["scenario_id"]))
                if base not in paths:
                    rec.log(f"{base}/world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
                if not logged_context:
                    classes = sample.meta.get("classes") or []
                    rec.log("/", rr.AnnotationContext(
                        [(c["id"], c["name"], tuple(c["color"])) for c in classes]), static=True)
                    logged_context = True
                log_sample(rr, rec, sample, split, paths.setdefault(base, []))
                count += 1
        rec.flush()
        rec.disconnect()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"samples": count, "scenarios": len(paths), "skipped": skipped}
