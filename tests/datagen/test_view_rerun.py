"""drivesynth view --rerun: the recording read back with rerun's RRD reader holds the data
set's frames, depth, labels, camera poses, boxes, ego scalars and captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from view_data import generated, samples

from edge.cli import main

rr = pytest.importorskip("rerun", reason="rerun-sdk (the 'rerun' extra) is not installed")


def rows(path: Path) -> dict[str, list[dict]]:
    """entity path -> one dict per logged row (``frame`` and ``Archetype:component``
    values), in frame order."""
    from rerun.chunk import RrdReader

    out: dict[str, list[dict]] = {}
    for chunk in RrdReader(path).stream():
        table = chunk.to_record_batch().to_pydict()
        n = chunk.num_rows
        for i in range(n):
            out.setdefault(chunk.entity_path, []).append(
                {k: v[i] for k, v in table.items() if ":" in k or k == "frame"})
    for entries in out.values():
        entries.sort(key=lambda r: r.get("frame") if r.get("frame") is not None else -1)
    return out


def buffer(value, dtype) -> np.ndarray:
    data = value[0]
    return np.frombuffer(bytes(data), dtype) if isinstance(data, (bytes, list)) else data


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, Path]:
    ds = generated(tmp_path_factory)
    out = tmp_path_factory.mktemp("rrd") / "ds.rrd"
    assert main(["view", str(ds), "--rerun", str(out)]) == 0
    return out, samples(ds), ds


def test_recording_holds_every_frame_with_its_camera_and_labels(recording) -> None:
    path, decoded, _ = recording
    data = rows(path)
    for _, s in decoded:
        base = f"/train/scenario_{s.meta['scenario_id']:08d}"
        frame = s.meta["frame"]
        cam = s.meta["camera"]
        node = f"{base}/world/{cam['name']}"

        def at(entity: str, component: str, frame: int = frame):
            hits = [r for r in data[entity] if r.get("frame") == frame and
                    r.get(component) is not None]  # fmt: skip
            assert len(hits) == 1, (entity, component, frame)
            return hits[0][component]

        rgb = buffer(at(f"{node}/rgb", "Image:buffer"), np.uint8)
        assert np.array_equal(rgb.reshape(s.rgb.shape), s.rgb)
        depth = buffer(at(f"{node}/depth", "DepthImage:buffer"), np.float32)
        assert np.array_equal(depth.reshape(s.depth.shape), s.depth)
        assert at(f"{node}/depth", "DepthImage:meter") == [1.0]
        seg = buffer(at(f"{node}/seg", "SegmentationImage:buffer"), np.uint8)
        assert np.array_equal(seg.reshape(s.seg.shape), s.seg)
        K = np.asarray(at(node, "Pinhole:image_from_camera")[0]).reshape(3, 3).T  # column-major
        assert K == pytest.approx(np.array([[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]],
                                            [0, 0, 1]]), rel=1e-6)  # fmt: skip
        T = np.asarray(cam["T_world_cam"]).reshape(4, 4)
        assert at(node, "Transform3D:translation")[0] == pytest.approx(T[:3, 3], abs=1e-4)
        R = np.asarray(at(node, "Transform3D:mat3x3")[0]).reshape(3, 3).T
        assert R == pytest.approx(T[:3, :3], abs=1e-6)
        centers = at(f"{base}/world/objects", "Boxes3D:centers")
        want = [o["bbox3d_world"]["center"] for o in s.meta["objects"]]
        assert np.asarray(centers).reshape(-1, 3) == pytest.approx(np.asarray(want).reshape(-1, 3),
                                                                    abs=1e-4)  # fmt: skip
        for key in ("speed_mps", "steer", "throttle", "brake"):
            assert at(f"{base}/ego/{key}", "Scalars:scalars")[0] == pytest.approx(
                s.meta["ego"][key], rel=1e-6, abs=1e-9)
        texts = [t for r in data[f"{base}/captions"] if r.get("frame") == frame
                 for t in (r.get("TextLog:text") or [])]  # fmt: skip
        assert texts == [f"[{c['family']}] {c['text']}" for c in s.meta["captions"]]
    scenarios = {s.meta["scenario_id"] for _, s in decoded}
    for sid in scenarios:
        strips = data[f"/train/scenario_{sid:08d}/world/ego/path"]
        last = strips[-1]["LineStrips3D:strips"][0]
        frames = [s for _, s in decoded if s.meta["scenario_id"] == sid]
        assert np.asarray(last) == pytest.approx(
            np.asarray([s.meta["ego"]["position"] for s in frames]), abs=1e-4)


def test_existing_recording_is_not_replaced_without_force(recording, tmp_path: Path,
                                                          capsys) -> None:  # fmt: skip
    path, _, ds = recording
    out = tmp_path / "x.rrd"
    out.write_bytes(b"mine")
    assert main(["view", str(ds), "--rerun", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"mine"
    assert main(["view", str(ds), "--rerun", str(out), "--force"]) == 0
    assert out.stat().st_size == pytest.approx(path.stat().st_size, rel=0.2)
