"""drivesynth view --html: the site's files against the data they show (no browser here;
tests/datagen/test_view_browser.py drives chromium)."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from view_data import generated, samples

from datagen.viewer import assets
from datagen.viewer.html import SAMPLE_FILES, build_site
from edge.cli import main


def read_js(path: Path, fn: str) -> dict:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"{fn}(") and text.endswith(");\n")
    return json.loads(text[len(fn) + 1 : -3])


def png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated(tmp_path_factory)


@pytest.fixture(scope="module")
def site(ds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    assert main(["view", str(ds), "--html", str(out)]) == 0
    return out


def test_index_has_one_record_per_sample_with_its_labels(ds: Path, site: Path) -> None:
    index = read_js(site / "data" / "index.js", "DS.index")
    decoded = samples(ds)
    assert index["samples"] == len(decoded) == 18
    for r, (shard, s) in zip(index["records"], decoded):
        assert (r["shard"], r["key"]) == (shard, s.key)
        assert r["preset"] == s.meta["weather"]["preset"]
        assert r["family"] == s.meta["weather"]["family"]
        assert r["tod"] == s.meta["weather"]["time_of_day"]
        assert r["style"] == s.meta["driver"]["style"]
        assert r["caption"] == s.txt
        assert r["qc"] == []  # no QC report in the folder
        assert all((site / r["dir"] / f).is_file() for f in SAMPLE_FILES)
    presets = [s.meta["weather"]["preset"] for _, s in decoded]
    assert index["counts"]["preset"] == {p: presets.count(p) for p in sorted(set(presets))}


def test_pictures_hold_the_sample_arrays(ds: Path, site: Path) -> None:
    shard, s = samples(ds)[4]
    folder = site / "samples" / Path(shard).stem / s.key
    assert np.array_equal(png(folder / "rgb.png"), s.rgb)
    colours = {c["id"]: c["color"] for c in s.meta["classes"]}
    sem = png(folder / "sem.png")
    for cid in np.unique(s.seg):
        assert (sem[s.seg == cid][:, :3] == colours[int(cid)]).all()
    inst = png(folder / "inst.png")
    assert np.array_equal(inst[..., 3] > 0, s.inst > 0)
    for iid in np.unique(s.inst[s.inst > 0]):
        assert (inst[s.inst == iid][:, :3] == assets.instance_colour(int(iid))).all()
    data = read_js(folder / "sample.js", "DS.sample")
    depth = png(folder / "depth.png")
    hit = s.depth > 0
    assert (depth[~hit] == 0).all()
    lut = assets.lut("turbo").astype(int)
    idx = np.argmin(((depth[hit][:, None, :].astype(int) - lut[None]) ** 2).sum(-1), axis=1)
    lo, hi = data["depth"]["lo_m"], data["depth"]["hi_m"]
    metres = np.exp(np.log(lo) + idx / 255 * (np.log(hi) - np.log(lo)))
    step = (np.log(hi) - np.log(lo)) / 255  # one colour of the scale, in log metres
    assert np.abs(np.log(metres) - np.log(s.depth[hit])).max() <= step * 0.51 + 1e-6
    assert data["depth"]["min_m"] == pytest.approx(float(s.depth[hit].min()))
    assert data["captions"] == s.meta["captions"] and data["meta"] == s.meta
    with Image.open(folder / "thumb.jpg") as thumb:
        assert thumb.size == (64, 64)


def test_box_edges_are_the_projected_corners(ds: Path, site: Path) -> None:
    shard, s = next((sh, x) for sh, x in samples(ds) if x.meta["objects"])
    data = read_js(site / "samples" / Path(shard).stem / s.key / "sample.js", "DS.sample")
    cam = s.meta["camera"]
    for o, view in zip(s.meta["objects"], data["objects"]):
        assert view["bbox2d"] == o["bbox2d"] and view["instance_id"] == o["instance_id"]
        corners = np.asarray(o["bbox3d_cam"]["corners"])
        if corners[:, 2].min() > cam["near"]:  # wholly in front: 12 unclipped edges
            u = cam["fx"] * corners[:, 0] / corners[:, 2] + cam["cx"] + 0.5
            v = cam["fy"] * corners[:, 1] / corners[:, 2] + cam["cy"] + 0.5
            assert len(view["lines3d"]) == 12
            assert view["lines3d"][0] == pytest.approx([u[0], v[0], u[1], v[1]], abs=0.01)


def test_box_edges_behind_the_camera_are_clipped_at_the_near_plane() -> None:
    camera = {"fx": 50.0, "fy": 50.0, "cx": 32.0, "cy": 31.0, "near": 0.1}
    corners = [[x, y, z] for z in (-2.0, 4.0) for x, y in ((1, 1), (1, -1), (-1, -1), (-1, 1))]
    lines = assets.box_lines(corners, camera)
    assert len(lines) == 8  # the 4 edges of the face behind the camera are gone
    assert all(np.isfinite(lines).all() for lines in [np.asarray(lines)])


def test_spectrogram_starts_at_the_first_instant_with_axes_in_seconds_and_hz() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    audio = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    img, info = assets.spectrogram(audio, rate, end_s=3.0)
    assert (info["t0_s"], info["t1_s"], info["duration_s"]) == (2.0, 3.0, 1.0)
    assert info["x0_s"] < 2.0 < 3.0 < info["x1_s"] and info["scenario_start_s"] is None
    assert info["f1_hz"] > rate / 2 and info["unit"] == "dBFS"
    floor = assets.lut("magma")[0]
    first = img[:, 0]
    assert (np.abs(first.astype(int) - floor).sum(-1) > 30).any()  # not blank at t0
    row = int(np.argmax(img[:, img.shape[1] // 2].astype(int).sum(-1)))
    freq = (img.shape[0] - 1 - row) * rate / info["nfft"]
    assert abs(freq - 1000) <= rate / info["nfft"]
    _, early = assets.spectrogram(audio, rate, end_s=0.4)
    assert early["scenario_start_s"] == 0.0


def test_second_run_keeps_unchanged_shards_and_redoes_changed_ones(ds: Path,
                                                                  tmp_path: Path) -> None:
    data = tmp_path / "ds"
    shutil.copytree(ds, data)
    out = tmp_path / "site"
    first = build_site(data, out, workers=2)  # shards in two processes
    assert (first["rebuilt"], first["kept"]) == (3, 0)
    serial = tmp_path / "serial"
    build_site(data, serial)
    assert (out / "data" / "index.js").read_bytes() == (serial / "data" / "index.js").read_bytes()
    thumb = next(out.glob("samples/train-000001/*/thumb.jpg"))
    stamp = thumb.stat().st_mtime_ns
    again = build_site(data, out)
    assert (again["rebuilt"], again["kept"]) == (0, 3)
    assert thumb.stat().st_mtime_ns == stamp
    shutil.copyfile(data / "train-000000.tar", data / "train-000002.tar")
    changed = build_site(data, out)
    assert (changed["rebuilt"], changed["kept"]) == (1, 2)
    (data / "train-000001.tar").unlink()
    build_site(data, out)
    assert not (out / "samples" / "train-000001").exists()


def test_qc_report_findings_become_a_filter(ds: Path, tmp_path: Path) -> None:
    report = tmp_path / "qc.json"
    assert main(["qc", str(ds), "--json", str(report)]) == 0
    body = json.loads(report.read_text())
    flagged = {(f["shard"], f["key"]) for f in body["findings"]}
    shard, s = samples(ds)[7]
    body["findings"].append({"key": s.key, "shard": shard, "source": "rule",
                             "check": "test_check", "reason": "made by the test"})
    report.write_text(json.dumps(body))
    out = tmp_path / "site"
    build_site(ds, out, qc=report)
    index = read_js(out / "data" / "index.js", "DS.index")
    assert index["qc_report"] == str(report)
    for r in index["records"]:
        key = (r["shard"], r["key"])
        assert ("test_check" in r["qc"]) == (key == (shard, s.key))
        assert (r["qc"] == ["none"]) == (key not in flagged and key != (shard, s.key))
    assert index["counts"]["qc"]["test_check"] == 1


def test_one_site_over_one_folder_per_split(ds: Path, tmp_path: Path) -> None:
    val = tmp_path / "val"
    assert main(["generate", "--out", str(val), "--split", "val", "--scenarios", "1",
                 "--frames", "2", "--image-size", "64", "--seed", "5", "--workers", "0",
                 "--no-progress", "--no-card"]) == 0  # fmt: skip
    (val / "qc.json").write_text(json.dumps({"findings": [
        {"shard": "val-000000.tar", "key": "00000000_front_00001", "source": "rule",
         "check": "test_check", "reason": "made by the test"}]}))
    out = tmp_path / "site"
    assert main(["view", str(ds), str(val), "--html", str(out)]) == 0
    index = read_js(out / "data" / "index.js", "DS.index")
    assert index["counts"]["split"] == {"train": 18, "val": 2}
    assert index["qc_report"] == str(val / "qc.json")
    flagged = [r["key"] for r in index["records"] if "test_check" in r["qc"]]
    assert flagged == ["00000000_front_00001"]
    assert index["counts"]["qc"] == {"none": 1, "test_check": 1, "unchecked": 18}
    assert all((out / r["dir"] / "sample.js").is_file() for r in index["records"])
    assert main(["view", str(ds), str(ds), "--html", str(tmp_path / "o")]) == 2  # same shards


def test_undecodable_sample_is_listed_as_an_error(ds: Path, tmp_path: Path) -> None:
    data = tmp_path / "ds"
    data.mkdir()
    src = ds / "train-000000.tar"
    with tarfile.open(src) as tin, tarfile.open(data / "train-000000.tar", "w") as tout:
        for m in tin:
            body = tin.extractfile(m).read()
            if m.name.startswith("00000000_front_00002.") and m.name.endswith(".json"):
                body = b"{not json"
            m.size = len(body)
            tout.addfile(m, io.BytesIO(body))
    result = build_site(data, tmp_path / "site")
    assert result["errors"] == 1
    index = read_js(tmp_path / "site" / "data" / "index.js", "DS.index")
    bad = [r for r in index["records"] if r.get("error")]
    assert [r["key"] for r in bad] == ["00000000_front_00002"] and "json" in bad[0]["error"]


def test_command_line_errors_are_one_line(ds: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    assert main(["view", str(ds)]) == 2
    assert "--html" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert main(["view", str(ds), "--html", str(busy)]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and len(err.strip().splitlines()) == 1
    assert (busy / "notes.txt").exists()
    assert main(["view", str(tmp_path / "nothing"), "--html", str(tmp_path / "o")]) == 2
    assert main(["view", str(ds), "--html", str(tmp_path / "o"), "--qc", str(busy / "x")]) == 2
