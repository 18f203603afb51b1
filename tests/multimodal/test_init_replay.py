"""`train --init CKPT` (continue from a checkpoint's weights, fresh optimizer and schedule)
and `--replay SHARDS --replay-fraction F` (old data mixed into every batch): the weights at
step 0 are the checkpoint's, the replayed share of the stream is F (deterministic from the
seed, split per rank like the main stream), bad or foreign checkpoints are one line and exit
2, and the run's lineage (checkpoint, summary, exported bundle) names its parent."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from edge.cli import main as drivesynth
from multimodal.checkpoint import load_state
from multimodal.data import DataConfig, expand_urls, is_replayed, train_loader
from multimodal.train_config import TrainConfig

REPLAY_IDS = 32  # shard_set: train scenarios 0-31, val (used as the old data here) 32-47


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cfg(shard_set, out: Path, **kw) -> TrainConfig:
    base = {"train": shard_set["train"].urls, "out": str(out), "batch_size": 8,
            "steps_per_epoch": 3, "warmup_steps": 0, "workers": 0, "device": "cpu",
            "progress": False}  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def parent(shard_set, tmp_path_factory) -> Path:
    """A tiny model trained 3 steps: the checkpoint the continuations start from."""
    from multimodal.train import launch

    out = tmp_path_factory.mktemp("parent") / "run"
    launch(_cfg(shard_set, out))
    return out / "checkpoint.pt"


# ---- --init ----------------------------------------------------------------------------------


def test_init_starts_from_the_checkpoints_weights_with_a_fresh_optimizer(shard_set, parent,
                                                                         tmp_path):  # fmt: skip
    from multimodal.trainer import Trainer

    trainer = Trainer(_cfg(shard_set, tmp_path / "run", init=str(parent)))
    saved = load_state(parent)
    assert saved["step"] == 3
    weights = trainer.model.state_dict()
    assert set(weights) == set(saved["model"])
    for name, tensor in saved["model"].items():
        assert torch.equal(weights[name], tensor), name
    assert trainer.step == 0 and trainer.optimizer.state_dict()["state"] == {}
    assert trainer.scheduler.last_epoch == 0  # the schedule starts again (warm-up, cosine)
    init = trainer.lineage["init"]
    assert init["sha256"] == _sha(parent) and init["step"] == 3
    assert trainer.lineage["ancestors"] == [_sha(parent)]
    fresh = Trainer(_cfg(shard_set, tmp_path / "fresh"))  # without --init: not those weights
    assert not torch.equal(fresh.model.state_dict()["visual.proj"], saved["model"]["visual.proj"])


def test_init_with_replay_trains_and_records_its_lineage(shard_set, parent, tmp_path):
    from multimodal.train import launch
    from multimodal.train_config import load_config

    out = tmp_path / "child"
    summary = launch(_cfg(shard_set, out, init=str(parent), replay=shard_set["val"].urls,
                          replay_fraction=0.25, steps_per_epoch=2))  # fmt: skip
    assert summary["steps"] == 2
    assert summary["replay_samples"] == 4 and summary["replay_share"] == 0.25  # 2 of 8 a step
    lineage = summary["lineage"]
    assert lineage["init"]["sha256"] == _sha(parent)
    assert lineage["init"]["train"] == shard_set["train"].urls  # what the parent trained on
    assert lineage["replay"] == {"urls": shard_set["val"].urls, "fraction": 0.25, "shards": 1}
    state = load_state(out / "checkpoint.pt")
    assert state["lineage"] == lineage
    assert [h["replayed"] for h in state["history"]] == [2, 2]
    saved = load_config(out / "config.json")
    assert saved.init == str(parent) and saved.replay == shard_set["val"].urls
    # a grandchild: the chain of parents, oldest first
    grand = launch(_cfg(shard_set, tmp_path / "grand", init=str(out / "checkpoint.pt"),
                        steps_per_epoch=1))  # fmt: skip
    assert grand["lineage"]["ancestors"] == [_sha(parent), _sha(out / "checkpoint.pt")]
    assert grand["lineage"]["replay"] is None and "replay_share" not in grand


def test_export_lineage_names_the_parent_checkpoint_and_the_replayed_data(shard_set, parent,
                                                                          tmp_path):  # fmt: skip
    from edge.lineage import checkpoint_ancestors, data_lineage
    from multimodal.train import launch

    old = tmp_path / "old"  # the old data, with a manifest beside its shards
    old.mkdir()
    for path in shard_set["val"].paths:
        shutil.copy(path, old / path.name)
    (old / "manifest.json").write_text(json.dumps({"seed": 3, "split": "val"}))
    out = tmp_path / "child"
    launch(_cfg(shard_set, out, init=str(parent), replay=str(old), steps_per_epoch=1))
    child = out / "checkpoint.pt"
    assert checkpoint_ancestors(child) == [_sha(parent)]
    assert checkpoint_ancestors(parent) == []
    roles = {e["role"]: e for e in data_lineage(child, None, None)}
    assert roles["replay"]["path"] == str((old / "manifest.json").resolve())
    assert roles["replay"]["seed"] == 3


def test_resuming_a_run_started_with_init_keeps_its_weights_and_lineage(shard_set, parent,
                                                                        tmp_path):  # fmt: skip
    from multimodal.train import launch

    out = tmp_path / "run"
    launch(_cfg(shard_set, out, init=str(parent), steps_per_epoch=2))
    before = load_state(out / "checkpoint.pt")
    # resumed: the run's own checkpoint wins over --init (which is no longer even read)
    summary = launch(_cfg(shard_set, out, init=str(parent), steps_per_epoch=2, epochs=2,
                          resume="auto", resume_override=("epochs",)))  # fmt: skip
    assert summary["steps"] == 4
    assert summary["lineage"]["ancestors"] == before["lineage"]["ancestors"] == [_sha(parent)]


# ---- --replay: the mixed stream ----------------------------------------------------------------


def _stream(urls: str, replay: str, fraction: float, batches: int, seed: int = 0,
            workers: int = 0, batch: int = 8) -> list[dict]:  # fmt: skip
    cfg = DataConfig(urls=urls, batch_size=batch, workers=workers, audio=False, seed=seed,
                     replay_urls=replay, replay_fraction=fraction)  # fmt: skip
    return [{"ids": b["scenario_id"].tolist(), "keys": list(b["key"]), "replayed": b["replayed"]}
            for b in train_loader(cfg, 0, batches)]  # fmt: skip


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.3])
def test_replay_share_of_the_stream_and_of_every_batch(shard_set, fraction):
    batches = _stream(shard_set["train"].urls, shard_set["val"].urls, fraction, 20)
    counts = [sum(i >= REPLAY_IDS for i in b["ids"]) for b in batches]
    assert counts == [b["replayed"] for b in batches]  # the count travels with the batch
    assert set(counts) <= {math.floor(fraction * 8), math.ceil(fraction * 8)}
    share = sum(counts) / (20 * 8)
    assert abs(share - fraction) <= 1 / 160  # exact up to one sample of the 160


def test_replay_share_with_loader_workers(shard_set):
    batches = _stream(shard_set["train"].urls, shard_set["val"].urls, 0.5, 8, workers=2)
    assert [sum(i >= REPLAY_IDS for i in b["ids"]) for b in batches] == [4] * 8


def test_the_mix_is_deterministic_from_the_seed(shard_set):
    a = _stream(shard_set["train"].urls, shard_set["val"].urls, 0.5, 6, seed=1)
    b = _stream(shard_set["train"].urls, shard_set["val"].urls, 0.5, 6, seed=1)
    c = _stream(shard_set["train"].urls, shard_set["val"].urls, 0.5, 6, seed=2)
    assert a == b and a != c
    # the main stream's samples are those of a run without replay, in the same order
    plain = DataConfig(urls=shard_set["train"].urls, batch_size=4, workers=0, audio=False,
                       seed=1)  # fmt: skip
    alone = [k for batch in train_loader(plain, 0, 6) for k in batch["key"]]
    mixed = [k for batch in a for k, i in zip(batch["keys"], batch["ids"]) if i < REPLAY_IDS]
    assert mixed == alone


def test_each_rank_replays_its_own_samples_at_the_same_share(shard_set, monkeypatch):
    """Under DDP the replay stream is split like the main one: each rank resamples the
    shards in its own order (seeded by the rank). Here the 3-shard set is the replayed one."""
    streams = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        streams.append(_stream(shard_set["val"].urls, shard_set["train"].urls, 0.5, 6))
    replayed = [[k for b in s for k, i in zip(b["keys"], b["ids"]) if i < REPLAY_IDS]
                for s in streams]  # fmt: skip
    assert replayed[0] != replayed[1]
    assert all(b["replayed"] == 4 for s in streams for b in s)


def test_is_replayed_spreads_the_fraction_evenly():
    for fraction in (0.1, 0.25, 1 / 3, 0.5, 0.9):
        picks = [is_replayed(n, fraction) for n in range(1000)]
        for n in (7, 100, 1000):
            assert sum(picks[:n]) == math.floor(n * fraction)


def test_replay_and_train_accept_folders_and_globs(shard_set, tmp_path):
    folder = shard_set["train"].paths[0].parent
    listed = sorted(str(p) for p in shard_set["train"].paths)
    assert expand_urls(str(folder / "train-*.tar")) == listed
    assert set(listed) <= set(expand_urls(str(folder)))
    with pytest.raises(ValueError, match="no shard matches"):
        expand_urls(str(tmp_path / "nothing-*.tar"))
    with pytest.raises(ValueError, match="holds no .tar shards"):
        expand_urls(str(tmp_path))


# ---- refusals: one line, exit 2, nothing written ---------------------------------------------


class RunsCode:
    """A pickle payload that creates ``marker`` when a full unpickler loads it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _refused(argv: list, capfd, *words: str) -> str:
    capfd.readouterr()
    code = drivesynth([str(a) for a in argv])
    lines = capfd.readouterr().err.strip().splitlines()
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("drivesynth train: error: "), lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def _train_argv(shard_set, out: Path, *extra) -> list:
    return ["train", "--train", shard_set["train"].urls, "--out", out, "--batch-size", "4",
            "--steps-per-epoch", "1", "--workers", "0", "--device", "cpu", "--no-progress",
            *extra]  # fmt: skip


def _bad_checkpoints(folder: Path, good: Path) -> dict[str, Path]:
    folder.mkdir()
    files = {"missing": folder / "nothing.pt"}

    def put(name: str, data: bytes) -> None:
        files[name] = folder / f"{name}.pt"
        files[name].write_bytes(data)

    buf = io.BytesIO()
    torch.save({"format": 1, "model": {}, "model_config": {}, "step": 0,
                "prompts": RunsCode(folder / "MARKER")}, buf)  # fmt: skip
    put("runs_code", buf.getvalue())
    put("empty", b"")
    put("truncated", good.read_bytes()[: good.stat().st_size // 2])
    put("text", b"not a checkpoint\n")
    state = load_state(good)
    state["model_config"] = {**state["model_config"], "vision_layers": 1}
    buf = io.BytesIO()
    torch.save(state, buf)
    put("other_architecture", buf.getvalue())
    state = load_state(good)
    state["model"] = {k: v for k, v in state["model"].items() if not k.startswith("visual.")}
    buf = io.BytesIO()
    torch.save(state, buf)
    put("missing_weights", buf.getvalue())
    return files


@pytest.fixture(scope="module")
def bad_inits(parent, tmp_path_factory) -> dict[str, Path]:
    return _bad_checkpoints(tmp_path_factory.mktemp("bad") / "bad", parent)


@pytest.mark.parametrize("name, words", [
    ("missing", ("--init: no checkpoint at",)),
    ("runs_code", ("--init:", "refused")),
    ("empty", ("--init:", "empty")),
    ("truncated", ("--init:", "not a readable drivesynth checkpoint")),
    ("text", ("--init:", "not a drivesynth checkpoint")),
    ("other_architecture", ("--init:", "no --model preset", "vision_layers")),
    ("missing_weights", ("--init:", "does not fit the model", "visual.")),
])  # fmt: skip
def test_a_bad_init_checkpoint_is_one_line_and_runs_nothing(name, words, shard_set, bad_inits,
                                                             tmp_path, capfd):  # fmt: skip
    out = tmp_path / "run"
    _refused(_train_argv(shard_set, out, "--init", bad_inits[name]), capfd,
             str(bad_inits[name]), *words)  # fmt: skip
    assert not (bad_inits[name].parent / "MARKER").exists(), "the checkpoint's payload ran"
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_an_init_of_another_model_size_names_the_model_to_give(shard_set, parent, tmp_path,
                                                               capfd):  # fmt: skip
    out = tmp_path / "run"
    _refused(_train_argv(shard_set, out, "--init", parent, "--model", "small"), capfd,
             "holds a --model tiny model, not the --model small", "give --model tiny")  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize("extra, words", [
    (("--replay-fraction", "1"), ("replay_fraction must be in [0, 1)",)),
    (("--replay-fraction", "-0.1"), ("replay_fraction must be in [0, 1)",)),
    (("--replay-fraction", "nan"), ("replay_fraction must be a finite number",)),
    (("--replay", "R", "--replay-fraction", "0"), ("replay_fraction must be > 0 with --replay",)),
    (("--replay", "/nowhere/old-*.tar"), ("--replay", "no shard matches /nowhere/old-*.tar")),
    (("--replay", "/nowhere/old-000000.tar"), ("--replay: no shard at /nowhere/old-000000.tar",)),
    (("--init", "x.pt", "--init-openclip", "y.pt"), ("--init or --init-openclip, not both",)),
])  # fmt: skip
def test_bad_replay_or_init_options_are_one_line(extra, words, shard_set, tmp_path, capfd):
    out = tmp_path / "run"
    _refused(_train_argv(shard_set, out, *extra), capfd, *words)
    assert not out.exists()


def test_train_help_shows_the_new_options_with_defaults(capsys):
    with pytest.raises(SystemExit) as exit_:
        drivesynth(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--init CHECKPOINT" in text and "--replay SHARDS" in text
    assert "--replay-fraction REPLAY_FRACTION" in text
    assert "[0, 1); used only with --replay (default: 0.5)" in text
