"""QC's ``bit_depth`` (issue 20, round 3): an image whose channels use only levels several
codes apart (fewer bits scaled back to 8) is flagged against its scenario's other frames,
the finding naming the levels, their gap and the bits they fit; rendered-looking frames pass;
missing images and single frames do not crash."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from datagen.qc import bit_depth
from datagen.qc.bit_depth import BitDepthConfig


def frame(i: int, rgb: np.ndarray | None) -> SimpleNamespace:
    meta = {"split": "a", "scenario_id": 7, "frame": i, "camera": {"name": "front"}}
    return SimpleNamespace(key=f"k{i}", shard="a-000000.tar", meta=meta, rgb=rgb)


def smooth(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64]
    base = np.stack([x * 3, y * 3, (x + y) * 1.5], axis=-1) + rng.normal(0, 4, (64, 64, 3))
    return np.clip(np.rint(base), 0, 255).astype(np.uint8)


def reduce(rgb: np.ndarray, bits: tuple[int, int, int]) -> np.ndarray:
    out = np.empty_like(rgb)
    for c, b in enumerate(bits):
        out[..., c] = np.round((rgb[..., c] >> (8 - b)) * 255.0 / (2**b - 1)).astype(np.uint8)
    return out


def judge(samples: list[SimpleNamespace]) -> list[tuple[str, str]]:
    cfg = BitDepthConfig()
    summaries = [x for x in (bit_depth.summarize(s) for s in samples) if x is not None]
    return [(k, f.reason) for k, _, f in bit_depth.judge(summaries, cfg)]


def test_rendered_frames_pass() -> None:
    assert judge([frame(i, smooth(i)) for i in range(4)]) == []


@pytest.mark.parametrize("bits", [(5, 6, 5), (4, 4, 4), (3, 3, 2)])
def test_a_low_bit_depth_frame_is_found(bits: tuple[int, int, int]) -> None:
    s = [frame(i, smooth(i)) for i in range(4)]
    s[2].rgb = reduce(s[2].rgb, bits)
    found = judge(s)
    assert [k for k, _ in found] == ["k2"], found
    assert "quantised levels" in found[0][1] and f"~{bits[0]} bits" in found[0][1]


def test_missing_images_and_one_frame_do_not_crash() -> None:
    assert judge([frame(0, None), frame(1, np.zeros((4, 4), np.uint8))]) == []
    assert judge([frame(0, smooth(0))]) == []
    one = judge([frame(0, reduce(smooth(0), (4, 4, 4)))])
    assert [k for k, _ in one] == ["k0"]


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="min_gap"):
        BitDepthConfig(min_gap=1)
