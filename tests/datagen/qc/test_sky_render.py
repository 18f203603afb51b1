"""QC round 8 (issue 20): the sky pixels against the simulator's sky re-rendered from the
json (``sky_render``). The frames of real generated scenarios (dry and rainy) pass; the same
frames with the image changed here after rendering (a shade band along the top, a glow from
a corner, a bright scratch line, white balance gains, a mirrored image) are flagged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from qc_samples import build_samples

from datagen.qc import rules, sky_render
from datagen.qc.shardio import Decoded


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[Decoded]:
    """Two real scenarios, clear noon and light rain: 3 frames each at 32 px."""
    root = tmp_path_factory.mktemp("sky_render")
    found = build_samples(root, [{"weather": w, "seed": s, "split": w}
                                  for w, s in (("clear_noon", 91), ("light_rain", 92))],
                          frames=3, image_size=32)
    assert len(found) == 6
    return found


def checks(s: Decoded) -> list[str]:
    return [f.check for f in sky_render.check(s, sky_render.SkyRenderConfig())]


def sky_share(s: Decoded) -> float:
    found = sky_render.rendered_sky(s)
    return 0.0 if found is None else float(found[1].mean())


def test_clean_frames_pass(frames: list[Decoded]) -> None:
    assert {s.meta["weather"]["preset"] for s in frames} == {"clear_noon", "light_rain"}
    for s in frames:
        assert sky_share(s) > 0.05, s.key
        assert checks(s) == [], s.key
        assert [f for f in rules.check(s, rules.RuleConfig()) if f.check == "sky_render"] == []


def _shade(img: np.ndarray) -> np.ndarray:
    out = img.astype(np.float64)
    out[: img.shape[0] // 4] *= 0.8
    return out


def _glow(img: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return img + 20.0 * np.exp(-np.hypot(yy, xx) / 8.0)[..., None] * np.array([1.0, 0.4, 0.8])


def _scratch(img: np.ndarray) -> np.ndarray:
    out = img.astype(np.float64)
    for y in range(img.shape[0]):
        out[y, (y + 3) % img.shape[1]] += 25.0
        out[y, (y + 4) % img.shape[1]] += 25.0
    return out


def _white_balance(img: np.ndarray) -> np.ndarray:
    return img * np.array([1.08, 1.0, 0.93])


def _mirrored(img: np.ndarray) -> np.ndarray:
    return img[:, ::-1].astype(np.float64)


CHANGES = {"shade_band": _shade, "corner_glow": _glow, "scratch": _scratch,
           "white_balance": _white_balance, "mirrored": _mirrored}  # fmt: skip


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_image_changed_after_rendering_is_flagged(frames: list[Decoded], change: str) -> None:
    for s in frames:
        rgb = np.clip(np.round(CHANGES[change](s.rgb)), 0, 255).astype(np.uint8)
        if change == "mirrored" and np.abs(rgb.astype(int) - s.rgb.astype(int)).max() < 8:
            continue  # a symmetric view
        assert checks(replace(s, rgb=rgb)) == ["sky_render"], s.key


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="max_share_wet"):
        sky_render.SkyRenderConfig(max_share_wet=1.5)
    with pytest.raises(ValueError, match="tol_dn"):
        sky_render.SkyRenderConfig(tol_dn=0)
