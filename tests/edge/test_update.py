"""Safe updates on the board (issue 23): ``edge update`` installs atomically, verifies
checksums, id and signature, keeps the previous bundle, rolls back, and an update killed at
any point leaves ``DIR/current`` on a complete, verified bundle."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from boardkit import bundle_id, restamp, versioned_bundle, write_inputs
from tinybundle import read_manifest, write_manifest

from edge.cli import main
from edge.runtime import update
from edge.runtime.bundle import load_bundle

REPO = Path(__file__).resolve().parents[2]
BLOCK = """
import sys
for name in ("torch", "torchaudio", "torchvision", "open_clip", "webdataset", "pybullet"):
    sys.modules[name] = None
"""
BOARD = BLOCK + """
from edge.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("versions")
    return {f"v{v}": versioned_bundle(root / f"v{v}", version=v, seed=v) for v in (1, 2, 3)}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from edge.runtime.signing import generate_keypair

    root = tmp_path_factory.mktemp("keys")
    generate_keypair(root / "a.pem")
    generate_keypair(root / "b.pem")
    return {"a": root / "a.pem", "a.pub": root / "a.pem.pub", "b": root / "b.pem",
            "b.pub": root / "b.pem.pub"}  # fmt: skip


def _edge(capsys, *args: str) -> tuple[int, dict | None, list[str]]:
    code = main(["edge", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err.strip().splitlines()


def _current(into: Path) -> str:
    return bundle_id(into / "current")


def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def _signed(src: Path, dst: Path, key: Path) -> Path:
    from edge.runtime.signing import sign_bundle

    sign_bundle(_copy(src, dst), key)
    return dst


def test_install_keeps_the_previous_bundle_and_rollback_swaps_them(bundles, tmp_path, capsys):
    into = tmp_path / "board"
    code, result, err = _edge(capsys, "update", "--bundle", str(bundles["v1"]), "--into",
                              str(into))  # fmt: skip
    assert code == 0, err
    assert result["status"] == "installed" and result["previous"] is None
    assert os.readlink(into / "current") == f"versions/{result['current']}"
    code, result, err = _edge(capsys, "update", "--bundle", str(bundles["v2"]), "--into",
                              str(into))  # fmt: skip
    assert code == 0, err
    assert (result["version"], result["previous"]) == (2, update.link_target(into, "previous"))
    assert _current(into) == bundle_id(bundles["v2"])
    assert bundle_id(into / "previous") == bundle_id(bundles["v1"])

    write_inputs(tmp_path / "in", 1)
    code, report, err = _edge(capsys, "run", "--bundle", str(into), "--image",
                              str(tmp_path / "in/s000.png"))  # fmt: skip
    assert code == 0 and report["bundle"]["version"] == 2, err

    code, result, err = _edge(capsys, "update", "--rollback", "--into", str(into))
    assert code == 0 and result["status"] == "rolled_back", err
    assert _current(into) == bundle_id(bundles["v1"])
    assert bundle_id(into / "previous") == bundle_id(bundles["v2"])
    code, report, _ = _edge(capsys, "run", "--bundle", str(into), "--image",
                            str(tmp_path / "in/s000.png"))  # fmt: skip
    assert report["bundle"]["version"] == 1
    assert _edge(capsys, "update", "--rollback", "--into", str(into))[0] == 0  # and forward
    assert _current(into) == bundle_id(bundles["v2"])
    code, status, _ = _edge(capsys, "update", "--status", "--into", str(into))
    assert status["current"]["version"] == 2 and status["previous"]["version"] == 1
    assert [e["action"] for e in status["history"]] == ["install", "install", "rollback",
                                                        "rollback"]  # fmt: skip


def test_versions_move_forward_only_unless_asked(bundles, tmp_path, capsys):
    into = tmp_path / "board"
    assert update.install(bundles["v2"], into)["status"] == "installed"
    assert update.install(bundles["v2"], into)["status"] == "unchanged"
    code, _, err = _edge(capsys, "update", "--bundle", str(bundles["v1"]), "--into", str(into))
    assert code == 2 and len(err) == 1 and "refusing a downgrade" in err[0]
    other_v2 = versioned_bundle(tmp_path / "other", version=2, seed=7)
    code, _, err = _edge(capsys, "update", "--bundle", str(other_v2), "--into", str(into))
    assert code == 2 and "another id" in err[0]
    assert _current(into) == bundle_id(bundles["v2"])
    code, _, err = _edge(capsys, "update", "--bundle", str(bundles["v1"]), "--into", str(into),
                         "--allow-downgrade")  # fmt: skip
    assert code == 0, err
    assert _current(into) == bundle_id(bundles["v1"])


def test_old_versions_are_pruned_but_never_current_or_previous(bundles, tmp_path):
    into = tmp_path / "board"
    for name in ("v1", "v2", "v3"):
        update.install(bundles[name], into)
    assert sorted(os.listdir(into / "versions")) == sorted(
        {update.link_target(into, "current"), update.link_target(into, "previous")})
    into3 = tmp_path / "board3"
    for name in ("v1", "v2", "v3"):
        update.install(bundles[name], into3, cfg=update.UpdateConfig(keep=3))
    assert len(os.listdir(into3 / "versions")) == 3


@pytest.mark.parametrize("tamper", ["file", "manifest", "unlisted", "missing"])
def test_tampered_bundle_is_refused_and_the_install_untouched(bundles, tmp_path, capsys,
                                                              tamper):  # fmt: skip
    into = tmp_path / "board"
    update.install(bundles["v1"], into)
    bad = _copy(bundles["v2"], tmp_path / "bad")
    if tamper == "file":
        data = bytearray((bad / "labels.npz").read_bytes())
        data[-30] ^= 1
        (bad / "labels.npz").write_bytes(bytes(data))
        needle = "checksum mismatch for labels.npz"
    elif tamper == "manifest":  # a field outside the checksums, e.g. the logit scale
        manifest = read_manifest(bad)
        manifest["labels"]["logit_scale"] = 1000.0
        write_manifest(bad, manifest)
        needle = "does not match its content"
    elif tamper == "unlisted":
        (bad / "extra.onnx").write_bytes(b"payload")
        needle = "unlisted file extra.onnx"
    else:
        (bad / "audio.fp32.onnx").unlink()
        needle = "audio.fp32.onnx is missing"
    code, _, err = _edge(capsys, "update", "--bundle", str(bad), "--into", str(into))
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert _current(into) == bundle_id(bundles["v1"])
    load_bundle(into / "current")
    assert not [p for p in os.listdir(into) if p.startswith(".staging-")]
    assert sorted(os.listdir(into / "versions")) == [update.link_target(into, "current")]


def test_bundle_whose_tower_cannot_run_is_refused(bundles, tmp_path, capsys):
    import onnx
    from onnx import numpy_helper

    into = tmp_path / "board"
    update.install(bundles["v1"], into)
    bad = _copy(bundles["v2"], tmp_path / "nan")
    model = onnx.load(str(bad / "image.fp32.onnx"))
    weight = numpy_helper.to_array(model.graph.initializer[0]).copy()
    weight[0, 0] = np.nan
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(weight, "w"))
    onnx.save(model, str(bad / "image.fp32.onnx"))
    restamp(bad)  # checksums and id are right: only running it shows the problem
    code, _, err = _edge(capsys, "update", "--bundle", str(bad), "--into", str(into))
    assert code == 2 and "non-finite embeddings on a zero input" in err[0], err
    assert _current(into) == bundle_id(bundles["v1"])


def test_signed_updates(bundles, keys, tmp_path, capsys):
    into = tmp_path / "board"
    v1 = _signed(bundles["v1"], tmp_path / "v1s", keys["a"])
    code, result, err = _edge(capsys, "update", "--bundle", str(v1), "--into", str(into),
                              "--public-key", str(keys["a.pub"]))  # fmt: skip
    assert code == 0, err
    assert (into / "trusted-key.pem").read_bytes() == keys["a.pub"].read_bytes()
    assert result["signed_by"] == json.loads((v1 / "signature.json").read_text())[
        "public_key_sha256"]

    cases = {
        "unsigned": (bundles["v2"], "is not signed"),
        "other key": (_signed(bundles["v2"], tmp_path / "v2b", keys["b"]), "another key"),
    }
    forged = _signed(bundles["v2"], tmp_path / "v2f", keys["a"])
    record = json.loads((forged / "signature.json").read_text())
    sig = bytearray(base64.b64decode(record["signature"]))
    sig[5] ^= 0x40
    record["signature"] = base64.b64encode(bytes(sig)).decode()
    (forged / "signature.json").write_text(json.dumps(record))
    cases["bad signature"] = (forged, "bad signature")
    # signed, then a file and the manifest's checksums and id rewritten by someone without
    # the key: consistent as a bundle, but not what was signed
    resigned = _signed(bundles["v2"], tmp_path / "v2r", keys["a"])
    (resigned / "labels.npz").write_bytes((bundles["v3"] / "labels.npz").read_bytes())
    restamp(resigned)
    cases["rebuilt after signing"] = (resigned, "bad signature")
    for name, (bundle, needle) in cases.items():
        # no --public-key: the key kept in the install folder applies
        code, _, err = _edge(capsys, "update", "--bundle", str(bundle), "--into", str(into))
        assert code == 2 and len(err) == 1 and needle in err[0], (name, err)
        assert _current(into) == bundle_id(bundles["v1"]), name

    v2 = _signed(bundles["v2"], tmp_path / "v2s", keys["a"])
    code, _, err = _edge(capsys, "update", "--bundle", str(v2), "--into", str(into))
    assert code == 0, err
    code, report, err = _edge(capsys, "verify", "--bundle", str(into), "--public-key",
                              str(keys["a.pub"]))  # fmt: skip
    assert code == 0 and report["signature_verified"] and report["version"] == 2, err
    code, _, err = _edge(capsys, "verify", "--bundle", str(into), "--public-key",
                         str(keys["b.pub"]))  # fmt: skip
    assert code == 2 and "another key" in err[0]


def test_board_local_selection_keeps_the_signature_valid(bundles, keys, tmp_path):
    from edge.runtime.bundle import update_manifest
    from edge.runtime.signing import load_public_key, verify_signature

    signed = _signed(bundles["v1"], tmp_path / "s", keys["a"])
    update_manifest(signed, {"selected": {"variant": "fp32"}})  # what `edge select` writes
    bundle = load_bundle(signed)
    verify_signature(signed, bundle.manifest, load_public_key(keys["a.pub"]))
    assert bundle_id(signed) == bundle.manifest["bundle"]["id"]


def test_rollback_to_an_unsigned_bundle_is_refused_once_a_key_is_kept(bundles, keys, tmp_path,
                                                                       capsys):  # fmt: skip
    into = tmp_path / "board"
    update.install(bundles["v1"], into)  # unsigned, before the board had a key
    update.install(_signed(bundles["v2"], tmp_path / "v2s", keys["a"]), into,
                   public_key=keys["a.pub"])  # fmt: skip
    code, _, err = _edge(capsys, "update", "--rollback", "--into", str(into))
    assert code == 2 and "is not signed" in err[0]
    assert _current(into) == bundle_id(bundles["v2"])


def test_an_injected_failure_mid_copy_leaves_the_old_install(bundles, tmp_path, monkeypatch):
    into = tmp_path / "board"
    update.install(bundles["v1"], into)
    calls = []
    real = update._copy_file

    def failing(src: Path, dst: Path) -> None:
        calls.append(src)
        if len(calls) == 3:
            raise OSError("injected: disk full")
        real(src, dst)

    monkeypatch.setattr(update, "_copy_file", failing)
    with pytest.raises(OSError, match="injected"):
        update.install(bundles["v2"], into)
    assert _current(into) == bundle_id(bundles["v1"])
    assert not [p for p in os.listdir(into) if p.startswith(".staging-")]
    monkeypatch.setattr(update, "_copy_file", real)
    assert update.install(bundles["v2"], into)["status"] == "installed"


KILL = BLOCK + """
import os, signal
from edge.runtime import update
point = sys.argv[1]
kill = lambda: os.kill(os.getpid(), signal.SIGKILL)
if point == "copy":  # the third file of the new bundle half-written
    real_copy, calls = update._copy_file, []
    def copy(src, dst):
        calls.append(src)
        if len(calls) == 3:
            with open(src, "rb") as fin, open(dst, "xb") as fout:
                fout.write(fin.read()[: 100])
            kill()
        real_copy(src, dst)
    update._copy_file = copy
elif point == "verified":  # the staged copy verified, not yet renamed into versions/
    real_verify = update.verify_installable
    def verify(*a, **k):
        out = real_verify(*a, **k)
        kill()
    update.verify_installable = verify
elif point == "links":  # previous switched, current not yet
    real_point = update._point
    def point_(into, link, name):
        if link == "current":
            kill()
        real_point(into, link, name)
    update._point = point_
elif point == "pruning":  # switched, half-way through deleting the oldest bundle
    def prune(into, keep):
        victim = next(p for p in (into / "versions").iterdir()
                      if p.name not in (update.link_target(into, "current"),
                                        update.link_target(into, "previous")))
        trash = into / ".trash-killed"
        trash.mkdir()
        os.replace(victim, trash / victim.name)
        next((trash / victim.name).iterdir()).unlink()
        kill()
    update._prune = prune
from edge.cli import main
sys.exit(main(["edge", "update", "--bundle", sys.argv[2], "--into", sys.argv[3]]))
"""


@pytest.mark.parametrize("point", ["copy", "verified", "links", "pruning"])
def test_an_update_killed_at_any_point_leaves_a_working_install(bundles, tmp_path, capsys,
                                                                point):  # fmt: skip
    into = tmp_path / "board"
    update.install(bundles["v1"], into)
    update.install(bundles["v2"], into)
    proc = subprocess.run([sys.executable, "-c", KILL, point, str(bundles["v3"]), str(into)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    expected = "v3" if point == "pruning" else "v2"
    assert _current(into) == bundle_id(bundles[expected])
    load_bundle(into / "current")  # complete and verified
    write_inputs(tmp_path / "in", 1)
    code, report, err = _edge(capsys, "run", "--bundle", str(into), "--image",
                              str(tmp_path / "in/s000.png"))  # fmt: skip
    assert code == 0 and report["bundle"]["version"] == int(expected[1]), err
    # the next update (on the board, without torch) cleans up and completes
    proc = subprocess.run([sys.executable, "-c", BOARD, "edge", "update", "--bundle",
                           str(bundles["v3"]), "--into", str(into)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _current(into) == bundle_id(bundles["v3"])
    assert not [p for p in os.listdir(into) if p.startswith((".staging-", ".trash-", ".link-"))]
    assert sorted(os.listdir(into / "versions")) == sorted(
        {update.link_target(into, "current"), update.link_target(into, "previous")})
    code, _, err = _edge(capsys, "update", "--rollback", "--into", str(into))
    assert code == 0, err
    assert _current(into) == bundle_id(bundles["v2"])


@pytest.mark.parametrize(("setup", "args", "needle"), [
    ("file", ("--bundle", "B"), "is not a folder"),
    ("foreign", ("--bundle", "B"), "holds files that are not an install's"),
    ("empty", ("--rollback",), "no install at"),
    ("one", ("--rollback",), "no previous bundle"),
    ("empty", ("--bundle", "B", "--keep", "1"), "keep must be an int >= 2"),
    ("empty", ("--bundle", "nowhere"), "no bundle folder at"),
    ("empty", ("--bundle", "B", "--public-key", "nokey.pem"), "no public key at"),
    ("empty", ("--bundle", "B", "--public-key", "B/labels.npz"), "not a PEM public key"),
])  # fmt: skip
def test_bad_update_requests_are_one_line(bundles, tmp_path, capsys, setup, args, needle):
    into = tmp_path / "board"
    if setup == "file":
        into.write_text("")
    elif setup == "foreign":
        into.mkdir()
        (into / "notes.txt").write_text("mine")
    elif setup == "one":
        update.install(bundles["v1"], into)
    args = [str(bundles["v1"]) if a == "B" else a.replace("B/", f"{bundles['v1']}/")
            for a in args]  # fmt: skip
    code, _, err = _edge(capsys, "update", *args, "--into", str(into))
    assert code == 2 and len(err) == 1 and needle in err[0], err


def test_keygen_and_sign_commands(bundles, tmp_path, capsys):
    key = tmp_path / "k.pem"
    code, made, err = _edge(capsys, "keygen", "--out", str(key))
    assert code == 0, err
    assert oct(key.stat().st_mode & 0o777) == "0o600" and (tmp_path / "k.pem.pub").is_file()
    assert _edge(capsys, "keygen", "--out", str(key))[0] == 2  # not replaced silently
    signed = _copy(bundles["v1"], tmp_path / "b")
    code, out, err = _edge(capsys, "sign", "--bundle", str(signed), "--key", str(key))
    assert code == 0 and out["bundle_id"] == bundle_id(signed), err
    assert out["public_key_sha256"] == made["public_key_sha256"]
    load_bundle(signed)  # signature.json is allowed beside the listed files
    code, _, err = _edge(capsys, "sign", "--bundle", str(signed), "--key",
                         str(tmp_path / "k.pem.pub"))  # fmt: skip
    assert code == 2 and "not a usable PEM private key" in err[0], err


def test_watch_moves_to_the_bundle_an_update_installs(bundles, tmp_path):
    import time

    into = tmp_path / "board"
    update.install(bundles["v1"], into)
    (tmp_path / "in").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", BOARD, "edge", "watch", str(tmp_path / "in"),
                             "--bundle", str(into), "--poll", "0.1", "--settle", "0"],
                            cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        seen = []
        for i, name in enumerate(("v1", "v2")):
            if name == "v2":
                update.install(bundles["v2"], into)
            write_inputs(tmp_path / f"batch{i}", 1, seed=i)
            for ext in ("png", "flac"):  # appear at once, as a camera that renames would
                os.replace(tmp_path / f"batch{i}/s000.{ext}", tmp_path / f"in/x{i}.{ext}")
            deadline = time.monotonic() + 60
            line = ""
            while not line and time.monotonic() < deadline:
                line = proc.stdout.readline()
            seen.append(json.loads(line)["bundle_id"])
        assert seen == [bundle_id(bundles["v1"]), bundle_id(bundles["v2"])]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
