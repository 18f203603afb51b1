"""Export of a clip model (train --clip-frames) to a clip bundle, round trip: real clip shards
from ``drivesynth generate --clip-frames``, a tiny model trained a few steps on them, ONNX
parity with PyTorch (fp32 tight, int8 within the single-frame bundle's tolerance), and the
board running the clip as a frame folder and as an animated GIF."""

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
from PIL import Image

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
T, RATE = 4, 4


@pytest.fixture(scope="module")
def clip_shard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 clips of 4 frames at 4 Hz (1 s windows), 32 px, from the generator."""
    out = tmp_path_factory.mktemp("clip_shards")
    cmd = [str(Path(sys.executable).parent / "drivesynth"), "generate", "--out", str(out),
           "--scenarios", "3", "--frames", "2", "--image-size", "32", "--workers", "0",
           "--no-card", "--no-progress", "--clip-frames", str(T),
           "--clip-rate", str(RATE)]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=300)
    (shard,) = sorted(out.glob("*.tar"))
    return shard


@pytest.fixture(scope="module")
def clip_checkpoint(tmp_path_factory: pytest.TempPathFactory, clip_shard: Path) -> Path:
    from multimodal.train import main

    out = tmp_path_factory.mktemp("clip_run")
    assert main(["--train", str(clip_shard), "--out", str(out), "--batch-size", "3",
                 "--workers", "0", "--device", "cpu", "--lr", "1e-3", "--warmup-steps", "1",
                 "--steps-per-epoch", "2", "--clip-frames", str(T), "--no-progress"]) == 0
    return out / "checkpoint.pt"


@pytest.fixture(scope="module")
def clip_bundle(tmp_path_factory: pytest.TempPathFactory, clip_checkpoint: Path,
                clip_shard: Path) -> Path:  # fmt: skip
    from edge.export import ExportConfig, export_checkpoint

    out = tmp_path_factory.mktemp("clip_bundles") / "clip"
    export_checkpoint(clip_checkpoint, out, str(clip_shard), None,
                      ExportConfig(quantize="int8", heldout=6, calib=6))  # fmt: skip
    return out


def _clip(shard: Path, index: int = 0) -> tuple[np.ndarray, bytes]:
    """The frames (uint8 [T, H, W, 3]) and audio bytes of the shard's ``index``-th clip."""
    with tarfile.open(shard) as tar:
        names = sorted(n for n in tar.getnames() if n.endswith(".frames.npy.gz"))
        key = names[index].split(".")[0]
        frames = np.load(io.BytesIO(gzip.decompress(tar.extractfile(names[index]).read())))
        audio = tar.extractfile(f"{key}.audio.flac").read()
    return frames, audio


def test_manifest_records_the_clip_and_parity(clip_bundle: Path) -> None:
    manifest = json.loads((clip_bundle / "manifest.json").read_text())
    assert manifest["format_version"] == 2
    assert manifest["preprocess"]["clip"] == {"frames": T, "rate_hz": float(RATE),
                                              "audio_seconds": 1.0, "sampling": "even",
                                              "window_s": T / RATE}  # fmt: skip
    size = manifest["preprocess"]["image"]["size"]
    assert manifest["towers"]["image"]["input_shape"] == ["batch", T, 3, size, size]
    assert manifest["preprocess"]["audio"]["clip_samples"] == 16000
    for tower in ("image", "audio", "text"):
        variants = manifest["towers"][tower]["variants"]
        assert set(variants) == {"fp32", "int8", "int8_qdq"}
        assert variants["fp32"]["parity_cosine_min"] >= 0.999
        assert variants["int8"]["cosine_to_fp32_mean"] > 0.95  # as test_export's rule
    files = {p.name for p in clip_bundle.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == files
    with np.load(clip_bundle / "heldout.npz") as held:
        assert held["image"].shape == (6, T, size, size, 3)


def test_board_video_matches_pytorch_on_the_clip(clip_bundle, clip_checkpoint, clip_shard,
                                                 tmp_path) -> None:  # fmt: skip
    """A clip's frames as a folder of PNGs, through the board's sampling, PIL resize and
    ONNX: the embedding PyTorch gives the training loader's (eval) video of that clip."""
    import torch

    from edge.runtime import EdgeModel
    from multimodal.checkpoint import load_checkpoint
    from multimodal.data import DataConfig, eval_loader

    model, config, _ = load_checkpoint(clip_checkpoint)
    data = DataConfig(urls=str(clip_shard), batch_size=6, workers=0, clip_frames=T,
                      image_size=config.image_size, image_mean=tuple(config.image_mean),
                      image_std=tuple(config.image_std),
                      audio_samples=config.audio_samples)  # fmt: skip
    batch = next(iter(eval_loader(data)))
    with torch.no_grad():
        ref = model.encode_video(batch["video"]).numpy()
    edge = {v: EdgeModel(clip_bundle, variant=v) for v in ("fp32", "int8")}
    folders = []
    for i in range(len(ref)):
        frames, _ = _clip(clip_shard, i)
        folder = tmp_path / f"clip{i}"
        folder.mkdir()
        for j, frame in enumerate(frames):
            Image.fromarray(frame).save(folder / f"{j:03d}.png")
        folders.append(folder)
    got = {v: m.embed_videos(folders) for v, m in edge.items()}
    assert (got["fp32"] * ref).sum(1).min() >= 0.999
    assert (got["int8"] * got["fp32"]).sum(1).mean() > 0.95
    # zero-shot labels: int8 agrees with fp32 on most clips (the rule edge select applies
    # with its accuracy budget, here on 6 clips)
    labels = edge["fp32"].bundle.label_embeddings
    agree = [((got["int8"] @ e.T).argmax(1) == (got["fp32"] @ e.T).argmax(1)).mean()
             for e in labels.values()]  # fmt: skip
    assert np.mean(agree) >= 0.8, agree


def test_clip_tower_has_a_dynamic_batch_axis(clip_bundle: Path) -> None:
    from edge.runtime import EdgeModel

    edge = EdgeModel(clip_bundle, variant="fp32")
    size = edge.image_cfg.size
    batch = np.random.default_rng(0).standard_normal((3, T, 3, size, size)).astype(np.float32)
    full = edge.tower("image")(batch)
    one = np.concatenate([edge.tower("image")(batch[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(full, one, atol=1e-4)


def test_edge_run_folder_and_gif(clip_bundle, clip_shard, tmp_path, capfd) -> None:
    from edge.cli import main

    frames, audio = _clip(clip_shard)
    folder = tmp_path / "frames"
    folder.mkdir()
    for j, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{j:03d}.png")
    images = [Image.fromarray(f) for f in frames]
    images[0].save(tmp_path / "clip.gif", save_all=True, append_images=images[1:],
                   duration=1000 // RATE, loop=0)  # fmt: skip
    (tmp_path / "clip.flac").write_bytes(audio)
    capfd.readouterr()
    code = main(["edge", "run", "--bundle", str(clip_bundle), "--video", str(folder),
                 "--video", str(tmp_path / "clip.gif"), "--audio", str(tmp_path / "clip.flac"),
                 "--text", "rain at night", "--variant", "int8"])  # fmt: skip
    out, err = capfd.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["variant"] == "int8" and len(report["video"]) == 2
    assert np.asarray(report["video_audio_cosine"]).shape == (2, 1)
    assert np.asarray(report["text_video_cosine"]).shape == (1, 2)
    # the GIF's palette is lossy; the clip is the same clip
    from edge.runtime import EdgeModel

    emb = EdgeModel(clip_bundle).embed_videos([folder, tmp_path / "clip.gif"])
    assert float(emb[0] @ emb[1]) > 0.98


def test_export_refuses_single_frame_shards_for_a_clip_model(clip_checkpoint, shards, tmp_path,
                                                             capfd) -> None:  # fmt: skip
    from edge.cli import main

    capfd.readouterr()
    code = main(["export", "--checkpoint", str(clip_checkpoint), "--data", shards["val"],
                 "--out", str(tmp_path / "b")])  # fmt: skip
    err = capfd.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "--data" in err and "not a clip shard" in err and "--clip-frames 4" in err
    assert not (tmp_path / "b").exists()


@pytest.fixture(scope="module")
def motion_run(tmp_path_factory: pytest.TempPathFactory, clip_shard: Path) -> Path:
    """A clip model with the motion stream (train --motion-layers 1) trained 2 steps on the
    same clip shard, and its int8 bundle in ``RUN/bundle``."""
    from edge.export import ExportConfig, export_checkpoint
    from multimodal.train import main

    out = tmp_path_factory.mktemp("motion_run")
    assert main(["--train", str(clip_shard), "--out", str(out), "--batch-size", "3",
                 "--workers", "0", "--device", "cpu", "--lr", "1e-3", "--warmup-steps", "1",
                 "--steps-per-epoch", "2", "--clip-frames", str(T), "--motion-layers", "1",
                 "--no-progress"]) == 0  # fmt: skip
    export_checkpoint(out / "checkpoint.pt", out / "bundle", str(clip_shard), None,
                      ExportConfig(quantize="int8", heldout=6, calib=6))  # fmt: skip
    return out


def test_motion_model_trains_evaluates_exports_and_runs(motion_run, clip_shard, tmp_path,
                                                        capfd) -> None:  # fmt: skip
    """train --motion-layers 1 -> config.json and checkpoint carry it -> eval rebuilds the
    model -> the exported clip tower holds the motion stream (fp32 parity with PyTorch on the
    board's own preprocessing, int8 close to fp32) -> edge run --video."""
    import torch

    from edge.cli import main
    from edge.runtime import EdgeModel
    from edge.runtime.video import videos_batch
    from multimodal.checkpoint import load_checkpoint, load_state
    from multimodal.train_config import load_config

    assert load_config(motion_run / "config.json").motion_layers == 1
    state = load_state(motion_run / "checkpoint.pt")
    assert state["train_config"]["motion_layers"] == 1
    assert state["model_config"]["motion_layers"] == 1
    assert any(k.startswith("temporal.motion.") for k in state["model"])
    model, config, _ = load_checkpoint(motion_run / "checkpoint.pt")
    assert config.motion_layers == 1 and model.temporal.motion is not None
    target = tmp_path / "metrics.json"
    assert main(["eval", "--checkpoint", str(motion_run / "checkpoint.pt"),
                 "--data", str(clip_shard), "--json", str(target), "--device", "cpu"]) == 0
    assert json.loads(target.read_text())["clip_frames"] == T
    bundle = motion_run / "bundle"
    manifest = json.loads((bundle / "manifest.json").read_text())
    variants = manifest["towers"]["image"]["variants"]
    assert variants["fp32"]["parity_cosine_min"] >= 0.999
    assert variants["int8"]["cosine_to_fp32_mean"] > 0.95
    # the ONNX clip tower is the motion model's: it matches PyTorch with the motion stream and
    # not the same model with the stream's tokens left out
    frames, audio = _clip(clip_shard)
    folder = tmp_path / "frames"
    folder.mkdir()
    for j, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{j:03d}.png")
    edge = EdgeModel(bundle, variant="fp32")
    pixels = videos_batch([folder], edge.image_cfg, edge.clip)  # the board's preprocessing
    got = edge.tower("image")(pixels)
    pixels = torch.from_numpy(pixels)
    with torch.no_grad():
        ref = model.encode_video(pixels).numpy()
        model.temporal.motion = None  # the frame tokens alone
        blind = model.encode_video(pixels).numpy()
    assert float((got * ref).sum()) >= 0.999
    assert float((got * blind).sum()) < float((got * ref).sum()) - 1e-4
    (tmp_path / "clip.flac").write_bytes(audio)
    capfd.readouterr()
    code = main(["edge", "run", "--bundle", str(bundle), "--video", str(folder),
                 "--audio", str(tmp_path / "clip.flac"), "--text", "rain at night",
                 "--variant", "int8"])  # fmt: skip
    out, err = capfd.readouterr()
    assert code == 0, err
    assert len(json.loads(out)["video"]) == 1
