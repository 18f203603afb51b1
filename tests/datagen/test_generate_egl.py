"""``generate --renderer egl``: the same data set as TinyRenderer's but for the pixels, and a
manifest that names the GPU and driver EGL ran on (skipped where EGL cannot start)."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest

from datagen.generate import RunOptions, generate
from datagen.plan import GenerateConfig
from datagen.reader import open_shards
from sim.camera import renderer_info


@pytest.fixture(scope="module")
def egl_device() -> dict:
    try:
        return renderer_info("egl")
    except RuntimeError as err:
        pytest.skip(str(err))


def _generate(root, renderer: str):
    cfg = GenerateConfig(scenarios=2, frames=2, image_size=48, seed=3, weather="clear_noon",
                         renderer=renderer)  # fmt: skip
    generate(cfg, root, RunOptions(workers=0, progress=False), card=False)
    return json.loads((root / "manifest.json").read_text())


@pytest.mark.slow
def test_egl_data_set_matches_tiny_but_for_pixels(tmp_path, egl_device):
    tiny = _generate(tmp_path / "tiny", "tiny")
    egl = _generate(tmp_path / "egl", "egl")
    assert "renderer_devices" not in tiny
    assert egl["renderer_devices"] == [egl_device]
    assert egl["config"]["renderer"] == "egl"
    a = list(open_shards(str(tmp_path / "tiny" / "train-000000.tar")))
    b = list(open_shards(str(tmp_path / "egl" / "train-000000.tar")))
    assert [s["__key__"] for s in a] == [s["__key__"] for s in b]
    for sa, sb in zip(a, b):
        ja, jb = sa["json"], sb["json"]
        assert ja["camera"]["T_world_cam"] == jb["camera"]["T_world_cam"]
        assert ja["camera"]["fx"] == jb["camera"]["fx"] and ja["camera"]["cy"] == jb["camera"]["cy"]
        assert jb["camera"]["renderer"] == "egl"
        assert np.mean(sa["seg.png"] == sb["seg.png"]) >= 0.99
    with tarfile.open(tmp_path / "egl" / "train-000000.tar") as tar:
        assert any(m.name.endswith(".depth.npy.gz") for m in tar.getmembers())
