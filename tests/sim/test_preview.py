"""The preview command writes a picture people can read; bad input exits 2 with one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edge.cli import main
from sim.camera import CameraConfig, preset_camera
from sim.preview import camera_row, compose, depth_colour, seg_overlay
from sim.scenario import Scenario, ScenarioConfig


@pytest.fixture(scope="module")
def frame():
    cfg = ScenarioConfig(seed=2, road_length_m=400.0, cameras=(CameraConfig("f", 64, 64),))
    with Scenario(cfg) as sc:
        return list(sc.run_frames(2))[-1]


def test_cli_writes_png_grid(tmp_path, capsys):
    out = tmp_path / "sub" / "p.png"
    args = ["preview", "--seed", "3", "--seeds", "2", "--cameras", "front,rear"]
    assert main([*args, "--image-size", "64", "--frames", "1", "--out", str(out)]) == 0
    im = np.asarray(Image.open(out))
    assert im.ndim == 3 and im.shape[2] == 3
    assert im.shape[0] > 4 * 256  # 2 seeds x 2 cameras rows of 256-px panels
    assert im.shape[1] >= 4 * 256
    assert im.std() > 20  # not a blank picture
    assert "4 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--seeds", "0"], "--seeds"), (["--cameras", "roof"], "roof"),
     (["--image-size", "0"], "width"), (["--weather", "sunny"], "sunny")],
)  # fmt: skip
def test_cli_bad_input_exits_2(tmp_path, capsys, args, needle):
    code = main(["preview", "--frames", "1", "--out", str(tmp_path / "x.png"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_segmentation_overlay_uses_class_colours(frame):
    r = frame.renders["f"]
    over = seg_overlay(r, alpha=1.0)
    sky = r.semantic == 0
    assert np.all(over[sky] == np.array([70, 130, 180]))


def test_depth_colours_black_only_where_no_hit(frame):
    r = frame.renders["f"]
    col = depth_colour(r)
    assert np.all(col[r.depth == 0] == 0)
    assert np.all(col[r.depth > 0].sum(axis=1) > 0)


def test_row_and_grid_sizes(frame):
    r = frame.renders["f"]
    row = camera_row(r, frame.objects["f"], "title")
    assert row.width == 4 * 256 + 15
    grid = compose([row, row])
    assert grid.height > 2 * row.height


def test_preset_camera_rejects_unknown_name():
    with pytest.raises(ValueError, match="roof"):
        preset_camera("roof", 64)
