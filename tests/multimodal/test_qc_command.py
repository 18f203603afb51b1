"""`drivesynth qc` on bad input and its outputs: one line and exit 2, nothing written or
replaced unless asked, shards keep their mode after --drop, a json that is not an object
is a finding (not a crash)."""

from __future__ import annotations

import io
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from edge.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pybullet")
    from datagen.builder import weather_presets
    from datagen.generate import build_shard
    from datagen.plan import GenerateConfig, make_plan

    root = tmp_path_factory.mktemp("qc") / "data"
    root.mkdir()
    cfg = GenerateConfig(scenarios=2, frames=2, image_size=64, seed=4, split="q",
                         weather_presets=weather_presets(), samples_per_shard=4)  # fmt: skip
    for shard in make_plan(cfg):
        build_shard(shard, str(root))
    return root


def _one_line_error(capsys: pytest.CaptureFixture, needle: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], err


def test_json_onto_a_folder_or_an_existing_file(data: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "folder").mkdir()
    assert main(["qc", str(data), "--json", str(tmp_path / "folder")]) == 2
    _one_line_error(capsys, "is a folder")
    existing = tmp_path / "r.json"
    existing.write_text("keep")
    assert main(["qc", str(data), "--json", str(existing)]) == 2
    _one_line_error(capsys, "--force")
    assert existing.read_text() == "keep"
    assert main(["qc", str(data), "--json", str(existing), "--force"]) == 0
    assert existing.read_text().startswith("{")


def test_inject_eval_on_an_empty_shard_writes_nothing(tmp_path: Path, capsys) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x-000000.tar").write_bytes(b"")
    work = tmp_path / "work"
    assert main(["qc", str(tmp_path / "d"), "--inject-eval", str(work)]) == 2
    _one_line_error(capsys, "unreadable")
    assert not work.exists()


def test_drop_keeps_the_shard_mode(data: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(data, tmp_path / "d"))
    shard = sorted(copy.glob("*.tar"))[0]
    shard.chmod(0o640)
    assert main(["qc", str(copy), "--drop"]) == 0
    assert stat.S_IMODE(shard.stat().st_mode) == 0o640


def test_json_that_is_a_list_is_a_finding(data: Path, tmp_path: Path) -> None:
    from datagen.qc.report import run_qc

    src = sorted(data.glob("*.tar"))[0]
    (tmp_path / "d").mkdir()
    dst = tmp_path / "d" / src.name
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        first = None
        for member in tin.getmembers():
            payload = tin.extractfile(member).read()
            key = member.name.split(".")[0]
            first = first or key
            if key == first and member.name.endswith(".json"):
                payload = b"[1, 2, 3]"
                member.size = len(payload)
            tout.addfile(member, io.BytesIO(payload))
    report = run_qc(tmp_path / "d")
    schema = [f for f in report.findings if f.key == first and f.check == "schema"]
    assert schema and "not an object" in schema[0].reason
