"""QC rules that followed rendering and geometry approximations on clean clips (issue 20):
each clean case (modelled on a clean clip the old rule flagged) passes, each fault is still
flagged.

- ``label_alignment``: snow-coverage patches beside a faint horizon lured the mean boundary
  gradient of a shifted copy of the labels; the median boundary step must grow too.
- ``class_swap``: road, sidewalk and terrain under snow share one colour, and the share of the
  frame each takes changes between clip key frames 2 s apart; the colours must point to the
  swap as well.
- ``odd_pixels``: rain streaks are particles, random in each frame, like snow and hail.
"""

from __future__ import annotations

import numpy as np

from datagen.qc import class_colours, optics, photometric
from datagen.qc.channel_order import ColourSummary
from datagen.qc.shardio import Decoded
from sim.classes import CLASS_IDS

SKY, ROAD, SIDEWALK, TERRAIN = (CLASS_IDS[n] for n in ("sky", "road", "sidewalk", "terrain"))


def snowfield(rng: np.random.Generator) -> Decoded:
    """A 64 px snowy frame: a pale sky over snow-covered terrain (a faint horizon at row 24,
    ~20 DN), bare-ground patches (strong edges) at rows 29..31 over 40 % of the width, all
    inside the terrain label; sensor noise of 2 DN."""
    rgb = np.empty((64, 64, 3), np.float64)
    rgb[:24] = (205, 210, 220)
    rgb[24:] = (213, 217, 226)
    for x0 in range(2, 64, 10):
        rgb[29:32, x0:x0 + 4] = (90, 160, 80)
    rgb += rng.normal(0.0, 2.0, rgb.shape)
    seg = np.full((64, 64), TERRAIN, np.uint8)
    seg[:24] = SKY
    depth = np.where(seg == SKY, 0.0, 20.0).astype(np.float32)
    meta = {"weather": {"precip_type": "none", "precip_intensity": 0.0, "snow_cover": 0.8}}
    return Decoded("k", "s.tar", rgb=np.clip(np.rint(rgb), 0, 255).astype(np.uint8),
                   seg=seg, inst=np.zeros((64, 64), np.uint16), depth_m=depth, meta=meta)


def test_snow_patches_beside_a_faint_horizon_do_not_lure_the_labels() -> None:
    cfg = photometric.PhotometricConfig()
    s = snowfield(np.random.default_rng(0))
    bx, by = photometric.boundaries(s.seg, s.inst, s.depth_m, cfg.depth_edge_log)
    scores = photometric.alignment_scores(s.rgb, bx, by, cfg.search_px)
    lure = max(scores, key=scores.get)
    # the mean alone (the old rule) prefers the horizon moved onto the patches' edges ...
    assert max(map(abs, lure)) >= 2 and scores[lure] > 2 * scores[(0, 0)]
    # ... but most of the moved horizon meets plain snow: no misregistration
    assert photometric.label_alignment(s, cfg) is None


def test_labels_moved_off_a_faint_horizon_beside_snow_patches_are_found() -> None:
    cfg = photometric.PhotometricConfig()
    s = snowfield(np.random.default_rng(1))
    s.seg, s.inst, s.depth_m = (np.roll(a, (3, 2), axis=(0, 1)) for a in (s.seg, s.inst,
                                                                           s.depth_m))
    f = photometric.label_alignment(s, cfg)
    assert f is not None and f.check == "label_alignment" and "median step ratio" in f.reason


def colours(rows: dict[int, tuple[tuple[float, float, float], float]], key: str) -> ColourSummary:
    """A frame's per-class mean linear colour (given as log) and share of 4096 pixels."""
    cols = np.full((256, 3), np.nan)
    pixels = np.zeros(256)
    for cid, (log_rgb, share) in rows.items():
        cols[cid] = np.exp(log_rgb) - class_colours.ClassColoursConfig().floor
        pixels[cid] = share * 4096
    # the rest of the frame: objects (not judged by class colours), and lane markings
    pixels[CLASS_IDS["building"]] = 4096 - pixels.sum()
    cols[CLASS_IDS["building"]] = 0.05
    return ColourSummary(key, "s.tar", ("train", "27", "front"), cols, pixels)


# a clean snowy_clear clip (seed 6464, scenario 27): sidewalk and terrain both snow-white,
# their shares of the frame changing with the road's layout between key frames 2 s apart
SNOW_CLIP = [
    {SKY: ((-1.06, -0.80, -0.40), 0.454), ROAD: ((-0.48, -0.43, -0.38), 0.335),
     SIDEWALK: ((-0.32, -0.27, -0.22), 0.089), TERRAIN: ((-0.36, -0.28, -0.29), 0.087)},
    {SKY: ((-1.08, -0.81, -0.40), 0.446), ROAD: ((-0.47, -0.43, -0.37), 0.301),
     SIDEWALK: ((-0.37, -0.33, -0.28), 0.071), TERRAIN: ((-0.33, -0.26, -0.25), 0.140)},
    {SKY: ((-1.12, -0.85, -0.41), 0.309), ROAD: ((-0.53, -0.49, -0.43), 0.227),
     SIDEWALK: ((-0.32, -0.28, -0.24), 0.174), TERRAIN: ((-0.33, -0.26, -0.25), 0.088)},
    {SKY: ((-1.11, -0.84, -0.41), 0.376), TERRAIN: ((-0.30, -0.24, -0.21), 0.484)},
]


def swaps(frames: list[dict]) -> list[tuple[str, str]]:
    summaries = [colours(rows, f"c{i}") for i, rows in enumerate(frames)]
    found = class_colours.judge(summaries, class_colours.ClassColoursConfig())
    return [(k, f.reason) for k, _, f in found if f.check == "class_swap"]


def test_snow_white_surfaces_changing_share_are_not_a_swap() -> None:
    assert swaps(SNOW_CLIP) == []


def test_two_surfaces_of_different_colour_swapped_are_still_found() -> None:
    clear = [{SKY: ((-1.0, -0.7, -0.3), 0.40), ROAD: ((-2.3, -2.3, -2.2), 0.30 + d),
              SIDEWALK: ((-1.6, -1.6, -1.5), 0.10), TERRAIN: ((-2.6, -1.9, -2.8), 0.20 - d)}
             for d in (0.0, 0.02, -0.02, 0.01)]
    assert swaps(clear) == []
    clear[2] = {**clear[2], ROAD: clear[2][TERRAIN], TERRAIN: clear[2][ROAD]}
    found = swaps(clear)
    assert [k for k, _ in found] == ["c2"]
    assert "'road'" in found[0][1] and "'terrain'" in found[0][1]


def test_snow_white_surfaces_swapped_with_their_shares_alone_are_not_judged() -> None:
    # under snow cover the colours cannot tell the classes apart: the share of the frame alone
    # (the view) is no evidence of a swap
    frames = [dict(rows) for rows in SNOW_CLIP[:3]]
    frames[1][SIDEWALK], frames[1][TERRAIN] = frames[1][TERRAIN], frames[1][SIDEWALK]
    assert all(k != "c1" or "'sidewalk'" not in why for k, why in swaps(frames))


def optics_frame(key: str, impulses: float, weather: dict) -> optics.OpticsSummary:
    rgb = np.full((64, 64, 3), 120, np.uint8)
    s = Decoded(key, "s.tar", rgb=rgb, seg=np.zeros((64, 64), np.uint8),
                inst=np.zeros((64, 64), np.uint16),
                meta={"scenario_id": 22, "weather": weather, "camera": {"name": "front"}})
    f = optics.summarize(s, optics.ScenarioOpticsConfig())
    assert f is not None
    f.impulses = impulses
    return f


def odd(weather: dict, key_frame_share: float) -> list[str]:
    frames = [optics_frame(f"c{i}", v, weather) for i, v in
              enumerate((0.0079, 0.0062, 0.0095, key_frame_share))]
    found = optics.judge(frames, optics.ScenarioOpticsConfig())
    return [k for k, _, f in found if f.check == "odd_pixels"]


RAIN = {"precip_type": "rain", "precip_intensity": 0.3}
DRY = {"precip_type": "none", "precip_intensity": 0.0}


def test_rain_streaks_are_particles() -> None:
    assert optics_frame("k", 0.0, RAIN).particles
    assert not optics_frame("k", 0.0, DRY).particles


def test_rain_streaks_against_a_dark_facade_are_not_odd_pixels() -> None:
    # clean light_rain clip (seed 6464, scenario 22): the key frame's streaks cross a dark
    # building, 3.28 % of the label-flat pixels; its other key frames see them against the sky
    assert odd(RAIN, 0.0328) == []
    assert odd(DRY, 0.0328) == ["c3"]  # without falling particles the same share is a defect


def test_impulse_noise_in_the_rain_is_still_found() -> None:
    assert odd(RAIN, 0.05) == ["c3"]


def engaging_van() -> dict:
    """A clean clip's key frame (seed 7777, scenario 16, 6.0 s): the van's shift 1 -> 2 ended
    (0.35 s shift time) 21 ms ago and the throttle is near full: the rear wheels spin up ahead
    of their stated (transient) slip of 0.10, the engine with them."""
    return {
        "time_s": 6.0, "vehicle": {"preset": "van"},
        "events": [{"from": 1, "time_s": 5.629167, "to": 2, "type": "gear_shift"}],
        "ego": {"accel_mps2": 0.0092, "brake": 0.0, "gear": 2, "rpm": 3023.7,
                "speed_mps": 9.19227, "throttle": 0.9588, "yaw": 1.87555,
                "velocity": [-2.7996, 8.75557, -0.0345],
                "wheel_slip": {"angle": [-0.00349, -0.00347, 0.00047, 0.00047],
                               "ratio": [-0.00066, -0.00063, 0.10148, 0.10257]}},
    }


def test_wheels_spinning_up_as_the_clutch_engages_pass() -> None:
    from datagen.qc import ego_state

    assert ego_state.powertrain(engaging_van(), ego_state.EgoConfig()) is None


def test_engine_speed_off_after_the_engagement_window_or_doubled_is_found() -> None:
    from datagen.qc import ego_state

    cfg = ego_state.EgoConfig()
    settled = engaging_van()
    settled["events"][0]["time_s"] = 5.0  # engaged 0.65 s ago: the tyre has caught up
    f = ego_state.powertrain(settled, cfg)
    assert f is not None and "lead 0.00" in f.threshold
    doubled = engaging_van()
    doubled["ego"]["rpm"] *= 2
    assert ego_state.powertrain(doubled, cfg) is not None
    kmh = engaging_van()
    kmh["ego"]["speed_mps"] *= 3.6
    assert ego_state.powertrain(kmh, cfg) is not None
