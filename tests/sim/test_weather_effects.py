"""Weather effects on real PyBullet renders: fog physics, light, determinism, labels."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.classes import class_id
from sim.seeding import rng_for
from sim.weather.color import luminance, srgb_to_linear
from sim.weather.demo_scene import render_demo_frame
from sim.weather.effects import EgoMotion, apply_weather
from sim.weather.geometry import frame_geometry
from sim.weather.grid import weather_grid
from sim.weather.lighting import convection, illumination_rgb, lighting_for
from sim.weather.optics import airlight_rgb, extinction_coefficient
from sim.weather.presets import PRESETS, get_preset


@pytest.fixture(scope="module")
def frame():
    return render_demo_frame(160, 120)


def _apply(frame, params, seed=0, ego=None):
    return apply_weather(
        frame.rgb, frame.depth, frame.seg, frame.camera, params, rng_for(seed, "weather", 0), ego
    )


def _rms_contrast(rgb: np.ndarray, mask: np.ndarray) -> float:
    """RMS contrast (std / mean of linear luminance) over the pixels in ``mask``."""
    y = luminance(srgb_to_linear(rgb))[mask]
    return float(y.std() / y.mean())


def test_contrast_falls_monotonically_with_fog_density(frame):
    base = get_preset("clear_noon")
    scene = frame.depth > 0  # the sky turns into airlight at once; measure the scene
    contrasts = [
        _rms_contrast(_apply(frame, base.replace(fog_density=d)), scene)
        for d in (0.0, 0.05, 0.15, 0.3, 0.6, 1.0)
    ]
    assert all(a > b for a, b in zip(contrasts, contrasts[1:])), contrasts
    assert contrasts[-1] < 0.6 * contrasts[0]


def test_attenuation_at_known_depth_matches_koschmieder_formula(frame):
    params = get_preset("clear_noon").replace(fog_density=0.3)
    out = srgb_to_linear(_apply(frame, params))
    geom = frame_geometry(frame.camera, frame.depth)
    beta = extinction_coefficient(params)
    illum = illumination_rgb(params)
    j = srgb_to_linear(frame.rgb) * illum
    a = airlight_rgb(params) * illum
    for cls, (near, far) in (("building", (25.0, 40.0)), ("road", (8.0, 12.0))):
        sel = (frame.seg == class_id(cls)) & (geom.distance > near) & (geom.distance < far)
        assert sel.sum() > 20
        t = np.exp(-beta * geom.distance[sel])[:, None]
        expected = j[sel] * t + a * (1.0 - t)
        assert np.abs(out[sel] - expected).mean() < 0.004
        assert np.abs(out[sel] - j[sel]).mean() > 0.05  # the fog did change these pixels


def test_fog_falloff_clears_the_upper_sky(frame):
    params = get_preset("clear_noon").replace(fog_density=0.6)
    flat = luminance(srgb_to_linear(_apply(frame, params)))
    shallow = luminance(srgb_to_linear(_apply(frame, params.replace(fog_falloff=0.5))))
    sky_top = frame.seg[:5] == class_id("sky")
    assert sky_top.any()
    # homogeneous fog: the sky is pure airlight; shallow ground fog lets the blue sky through
    blue_share = srgb_to_linear(_apply(frame, params.replace(fog_falloff=0.5)))[:5][sky_top]
    assert (blue_share[:, 2] - blue_share[:, 0]).mean() > 0.1
    assert not np.allclose(flat[:5], shallow[:5])


def test_night_frames_are_darker_than_noon(frame):
    noon, night = get_preset("clear_noon"), get_preset("clear_night")
    noon_rgb = render_demo_frame(160, 120, lighting_for(noon))
    night_rgb = render_demo_frame(160, 120, lighting_for(night))
    y_noon = luminance(srgb_to_linear(_apply(noon_rgb, noon))).mean()
    y_night = luminance(srgb_to_linear(_apply(night_rgb, night))).mean()
    assert y_night < 0.25 * y_noon
    dusk = luminance(srgb_to_linear(_apply(frame, get_preset("clear_dusk")))).mean()
    assert y_night < dusk < y_noon


def test_thunderstorm_cloud_is_darker_than_a_steady_rain(frame):
    """A cumulonimbus (lightning under full cloud) dims scene and sky below a rain deck with
    the same sun and precipitation; without lightning (a dry gale) nothing changes."""
    rain = get_preset("heavy_rain").replace(wind_speed_mps=12.0)
    storm = rain.replace(lightning_rate_per_min=4.0)
    sky = frame.seg == class_id("sky")
    y_rain = luminance(srgb_to_linear(_apply(frame, rain)))
    y_storm = luminance(srgb_to_linear(_apply(frame, storm)))
    assert y_storm[~sky].mean() < 0.8 * y_rain[~sky].mean()
    assert y_storm[sky].mean() < 0.8 * y_rain[sky].mean()
    assert convection(rain) == 0.0 and convection(storm) == 1.0
    assert convection(storm.replace(lightning_rate_per_min=1.0)) == pytest.approx(0.5)
    assert convection(storm.replace(cloudiness=0.0)) == 0.0
    assert convection(get_preset("gale")) == 0.0  # a storm by its wind only


def test_headlights_light_near_pixels_more_than_far_ones(frame):
    out = luminance(srgb_to_linear(_apply(frame, get_preset("clear_night"))))
    geom = frame_geometry(frame.camera, frame.depth)
    road = frame.seg == class_id("road")
    cols = slice(60, 100)  # in the beam
    near = road[:, cols] & (geom.distance[:, cols] < 8)
    far = road[:, cols] & (geom.distance[:, cols] > 25)
    assert out[:, cols][near].mean() > 2.0 * out[:, cols][far].mean()


@pytest.mark.slow
def test_all_presets_apply_and_never_change_labels(frame):
    depth, seg, camera = frame.depth.copy(), frame.seg.copy(), copy.deepcopy(frame.camera)
    rgb = frame.rgb.copy()
    for name, params in PRESETS.items():
        out = _apply(frame, params, ego=EgoMotion(20.0, 0.1))
        assert out.shape == rgb.shape and out.dtype == np.uint8, name
        np.testing.assert_array_equal(frame.depth, depth)
        np.testing.assert_array_equal(frame.seg, seg)
        np.testing.assert_array_equal(frame.rgb, rgb)
        assert frame.camera == camera
        if name != "clear_noon":
            assert not np.array_equal(out, _apply(frame, get_preset("clear_noon"))), name


def test_same_seed_gives_identical_pixels(frame):
    for name in ("heavy_rain", "blizzard", "thunderstorm_night"):
        params = get_preset(name)
        a = _apply(frame, params, seed=5, ego={"speed_mps": 12.0, "yaw_rate": 0.2})
        b = _apply(frame, params, seed=5, ego={"speed_mps": 12.0, "yaw_rate": 0.2})
        c = _apply(frame, params, seed=6, ego={"speed_mps": 12.0, "yaw_rate": 0.2})
        assert a.tobytes() == b.tobytes()
        assert a.tobytes() != c.tobytes()


def test_rain_streaks_are_hidden_behind_near_geometry(frame):
    params = get_preset("heavy_rain").replace(fog_density=0.0)
    dry = params.replace(precip_intensity=0.001)
    rain = srgb_to_linear(_apply(frame, params, seed=1)).astype(np.float64)
    ref = srgb_to_linear(_apply(frame, dry, seed=1)).astype(np.float64)
    changed = np.abs(rain - ref).max(axis=-1) > 0.02
    geom = frame_geometry(frame.camera, frame.depth)
    # particles live in 0.4..15 m: pixels of surfaces closer than that see fewer streaks
    near = geom.hit & (frame.depth < 3.0)
    far = ~geom.hit | (frame.depth > 20.0)
    assert changed[far].mean() > changed[near].mean()


def test_snow_cover_whitens_the_ground(frame):
    params = get_preset("snowy_clear")
    snowy = srgb_to_linear(_apply(frame, params))
    clear = srgb_to_linear(_apply(frame, params.replace(snow_cover=0.0, ice=0.0)))
    terrain = frame.seg == class_id("terrain")
    sky = frame.seg == class_id("sky")
    assert luminance(snowy)[terrain].mean() > 2.0 * luminance(clear)[terrain].mean()
    np.testing.assert_allclose(snowy[sky], clear[sky], atol=0.02)


def test_wet_road_is_darker_away_from_glare(frame):
    wet = get_preset("clear_noon").replace(road_wetness=1.0)
    out = luminance(srgb_to_linear(_apply(frame, wet)))
    dry = luminance(srgb_to_linear(_apply(frame, get_preset("clear_noon"))))
    geom = frame_geometry(frame.camera, frame.depth)
    road_near = (frame.seg == class_id("road")) & (geom.distance < 6)
    road_far = (frame.seg == class_id("road")) & (geom.distance > 40)
    assert out[road_near].mean() < 0.8 * dry[road_near].mean()  # steep view: darker
    assert out[road_far].mean() > dry[road_far].mean()  # grazing view: Fresnel sheen


def test_bad_inputs_are_rejected(frame):
    params = get_preset("clear_noon")
    with pytest.raises(ValueError, match="must match rgb"):
        apply_weather(frame.rgb, frame.depth[:10], frame.seg, frame.camera, params, rng_for(0, "w"))
    with pytest.raises(ValueError, match="camera is"):
        apply_weather(
            frame.rgb,
            frame.depth,
            frame.seg,
            {**frame.camera, "width": 999},
            params,
            rng_for(0, "w"),
        )
    with pytest.raises(ValueError, match="EgoMotion.speed_mps"):
        _apply(frame, params, ego=EgoMotion(-1.0))


def test_weather_grid_tiles_every_preset(frame):
    names = ["clear_noon", "dense_fog", "clear_night"]
    grid = weather_grid(frame.rgb, frame.depth, frame.seg, frame.camera, names, columns=2)
    assert grid.shape == (2 * 120, 2 * 160, 3)
    with pytest.raises(ValueError, match="unknown weather preset"):
        weather_grid(frame.rgb, frame.depth, frame.seg, frame.camera, ["nope"])


@pytest.mark.parametrize("preset", ["heavy_rain", "blizzard", "hail_storm"])
def test_compiled_particles_match_the_numpy_splat(frame, preset, monkeypatch):
    """With numba the particles are splatted by a compiled loop; it must draw what the numpy
    code draws (to rounding of the coverage sums: the same uint8 pixels here)."""
    from sim import jit

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: only the numpy splat runs")
    params = get_preset(preset)
    ego = EgoMotion(20.0, 0.3)
    compiled = _apply(frame, params, seed=3, ego=ego)
    monkeypatch.setattr(jit, "AVAILABLE", False)
    reference = _apply(frame, params, seed=3, ego=ego)
    assert np.abs(compiled.astype(int) - reference).max() <= 1
    assert (compiled != reference).mean() < 1e-3


def test_lamp_glow_and_lamp_search_match_their_whole_image_definitions(frame):
    """The glow computed only within GLOW_COS_MIN of each lamp, and lamps searched within
    each pole region's box, give exactly the numbers of the whole-image computation."""
    from scipy import ndimage

    from sim.weather import lighting
    from sim.weather.effects import _lamp_glow

    geom = frame_geometry(frame.camera, frame.depth.astype(np.float32))
    h, w = frame.depth.shape
    lin = srgb_to_linear(frame.rgb)
    rng = np.random.default_rng(3)
    # lamps (as lamp_positions places them: 0.2 m above a point) at seen points, in front of
    # and behind the camera
    seen = np.argwhere(geom.hit)[[0, len(np.argwhere(geom.hit)) // 2, -1]]
    lamps = np.concatenate([geom.points[seen[:, 0], seen[:, 1]], rng.normal(0, 5, (3, 3))])
    lamps = (lamps + np.array([0.0, -0.2, 0.0])).astype(np.float32)
    for on in (0.2, 1.0):
        want = lin.copy()
        for lamp in lamps:
            d = lamp / np.linalg.norm(lamp)
            halo = np.clip((geom.rays.reshape(-1, 3) @ d).reshape(h, w), 0.0, 1.0) ** 4000 * 40 * on
            want += halo[..., None] * lighting.STREETLAMP_COLOR / max(on, 1e-3) / 30.0
        got = _lamp_glow(lin, lamps, geom, on)
        assert not np.array_equal(got, lin)  # some glow was drawn
        np.testing.assert_array_equal(got, want)
    mask = np.zeros((h, w), bool)
    for r0, c0 in ((10, 10), (40, 90), (70, 30)):
        mask[r0 : r0 + 30, c0 : c0 + 2 + r0 % 3] = True
    mask[0:3, 0:3] = True  # too small to be a lamp
    labels, count = ndimage.label(mask)
    want = []
    for idx in range(1, count + 1):
        rows, cols = np.nonzero(labels == idx)
        if rows.size >= 20:
            top = rows.min()
            col = int(np.round(cols[rows == top].mean()))
            want.append(geom.points[top, col] + np.array([0.0, -0.2, 0.0]))
    got = lighting.lamp_positions(geom.points, mask)
    assert len(got) == 3
    np.testing.assert_array_equal(got, np.asarray(want, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_sky_gives_the_numpy_sky_bit_for_bit(dtype):
    from sim import jit
    from sim.weather.sky import reflected_sky, sky_radiance, sky_radiance_numpy

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: the numpy sky is the only one")
    rng = np.random.default_rng(7)
    rays = rng.normal(size=(40, 50, 3))
    rays = (rays / np.linalg.norm(rays, axis=-1, keepdims=True)).astype(dtype)
    for name in PRESETS:
        params = get_preset(name)
        got, want = sky_radiance(params, rays), sky_radiance_numpy(params, rays)
        assert got.dtype == want.dtype == np.float32
        _same_float32(got, want, name)
        mirrored = rays * np.array([1.0, 1.0, -1.0], dtype=np.float32)
        want = sky_radiance_numpy(params, mirrored)
        _same_float32(reflected_sky(params, rays), want, name)


def _same_float32(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    """The compiled pass gives numpy's floats: bit for bit where numpy's float32 exp / pow are
    libm's (the AVX2 development CPU), within NUMPY_SIMD_ULP elsewhere (numpy's own AVX-512
    float32 math differs from libm's by an ulp or two)."""
    if not np.array_equal(got, want):
        assert got.shape == want.shape, what
        np.testing.assert_array_max_ulp(got, want, maxulp=NUMPY_SIMD_ULP)


NUMPY_SIMD_ULP = 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_srgb_encoding_gives_the_numpy_bytes(dtype):
    """Every value the same byte, near the linear/power knee and at the rounding halves too
    (every float32 in [0, 1] was checked once on the AVX2 development CPU: 0 mismatches); where
    numpy's float32 pow is its own AVX-512 code, values within an ulp of a rounding half may
    round the other way: one level, at those values only."""
    from sim import jit
    from sim.weather.color import linear_to_srgb, linear_to_srgb_numpy

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: the numpy encoding is the only one")
    rng = np.random.default_rng(5)
    halves = (np.arange(256) + 0.5) / 255.0  # sRGB values where rounding flips
    inverse = np.where(halves <= 0.04045, halves / 12.92, ((halves + 0.055) / 1.055) ** 2.4)
    x = np.concatenate([rng.uniform(-0.2, 1.3, 300_000), rng.uniform(0.00312, 0.00314, 10_000),
                        np.repeat(inverse, 41) * (1 + np.tile(np.linspace(-1e-6, 1e-6, 41), 256)),
                        [0.0, -0.0, 1.0, np.inf, -np.inf, 0.5]]).astype(dtype)  # fmt: skip
    got = linear_to_srgb(x.reshape(-1, 6, 1))
    assert got.dtype == np.uint8 and got.shape == (len(x) // 6, 6, 1)
    want = linear_to_srgb_numpy(x)
    off = got.reshape(-1).astype(int) - want.astype(int)
    assert np.abs(off).max() <= 1
    near_half = np.abs(np.float64(255.0) * want_srgb_float(x) % 1.0 - 0.5) < 1e-4
    assert not np.any(off[~near_half]), "bytes differ away from the rounding halves"


def test_compiled_lamp_light_gives_the_numpy_light_bit_for_bit(frame):
    from sim import jit
    from sim.weather.lamp_light import lamp_light, lamp_light_numpy

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: the numpy light is the only one")
    geom = frame_geometry(frame.camera, frame.depth.astype(np.float32))
    rng = np.random.default_rng(11)
    seen = np.argwhere(geom.hit)
    valid = geom.hit & (rng.random(geom.hit.shape) < 0.9)
    street_lit = geom.hit & (rng.random(geom.hit.shape) < 0.8)
    for count in (0, 1, 3):
        rows = seen[rng.integers(len(seen), size=count)]
        lamps = (geom.points[rows[:, 0], rows[:, 1]] + [0.0, -0.2, 0.0]).astype(np.float32)
        for name in ("clear_night", "hazy_dusk"):
            params = get_preset(name)
            illum, on = illumination_rgb(params), float(max(lighting_for(params).lamps, 0.3))
            got = lamp_light(geom.points, valid, street_lit, lamps, illum, on)
            want = lamp_light_numpy(geom.points, valid, street_lit, lamps, illum, on)
            assert got.dtype == want.dtype == np.float32
            assert np.any(got != illum)  # the lamps lit something
            _same_float32(got, want, name)


def test_compiled_atmosphere_gives_the_numpy_scattering_bit_for_bit(frame):
    from sim import jit
    from sim.weather.atmosphere import atmosphere, atmosphere_numpy

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: the numpy scattering is the only one")
    geom = frame_geometry(frame.camera, frame.depth.astype(np.float32))
    assert (~geom.hit).any() and geom.hit.any()  # sky and ground rays both
    lin = srgb_to_linear(frame.rgb)
    for name in PRESETS:  # fog with and without height falloff, dust, clear air
        params = get_preset(name)
        light = illumination_rgb(params)
        for height in (geom.cam_height, -1.0, 40.0):
            got = atmosphere(lin, geom.distance, geom.sin_elev, height, params, light)
            want = atmosphere_numpy(lin, geom.distance, geom.sin_elev, height, params, light)
            assert got.dtype == want.dtype == np.float32
            np.testing.assert_array_equal(got, want, err_msg=f"{name} at {height} m")


def test_compiled_coverage_mask_gives_the_numpy_mask_bit_for_bit():
    from sim import jit
    from sim.weather.ground import coverage_mask, coverage_mask_numpy

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: the numpy mask is the only one")
    rng = np.random.default_rng(13)
    far = rng.uniform(-1e5, 1e5, (5_000, 2))
    near = [rng.uniform(-500, 500, (20_000, 2)), rng.uniform(-3, 3, (5_000, 2))]
    xy = np.concatenate([*near, far, [[0.0, 0.0], [-0.0, 3.0]]])
    covered = []
    for fraction, cell, salt in ((0.1, 3.0, 23), (0.5, 4.0, 37), (1.0, 2.5, 11)):
        got = coverage_mask(xy, fraction, cell, salt)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, coverage_mask_numpy(xy, fraction, cell, salt))
        covered.append(float(np.mean(got > 0.5)))
    assert covered[0] < covered[1] < covered[2]  # the fraction steers the coverage


def test_compiled_hit_points_give_the_numpy_points_bit_for_bit(frame):
    from sim import jit
    from sim.weather.geometry import hit_points, hit_points_numpy, pixel_rays

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: the numpy points are the only ones")
    cam = frame.camera
    raw, norm, _ = pixel_rays(cam["width"], cam["height"], cam["cx"], cam["cy"], cam["fx"],
                              cam["fy"])  # fmt: skip
    depth = frame.depth.astype(np.float32)
    depth[:3, :3] = [[-1.0, np.nan, 0.0], [1e-30, 250.0, np.inf], [0.5, 2.0, 3.0]]
    got, want = hit_points(raw, norm, depth), hit_points_numpy(raw, norm, depth)
    assert (depth == 0).any() and (depth > 0).any()
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == np.float32
        np.testing.assert_array_equal(g, w)


def test_compiled_surface_normals_give_the_numpy_normals_bit_for_bit(frame):
    from sim import jit
    from sim.weather.geometry import frame_geometry
    from sim.weather.ground import _surface_normals, surface_normals_numpy, upward_facing

    if not jit.AVAILABLE:
        pytest.skip("numba is not installed: the numpy normals are the only ones")
    geom = frame_geometry(frame.camera, frame.depth.astype(np.float32))
    rng = np.random.default_rng(5)
    scale = np.float32(10.0) ** rng.integers(-25, 25, (9, 11, 3)).astype(np.float32)
    odd = rng.normal(size=(9, 11, 3)).astype(np.float32) * scale  # overflow, underflow
    odd[0, 0] = odd[4, :] = 0.0
    odd[-1] = odd[-2]  # zero-length normals at the border
    cases = [(geom.points, geom.rays), (odd, rng.normal(size=(9, 11, 3)).astype(np.float32)),
             (geom.points[:2, :2], geom.rays[:2, :2])]  # fmt: skip
    with np.errstate(all="ignore"):
        for p, rays in cases:
            want = surface_normals_numpy(p, rays)
            got = np.empty(p.shape, dtype=np.float32)
            _surface_normals(np.ascontiguousarray(p), np.ascontiguousarray(rays), got)
            assert want.dtype == np.float32
            nan = np.isnan(want)  # (NaN's sign bit may differ: no operation reads it)
            np.testing.assert_array_equal(np.isnan(got), nan)
            np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))
    up = upward_facing(geom)
    assert up.shape == geom.distance.shape and 0.0 <= up.min() and up.max() <= 1.0


def want_srgb_float(x: np.ndarray) -> np.ndarray:
    """The sRGB value of each linear ``x`` in float64, clipped to [0, 1]."""
    v = np.clip(np.nan_to_num(np.asarray(x, np.float64), posinf=1.0, neginf=0.0), 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)
