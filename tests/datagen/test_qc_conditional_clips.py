"""QC's scenario comparisons of image statistics for clip samples (issue 20): a clip's key
frame is judged against its own earlier frames (the same scene), not against its scenario's
other key frames, which are seconds apart (other scenes). Single frames are unchanged."""

from __future__ import annotations

import numpy as np

from datagen.qc import conditional
from datagen.qc.shardio import Decoded

N, PER = 200, 4  # samples, samples per scenario
CLIP, FAULT = 21, 33  # a clip in a changing scene; a clip whose key frame alone is brighter


def _population(seed: int = 0) -> tuple[np.ndarray, list, list]:
    """Frame statistics (log luminance, log noise, log gradient) of N samples, PER per
    scenario, with near-identical weather, so every other scenario is a neighbour."""
    rng = np.random.default_rng(seed)
    values = np.column_stack([rng.normal(4.0, 0.02, N), rng.normal(1.0, 0.02, N),
                              rng.normal(2.0, 0.02, N)])  # fmt: skip
    conds = [np.array([float((i // PER) % 10) * 0.01]) for i in range(N)]
    groups = [i // PER for i in range(N)]
    return values, conds, groups


def _earlier(lum: float, k: int = 7) -> np.ndarray:
    """A clip's earlier frames' statistics, a steady scene at log luminance ``lum``."""
    return np.column_stack([lum + np.linspace(-0.02, 0.02, k), np.full(k, 1.0),
                            np.full(k, 2.0)])  # fmt: skip


def _setup() -> tuple[np.ndarray, list, list, list]:
    values, conds, groups = _population()
    refs: list[np.ndarray | None] = [None] * N
    # CLIP: its scene turned much brighter than its scenario's other key frames (2 s before:
    # it left a tunnel, say), as were its own earlier frames: clean
    values[CLIP, 0] = 4.8
    refs[CLIP] = _earlier(4.8)
    # FAULT: its scenario's key frames are all bright scenes; its own earlier frames are not:
    # the key frame alone was brightened (a fault of rgb.png)
    first = FAULT - FAULT % PER
    values[first:first + PER, 0] = 4.8
    refs[FAULT] = _earlier(4.0)
    return values, conds, groups, refs


def test_frame_vs_scenario_judges_a_clip_against_its_own_earlier_frames() -> None:
    values, conds, groups, refs = _setup()
    cfg = conditional.ConditionalConfig()
    old = conditional.judge_frames(values, conds, groups, cfg)  # scenario's key frames only
    assert [i for i, f in enumerate(old) if f] == [CLIP]
    new = conditional.judge_frames(values, conds, groups, cfg, refs)
    assert [i for i, f in enumerate(new) if f] == [FAULT]
    assert "its clip's 7 earlier frames" in new[FAULT][0].reason
    assert new[FAULT][0].check == "frame_vs_scenario"


def test_image_vs_weather_judges_a_clip_against_its_own_earlier_frames() -> None:
    values, conds, groups, refs = _setup()
    one = values[:, :1] + np.where(values[:, :1] > 4.5, 0.2, 0.0)  # 5.0 vs 4.0: |z| 12.5
    refs = [None if r is None else r[:, :1] + (0.2 if r[0, 0] > 4.5 else 0.0) for r in refs]
    cfg = conditional.ConditionalConfig()
    args = (one, conds, groups, ("log luminance",), (0.08,), "weather", "image_vs_weather", cfg)
    old = conditional.judge(*args)
    assert [i for i, f in enumerate(old) if f] == [CLIP]
    new = conditional.judge(*args, refs=refs)
    assert [i for i, f in enumerate(new) if f] == [FAULT]
    assert "unlike its clip's 7 earlier frames" in new[FAULT][0].reason


def test_a_clip_whose_earlier_frames_flicker_is_not_judged() -> None:
    """Lightning lights some earlier frames: the clip's own frames give no steady reference,
    and its key frame (lit too) is no finding; with steady earlier frames it is one."""
    values, conds, groups, refs = _setup()
    flicker = _earlier(4.0)
    flicker[[0, 2], 0] = 4.6  # two flashes
    refs[FAULT] = flicker
    cfg = conditional.ConditionalConfig()
    assert not conditional.judge_frames(values, conds, groups, cfg, refs)[FAULT]


def _clip_sample(frames: np.ndarray, key: int | None = None) -> Decoded:
    h, w = frames.shape[1:3]
    clip = {"frames": len(frames)} if key is None else {"frames": len(frames), "key_frame": key}
    s = Decoded("00000000_front_c00000", "train-000000.tar", rgb=frames[-1 if key is None
                else key].copy(), seg=np.zeros((h, w), np.int32), meta={"clip": clip})  # fmt: skip
    s._frames = frames
    return s


def test_clip_features_are_the_statistics_of_the_frames_before_the_key_frame() -> None:
    rng = np.random.default_rng(1)
    frames = np.stack([np.full((16, 16, 3), 20 * (t + 1), np.uint8) for t in range(8)])
    frames = np.clip(frames + rng.integers(0, 3, frames.shape), 0, 255).astype(np.uint8)
    s = _clip_sample(frames)
    got = conditional.clip_features(s, conditional.frame_features)
    assert got is not None and got.shape == (7, len(conditional.FRAME_FEATURES))
    want = [conditional.frame_features(Decoded("k", "s", rgb=f)) for f in frames[:7]]
    np.testing.assert_allclose(got, np.vstack(want))
    mid = conditional.clip_features(_clip_sample(frames, key=3), conditional.frame_features)
    assert mid is not None and len(mid) == 3  # frames before key_frame 3 only
    # a single frame, or frames of another size than the key frame: no clip reference
    single = Decoded("k", "s", rgb=frames[-1], meta={})
    assert conditional.clip_features(single, conditional.frame_features) is None
    odd = _clip_sample(frames)
    odd.rgb = np.zeros((8, 8, 3), np.uint8)
    assert conditional.clip_features(odd, conditional.frame_features) is None
