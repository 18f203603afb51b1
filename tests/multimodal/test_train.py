"""End-to-end CPU training, resume after a kill, and 2-process gloo DDP equivalence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from multimodal.checkpoint import load_checkpoint, load_state
from multimodal.train import main


def _args(shards, out: Path, *extra: str) -> list[str]:
    return ["--train", shards["train"].urls, "--out", str(out), "--batch-size", "16",
            "--workers", "0", "--device", "cpu", "--lr", "1e-3", "--warmup-steps", "3",
            "--no-progress", *extra]  # fmt: skip


@pytest.mark.slow
def test_tiny_model_learns_from_shards(shard_set, tmp_path):
    out = tmp_path / "run"
    argv = _args(shard_set, out, "--val", shard_set["val"].urls, "--epochs", "2",
                 "--steps-per-epoch", "15", "--train-caption-families", "template,descriptive",
                 "--eval-caption-families", "question")  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_loss"] < 0.8 * summary["first_loss"]
    val = summary["val"]
    chance_r5 = 5 / val["gallery_size"]
    for direction in ("image->text", "text->image", "audio->text", "text->audio"):
        assert val["retrieval"][direction]["R@5"] > chance_r5, direction
    weather = val["zero_shot"]["weather_family"]
    assert (
        max(weather[s]["accuracy"] for s in ("image", "audio", "fused"))
        > weather["image"]["chance"]
    )
    assert (out / "training_curve.png").stat().st_size > 0
    history = load_state(out / "checkpoint.pt")["history"]
    assert [h["step"] for h in history] == list(range(1, 31))
    times = [h["t"] for h in history]  # losses copied per window, times spread inside it
    assert all(b > a for a, b in zip(times, times[1:]))
    assert summary["samples_per_s"] > 0
    assert any((out / "plots").glob("confusion_*.png"))
    model, config, tokenizer = load_checkpoint(out / "checkpoint.pt")
    assert config.mel.n_mels == 64 and tokenizer(["x"]).shape == (1, config.context_length)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_resume_after_kill_continues_the_same_run(shard_set, tmp_path):
    common = ("--epochs", "2", "--steps-per-epoch", "4", "--save-every", "1",
              "--batch-size", "8")  # fmt: skip
    full = tmp_path / "full"
    assert main(_args(shard_set, full, *common)) == 0

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "multimodal.train", *_args(shard_set, killed, *common)]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).parents[2], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    ckpt = killed / "checkpoint.pt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and load_state(ckpt)["step"] >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stopped_at = load_state(ckpt)["step"]
    assert 2 <= stopped_at < 8

    assert main(_args(shard_set, killed, *common, "--resume", "auto")) == 0
    a, b = load_state(full / "checkpoint.pt"), load_state(ckpt)
    assert b["step"] == a["step"] == 8
    assert [h["loss"] for h in b["history"]] == pytest.approx([h["loss"] for h in a["history"]],
                                                              rel=1e-5)  # fmt: skip
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, rtol=1e-4, atol=1e-5)


def _ddp_step(payload: dict) -> None:
    """One backward pass of a DDP run; rank r takes its slice of the global batch."""
    from multimodal.distributed import cleanup, init_distributed, mean_across_ranks
    from multimodal.train_config import TrainConfig
    from multimodal.trainer import Trainer

    cfg = TrainConfig(**payload["cfg"])
    trainer = Trainer(cfg)
    env = init_distributed("cpu")
    batch, per = payload["batch"], len(payload["batch"]["text"]) // env.world_size
    part = slice(env.rank * per, (env.rank + 1) * per)
    local = {"image": batch["image"][part], "audio": batch["audio"][part],
             "text": batch["text"][part]}  # fmt: skip
    loss, _ = trainer.stepper.micro_loss(local, trainer.step)
    loss.backward()
    mean_loss = float(mean_across_ranks(loss.detach()))
    if env.is_main:
        params = trainer.model.named_parameters()
        grads = {n: p.grad.clone() for n, p in params if p.grad is not None}
        torch.save({"loss": mean_loss, "grads": grads},
                   payload["result"])  # fmt: skip
    cleanup()  # barrier, then leave together: a rank leaving early can hang the other


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("grad_reduce", ["fp32", "bf16"])
def test_two_process_gloo_matches_one_process(shard_set, tmp_path, grad_reduce):
    """Same loss and gradients as one process on the global batch; a bf16 all-reduce (half
    the bytes) stays within bf16 rounding of them."""
    from multimodal.data import DataConfig, eval_loader
    from multimodal.distributed import spawn

    batch = next(iter(eval_loader(DataConfig(urls=shard_set["val"].urls, batch_size=8,
                                             workers=0))))  # fmt: skip
    cfg = {"train": "unused.tar", "out": str(tmp_path), "device": "cpu", "augment": False,
           "modality_dropout": 0.0, "lr": 1e-3, "warmup_steps": 0,
           "grad_reduce": grad_reduce}  # fmt: skip
    results = {}
    for nproc in (1, 2):
        payload = {"cfg": cfg, "batch": batch, "result": str(tmp_path / f"r{nproc}.pt")}
        if nproc == 1:
            _ddp_step(payload)
        else:
            spawn(_ddp_step, 2, payload)
        results[nproc] = torch.load(payload["result"])
    assert results[2]["loss"] == pytest.approx(results[1]["loss"], rel=1e-4)
    grads1, grads2 = results[1]["grads"], results[2]["grads"]
    assert set(grads1) == set(grads2)
    for name, grad in grads1.items():  # DDP-averaged local-loss grads == global-batch grads
        if grad_reduce == "fp32":
            torch.testing.assert_close(grads2[name], grad, rtol=1e-3, atol=1e-6)
        else:  # bf16 keeps 8 bits: each tensor within a few % of the fp32 one, as a whole
            err = float((grads2[name] - grad).norm() / grad.norm().clamp_min(1e-12))
            assert err < 3e-2, (name, err)  # a lost rank or a sum for a mean: >= 50 %
    if grad_reduce == "bf16":  # the reduction really went through bf16: not bit-equal
        assert any(not torch.equal(grads2[n], g) for n, g in grads1.items())
    assert max(float(g.abs().max()) for g in grads1.values()) > 1e-4


def test_nonfinite_step_is_skipped_without_changing_weights(shard_set, tmp_path):
    import argparse

    from multimodal.data import train_loader
    from multimodal.options import add_arguments, config_from_args
    from multimodal.train_config import data_config
    from multimodal.trainer import Trainer

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(_args(shard_set, tmp_path / "run")))
    trainer = Trainer(cfg)
    batch = next(iter(train_loader(data_config(cfg, trainer.model_cfg, cfg.train, True), 0, 1)))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert batch["image"].dtype == torch.uint8  # finished on the training device
    # a broken sample: non-finite pixels once finished (the uint8 itself cannot hold a NaN)
    broken = {**batch, "jitter": torch.full_like(batch["jitter"], float("nan"))}
    trainer.train_step([broken])  # the skip is decided on the device (fused AdamW found_inf)
    assert int(trainer.stepper.nonfinite) == 1
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    trainer.train_step([batch])  # a good step still trains
    assert int(trainer.stepper.nonfinite) == 1
    changed = [k for k in before if not torch.equal(before[k], trainer.model.state_dict()[k])]
    assert changed


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("modalities", ["image,text", "audio,text"])
def test_two_process_gloo_trains_two_modalities(shard_set, tmp_path, modalities):
    """Towers and temperatures a two-modality run never uses are frozen, so DDP (which does
    not search for unused parameters) runs step after step."""
    out = tmp_path / "run"
    argv = _args(shard_set, out, "--nproc", "2", "--modalities", modalities,
                 "--steps-per-epoch", "3", "--batch-size", "4")  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["world_size"] == 2
    assert summary["nonfinite_steps_skipped"] == 0


def test_freeze_unused_matches_the_active_pairs():
    from multimodal.configs import preset
    from multimodal.model import TriModalModel
    from multimodal.step import freeze_unused
    from multimodal.train_config import TrainConfig

    def frozen(**kw) -> set[str]:
        model = TriModalModel(preset("tiny"))
        names = set(freeze_unused(model, TrainConfig(train="x", out="y", **kw)))
        assert names == {n for n, p in model.named_parameters() if not p.requires_grad}
        return names

    assert frozen() == {"fusion.type_embed.text"}
    image_text = frozen(modalities=("image", "text"))
    assert {"logit_scale.audio_text", "logit_scale.image_audio"} <= image_text
    assert "logit_scale.image_text" not in image_text
    assert any(n.startswith("audio.") for n in image_text)
    assert not any(n.startswith(("visual.", "text.")) for n in image_text)


@pytest.mark.parametrize("bad", [{"accum": 2}, {"compile": True}])
def test_cuda_graph_config_names_what_it_needs(bad):
    from multimodal.train_config import TrainConfig

    with pytest.raises(ValueError, match="cuda_graph.*accum == 1 and no compile"):
        TrainConfig(train="x.tar", out="o", cuda_graph=True, **bad)


def test_cuda_graph_on_cpu_is_a_clear_error(tmp_path):
    from multimodal.train_config import TrainConfig
    from multimodal.trainer import Trainer

    with pytest.raises(ValueError, match="--cuda-graph needs a CUDA device, got cpu"):
        Trainer(TrainConfig(train="x.tar", out=str(tmp_path), device="cpu", cuda_graph=True))


def test_spec_masks_equal_sequential_masking():
    """SpecAugment drawn on the host as band masks (so a captured step can take them as
    inputs) masks exactly the bins of band-after-band masking with the same draws."""
    from multimodal.augment import AugmentConfig, spec_augment

    def sequential(mel, cfg, gen):  # the pre-session-8 implementation, as the reference
        batch, n_mels, frames = mel.shape
        out, fill = mel.clone(), mel.mean(dim=(1, 2))
        for axis, count, width, size in ((1, cfg.freq_masks, cfg.freq_mask_width, n_mels),
                                         (2, cfg.time_masks, cfg.time_mask_width, frames)):
            for _ in range(count):
                w = torch.randint(0, width + 1, (batch,), generator=gen)
                start = (torch.rand(batch, generator=gen) * (size - w).clamp_min(1)).long()
                idx = torch.arange(size)
                band = (idx[None] >= start[:, None]) & (idx[None] < (start + w)[:, None])
                shape = (batch, size, 1) if axis == 1 else (batch, 1, size)
                out = torch.where(band.view(shape), fill.view(batch, 1, 1), out)
        return out

    mel = torch.randn(16, 64, 101)
    cfg = AugmentConfig(freq_masks=3, time_masks=2)
    masked = 0
    for seed in range(10):
        got = spec_augment(mel, cfg, torch.Generator().manual_seed(seed))
        assert torch.equal(got, sequential(mel, cfg, torch.Generator().manual_seed(seed)))
        masked += int((got != mel).sum())
    assert masked > 0


def test_bench_train_rows_and_step_modes(shard_set, tmp_path):
    """`drivesynth bench train`: one row per step mode and worker count, ratios to the first
    row, JSON written; a mode it does not know or a captured step on CPU is a clear error."""
    import argparse

    from multimodal import bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    out = tmp_path / "bench.json"
    args = parser.parse_args(["--train", shard_set["train"].urls, "--steps", "4", "--batch-size",
                              "4", "--workers", "0,1", "--device", "cpu", "--json", str(out)])
    result = bench.run(args)
    rows = result["rows"]
    assert [(r["mode"], r["workers"]) for r in rows] == [("eager", 0), ("eager", 1)]
    assert rows[0]["ratio_vs_first"] == 1.0 and all(r["samples_per_s_per_device"] > 0 for r in rows)
    assert json.loads(out.read_text())["rows"] == rows
    with pytest.raises(ValueError, match="--step-modes must list eager and/or graph"):
        bench.run(parser.parse_args(["--train", "x.tar", "--step-modes", "eager,fast"]))
    with pytest.raises(ValueError, match="--cuda-graph needs a CUDA device"):
        bench.run(parser.parse_args(["--train", shard_set["train"].urls, "--device", "cpu",
                                     "--step-modes", "graph", "--workers", "0"]))
