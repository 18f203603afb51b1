"""Training on clips (train --clip-frames T): the loader's video tensors and refusals, the
temporal vision tower, a tiny CPU run on real generated clip shards, evaluation and the
checkpoint round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
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


def test_motion_layers_are_validated_and_need_clips():
    assert TrainConfig(train="x", out="y").motion_layers == 0
    assert preset("tiny").motion_layers == 0
    for bad in (-1, 1000, 1.5):
        with pytest.raises(ValueError, match="TrainConfig.motion_layers"):
            TrainConfig(train="x", out="y", clip_frames=T, motion_layers=bad)
    with pytest.raises(ValueError, match="TrainConfig.motion_layers needs clips"):
        TrainConfig(train="x", out="y", motion_layers=1)
    for frames in (0, 1):
        with pytest.raises(ValueError, match="ModelConfig.motion_layers needs clips"):
            preset("tiny", clip_frames=frames, motion_layers=1)
    with pytest.raises(ValueError, match="ModelConfig.motion_layers"):
        preset("tiny", clip_frames=T, motion_layers=-1)
    cfg = TrainConfig(train="x", out="y", clip_frames=T, motion_layers=2)
    from multimodal.train_config import from_jsonable, model_config, to_jsonable

    assert from_jsonable(to_jsonable(cfg)) == cfg  # config.json and the checkpoint keep it
    assert model_config(cfg).motion_layers == 2
    # --resume refuses a run of another motion stream unless --resume-override names it
    from multimodal.train_config import resume_changes

    state = {"train_config": to_jsonable(replace(cfg, motion_layers=0))}
    with pytest.raises(ValueError, match="--motion-layers 0, not 2.*--resume-override"):
        resume_changes(state, cfg, 1, "ckpt")
    assert resume_changes(state, replace(cfg, resume_override=("motion_layers",)), 1, "c") \
        == {"motion_layers": [0, 2]}  # fmt: skip
    old = {k: v for k, v in state["train_config"].items() if k != "motion_layers"}
    assert resume_changes({"train_config": old}, replace(cfg, motion_layers=0), 1, "c") == {}


def test_motion_off_keeps_the_model_and_its_dicts():
    # clip models without the motion stream: the model_config and state_dict keys they had
    clip = preset("tiny", clip_frames=T)
    assert "motion_layers" not in clip.to_dict()
    assert "motion_layers" not in preset("tiny").to_dict()
    assert type(clip).from_dict(clip.to_dict()) == clip
    torch.manual_seed(0)
    keys = set(TriModalModel(clip).state_dict())
    assert not any("motion" in k for k in keys)
    moving = preset("tiny", clip_frames=T, motion_layers=1)
    assert moving.to_dict() == {**clip.to_dict(), "motion_layers": 1}
    assert type(moving).from_dict(moving.to_dict()) == moving
    added = set(TriModalModel(moving).state_dict()) - keys
    assert added and all(k.startswith("temporal.motion") for k in added)
    assert keys <= set(TriModalModel(moving).state_dict())


def test_motion_stream_sees_motion_that_frame_tokens_miss():
    """The same four frames in another order: with every temporal position zeroed the frame
    tokens are the same set, so only the motion stream (the frame differences) tells the
    clips apart."""
    torch.manual_seed(0)
    video = torch.randn(2, T, 3, 64, 64)
    orders = ([3, 1, 0, 2], [3, 2, 1, 0])
    still = TriModalModel(preset("tiny", clip_frames=T)).eval()
    moving = TriModalModel(preset("tiny", clip_frames=T, motion_layers=1)).eval()
    with torch.no_grad():
        for model in (still, moving):
            model.temporal.positions.zero_()
        moving.temporal.motion_positions.zero_()
        base = still.encode_video(video), moving.encode_video(video)
        for order in orders:
            assert (still.encode_video(video[:, order]) - base[0]).abs().max() < 2e-5
            assert (moving.encode_video(video[:, order]) - base[1]).abs().max() > 1e-3
    # the motion stream is trained: the video embedding's gradient reaches it
    moving.train()
    moving.encode_video(video).sum().backward()
    assert moving.temporal.motion.conv1.weight.grad.abs().sum() > 0
    assert moving.temporal.motion_type.grad.abs().sum() > 0


def test_motion_layers_without_clips_is_one_line_exit_2(tmp_path, capfd):
    from edge.cli import main as cli

    capfd.readouterr()
    assert cli(["train", "--train", "x.tar", "--out", str(tmp_path / "run"),
                "--motion-layers", "1"]) == 2  # fmt: skip
    err = capfd.readouterr().err.strip()
    assert "motion_layers" in err and "--clip-frames" in err and len(err.splitlines()) == 1


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
    # the ego-speed probe: the key frames' true bands, one row per band in the confusion
    speed = written["ego_speed"]["image"]
    assert speed["labels"] == ["stopped", "slow", "moderate", "fast", "very_fast"]
    assert speed["samples"] == 3 and sum(map(sum, speed["confusion"])) == 3
    assert 1 / 3 <= speed["majority"] <= 1
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


def test_speed_band_follows_the_caption_bands():
    from multimodal.data import speed_band_of

    assert speed_band_of({"ego": {"speed_mps": 0.5}}) == "stopped"  # 1.8 km/h
    assert speed_band_of({"ego": {"speed_mps": 12.0}}) == "moderate"  # 43 km/h
    assert speed_band_of({"ego": {"speed_mps": -12.0}}) == "moderate"  # reversing: |v|
    assert speed_band_of({"ego": {"speed_mps": 25.0}}) == "fast"  # 90 km/h
    assert speed_band_of({"ego": {"speed_mps": 31.0}}) == "very_fast"  # 112 km/h
    for meta in ({}, {"ego": {}}, {"ego": {"speed_mps": float("nan")}}, {"ego": "x"}):
        assert speed_band_of(meta) == ""


def test_ego_speed_probe_scores_bands_and_reports_the_majority_share():
    from multimodal.evaluate import ego_speed

    bands = torch.eye(3)  # band prompt embeddings along the axes
    rows = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 0, 0]])
    embs = {"speed_band": ["slow", "moderate", "moderate", "slow", ""],
            **{s: rows for s in ("image", "audio", "fused")}}  # fmt: skip
    result = ego_speed(embs, bands, ["slow", "moderate", "fast"])
    image = result["image"]
    assert image["samples"] == 4  # the sample without a band is left out
    assert image["accuracy"] == 0.75  # the slow car embedded as "fast" is the one miss
    assert image["majority"] == 0.5
    assert image["confusion"] == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]
    assert ego_speed({**embs, "speed_band": [""] * 5}, bands, ["slow", "moderate", "fast"]) == {}


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
