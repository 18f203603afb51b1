"""Feedback for clip bundles (issues 23 and 25): a clip the board was unsure of goes back as
the shard schema stores clips (``frames.npy.gz``, the frames the bundle read, beside its key
frame, sound and json), within the same budget and atomicity rules; ``--inputs`` and ``edge
watch`` take folders of clips; ``generate --focus`` and ``edge plan`` read the shards. Tiny
hand-made clip bundle (tinybundle.py), as test_clip_runtime.py builds it."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from test_clip_runtime import T, _animation, _folder, _frames
from test_clip_runtime import clip_bundle as clip_bundle  # noqa: F401 - the module fixture
from tinybundle import make_bundle

from edge.cli import main
from edge.runtime.feedback import FRAMES_FILE, encode_frames, folder_bytes
from edge.runtime.video import sample_indices

REPO = Path(__file__).resolve().parents[2]
ALL = ("--min-score", "1")  # every task's top-1 is below 1: every input is flagged


def _noise(n: int, seed: int, size: tuple[int, int] = (24, 32)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


def _sound(path: Path, seed: int = 0) -> Path:
    wave = (0.1 * np.random.default_rng(seed).standard_normal(16000)).astype(np.float32)
    sf.write(path, wave, 16000, subtype="PCM_16")
    return path


def _run(capfd, *argv: str) -> tuple[int, dict | None, list[str]]:
    capfd.readouterr()
    code = main(["edge", "run", *argv])
    out, err = capfd.readouterr()
    return code, (json.loads(out) if out.strip() else None), err.strip().splitlines()


def _members(shard: Path) -> dict[str, bytes]:
    with tarfile.open(shard) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def _npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(gzip.decompress(data)), allow_pickle=False)


def test_clip_shard_holds_the_frames_the_bundle_read(clip_bundle, tmp_path, capfd):
    frames = _noise(6, seed=1)
    folder = _folder(tmp_path, frames)
    gif_frames = _frames(5, seed=2)  # flat colours: exact in a GIF palette
    gif = _animation(tmp_path / "clip.gif", gif_frames)
    sounds = [str(_sound(tmp_path / f"{n}.flac", i)) for i, n in enumerate(("a", "b"))]
    inputs = ("--bundle", str(clip_bundle), "--video", str(folder), "--video", str(gif),
              "--audio", sounds[0], "--audio", sounds[1])  # fmt: skip
    code, plain, err = _run(capfd, *inputs)
    assert code == 0, err
    fb = tmp_path / "fb"
    code, report, err = _run(capfd, *inputs, "--feedback", str(fb), *ALL)
    assert code == 0, err
    fb_report, samples = report.pop("feedback"), report.pop("feedback_samples")
    assert report == plain  # logging costs no second inference and changes nothing
    assert [s["status"] for s in samples] == ["logged", "logged"]
    assert fb_report["counts"]["logged"] == 2
    keys = [s["key"] for s in samples]

    members = _members(fb / "feedback-000000.tar")
    assert list(members) == [f"{k}.{s}" for k in keys
                             for s in ("rgb.png", FRAMES_FILE, "audio.flac", "json")]  # fmt: skip
    # the folder: the frames the sampling rule took, exactly; its key frame file byte for byte
    got = _npy(members[f"{keys[0]}.{FRAMES_FILE}"])
    assert got.dtype == np.uint8 and got.shape == (T, 24, 32, 3)
    np.testing.assert_array_equal(got, np.stack([frames[i] for i in sample_indices(6, T)]))
    assert members[f"{keys[0]}.rgb.png"] == (folder / "0005.png").read_bytes()
    assert members[f"{keys[0]}.audio.flac"] == Path(sounds[0]).read_bytes()
    # the GIF: its decoded frames; the key frame as a PNG of the last one
    got = _npy(members[f"{keys[1]}.{FRAMES_FILE}"])
    np.testing.assert_array_equal(got, np.stack([gif_frames[i] for i in sample_indices(5, T)]))
    key_frame = np.asarray(Image.open(io.BytesIO(members[f"{keys[1]}.rgb.png"])))
    np.testing.assert_array_equal(key_frame, gif_frames[-1])

    meta = json.loads(members[f"{keys[0]}.json"])
    assert meta["clip"] == {"frames": T, "rate_hz": 4.0, "window_s": 1.0, "sampling": "even",
                            "key_frame": T - 1, "height": 24, "width": 32,
                            "file": FRAMES_FILE, "dtype": "uint8", "layout": "THWC"}  # fmt: skip
    assert meta["sources"] == {"video": "frames", "audio": "a.flac"}
    assert meta["format"] == "drivesynth-feedback-sample/1" and meta["key"] == keys[0]
    assert meta["bundle"]["version"] == 0 and len(meta["bundle"]["id"]) == 64
    assert meta["criteria"]["low_score"] == {"min_score": 1.0}
    assert set(meta["predictions"]) == {"image", "audio"}  # image: the clip tower's
    assert meta["reasons"][0].startswith("low_score:") and meta["image_audio_cosine"] is not None

    # the shard schema's encoding (datagen/sample.py, which the runtime does not import)
    from datagen.sample import FRAMES_DTYPE, encode_npy
    from datagen.sample import FRAMES_FILE as SCHEMA_FILE

    assert SCHEMA_FILE == FRAMES_FILE
    assert gzip.decompress(encode_frames(got)) == gzip.decompress(encode_npy(got, FRAMES_DTYPE))

    import webdataset as wds  # the factory reads them like any clip shard

    read = [s for s in wds.WebDataset(str(fb / "feedback-000000.tar"), shardshuffle=False,
                                      empty_check=False).decode("rgb8")]  # fmt: skip
    assert [s["__key__"] for s in read] == keys
    np.testing.assert_array_equal(read[1][FRAMES_FILE], got)
    assert read[0]["json"]["clip"]["frames"] == T


def test_the_budget_holds_for_clips(clip_bundle, tmp_path, capfd):
    """Noise frames do not compress (~37 kB a clip): a 64K folder takes one, drops the rest."""
    videos = []
    for i in range(3):
        videos += ["--video", str(_folder(tmp_path, _noise(T, seed=i, size=(48, 64)), f"c{i}"))]
    fb = tmp_path / "fb"
    code, report, err = _run(capfd, "--bundle", str(clip_bundle), *videos, "--feedback", str(fb),
                             "--feedback-budget", "64K", *ALL)  # fmt: skip
    assert code == 0, err
    statuses = [s["status"] for s in report["feedback_samples"]]
    assert sorted(statuses) == ["dropped_budget", "dropped_budget", "logged"], statuses
    assert folder_bytes(fb) <= 64 << 10 and report["feedback"]["bytes"] == folder_bytes(fb)
    assert report["feedback"]["counts"]["dropped_budget"] == 2
    # a second run with rotate replaces the old shard by a new one, still within budget
    code, report, err = _run(capfd, "--bundle", str(clip_bundle), "--video",
                             str(_folder(tmp_path, _noise(T, seed=9, size=(48, 64)), "new")),
                             "--feedback", str(fb), "--feedback-budget", "64K",
                             "--when-full", "rotate", *ALL)  # fmt: skip
    assert code == 0, err
    assert report["feedback"]["counts"]["evicted_shards"] == 1
    assert sorted(p.name for p in fb.iterdir()) == [".lock", "feedback-000001.tar",
                                                    "manifest.json"]  # fmt: skip
    assert folder_bytes(fb) <= 64 << 10


@pytest.mark.parametrize("make, needle", [
    (lambda d: _folder(d, _frames(T - 1)), "3 frames, fewer than the 4"),
    (lambda d: _folder(d, _frames(2) + _noise(2, 0, size=(8, 8))), "frames differ in size"),
    (lambda d: _animation(d / "still.png", _frames(1)), "1 frame, fewer than the 4"),
])  # fmt: skip
def test_an_unusable_clip_is_one_line_and_writes_nothing(clip_bundle, tmp_path, capfd, make,
                                                         needle):  # fmt: skip
    fb = tmp_path / "fb"
    code, out, err = _run(capfd, "--bundle", str(clip_bundle), "--video", str(make(tmp_path)),
                          "--feedback", str(fb), *ALL)  # fmt: skip
    assert code == 2 and out is None and len(err) == 1 and needle in err[0], err
    assert not fb.exists()


def _clip_folder(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` clips with sounds: frame folders ``cNN/`` and one animated GIF."""
    root.mkdir(parents=True)
    for i in range(n):
        if i == n - 1:
            _animation(root / f"c{i:02d}.gif", _frames(T, seed=seed + i))
        else:
            _folder(root, _frames(T + i, seed=seed + i), f"c{i:02d}")
        _sound(root / f"c{i:02d}.flac", seed + i)
    return root


def test_inputs_and_watch_take_folders_of_clips(clip_bundle, tmp_path, capfd):
    clips = _clip_folder(tmp_path / "in", 3)
    (clips / "c00" / "notes.txt").write_text("not a frame")  # ignored, as in a video folder
    code, report, err = _run(capfd, "--bundle", str(clip_bundle), "--inputs", str(clips),
                             "--feedback", str(tmp_path / "fb"), *ALL)  # fmt: skip
    assert code == 0, err
    assert [s["sample"] for s in report["samples"]] == ["c00", "c01", "c02"]
    assert report["errors"] == 0 and report["feedback"]["counts"]["logged"] == 3
    assert report["samples"][0]["inputs"] == {"video": str(clips / "c00"),
                                              "audio": str(clips / "c00.flac")}  # fmt: skip

    capfd.readouterr()
    code = main(["edge", "watch", str(clips), "--bundle", str(clip_bundle), "--polls", "1",
                 "--poll", "0", "--settle", "0", "--feedback", str(tmp_path / "fb2"), *ALL])
    out, err = capfd.readouterr()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["sample"], r["feedback"]["status"]) for r in lines] == [
        (f"c{i:02d}", "pending") for i in range(3)]
    names = _members(tmp_path / "fb2" / "feedback-000000.tar")
    assert sum(n.endswith(FRAMES_FILE) for n in names) == 3


def test_a_folder_mixing_clips_and_single_images_is_refused(clip_bundle, tmp_path, capfd):
    clips = _clip_folder(tmp_path / "in", 2)
    Image.fromarray(_frames(1)[0]).save(clips / "still.jpg")
    code, out, err = _run(capfd, "--bundle", str(clip_bundle), "--inputs", str(clips),
                          "--feedback", str(tmp_path / "fb"))  # fmt: skip
    assert code == 2 and out is None and len(err) == 1, err
    assert "holds single images (still.jpg)" in err[0] and "clip bundle" in err[0]
    assert not (tmp_path / "fb").exists()
    capfd.readouterr()
    code = main(["edge", "watch", str(clips), "--bundle", str(clip_bundle), "--polls", "1",
                 "--poll", "0"])  # fmt: skip
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "still.jpg" in err[0], err


@pytest.fixture(scope="module")
def clip_feedback(clip_bundle, tmp_path_factory) -> Path:  # noqa: F811 - the fixture above
    root = tmp_path_factory.mktemp("clipfb")
    clips = _clip_folder(root / "in", 4, seed=10)
    assert main(["edge", "run", "--bundle", str(clip_bundle), "--inputs", str(clips),
                 "--feedback", str(root / "fb"), *ALL]) == 0  # fmt: skip
    return root / "fb"


def test_generate_focus_reads_clip_feedback(clip_feedback, tmp_path, capfd):
    from datagen.builder import weather_presets
    from datagen.focus import focus_from_feedback

    _, record = focus_from_feedback(clip_feedback, weather_presets(), 0.7)
    assert record.samples == 4 and sum(dict(record.time_of_day).values()) > 0
    out = tmp_path / "d"
    capfd.readouterr()
    assert main(["generate", "--out", str(out), "--scenarios", "1", "--frames", "1",
                 "--image-size", "32", "--workers", "0", "--no-progress", "--no-card",
                 "--focus", str(clip_feedback)]) == 0, capfd.readouterr().err  # fmt: skip
    focus = json.loads((out / "manifest.json").read_text())["config"]["weather_focus"]
    assert focus["samples"] == 4


def _clip_probes(root: Path) -> Path:
    """Labelled probe shards with clips (frames.npy.gz: the frame, T times, as a still clip)
    and the manifest of a generated data set."""
    from shard_factory import LabelCycle, write_shards

    made = write_shards(root / "single", "probe", range(12), frames=1, n_shards=1, seed=5,
                        size=32, labels=LabelCycle(weathers=("clear", "rain", "fog"),
                                                   times=("day", "night"),
                                                   styles=("normal",)))  # fmt: skip
    root.mkdir(exist_ok=True)
    with tarfile.open(made.paths[0]) as src, tarfile.open(root / "probe-000000.tar", "w") as out:
        for member in src:
            data = src.extractfile(member).read()
            out.addfile(member, io.BytesIO(data))
            key, _, ext = member.name.partition(".")
            if ext == "rgb.png":
                frame = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
                clip = encode_frames(np.stack([frame] * T))
                info = tarfile.TarInfo(f"{key}.{FRAMES_FILE}")
                info.size = len(clip)
                out.addfile(info, io.BytesIO(clip))
    (root / "manifest.json").write_text(json.dumps({"config": {"weather": "random", "seed": 5}}))
    return root


def test_edge_plan_embeds_clip_feedback_and_clip_probes(clip_bundle, clip_feedback, tmp_path,
                                                        capfd):  # fmt: skip
    from datagen.focus import read_plan

    probes = _clip_probes(tmp_path / "probes")
    plan = tmp_path / "plan.json"
    argv = ["edge", "plan", "--feedback", str(clip_feedback), "--bundle", str(clip_bundle),
            "--k", "3", "--out", str(plan)]  # fmt: skip
    capfd.readouterr()
    assert main([*argv, "--probes", str(probes)]) == 0, capfd.readouterr().err
    record = json.loads(plan.read_text())
    assert len(record["inputs"]) == 4 and record["feedback"]["without_image"] == 0
    assert record["probes"]["samples"] == 12
    assert all(sum(e["neighbours"]["time_of_day"].values()) == 3 for e in record["inputs"])
    _, samples, _ = read_plan(plan)  # what generate --focus PLAN.json reads
    assert samples == 4
    # single-frame probes cannot be embedded by a clip bundle: one line
    single = tmp_path / "probes" / "single"
    (single / "manifest.json").write_text(json.dumps({"config": {"weather": "random"}}))
    capfd.readouterr()
    assert main([*argv, "--probes", str(single), "--force"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--clip-frames" in err[0], err


BOARD = """
import sys
for name in ("torch", "torchaudio", "torchvision", "open_clip", "webdataset",
             "datagen.sample"):
    sys.modules[name] = None  # any import of these now raises ImportError
import argparse
from edge.commands import edge as edge_cmd
parser = argparse.ArgumentParser()
edge_cmd.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_clip_feedback_needs_neither_torch_nor_the_shard_writer(clip_bundle, tmp_path):
    folder = _folder(tmp_path, _frames(T))
    proc = subprocess.run([sys.executable, "-c", BOARD, "edge", "run", "--bundle",
                           str(clip_bundle), "--video", str(folder), "--feedback",
                           str(tmp_path / "fb"), *ALL], cwd=REPO, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["feedback"]["counts"]["logged"] == 1


def test_a_single_frame_bundle_is_unchanged_by_clip_folders(tmp_path, capfd):
    """A frame subfolder beside images is not an input of a single-frame bundle."""
    bundle = make_bundle(tmp_path / "b")
    clips = _clip_folder(tmp_path / "in", 2)
    Image.fromarray(_frames(1)[0]).save(clips / "still.png")
    code, report, err = _run(capfd, "--bundle", str(bundle), "--inputs", str(clips))
    assert code == 0, err
    assert [s["sample"] for s in report["samples"]] == ["c00", "c01", "still"]
    assert "video" not in report["samples"][0]["inputs"]
