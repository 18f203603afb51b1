"""Clip bundles on the board, without torch: videos (frame folders, animated GIF/APNG) sampled
to the bundle's T frames, the format-version rules of clip bundles, and the inputs refused in
one line (tiny hand-made bundles from tinybundle.py; the real export: test_clip_bundle.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tinybundle import IMAGE_SIZE, make_bundle, read_manifest, write_manifest

from edge.cli import main
from edge.runtime import EdgeModel
from edge.runtime.bundle import BundleError, load_bundle
from edge.runtime.video import ClipConfig, sample_indices

T = 4


@pytest.fixture(scope="module")
def clip_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("clip") / "bundle", clip_frames=T)


@pytest.fixture(scope="module")
def frame_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("single") / "bundle")


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` frames of distinct flat colours (32 x 24), so every frame weighs differently."""
    rng = np.random.default_rng(seed)
    return [np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (24, 32, 3)).copy()
            for _ in range(n)]  # fmt: skip


def _folder(root: Path, frames: list[np.ndarray], name: str = "frames") -> Path:
    folder = root / name
    folder.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:04d}.png")
    return folder


def _animation(path: Path, frames: list[np.ndarray]) -> Path:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=250, loop=0)
    return path


def _run(capfd, *argv: str) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main(["edge", "run", *argv])
    out, err = capfd.readouterr()
    return code, out, err.strip()


def test_sampling_rule_takes_the_last_frame_of_each_run():
    assert sample_indices(4, 4) == [0, 1, 2, 3]
    assert sample_indices(8, 4) == [1, 3, 5, 7]
    assert sample_indices(5, 4) == [1, 2, 3, 4]
    assert sample_indices(9, 2) == [4, 8]
    for count in range(4, 40):
        picked = sample_indices(count, 4)
        assert picked[-1] == count - 1 and picked == sorted(set(picked))
    with pytest.raises(ValueError, match="3 frames, fewer than the 4.*at least 4"):
        sample_indices(3, 4)


def test_clip_config_names_the_bad_field():
    assert ClipConfig(frames=4, rate_hz=4.0, audio_seconds=1.0).window_s == 1.0
    for field, kw in (("frames", {"frames": 0}), ("rate_hz", {"rate_hz": float("nan")}),
                      ("audio_seconds", {"audio_seconds": -1}),
                      ("sampling", {"sampling": "random"})):  # fmt: skip
        args = {"frames": 4, "rate_hz": 4.0, "audio_seconds": 1.0, **kw}
        with pytest.raises(ValueError, match=f"ClipConfig.{field}"):
            ClipConfig(**args)


def test_clip_bundle_is_format_version_2(clip_bundle, frame_bundle):
    assert read_manifest(clip_bundle)["format_version"] == 2
    assert read_manifest(frame_bundle)["format_version"] == 1
    assert load_bundle(clip_bundle).clip == ClipConfig(frames=T, rate_hz=4.0, audio_seconds=1.0)
    assert load_bundle(frame_bundle).clip is None


@pytest.mark.parametrize("change, match", [
    (lambda m: m.update(format_version=1), "format_version 1 with preprocess.clip"),
    (lambda m: m["preprocess"].pop("clip"), "format_version 2 without preprocess.clip"),
    (lambda m: m.update(format_version=3), "format_version 3 unsupported"),
    (lambda m: m["preprocess"]["clip"].update(frames=0), "ClipConfig.frames"),
    (lambda m: m["preprocess"]["clip"].pop("rate_hz"), "preprocess.clip lacks 'rate_hz'"),
    (lambda m: m["preprocess"].update(clip=[4]), "preprocess.clip must be a non-empty object"),
])  # fmt: skip
def test_clip_section_and_version_must_agree(clip_bundle, tmp_path, change, match):
    import shutil

    bundle = tmp_path / "b"
    shutil.copytree(clip_bundle, bundle)
    manifest = read_manifest(bundle)
    change(manifest)
    write_manifest(bundle, manifest)
    with pytest.raises(BundleError, match=match) as info:
        load_bundle(bundle)
    assert "\n" not in str(info.value)


def test_folder_gif_and_apng_give_the_clip(clip_bundle, tmp_path):
    frames = _frames(T)
    model = EdgeModel(clip_bundle)
    folder = _folder(tmp_path, frames)
    apng = _animation(tmp_path / "clip.png", frames)
    gif = _animation(tmp_path / "clip.gif", frames)  # flat colours: exact in a palette
    emb = model.embed_videos([folder, apng, gif])
    assert emb.shape == (3, read_manifest(clip_bundle)["embed_dim"])
    np.testing.assert_allclose(emb[1], emb[0], atol=1e-6)
    np.testing.assert_allclose(emb[2], emb[0], atol=1e-6)
    # the frames' order matters (each frame has its own weights) ...
    reverse = _folder(tmp_path, frames[::-1], "reverse")
    assert float(model.embed_videos([reverse])[0] @ emb[0]) < 0.999
    # ... and a longer video is sampled by the rule: frames 1, 3, 5, 7 of 8
    eight = _frames(8, seed=1)
    longer = model.embed_videos([_folder(tmp_path, eight, "eight")])
    picked = model.embed_videos([_folder(tmp_path, [eight[i] for i in (1, 3, 5, 7)], "p")])
    np.testing.assert_allclose(longer, picked, atol=1e-6)


def test_edge_run_video_and_audio(clip_bundle, tmp_path, capfd):
    import soundfile as sf

    folder = _folder(tmp_path, _frames(6))
    gif = _animation(tmp_path / "clip.gif", _frames(5, seed=2))
    wave = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    sf.write(tmp_path / "a.flac", wave, 16000)
    code, out, err = _run(capfd, "--bundle", str(clip_bundle), "--video", str(folder),
                          "--video", str(gif), "--audio", str(tmp_path / "a.flac"))  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    tasks = set(read_manifest(clip_bundle)["labels"]["tasks"])
    assert len(report["video"]) == 2 and set(report["video"][0]) == tasks
    assert np.asarray(report["video_audio_cosine"]).shape == (2, 1)
    assert "image" not in report


def _junk(path: Path) -> Path:
    path.write_bytes(b"GIF89a not really")
    return path


@pytest.mark.parametrize("make, match", [
    (lambda d: _folder(d, []), "no frames"),
    (lambda d: _folder(d, _frames(3)), "3 frames, fewer than the 4"),
    (lambda d: _junk(d / "bad.gif"), "cannot be decoded"),
    (lambda d: _animation(d / "one.png", _frames(1)), "1 frame, fewer than the 4"),
    (lambda d: d / "missing.gif", "no such input file"),
    (lambda d: _junk(d / "clip.flac"), "not a video this runtime reads"),
])  # fmt: skip
def test_unusable_videos_exit_2_in_one_line(clip_bundle, tmp_path, capfd, make, match):
    code, out, err = _run(capfd, "--bundle", str(clip_bundle), "--video", str(make(tmp_path)))
    assert code == 2 and match in err and len(err.splitlines()) == 1, err
    assert out == ""


def test_mp4_without_pyav_names_the_package(clip_bundle, tmp_path, capfd):
    try:
        import av  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("PyAV is installed here")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 64)
    code, _, err = _run(capfd, "--bundle", str(clip_bundle), "--video", str(video))
    assert code == 2 and "pip install av" in err and len(err.splitlines()) == 1, err


def test_mismatched_bundles_and_modes_exit_2(clip_bundle, frame_bundle, tmp_path, capfd):
    folder = _folder(tmp_path, _frames(T))
    image = folder / "0000.png"
    cases = [
        (("--bundle", str(clip_bundle), "--image", str(image)), "clip bundle (4 frames at 4 Hz)"),
        (("--bundle", str(frame_bundle), "--video", str(folder)), "give --image, not --video"),
        (("--bundle", str(clip_bundle), "--inputs", str(folder / "0000.png")),
         "is not a folder"),
        (("--bundle", str(clip_bundle), "--image", str(image), "--video", str(folder)),
         "not both"),
    ]  # fmt: skip
    for argv, match in cases:
        code, out, err = _run(capfd, *argv)
        assert code == 2 and match in err and len(err.splitlines()) == 1, (argv, err)
    assert not (tmp_path / "fb").exists()
    # the single-frame bundle runs images exactly as before
    code, out, err = _run(capfd, "--bundle", str(frame_bundle), "--image", str(image))
    assert code == 0 and "image" in json.loads(out), err


def test_watch_refuses_single_images_for_a_clip_bundle(clip_bundle, tmp_path, capfd):
    """edge watch takes clips (tests/edge/test_clip_feedback.py), not single images."""
    Image.fromarray(_frames(1)[0]).save(tmp_path / "frame.jpg")
    capfd.readouterr()
    code = main(["edge", "watch", str(tmp_path), "--bundle", str(clip_bundle), "--polls", "1",
                 "--poll", "0"])  # fmt: skip
    err = capfd.readouterr().err.strip()
    assert code == 2 and "holds single images" in err and len(err.splitlines()) == 1, err


def test_select_and_update_take_clip_bundles(clip_bundle, tmp_path, capfd):
    """select times and compares the clip tower on clip-shaped inputs; update's smoke run
    feeds the tower the shape its session declares."""
    import shutil

    bundle = tmp_path / "b"
    shutil.copytree(clip_bundle, bundle)
    capfd.readouterr()
    assert main(["edge", "select", "--bundle", str(bundle), "--samples", "4"]) == 0
    assert json.loads(capfd.readouterr().out)["variant"] == "fp32"
    assert main(["edge", "update", "--bundle", str(bundle), "--into", str(tmp_path / "i")]) == 0
    assert json.loads(capfd.readouterr().out)["status"] == "installed"


def test_heldout_images_normalise_per_frame():
    from edge.runtime.heldout import denormalise_images, normalise_images
    from edge.runtime.preprocess import ImageConfig

    cfg = ImageConfig(size=IMAGE_SIZE)
    rgb = np.random.default_rng(0).integers(0, 256, (2, T, IMAGE_SIZE, IMAGE_SIZE, 3),
                                            dtype=np.uint8)  # fmt: skip
    clips = normalise_images(rgb, cfg)
    assert clips.shape == (2, T, 3, IMAGE_SIZE, IMAGE_SIZE)
    np.testing.assert_array_equal(clips[:, 1], normalise_images(rgb[:, 1], cfg))
    np.testing.assert_array_equal(denormalise_images(clips, cfg), rgb)
