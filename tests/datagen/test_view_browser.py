"""drivesynth view --html in a real headless chromium (Debian's, installed by `make browser`):
pages load without console errors, overlays toggle, the clip plays, and screenshots show what
the data holds (pixels of overlays, boxes and depth against the decoded sample)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from view_data import generated, samples

from datagen.viewer import assets
from datagen.viewer.html import build_site

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STAGE_K = 8  # 512 px stage / 64 px frames
pytestmark = pytest.mark.slow

if not CHROMIUM.exists():
    pytest.skip("chromium is not installed: run 'make browser' (apt-get install chromium, "
                "as root)", allow_module_level=True)  # fmt: skip
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")


class Browser:
    """One chromium with an empty profile; every page records console errors."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="drivesynth-chromium-")
        self.pw = sync_api.sync_playwright().start()
        self.context = self.pw.chromium.launch_persistent_context(
            self.profile, executable_path=str(CHROMIUM), args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 1000}, device_scale_factor=1,
        )  # fmt: skip
        self.errors: list[str] = []

    def open(self, url: str, ready: str):
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        page.goto(url)
        page.wait_for_selector(ready, state="attached", timeout=20000)
        return page

    def close(self) -> None:
        self.context.close()
        self.pw.stop()
        shutil.rmtree(self.profile, ignore_errors=True)


def shot(locator) -> np.ndarray:
    with Image.open(io.BytesIO(locator.screenshot())) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def aligned(img: np.ndarray, rgb: np.ndarray) -> tuple[int, int]:
    """(dy, dx) of the frame in an element screenshot (a fractional layout position makes the
    screenshot a pixel larger than the element): the offset where the upscaled frame fits."""
    want = np.kron(rgb.astype(int), np.ones((STAGE_K, STAGE_K, 1), int))
    h, w = want.shape[:2]
    fits = {(dy, dx): np.abs(img[dy : dy + h, dx : dx + w] - want).mean()
            for dy in range(img.shape[0] - h + 1) for dx in range(img.shape[1] - w + 1)}
    return min(fits, key=fits.get)


def at(img: np.ndarray, u: float, v: float) -> np.ndarray:
    """The screenshot pixel at the centre of frame pixel (u, v)."""
    return img[int(v * STAGE_K + STAGE_K // 2), int(u * STAGE_K + STAGE_K // 2)]


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated(tmp_path_factory)


@pytest.fixture(scope="module")
def site(ds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser_site") / "site"
    build_site(ds, out, page_size=5)
    return out


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(autouse=True)
def no_console_errors(browser: Browser):
    browser.errors.clear()
    yield
    assert browser.errors == []


def sample_page(browser: Browser, site: Path, i: int):
    page = browser.open(f"{site.as_uri()}/sample.html#{i}", f"body[data-loaded='{i}']")
    page.wait_for_function("document.getElementById('rgb').complete && "
                           "document.getElementById('depth').complete")  # fmt: skip
    return page


def test_index_filters_count_and_paginate(browser: Browser, ds: Path, site: Path) -> None:
    decoded = samples(ds)
    page = browser.open((site / "index.html").as_uri(), "body[data-ready='1']")
    assert page.inner_text("#count") == f"{len(decoded)} of {len(decoded)} samples"
    assert page.locator("#grid .card").count() == 5
    assert page.inner_text("#pager-top .pos") == "page 1 of 4"
    page.click("#pager-top .next")
    assert page.locator("#grid .card").count() == 5
    assert page.inner_text("#pager-top .pos") == "page 2 of 4"
    styles = [s.meta["driver"]["style"] for _, s in decoded]
    style = styles[-1]
    option = page.locator(f"#f-style option[value='{style}']")
    assert option.inner_text() == f"{style} ({styles.count(style)})"
    page.select_option("#f-style", style)
    assert page.inner_text("#count") == f"{styles.count(style)} of {len(decoded)} samples"
    assert "style=" in page.url
    presets = {s.meta["weather"]["preset"] for _, s in decoded
               if s.meta["driver"]["style"] == style}  # fmt: skip
    enabled = page.eval_on_selector_all("#f-preset option:not([disabled])",
                                        "o => o.map(x => x.value)")  # fmt: skip
    assert set(enabled) == presets | {""}  # counts follow the other filters
    page.locator("#grid .card").first.click()
    page.wait_for_selector("body[data-loaded]", state="attached")
    assert page.inner_text("#key") == next(s.key for _, s in decoded
                                           if s.meta["driver"]["style"] == style)


def test_semantic_instance_and_box_overlays_toggle_and_show_the_labels(
    browser: Browser, ds: Path, site: Path
) -> None:
    i, (_, s) = max(enumerate(samples(ds)), key=lambda x: len(x[1][1].meta["objects"]))
    page = sample_page(browser, site, i)
    stage = page.locator("#stage")
    page.uncheck("#show-box2d")
    raw = shot(stage)
    assert raw.shape[0] - 64 * STAGE_K in (0, 1) and raw.shape[1] - 64 * STAGE_K in (0, 1)
    dy, dx = aligned(raw, s.rgb)

    def frame_shot(locator) -> np.ndarray:  # the stage's frame area only
        return shot(locator)[dy : dy + 64 * STAGE_K, dx : dx + 64 * STAGE_K]

    plain = frame_shot(stage)
    points = [(u, v) for u, v in np.random.default_rng(0).integers(0, 64, (40, 2))]
    for u, v in points:
        assert np.abs(at(plain, u, v) - s.rgb[v, u]).max() <= 2
    page.check("#show-sem")
    page.focus("#opacity")
    page.keyboard.press("End")  # opacity 1: the overlay's own colours
    sem = frame_shot(stage)
    colours = {c["id"]: c["color"] for c in s.meta["classes"]}
    for u, v in points:
        assert np.abs(at(sem, u, v) - colours[int(s.seg[v, u])]).max() <= 2
    page.uncheck("#show-sem")
    page.check("#show-inst")
    inst = frame_shot(stage)
    vs, us = np.nonzero(s.inst)
    for u, v in list(zip(us, vs))[:: max(1, len(us) // 25)] + points:
        want = assets.instance_colour(int(s.inst[v, u])) if s.inst[v, u] else s.rgb[v, u]
        assert np.abs(at(inst, u, v) - np.asarray(want)).max() <= 2
    page.uncheck("#show-inst")
    assert np.abs(frame_shot(stage) - plain).max() <= 2  # every overlay off again
    # 2D boxes: the stroke lies on the box's left edge, in the box colour
    page.check("#show-box2d")
    boxed = frame_shot(stage)
    objects = s.meta["objects"]
    view = {o["instance_id"]: o for o in page.evaluate("DS.current.objects")}
    checked = 0
    for o in sorted(objects, key=lambda o: -(o["bbox2d"][3] - o["bbox2d"][1])):
        x0, y0, x1, y1 = o["bbox2d"]
        if x0 == 0 or y1 - y0 < 2:
            continue
        sx, sy = x0 * STAGE_K, int((y0 + y1) / 2 * STAGE_K)
        others = [p["bbox2d"] for p in objects if p is not o]
        if any(abs(b[0] * STAGE_K - sx) <= 2 or abs(b[2] * STAGE_K - sx) <= 2 or
               b[0] * STAGE_K - 2 <= sx <= b[2] * STAGE_K + 2 and
               (abs(b[1] * STAGE_K - sy) <= 2 or abs(b[3] * STAGE_K - sy) <= 2) for b in others):
            continue  # another box's stroke passes here
        assert np.abs(boxed[sy, sx] - view[o["instance_id"]]["box_color"]).max() <= 2
        assert np.abs(plain[sy, sx] - s.rgb[sy // STAGE_K, sx // STAGE_K]).max() <= 2
        checked += 1
    assert checked >= 1
    changed = np.abs(boxed - plain).max(-1) > 2
    assert changed.sum() > 0
    page.check("#show-box3d")
    with3d = frame_shot(stage)
    assert (np.abs(with3d - boxed).max(-1) > 2).sum() > 0
    page.uncheck("#show-box3d")
    page.uncheck("#show-box2d")
    assert np.abs(frame_shot(stage) - plain).max() <= 2


def test_depth_picture_reads_back_to_metres_on_its_scale(browser: Browser, ds: Path,
                                                         site: Path) -> None:  # fmt: skip
    i, (_, s) = 3, samples(ds)[3]
    page = sample_page(browser, site, i)
    img = shot(page.locator("#depth"))
    lo, hi = (float(page.get_attribute("#depth-scale", f"data-{k}")) for k in ("lo", "hi"))
    ticks = page.eval_on_selector_all("#depth-scale text", "t => t.map(x => x.textContent)")
    assert "z-depth (m), log scale" in ticks and str(int(hi)) in ticks
    lut = assets.lut("turbo").astype(int)
    step = (np.log(hi) - np.log(lo)) / 255
    for v, u in np.random.default_rng(1).integers(0, 64, (60, 2)):
        pixel = at(img, u, v)
        if s.depth[v, u] == 0:
            assert pixel.max() <= 2  # black: no hit
            continue
        entry = int(np.argmin(((lut - pixel) ** 2).sum(-1)))
        metres = np.exp(np.log(lo) + entry * step)
        assert abs(np.log(metres) - np.log(s.depth[v, u])) <= 1.5 * step


def test_clip_plays_with_a_spectrogram_with_units(browser: Browser, ds: Path, site: Path) -> None:
    decoded = samples(ds)
    i = next(k for k, (_, s) in enumerate(decoded) if s.meta["time_s"] >= 1.0)
    s = decoded[i][1]
    page = sample_page(browser, site, i)
    labels = page.eval_on_selector_all("#spectrogram text", "t => t.map(x => x.textContent)")
    assert {"time in the scenario (s)", "frequency (kHz)", "dBFS", "0", "8"} <= set(labels)
    t0, t1 = s.meta["time_s"] - 1.0, s.meta["time_s"]
    assert f"{t0:.1f}" in labels and f"{t1:.1f}" in labels
    assert "before the scenario starts" not in labels  # the whole clip is in the scenario
    page.wait_for_function("document.getElementById('audio').readyState >= 2")
    spec = page.locator("#spec-img")
    box = spec.bounding_box()
    img = shot(page.locator("#spectrogram"))
    sx = int(box["x"] - page.locator("#spectrogram").bounding_box()["x"]) + 1
    floor = assets.lut("magma")[0].astype(int)
    column = img[int(box["height"] * 0.2): int(box["height"]), sx]
    assert (np.abs(column - floor).sum(-1) > 60).mean() > 0.5  # sound from the first instant
    page.click("#play-audio")
    page.wait_for_function("(() => { const a = document.getElementById('audio');"
                           " return !a.paused && a.currentTime > 0.2; })()")  # fmt: skip
    assert page.get_attribute("#playhead", "visibility") == "visible"
    duration = page.evaluate("document.getElementById('audio').duration")
    assert duration == pytest.approx(1.0, abs=0.01)


def test_captions_events_and_json_are_whole(browser: Browser, ds: Path, site: Path) -> None:
    i, (_, s) = 0, samples(ds)[0]
    page = sample_page(browser, site, i)
    items = page.eval_on_selector_all("#captions li", "l => l.map(x => x.textContent)")
    assert len(items) == len(s.meta["captions"]) >= 2
    for item, c in zip(items, s.meta["captions"]):
        assert item == c["family"] + c["text"]
    assert json.loads(page.inner_text("#json")) == s.meta
    labels = page.eval_on_selector_all("#spectrogram text", "t => t.map(x => x.textContent)")
    assert "before the scenario starts" in labels  # frame 0's clip reaches before t = 0
    rows = page.locator("#objects tr").count()
    assert rows == len(s.meta["objects"]) + 1


def test_a_scenario_plays_as_a_sequence(browser: Browser, ds: Path, site: Path) -> None:
    decoded = samples(ds)
    frames = [k for k, (_, s) in enumerate(decoded) if s.meta["scenario_id"] == 1]
    page = sample_page(browser, site, frames[0])
    page.click("#seq-next")
    page.wait_for_selector(f"body[data-loaded='{frames[1]}']", state="attached")
    assert page.inner_text("#key") == decoded[frames[1]][1].key
    page.click("#seq-play")
    page.wait_for_selector(f"body[data-loaded='{frames[-1]}']", state="attached", timeout=10000)
    page.wait_for_function("document.getElementById('seq-play').textContent.includes('play')")
    assert page.is_disabled("#seq-next")


def test_qc_filter_shows_the_flagged_samples(browser: Browser, ds: Path, tmp_path: Path) -> None:
    decoded = samples(ds)
    flagged = {decoded[2][1].key, decoded[9][1].key}
    report = {"samples": len(decoded), "shards": 3, "flagged": 2, "by_check": {},
              "findings": [{"key": decoded[k][1].key, "shard": decoded[k][0], "source": "rule",
                            "check": "black_frame", "reason": "test"} for k in (2, 9)]}
    (tmp_path / "qc.json").write_text(json.dumps(report))
    out = tmp_path / "site"
    build_site(ds, out, qc=tmp_path / "qc.json")
    page = browser.open((out / "index.html").as_uri(), "body[data-ready='1']")
    assert page.inner_text("#f-qc option[value='black_frame']") == "black_frame (2)"
    page.select_option("#f-qc", "black_frame")
    keys = page.eval_on_selector_all("#grid .card .k", "k => k.map(x => x.textContent)")
    assert {k.split(" ")[1] for k in keys} == flagged
    page.select_option("#f-qc", "none")
    assert page.inner_text("#count") == f"{len(decoded) - 2} of {len(decoded)} samples"


def test_ten_thousand_samples_stay_responsive(browser: Browser, site: Path,
                                              tmp_path: Path) -> None:  # fmt: skip
    """A synthetic index of 10 000 records (the real samples' assets, repeated, with varied
    labels): page load, a filter change and a page turn, timed in the browser."""
    big = tmp_path / "big"
    shutil.copytree(site, big)
    text = (site / "data" / "index.js").read_text()
    payload = json.loads(text[len("DS.index("):-3])
    base = payload["records"]
    rng = np.random.default_rng(0)
    presets = [f"preset_{k}" for k in range(26)]
    records = []
    for n in range(10_000):
        r = dict(base[n % len(base)])
        r.update(preset=presets[rng.integers(26)],  # key and dir: a real sample's
                 split=("train", "val", "test")[n % 3], events=["skid"] if n % 7 == 0 else [])
        records.append(r)
    from datagen.viewer.html import index_payload, write_index

    write_index(big, index_payload(big, records, None, 120))
    size_mb = (big / "data" / "index.js").stat().st_size / 1e6
    nav_mb = (big / "data" / "nav.js").stat().st_size / 1e6
    start = time.perf_counter()
    page = browser.open((big / "index.html").as_uri(), "body[data-ready='1']")
    load_s = time.perf_counter() - start
    render_ms = page.evaluate("DS.indexRenderMs")
    assert page.inner_text("#count") == "10000 of 10000 samples"
    assert page.locator("#grid img").count() == 120
    filter_ms = page.evaluate("""() => {
        const t0 = performance.now();
        const sel = document.getElementById('f-split');
        sel.value = 'val'; sel.dispatchEvent(new Event('change'));
        return performance.now() - t0; }""")
    assert page.inner_text("#count") == f"{len(range(1, 10_000, 3))} of 10000 samples"
    turn_ms = page.evaluate("""() => { const t0 = performance.now();
        document.querySelector('#pager-top .next').click(); return performance.now() - t0; }""")
    start = time.perf_counter()
    sample_page(browser, big, 9_999)
    sample_s = time.perf_counter() - start
    print(f"10k index: {size_mb:.1f} MB (sample page's nav {nav_mb:.1f} MB), page load "
          f"{load_s * 1000:.0f} ms (render "
          f"{render_ms:.0f} ms), filter {filter_ms:.0f} ms, page turn {turn_ms:.0f} ms, "
          f"sample page {sample_s * 1000:.0f} ms")
    # bounds with room for a loaded 2-core CI machine; drawing all 10 000 cards, or one
    # image per record, would take several seconds
    assert load_s < 8.0 and render_ms < 1500 and filter_ms < 1000 and turn_ms < 1000
    assert sample_s < 8.0
