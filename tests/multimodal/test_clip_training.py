"""Training on clips (train --clip-frames T): the loader's video tensors and refusals, the
temporal vision tower, a tiny CPU run on real generated clip shards, evaluation and the
checkpoint round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from multimodal.checkpoint import load_checkpoint, load_state
from multimodal.configs import preset
from multimodal.data import DataConfig, LoaderError, eval_loader, train_loader
from multimodal.model import TriModalModel
from multimodal.train import main
from multimodal.train_config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
T = 4


def _generate(out: Path, *extra: str) -> Path:
    exe = Path(sys.executable).parent / "drivesynth"
    cmd = [str(exe), "generate", "--out", str(out), "--scenarios", "3", "--frames", "2",
           "--image-size", "32", "--workers", "0", "--no-card", "--no-progress",
           *extra]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=300)
    shards = sorted(out.glob("*.tar"))
    assert shards
    return shards[0]


@pytest.fixture(scope="module")
def single_shard(tmp_path_factory) -> Path:
    """One shard of single-frame samples (6), 32 px."""
    return _generate(tmp_path_factory.mktemp("single"))


@pytest.fixture(scope="module")
def clip_shard(tmp_path_factory) -> Path:
    """One shard of 6 clips of 4 frames at 4 Hz (1 s windows), 32 px, from the generator."""
    return _generate(tmp_path_factory.mktemp("clips"), "--clip-frames", str(T),
                     "--clip-rate", "4")  # fmt: skip


def _data(shard: Path, **kw) -> DataConfig:
    return DataConfig(urls=str(shard), batch_size=3, workers=0, image_size=32, **kw)


def test_config_validates_clip_frames():
    assert TrainConfig(train="x", out="y").clip_frames == 0
    for bad in (-1, 1000):
        with pytest.raises(ValueError, match="clip_frames"):
            TrainConfig(train="x", out="y", clip_frames=bad)
    # --cuda-graph captures clip steps too (tests/multimodal/test_cuda_graph.py, GPU)
    assert TrainConfig(train="x", out="y", clip_frames=4, cuda_graph=True).cuda_graph
    with pytest.raises(ValueError, match="audio_seconds"):
        TrainConfig(train="x", out="y", audio_seconds=0)


def test_single_frame_model_config_dict_is_unchanged():
    # checkpoints of single-frame models keep the model_config they had before clips
    assert "clip_frames" not in preset("tiny").to_dict()
    clip = preset("tiny", clip_frames=T)
    assert clip.to_dict()["clip_frames"] == T
    assert type(clip).from_dict(clip.to_dict()) == clip
    assert not hasattr(TriModalModel(preset("tiny")), "temporal") or \
        TriModalModel(preset("tiny")).temporal is None  # fmt: skip


def test_temporal_tower_depends_on_frame_order():
    torch.manual_seed(0)
    model = TriModalModel(preset("tiny", clip_frames=T)).eval()
    video = torch.randn(2, T, 3, 64, 64)
    with torch.no_grad():
        emb = model.encode_video(video)
        permuted = model.encode_video(video[:, [3, 1, 0, 2]])
        again = model.encode_video(video)
    assert emb.shape == (2, model.config.embed_dim)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2))
    assert torch.allclose(emb, again)
    # order matters: it is temporal. At initialisation attention is near uniform, so the
    # difference is small (about 1e-3 on unit vectors) but far above float noise, and it
    # comes from the temporal position embedding: without it the tower ignores the order
    assert (emb - permuted).abs().max() > 2e-4
    with torch.no_grad():
        model.temporal.positions.zero_()
        flat = model.encode_video(video), model.encode_video(video[:, [3, 1, 0, 2]])
    assert (flat[0] - flat[1]).abs().max() < 2e-5
    # the per-frame tower is the image tower itself (shared weights, no copy)
    assert not any(n.startswith("temporal.visual") for n, _ in model.named_parameters())
    with pytest.raises(ValueError, match="4 frames"):
        model.encode_video(video[:, :3])


def test_loader_gives_video_and_window_audio(clip_shard):
    batch = next(iter(eval_loader(_data(clip_shard, clip_frames=T))))
    assert batch["video"].shape == (3, T, 3, 32, 32) and batch["video"].dtype == torch.float32
    assert torch.equal(batch["image"], batch["video"][:, -1])  # the key frame
    assert batch["audio"].shape == (3, 16000)  # the 1 s window
    train = next(iter(train_loader(_data(clip_shard, clip_frames=T, uint8_images=True), 0, 1)))
    assert train["video"].shape == (3, T, 3, 32, 32) and train["video"].dtype == torch.uint8
    assert train["jitter"].shape == (3, 2)
    # clip_frames 0 reads the clip shard's key frames as before: no video
    assert "video" not in next(iter(eval_loader(_data(clip_shard))))


def test_loader_refuses_other_clip_lengths_and_audio(clip_shard):
    with pytest.raises(LoaderError, match="clip of 4 frames, not 8.*--clip-frames 4"):
        next(iter(eval_loader(_data(clip_shard, clip_frames=8))))
    with pytest.raises(LoaderError, match="--audio-seconds 1"):
        next(iter(eval_loader(_data(clip_shard, clip_frames=T, audio_samples=32000))))


def test_loader_refuses_single_frame_shards(single_shard):
    shard = single_shard
    with pytest.raises(LoaderError, match="no frames.npy.gz.*--clip-frames 0") as info:
        next(iter(eval_loader(_data(shard, clip_frames=T))))
    assert "\n" not in str(info.value)


def test_tiny_clip_run_trains_saves_and_evaluates(clip_shard, tmp_path):
    from multimodal.evaluate import evaluate

    out = tmp_path / "run"
    argv = ["--train", str(clip_shard), "--out", str(out), "--batch-size", "3",
            "--workers", "0", "--device", "cpu", "--lr", "1e-3", "--warmup-steps", "1",
            "--steps-per-epoch", "4", "--clip-frames", str(T), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 4
    losses = [h["loss"] for h in load_state(out / "checkpoint.pt")["history"]]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    state = load_state(out / "checkpoint.pt")
    assert state["model_config"]["clip_frames"] == T
    assert state["train_config"]["clip_frames"] == T
    assert any(k.startswith("temporal.") for k in state["model"])
    model, config, tokenizer = load_checkpoint(out / "checkpoint.pt")
    assert config.clip_frames == T and model.temporal is not None
    data = DataConfig(urls=str(clip_shard), batch_size=4, workers=0,
                      image_size=config.image_size, audio_samples=config.audio_samples,
                      clip_frames=config.clip_frames)  # fmt: skip
    metrics = evaluate(model, tokenizer, data, state["prompts"], torch.device("cpu"))
    assert metrics["clip_frames"] == T and metrics["gallery_size"] == 3
    assert 0 <= metrics["zero_shot"]["weather_family"]["image"]["accuracy"] <= 1
    # drivesynth eval rebuilds the clip model and its loader from the checkpoint
    from edge.cli import main as cli

    target = tmp_path / "metrics.json"
    assert cli(["eval", "--checkpoint", str(out / "checkpoint.pt"), "--data", str(clip_shard),
                "--json", str(target), "--device", "cpu"]) == 0  # fmt: skip
    written = json.loads(target.read_text())
    assert written["clip_frames"] == T
    # multi-label event detection: every event type, per source, positives counted
    events = written["events"]["image"]["per_event"]
    assert set(events) == {"crash", "skid", "thunder", "overtake"}
    assert all(v["auroc"] is None or 0 <= v["auroc"] <= 1 for v in events.values())
    # export of the clip model: tests/edge/test_clip_bundle.py


def test_clip_run_refuses_single_frame_shards(single_shard, tmp_path, capfd):
    from edge.cli import main as cli

    argv = ["train", "--train", str(single_shard), "--out", str(tmp_path / "run"),
            "--batch-size", "3",
            "--workers", "0", "--device", "cpu", "--steps-per-epoch", "2",
            "--clip-frames", str(T), "--no-progress"]  # fmt: skip
    capfd.readouterr()
    assert cli(argv) == 2
    err = capfd.readouterr().err.strip()
    assert "no frames.npy.gz" in err and "--clip-frames 0" in err
    assert len(err.splitlines()) == 1, err


def test_auroc_ranks_positives_above_negatives():
    from multimodal.evaluate import auroc, event_detection

    scores = torch.tensor([0.9, 0.8, 0.1, 0.2, 0.5])
    assert auroc(scores, torch.tensor([True, True, False, False, False])) == 1.0
    assert auroc(scores, torch.tensor([False, False, True, True, False])) == 0.0
    assert auroc(scores, torch.tensor([True, False, False, False, True])) == pytest.approx(5 / 6)
    assert auroc(scores, torch.zeros(5, dtype=torch.bool)) is None  # no positives
    assert auroc(torch.ones(4), torch.tensor([True, False, True, False])) == 0.5  # all ties
    # samples whose embedding points at the event's prompt embedding rank first
    events = torch.eye(3)[:2]  # two events, prompt embeddings along axes 0 and 1
    embs = {"events": [("skid",), (), ("thunder",), ("skid", "thunder")],
            **{s: torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0], [0.7, 0.7, 0]])
               for s in ("image", "audio", "fused")}}  # fmt: skip
    result = event_detection(embs, events, ["skid", "thunder"])
    per = result["image"]["per_event"]
    # centred on each sample's mean over the events: the clip with both events scores 0 for
    # each, tying with the clip that has none (0.5 of one pair of four)
    assert per["skid"] == {"positives": 2, "auroc": 0.875}
    assert per["thunder"] == {"positives": 2, "auroc": 0.875}
    assert result["fused"]["mean_auroc"] == 0.875
