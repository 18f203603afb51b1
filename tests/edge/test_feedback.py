"""Feedback on the board (issue 23): flagged inputs as WebDataset shards, within a disk budget,
written atomically, deterministic, recovered after a killed run; ``edge run`` and ``edge watch``
log them without torch."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from boardkit import bundle_id, versioned_bundle, write_inputs
from tinybundle import make_bundle

from edge.cli import main
from edge.runtime.feedback import (
    FeedbackConfig,
    FeedbackLog,
    FeedbackSample,
    folder_bytes,
    shard_bytes,
    shard_size,
)

REPO = Path(__file__).resolve().parents[2]
ALL = ("--feedback-criteria", "low_cosine", "--min-cosine", "1")  # flags every pair
# The board: what `drivesynth` does with torch, open_clip, webdataset and pybullet unimportable.
BOARD = """
import sys
for name in ("torch", "torchaudio", "torchvision", "open_clip", "webdataset", "pybullet"):
    sys.modules[name] = None
from edge.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("tiny") / "bundle")


def _run(capsys, *args: str) -> tuple[int, dict | None, list[str]]:
    code = main(["edge", "run", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err.strip().splitlines()


def _members(shard: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(shard) as tar:
        return tar.getmembers()


def test_shard_is_a_webdataset_of_the_inputs_in_a_fixed_layout(bundle, tmp_path, capsys):
    names = write_inputs(tmp_path / "in", 5)
    fb = tmp_path / "fb"
    code, report, err = _run(capsys, "--bundle", str(bundle), "--inputs", str(tmp_path / "in"),
                             "--feedback", str(fb), *ALL)  # fmt: skip
    assert code == 0, err
    statuses = [s["feedback"] for s in report["samples"]]
    assert [s["status"] for s in statuses] == ["logged"] * 5
    assert {s["shard"] for s in statuses} == {"feedback-000000.tar"}
    keys = [s["key"] for s in statuses]
    assert all("." not in k and k.startswith(n + "_") for k, n in zip(keys, names))
    assert sorted(os.listdir(fb)) == [".lock", "feedback-000000.tar", "manifest.json"]

    shard = fb / "feedback-000000.tar"
    members = _members(shard)
    assert [m.name for m in members] == [f"{k}.{suffix}" for k in keys
                                         for suffix in ("rgb.png", "audio.flac", "json")]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
        (0, 0, 0, "", "", 0o644)}
    with tarfile.open(shard) as tar:
        assert tar.extractfile(f"{keys[2]}.rgb.png").read() == \
            (tmp_path / "in" / f"{names[2]}.png").read_bytes()  # fmt: skip
        assert tar.extractfile(f"{keys[2]}.audio.flac").read() == \
            (tmp_path / "in" / f"{names[2]}.flac").read_bytes()  # fmt: skip
        meta = json.loads(tar.extractfile(f"{keys[2]}.json").read())
    assert meta["bundle"] == {"id": bundle_id(bundle), "version": 0, "variant": "fp32"}
    assert meta["criteria"] == {"low_cosine": {"min_cosine": 1.0}}
    assert meta["reasons"] == ["low_cosine"] and meta["key"] == keys[2]
    assert meta["sources"] == {"image": f"{names[2]}.png", "audio": f"{names[2]}.flac"}
    for modality in ("image", "audio"):
        for task, pred in meta["predictions"][modality].items():
            assert abs(sum(pred["probabilities"].values()) - 1) < 1e-4, task
            assert pred["label"] == max(pred["probabilities"], key=pred["probabilities"].get)
    assert -1 <= meta["image_audio_cosine"] < 1

    import webdataset as wds  # the factory reads feedback like any other shard

    samples = [s for s in wds.WebDataset(str(shard), shardshuffle=False, empty_check=False)
               if "json" in s]  # fmt: skip
    assert [s["__key__"] for s in samples] == keys
    assert all({"rgb.png", "audio.flac", "json"} <= set(s) for s in samples)

    manifest = json.loads((fb / "manifest.json").read_text())
    (entry,) = manifest["shards"]
    assert entry["sha256"] == hashlib.sha256(shard.read_bytes()).hexdigest()
    assert entry["bytes"] == shard.stat().st_size and entry["keys"] == keys
    assert entry["bundle"]["id"] == bundle_id(bundle) and entry["reasons"] == {"low_cosine": 5}
    assert manifest["counts"]["seen"] == manifest["counts"]["logged"] == 5
    assert report["feedback"]["bytes"] == folder_bytes(fb) <= report["feedback"]["budget_bytes"]


def test_same_inputs_give_byte_identical_shards(bundle, tmp_path, capsys):
    write_inputs(tmp_path / "a", 4, seed=3)
    write_inputs(tmp_path / "b", 4, seed=3)
    for name in ("a", "b"):
        code, _, err = _run(capsys, "--bundle", str(bundle), "--inputs", str(tmp_path / name),
                            "--feedback", str(tmp_path / f"fb-{name}"), *ALL)  # fmt: skip
        assert code == 0, err
    a, b = (tmp_path / f"fb-{n}" / "feedback-000000.tar" for n in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()


def test_inputs_already_logged_are_not_logged_again(bundle, tmp_path, capsys):
    write_inputs(tmp_path / "in", 3)
    args = ("--bundle", str(bundle), "--inputs", str(tmp_path / "in"), "--feedback",
            str(tmp_path / "fb"), *ALL)  # fmt: skip
    assert _run(capsys, *args)[0] == 0
    code, report, _ = _run(capsys, *args)
    assert code == 0 and [s["feedback"]["status"] for s in report["samples"]] == ["duplicate"] * 3
    counts = report["feedback"]["counts"]
    assert (counts["seen"], counts["logged"], counts["duplicates"]) == (6, 3, 3)
    assert report["feedback"]["shards"] == 1


def test_folder_never_exceeds_its_budget(bundle, tmp_path, capsys, monkeypatch):
    """Measured at every rename into the folder (the moment a temporary file and the file it
    replaces both exist), over runs that fill it: never above the budget."""
    fb, budget = tmp_path / "fb", 160 << 10
    peaks: list[int] = []
    real_replace = os.replace

    def spy(src, dst, *a, **k):
        if Path(dst).parent == fb:
            peaks.append(folder_bytes(fb))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", spy)
    logged = []
    for run in range(4):
        write_inputs(tmp_path / f"in{run}", 6, seed=10 + run)
        code, report, err = _run(capsys, "--bundle", str(bundle), "--inputs",
                                 str(tmp_path / f"in{run}"), "--feedback", str(fb),
                                 "--feedback-budget", "160K", "--shard-samples", "4",
                                 *ALL)  # fmt: skip
        assert code == 0, err
        assert folder_bytes(fb) <= budget
        logged.append(report["feedback"]["counts"]["logged"])
    assert peaks and max(peaks) <= budget, (max(peaks), budget)
    counts = report["feedback"]["counts"]
    assert counts["dropped_budget"] > 0 and counts["logged"] + counts["dropped_budget"] == 24
    assert logged[-1] == logged[-2]  # full: "stop" logs nothing more
    statuses = {s["feedback"]["status"] for s in report["samples"]}
    assert statuses == {"dropped_budget"}


def _sample(key: str, size: int, margin: float, reasons=("low_margin:image:t",)) -> FeedbackSample:
    return FeedbackSample(key=f"{key}_{hashlib.sha256(key.encode()).hexdigest()[:12]}",
                          files=(("rgb.png", bytes(size)),), record={"sample": key},
                          reasons=tuple(reasons), least_margin=margin)  # fmt: skip


def test_when_not_all_fit_the_least_sure_are_kept_in_input_order(tmp_path):
    cfg = FeedbackConfig(budget_bytes=48 << 10, shard_samples=100)
    margins = {"a": 0.5, "b": 0.01, "c": 0.3, "d": 0.02}
    with FeedbackLog(tmp_path / "fb", cfg, {"id": "x", "version": 1, "variant": "fp32"}) as log:
        for key, margin in margins.items():
            log.add(_sample(key, 15_000, margin))
    (entry,) = log.manifest["shards"]
    assert [k.split("_")[0] for k in entry["keys"]] == ["b", "d"]  # two fit; the least sure
    assert log.manifest["counts"]["dropped_budget"] == 2
    assert folder_bytes(tmp_path / "fb") <= cfg.budget_bytes


def test_rotate_deletes_the_oldest_shards_to_make_room(tmp_path):
    cfg = FeedbackConfig(budget_bytes=64 << 10, shard_samples=1, when_full="rotate")
    bundle = {"id": "x", "version": 1, "variant": "fp32"}
    with FeedbackLog(tmp_path / "fb", cfg, bundle) as log:
        for i in range(8):
            log.add(_sample(f"s{i}", 15_000, 0.1))
            assert folder_bytes(tmp_path / "fb") <= cfg.budget_bytes
    files = sorted(p.name for p in (tmp_path / "fb").glob("feedback-*.tar"))
    assert files == [e["file"] for e in log.manifest["shards"]]
    assert files[-1] == "feedback-000007.tar" and "feedback-000000.tar" not in files
    assert log.manifest["counts"]["evicted_shards"] == 8 - len(files)


def test_a_sample_larger_than_the_budget_evicts_nothing(tmp_path):
    cfg = FeedbackConfig(budget_bytes=64 << 10, shard_samples=1, when_full="rotate")
    with FeedbackLog(tmp_path / "fb", cfg, {"id": "x", "version": 1, "variant": "fp32"}) as log:
        log.add(_sample("small", 10_000, 0.1))
        log.add(_sample("huge", 100_000, 0.0))
    assert [e["keys"][0].split("_")[0] for e in log.manifest["shards"]] == ["small"]
    assert log.manifest["counts"]["dropped_budget"] == 1


@pytest.mark.parametrize("sizes", [[0], [1], [511, 512, 513], [10_000, 3], [9_000] * 7])
def test_shard_size_is_exact(sizes):
    samples = [_sample(f"k{i}", n, 0.1) for i, n in enumerate(sizes)]
    extra = {"bundle": {"id": "x"}}
    from edge.runtime.feedback import _sizes

    predicted = shard_size([b for s in samples for b in _sizes(s, extra)])
    assert predicted == len(shard_bytes(samples, extra))


def test_leftovers_of_a_killed_run_are_removed_and_listed_shards_kept(tmp_path):
    fb = tmp_path / "fb"
    bundle = {"id": "x", "version": 1, "variant": "fp32"}
    with FeedbackLog(fb, FeedbackConfig(), bundle) as log:
        log.add(_sample("kept", 100, 0.1))
    listed = (fb / "feedback-000000.tar").read_bytes()
    (fb / ".feedback-abc123.tar").write_bytes(b"half a shard")  # killed while writing
    (fb / ".manifest.json.x1y2.tmp").write_text("{")  # killed while replacing the manifest
    (fb / "feedback-000001.tar").write_bytes(listed)  # killed between rename and manifest
    with FeedbackLog(fb, FeedbackConfig(), bundle) as log:
        pass
    assert sorted(os.listdir(fb)) == [".lock", "feedback-000000.tar", "manifest.json"]
    assert (fb / "feedback-000000.tar").read_bytes() == listed
    assert [e["file"] for e in log.manifest["shards"]] == ["feedback-000000.tar"]


def test_a_failed_write_leaves_no_temporary_and_an_unchanged_manifest(bundle, tmp_path, capsys,
                                                                      monkeypatch):  # fmt: skip
    write_inputs(tmp_path / "in", 2)
    real_replace = os.replace

    def failing(src, dst, *a, **k):
        if str(dst).endswith(".tar"):
            raise PermissionError(f"injected: cannot rename into {dst}")
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", failing)
    code, _, err = _run(capsys, "--bundle", str(bundle), "--inputs", str(tmp_path / "in"),
                        "--feedback", str(tmp_path / "fb"), *ALL)  # fmt: skip
    assert code == 2 and len(err) == 1 and "injected" in err[0]
    assert sorted(os.listdir(tmp_path / "fb")) == [".lock", "manifest.json"]
    assert json.loads((tmp_path / "fb" / "manifest.json").read_text())["shards"] == []


KILL_AT_RENAME = """
import os, signal, sys
real = os.replace
def replace(src, dst, *a, **k):
    if str(dst).endswith(".tar"):
        os.kill(os.getpid(), signal.SIGKILL)  # dies with the whole shard in a temporary file
    return real(src, dst, *a, **k)
os.replace = replace
from edge.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_while_writing_leaves_no_shard_and_the_next_run_recovers(bundle, tmp_path):
    write_inputs(tmp_path / "in", 3)
    args = ["edge", "run", "--bundle", str(bundle), "--inputs", str(tmp_path / "in"),
            "--feedback", str(tmp_path / "fb"), *ALL]  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", KILL_AT_RENAME, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    left = sorted(os.listdir(tmp_path / "fb"))
    assert not [n for n in left if n.startswith("feedback-")], left  # no partial shard
    proc = subprocess.run([sys.executable, "-c", BOARD, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path / "fb")) == [".lock", "feedback-000000.tar",
                                                   "manifest.json"]  # fmt: skip


def test_plain_run_reports_the_same_with_feedback(bundle, tmp_path, capsys):
    write_inputs(tmp_path / "in", 2)
    files = ["--image", str(tmp_path / "in/s000.png"), "--image", str(tmp_path / "in/s001.png"),
             "--audio", str(tmp_path / "in/s000.flac"),
             "--audio", str(tmp_path / "in/s001.flac")]  # fmt: skip
    code, plain, _ = _run(capsys, "--bundle", str(bundle), *files)
    assert code == 0
    code, logged, err = _run(capsys, "--bundle", str(bundle), *files, "--feedback",
                             str(tmp_path / "fb"), *ALL)  # fmt: skip
    assert code == 0, err
    extra = logged.pop("feedback"), logged.pop("feedback_samples")
    assert logged == plain
    assert [s["status"] for s in extra[1]] == ["logged", "logged"]
    assert extra[0]["counts"]["logged"] == 2


@pytest.mark.parametrize(("args", "needle"), [
    (("--feedback-criteria", "low_score,vibes"), "criteria must be a non-empty subset"),
    (("--feedback-budget", "lots"), "size must be a number of bytes"),
    (("--feedback-budget", "1K"), "budget_bytes must be an int >= 16384"),
    (("--min-score", "2"), "min_score must be in [0, 1]"),
])  # fmt: skip
def test_bad_feedback_options_are_one_line(bundle, tmp_path, capsys, args, needle):
    write_inputs(tmp_path / "in", 1)
    code, out, err = _run(capsys, "--bundle", str(bundle), "--inputs", str(tmp_path / "in"),
                          "--feedback", str(tmp_path / "fb"), *args)  # fmt: skip
    assert code == 2 and out is None and len(err) == 1 and needle in err[0], err


def test_feedback_folder_with_other_files_is_refused(bundle, tmp_path, capsys):
    write_inputs(tmp_path / "in", 1)
    (tmp_path / "fb").mkdir()
    (tmp_path / "fb" / "thesis.pdf").write_bytes(b"%PDF")
    code, _, err = _run(capsys, "--bundle", str(bundle), "--inputs", str(tmp_path / "in"),
                        "--feedback", str(tmp_path / "fb"))  # fmt: skip
    assert code == 2 and len(err) == 1 and "holds other files" in err[0]


def test_unusable_files_of_a_folder_are_reported_not_fatal(bundle, tmp_path, capsys):
    write_inputs(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.png").write_bytes(b"not a picture")
    code, report, _ = _run(capsys, "--bundle", str(bundle), "--inputs", str(tmp_path / "in"),
                           "--feedback", str(tmp_path / "fb"), *ALL)  # fmt: skip
    assert code == 0 and report["errors"] == 1
    broken = next(s for s in report["samples"] if s["sample"] == "broken")
    assert "broken.png" in broken["error"] and "feedback" not in broken
    assert report["feedback"]["counts"]["logged"] == 2


def _read_lines(proc: subprocess.Popen, n: int, timeout: float = 60) -> list[dict]:
    lines, deadline = [], time.monotonic() + timeout
    while len(lines) < n and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            lines.append(json.loads(line))
    return lines


def test_watch_logs_feedback_without_torch_and_flushes_on_sigterm(tmp_path):
    bundle = versioned_bundle(tmp_path / "bundle", version=3)
    write_inputs(tmp_path / "in", 3)
    fb = tmp_path / "fb"
    args = ["edge", "watch", str(tmp_path / "in"), "--bundle", str(bundle), "--feedback",
            str(fb), "--poll", "0.1", "--settle", "0", "--flush", "1000", *ALL]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", BOARD, *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        lines = _read_lines(proc, 3)
        assert [r["sample"] for r in lines] == ["s000", "s001", "s002"]
        assert {r["feedback"]["status"] for r in lines} == {"pending"}
        assert {r["bundle_id"] for r in lines} == {bundle_id(bundle)}
        assert not list(fb.glob("feedback-*.tar"))  # not yet: --flush 1000 s
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()
    (entry,) = json.loads((fb / "manifest.json").read_text())["shards"]
    assert entry["samples"] == 3 and entry["bundle"]["version"] == 3
    # a new sample, and a second watcher: the three logged ones are duplicates
    write_inputs(tmp_path / "more", 4, seed=0)
    for name in ("s003.png", "s003.flac"):
        os.replace(tmp_path / "more" / name, tmp_path / "in" / name)
    proc = subprocess.run([sys.executable, "-c", BOARD, *args[:-len(ALL)], "--polls", "1", *ALL],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["feedback"]["status"] for r in lines] == ["duplicate"] * 3 + ["pending"]
    manifest = json.loads((fb / "manifest.json").read_text())
    assert [e["samples"] for e in manifest["shards"]] == [3, 1]


def test_watch_reports_settling_and_bad_files(bundle, tmp_path):
    from edge.runtime.observe import group_folder

    write_inputs(tmp_path / "in", 2)
    (tmp_path / "in" / "x.rgb.png").write_bytes(b"")
    (tmp_path / "in" / "x.seg.png").write_bytes(b"")
    (tmp_path / "in" / "y.a.png").write_bytes(b"")
    (tmp_path / "in" / "y.b.png").write_bytes(b"")
    (tmp_path / "in" / ".hidden.png").write_bytes(b"")
    samples, skipped = group_folder(tmp_path / "in")
    assert [s.name for s in samples] == ["s000", "s001", "x"]
    assert samples[2].image.name == "x.rgb.png" and samples[2].audio is None
    assert len(skipped) == 1 and skipped[0].startswith("y: 2 image files")
    now = time.time()
    os.utime(tmp_path / "in" / "s001.flac", (now, now))
    samples, _ = group_folder(tmp_path / "in", settle_s=30, now=now + 1)
    assert "s001" not in [s.name for s in samples]  # its sound may still be being written


def test_feedback_bytes_stream(tmp_path):
    """A shard read back by plain tarfile: the same bytes per member as given."""
    samples = [_sample("a", 700, 0.1), _sample("b", 5, 0.2)]
    data = shard_bytes(samples, {})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert [m.size for m in tar.getmembers() if m.name.endswith(".png")] == [700, 5]
