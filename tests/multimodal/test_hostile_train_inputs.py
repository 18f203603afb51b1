"""Hostile and broken inputs to train, eval, export and bench edge (issue 19, the
multimodal part), through the real ``drivesynth`` entry point (``edge.cli.main``).

Every refusal must end with exit status 2, exactly one line on stderr (no traceback, no
warnings, no progress bar), within a time bound, having written nothing (no output file or
folder, no checkpoint, no temporary file) and changed nothing that existed. Checkpoints are
read with ``torch.load(weights_only=True)``: a pickle that would run code is refused
without running it.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import random
import tarfile
import time
import warnings
from pathlib import Path

import pytest
import torch
from shard_factory import labelled_sample, write_shards

from datagen.sample import encode_sample
from datagen.shards import write_shard
from edge.cli import main

LIMIT_S = 60.0  # seconds a refusal may take on a busy 2-core CI machine (most take < 5)


class Refusal:
    def __init__(self, code: int, stderr: str, seconds: float) -> None:
        self.code, self.stderr, self.seconds = code, stderr, seconds

    @property
    def line(self) -> str:
        return self.stderr.strip()


def run_cli(argv: list[str], capfd) -> Refusal:
    """``drivesynth ARGV`` in this process; stderr (fd level, so DataLoader workers' output
    is seen too) plus the warnings Python's default filters would print."""
    capfd.readouterr()
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        code = main([str(a) for a in argv])
    seconds = time.monotonic() - start
    err = capfd.readouterr().err
    hidden = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
    shown = [str(w.message) for w in caught if not issubclass(w.category, hidden)]
    return Refusal(code, err + "".join(f"warning: {m}\n" for m in shown), seconds)


def assert_refused(result: Refusal, command: str, *words: str, limit: float = LIMIT_S) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(f"drivesynth {command}: error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert result.seconds < limit, result.seconds
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _train_args(urls: str, out: Path, *extra: str) -> list[str]:
    return ["train", "--train", urls, "--out", str(out), "--batch-size", "4",
            "--steps-per-epoch", "2", "--warmup-steps", "0", "--workers", "0",
            "--device", "cpu", "--no-progress", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict:
    """Small shards and a real 2-step checkpoint trained on them."""
    from multimodal.train import launch
    from multimodal.train_config import TrainConfig

    root = tmp_path_factory.mktemp("hostile")
    shards = write_shards(root / "shards", "s", range(8), frames=2, n_shards=2)
    run = root / "run"
    launch(TrainConfig(train=shards.urls, out=str(run), batch_size=4, steps_per_epoch=2,
                       warmup_steps=0, workers=0, device="cpu", progress=False))  # fmt: skip
    return {"root": root, "urls": shards.urls, "shard": str(shards.paths[0]),
            "checkpoint": run / "checkpoint.pt"}  # fmt: skip


# ---- checkpoints never run code; broken ones are one line -----------------------------------


class RunsCode:
    """A pickle payload that creates ``marker`` when unpickled by a full unpickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


def bad_checkpoints(folder: Path, good: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "MARKER"
    files = {}

    def put(name: str, data: bytes) -> None:
        files[name] = folder / f"{name}.pt"
        files[name].write_bytes(data)

    buf = io.BytesIO()
    # looks like a checkpoint, with a payload where the prompts would be
    torch.save({"format": 1, "model": {}, "model_config": {}, "step": 0,
                "prompts": RunsCode(marker)}, buf)  # fmt: skip
    put("runs_code", buf.getvalue())
    import pickle

    put("runs_code_bare_pickle", pickle.dumps({"format": 1, "x": RunsCode(marker)}))
    put("empty", b"")
    put("random", bytes(random.Random(0).randrange(256) for _ in range(4096)))
    good_bytes = good.read_bytes()
    put("truncated", good_bytes[: len(good_bytes) // 2])
    put("text", b"not a checkpoint\n")
    buf = io.BytesIO()
    torch.save([1, 2, 3], buf)
    put("a_list", buf.getvalue())
    buf = io.BytesIO()
    torch.save({"format": 1, "model": {"w": torch.zeros(2)}, "model_config": {"bogus": 1},
                "prompts": {}, "step": 0}, buf)  # fmt: skip
    put("wrong_config", buf.getvalue())
    return files


@pytest.fixture(scope="module")
def bad(small) -> dict[str, Path]:
    return bad_checkpoints(small["root"] / "bad", small["checkpoint"])


def test_the_hostile_checkpoint_really_runs_code_when_fully_unpickled(bad, tmp_path):
    """The test file is hostile (so the refusals below mean something): a full unpickler
    (``weights_only=False``, what checkpoint.py used) runs its payload."""
    marker = bad["runs_code"].parent / "MARKER"
    try:
        torch.load(bad["runs_code"], weights_only=False)
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def _command(kind: str, checkpoint: Path, small: dict, out: Path) -> tuple[str, list[str]]:
    shard = small["shard"]
    argv = {
        "eval": ["eval", "--checkpoint", checkpoint, "--data", shard, "--json", out / "m.json"],
        "export": ["export", "--checkpoint", checkpoint, "--out", out / "bundle", "--data",
                   shard],
        "train": _train_args(small["urls"], out / "run", "--resume", str(checkpoint)),
        "bench": ["bench", "edge", "--checkpoint", checkpoint, "--data", shard, "--json",
                  out / "bench.json"],
    }[kind]  # fmt: skip
    return argv[0], argv


@pytest.mark.parametrize("kind", ["eval", "export", "train", "bench"])
@pytest.mark.parametrize("name", ["runs_code", "runs_code_bare_pickle", "empty", "random",
                                  "truncated", "text", "a_list", "wrong_config"])  # fmt: skip
def test_broken_or_hostile_checkpoint_is_one_line_and_runs_nothing(
    kind, name, bad, small, tmp_path, capfd
):
    out = tmp_path / "out"
    out.mkdir()
    marker = bad[name].parent / "MARKER"
    before = snapshot(small["root"])
    command, argv = _command(kind, bad[name], small, out)
    line = assert_refused(run_cli(argv, capfd), command, str(bad[name]))
    assert not marker.exists(), "the checkpoint's payload ran"
    assert list(out.iterdir()) == []  # nothing written
    assert snapshot(small["root"]) == before
    if name.startswith("runs_code") and name != "runs_code_bare_pickle":
        assert "refused" in line


def test_the_real_checkpoint_loads_with_weights_only(small):
    state = torch.load(small["checkpoint"], map_location="cpu", weights_only=True)
    assert state["step"] == 2 and isinstance(state["rng"]["torch"], torch.Tensor)
    assert json.loads(json.dumps(state["train_config"]))["lr"] == 5e-4


@pytest.mark.slow
def test_drivesynth_refuses_a_hostile_checkpoint_in_a_fresh_process(bad, small, tmp_path):
    """The same through the installed console script: nothing but one line on stderr."""
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("drivesynth")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "edge.cli"]
    marker = bad["runs_code"].parent / "MARKER"
    start = time.monotonic()
    proc = subprocess.run([*cmd, "eval", "--checkpoint", str(bad["runs_code"]), "--data",
                           small["shard"], "--json", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "refused" in proc.stderr
    assert not marker.exists() and not (tmp_path / "m.json").exists()
    assert time.monotonic() - start < 120


# ---- train never hangs on data that gives no batch --------------------------------------------


def _corrupt_shard(path: Path, n: int = 12, what: str = "json") -> Path:
    """A valid tar whose samples are all broken (bad json, or bad image): the factory's
    samples with those bytes replaced here, written without validation (it would refuse
    them)."""
    files = [encode_sample(labelled_sample(i, 0, 0)) for i in range(n)]
    for f in files:
        f["json" if what == "json" else "rgb.png"] = b"{broken"  # broken on purpose
    write_shard(path, files, validate=False)
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ["no_match", "zero_bytes", "random_bytes", "a_folder",
                                  "bad_brace"])  # fmt: skip
def test_train_on_missing_or_unreadable_shards_fails_fast_naming_the_url(
    case, small, tmp_path, capfd
):
    data = tmp_path / "data"
    data.mkdir()
    url = {"no_match": str(data / "nothing-{000000..000002}.tar"),
           "zero_bytes": str(data / "zero-000000.tar"),
           "random_bytes": str(data / "random-000000.tar"),
           "a_folder": str(data / "folder.tar"), "bad_brace": str(data / "x-{000..001.tar")}[case]
    if case == "zero_bytes":
        Path(url).write_bytes(b"")
    elif case == "random_bytes":
        Path(url).write_bytes(bytes(random.Random(1).randrange(256) for _ in range(2048)))
    elif case == "a_folder":
        Path(url).mkdir()
    named = {"no_match": str(data / "nothing-000000.tar"), "bad_brace": "--train"}.get(case, url)
    out = tmp_path / "run"
    assert_refused(run_cli(_train_args(url, out), capfd), "train", named, limit=30)
    assert not out.exists()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", ["0", "1"])
@pytest.mark.parametrize("what", ["json", "image"])
def test_train_on_an_all_corrupt_shard_stops_naming_it(what, workers, tmp_path, capfd):
    """A tar that opens but whose every sample is broken: the loader, which resamples
    shards forever, stops after a bounded number of skips in a row (also from a worker
    process) instead of hanging."""
    shard = _corrupt_shard(tmp_path / "corrupt-000000.tar", what=what)
    out = tmp_path / "run"
    argv = _train_args(str(shard), out)
    argv[argv.index("--workers") + 1] = workers
    line = assert_refused(run_cli(argv, capfd), "train", str(shard), "in a row", limit=45)
    assert "Caught" not in line
    assert not out.exists()  # failed before its first step: no log folder either


@pytest.mark.timeout(120)
def test_train_caption_family_no_sample_has_fails_naming_the_family(small, tmp_path, capfd):
    out = tmp_path / "run"
    argv = _train_args(small["urls"], out, "--train-caption-families", "haiku,limerick")
    assert_refused(run_cli(argv, capfd), "train", "haiku,limerick", "--train-caption-families",
                   limit=30)  # fmt: skip
    assert not out.exists()


@pytest.mark.timeout(120)
def test_train_stops_when_a_large_share_of_samples_is_unreadable(tmp_path, capfd):
    """Good and all-corrupt shards mixed: every batch still fills, but more than the bounded
    share of what is read is skipped, so the run stops with the count."""
    good = write_shards(tmp_path / "mix", "good", range(6), frames=2, n_shards=1)
    _corrupt_shard(tmp_path / "mix" / "good-000001.tar", n=24, what="image")
    urls = str(tmp_path / "mix" / "good-{000000..000001}.tar")
    assert good.paths[0].exists()
    out = tmp_path / "run"
    argv = _train_args(urls, out, "--epochs", "50")
    line = assert_refused(run_cli(argv, capfd), "train", "unreadable", "good-000001.tar",
                          limit=60)  # fmt: skip
    assert " of " in line and "(more than 20%)" in line
    assert not (out / "summary.json").exists()  # not reported as a finished run


def test_loader_error_survives_a_worker_process():
    """The DataLoader re-raises a worker's exception with the worker's whole traceback as
    its message; LoaderError keeps only the original line."""
    from multimodal.data import LoaderError

    wrapped = ("Caught LoaderError in DataLoader worker process 0.\nOriginal Traceback (most "
               "recent call last):\n  File \"x.py\", line 1, in f\n    raise LoaderError(m)\n"
               "multimodal.data.LoaderError: 201 samples in a row were unusable\n")  # fmt: skip
    assert str(LoaderError(wrapped)) == "201 samples in a row were unusable"
    assert str(LoaderError("plain")) == "plain"


def test_decode_warnings_are_capped(tmp_path):
    """Evaluation warns about the first few skipped samples, then only counts them."""
    from multimodal.data import MAX_WARNINGS, DataConfig, SkippedDataWarning, eval_loader

    shard = _corrupt_shard(tmp_path / "c-000000.tar", n=30, what="image")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(StopIteration):
            next(iter(eval_loader(DataConfig(urls=str(shard), batch_size=4, workers=0))))
    shown = [w for w in caught if issubclass(w.category, SkippedDataWarning)]
    assert len(shown) == MAX_WARNINGS + 1


# ---- non-finite training ------------------------------------------------------------------


@pytest.mark.parametrize("option,value", [("--lr", "inf"), ("--lr", "nan"), ("--lr", "-inf"),
                                          ("--weight-decay", "inf"),
                                          ("--modality-dropout", "nan")])  # fmt: skip
def test_non_finite_hyper_parameters_are_refused_before_anything(
    option, value, small, tmp_path, capfd
):
    out = tmp_path / "run"
    field = option[2:].replace("-", "_")
    argv = _train_args(small["urls"], out, f"{option}={value}")
    assert_refused(run_cli(argv, capfd), "train", f"TrainConfig.{field}", value, limit=20)
    assert not out.exists()


def test_train_config_names_a_non_finite_field():
    from multimodal.loss import LossWeights
    from multimodal.train_config import TrainConfig

    with pytest.raises(ValueError, match=r"TrainConfig\.lr must be a finite number, got inf"):
        TrainConfig(train="x.tar", out="o", lr=float("inf"))
    with pytest.raises(ValueError, match=r"LossWeights\.image_text must be a finite"):
        LossWeights(image_text=float("nan"))


@pytest.mark.timeout(180)
def test_diverged_training_writes_no_checkpoint(small, tmp_path, capfd):
    """--lr 1e38 is finite but blows the weights up: the run stops, one line, and no
    checkpoint of non-finite weights is written."""
    out = tmp_path / "run"
    argv = _train_args(small["urls"], out, "--lr", "1e38", "--steps-per-epoch", "3")
    assert_refused(run_cli(argv, capfd), "train", "non-finite", "no checkpoint written",
                   limit=90)  # fmt: skip
    assert not (out / "checkpoint.pt").exists()
    assert not list(out.glob(".checkpoint.pt.tmp*"))


def test_save_refuses_non_finite_weights(small, tmp_path):
    from multimodal.train_config import TrainConfig
    from multimodal.trainer import Trainer, TrainingDiverged

    trainer = Trainer(TrainConfig(train=small["urls"], out=str(tmp_path / "run"),
                                  device="cpu", workers=0, progress=False))  # fmt: skip
    with torch.no_grad():
        next(trainer.model.parameters())[0] = float("nan")
    with pytest.raises(TrainingDiverged, match="no checkpoint written"):
        trainer.save()
    assert not (tmp_path / "run").exists()


# ---- no silent overwrites; resume only the same run -----------------------------------------


@pytest.fixture
def run_copy(small, tmp_path) -> Path:
    """A copy of the module's trained run folder, to resume or overwrite."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small["checkpoint"].parent, run)
    return run


@pytest.mark.parametrize("resume", [None, "other"])
def test_train_onto_an_existing_run_needs_resume_or_force(resume, small, run_copy, capfd):
    """A fresh run, or one resumed from another run's checkpoint, must not replace the
    run already in --out."""
    before = snapshot(run_copy)
    extra = ["--resume", str(small["checkpoint"])] if resume else []
    assert_refused(run_cli(_train_args(small["urls"], run_copy, *extra), capfd), "train",
                   "--resume", "--force", limit=20)  # fmt: skip
    assert snapshot(run_copy) == before


@pytest.mark.timeout(180)
def test_train_force_starts_afresh(small, run_copy, capfd):
    old = torch.load(run_copy / "checkpoint.pt", weights_only=True)
    result = run_cli(_train_args(small["urls"], run_copy, "--force", "--seed", "3"), capfd)
    assert result.code == 0, result.stderr
    new = torch.load(run_copy / "checkpoint.pt", weights_only=True)
    assert new["step"] == 2 and new["train_config"]["seed"] == 3
    assert new["train_config"]["force"] is True
    assert len(new["history"]) == 2 and new["history"] != old["history"]


@pytest.mark.parametrize("option,value,field", [("--lr", "0.002", "lr"),
                                                ("--batch-size", "2", "batch_size"),
                                                ("--seed", "7", "seed"),
                                                ("--epochs", "2", "epochs"),
                                                ("--train-caption-families", "template",
                                                 "caption_families")])  # fmt: skip
def test_resume_with_different_settings_is_refused_naming_the_field(
    option, value, field, small, run_copy, capfd
):
    before = snapshot(run_copy)
    argv = _train_args(small["urls"], run_copy, "--resume", "auto", option, value)
    assert_refused(run_cli(argv, capfd), "train", option, f"--resume-override {field}",
                   limit=20)  # fmt: skip
    assert snapshot(run_copy) == before


@pytest.mark.timeout(180)
def test_resume_override_is_allowed_and_recorded(small, run_copy, capfd):
    argv = _train_args(small["urls"], run_copy, "--resume", "auto", "--epochs", "2",
                       "--lr", "0.001", "--resume-override", "epochs,lr")  # fmt: skip
    result = run_cli(argv, capfd)
    assert result.code == 0, result.stderr
    state = torch.load(run_copy / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4
    assert state["train_config"]["epochs"] == 2 and state["train_config"]["lr"] == 0.001
    assert state["train_config"]["resume_override"] == ["epochs", "lr"]
    assert state["resume_overrides"] == [
        {"step": 2, "changes": {"epochs": [1, 2], "lr": [5e-4, 0.001]}}
    ]


def test_resume_override_of_an_unknown_field_is_one_line(small, run_copy, capfd):
    argv = _train_args(small["urls"], run_copy, "--resume", "auto", "--resume-override", "colour")
    assert_refused(run_cli(argv, capfd), "train", "colour", limit=20)


@pytest.mark.timeout(180)
def test_eval_json_onto_an_existing_file_needs_force(small, tmp_path, capfd):
    target = tmp_path / "metrics.json"
    target.write_text("keep me\n")
    argv = ["eval", "--checkpoint", small["checkpoint"], "--data", small["urls"], "--json",
            target, "--device", "cpu"]  # fmt: skip
    assert_refused(run_cli(argv, capfd), "eval", str(target), "--force", limit=20)
    assert target.read_text() == "keep me\n"
    result = run_cli([*argv, "--force"], capfd)
    assert result.code == 0, result.stderr
    assert "retrieval" in json.loads(target.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left


# ---- one clear line for malformed options and data ------------------------------------------


@pytest.mark.parametrize("text,words", [("image_text", ["PAIR=NUMBER", "'image_text'"]),
                                        ("image_text=abc", ["image_text", "'abc'"]),
                                        ("colour=1", ["unknown pair", "'colour'"]),
                                        ("image_text=inf", ["LossWeights.image_text"]),
                                        ("image_text=-1", ["LossWeights.image_text"])])  # fmt: skip
def test_bad_loss_weights_are_one_clear_line(text, words, small, tmp_path, capfd):
    out = tmp_path / "run"
    line = assert_refused(run_cli(_train_args(small["urls"], out, "--loss-weights", text),
                                  capfd), "train", *words, limit=20)  # fmt: skip
    assert "could not convert" not in line
    assert not out.exists()


def _truncated_shard(small, path: Path) -> Path:
    data = Path(small["shard"]).read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", ["zero_bytes", "random_bytes", "corrupt_json", "truncated",
                                  "missing"])  # fmt: skip
@pytest.mark.parametrize("option", ["--calib", "--data"])
def test_export_on_broken_data_is_one_line(case, option, small, tmp_path, capfd):
    path = tmp_path / f"{case}-000000.tar"
    if case == "zero_bytes":
        path.write_bytes(b"")
    elif case == "random_bytes":
        path.write_bytes(bytes(random.Random(2).randrange(256) for _ in range(4096)))
    elif case == "corrupt_json":
        with tarfile.open(path, "w") as tar:
            for ext in ("json", "rgb.png", "audio.flac"):
                info = tarfile.TarInfo(f"00000000_front_00000.{ext}")
                info.size = 7
                tar.addfile(info, io.BytesIO(b"{broken"))
    elif case == "truncated":
        _truncated_shard(small, path)
    out = tmp_path / "bundle"
    good = small["shard"]
    data, calib = (good, str(path)) if option == "--calib" else (str(path), good)
    argv = ["export", "--checkpoint", small["checkpoint"], "--out", out, "--data", data,
            "--calib", calib, "--heldout", "4", "--calib-samples", "4"]  # fmt: skip
    assert_refused(run_cli(argv, capfd), "export", option, str(path), limit=60)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name] * path.exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_resume_from_a_weights_only_checkpoint_is_exact(small, tmp_path):
    """Stopped right after its epoch-1 checkpoint and resumed (weights_only load, RNG state
    as a tensor), a run ends with exactly the weights and losses of an uninterrupted one."""
    from multimodal.train import launch
    from multimodal.train_config import TrainConfig
    from multimodal.trainer import Trainer

    def cfg(out: Path, **kw) -> TrainConfig:
        return TrainConfig(train=small["urls"], out=str(out), batch_size=4, epochs=2,
                           steps_per_epoch=2, warmup_steps=1, workers=0, device="cpu",
                           progress=False, **kw)  # fmt: skip

    launch(cfg(tmp_path / "full"))

    class Killed(Exception):
        pass

    class StopsAfterEpoch1(Trainer):
        def save(self) -> None:
            super().save()
            if self.step == 2:
                raise Killed

    with pytest.raises(Killed):
        StopsAfterEpoch1(cfg(tmp_path / "cut")).fit()
    launch(cfg(tmp_path / "cut", resume="auto"))
    full = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    cut = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert cut["step"] == full["step"] == 4
    assert [h["loss"] for h in cut["history"]] == [h["loss"] for h in full["history"]]
    for name, tensor in full["model"].items():
        assert torch.equal(cut["model"][name], tensor), name
    assert torch.equal(cut["rng"]["torch"], full["rng"]["torch"])


def test_a_spawned_ranks_bad_input_error_is_one_line():
    """--nproc N: a rank's error comes back as torch's ProcessRaisedException, whose message
    is that rank's whole traceback; bad input is re-raised as its own one line."""
    from torch.multiprocessing import ProcessRaisedException

    from multimodal.train import _rank_error

    trace = ("\n\n-- Process 1 terminated with the following error:\nTraceback (most recent "
             "call last):\n  File \"t.py\", line 3, in f\n    raise LoaderError(m)\n"
             "multimodal.data.LoaderError: 201 samples in a row were unreadable\n")  # fmt: skip
    err = _rank_error(ProcessRaisedException(trace, 1, 123))
    assert isinstance(err, ValueError) and str(err) == "201 samples in a row were unreadable"
    bug = ProcessRaisedException(trace.replace("multimodal.data.LoaderError", "KeyError"), 1, 1)
    assert _rank_error(bug) is bug  # a bug keeps its traceback
