"""sim commands on bad input (issue 19): vehicle YAML syntax errors and wrong types are one
line; preview/vehicle/drivers never replace an existing output unless --force; outputs are
written atomically with the umask's mode. All refusals come before any simulation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edge.cli import main
from sim.commands.output import check_output_file, write_output_file
from sim.vehicle.config import load_config


def _err(capsys: pytest.CaptureFixture) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


BAD_YAML = {
    "syntax.yaml": ("body: {mass_kg: 1500\ntire: [1, 2\n", "invalid YAML at line"),
    "tabs.yaml": ("body:\n\tmass_kg: 1\n", "invalid YAML"),
    "empty.yaml": ("", "is empty"),
    "list.yaml": ("- body\n- tire\n", "must be a mapping"),
    "scalar.yaml": ("42\n", "must be a mapping"),
    "section.yaml": ("body: 5\n", "BodyConfig must be a mapping"),
    "section_list.yaml": ("engine: [1, 2]\n", "EngineConfig must be a mapping"),
    "string.yaml": ("body: {mass_kg: heavy}\n", "BodyConfig.mass_kg must be a finite number"),
    "nan.yaml": ("body: {mass_kg: .nan}\n", "BodyConfig.mass_kg"),
    "inf.yaml": ("aero: {drag_coefficient: .inf}\n", "AeroConfig.drag_coefficient"),
    "bool.yaml": ("brakes: {abs_enabled: 'no'}\n", "BrakeConfig.abs_enabled must be true or false"),
    "curve.yaml": ("engine: {curve_rpm: 5}\n", "EngineConfig.curve_rpm must be a list"),
    "curve_str.yaml": ("engine: {curve_rpm: abc}\n", "EngineConfig.curve_rpm must be a list"),
    "curve_nan.yaml": ("engine: {curve_nm: [1, .nan, 2, 3, 4, 5]}\n", "curve_nm"),
    "name.yaml": ("name: [1]\n", "VehicleConfig.name"),
    "key.yaml": ("1: 2\n", "no section '1'"),
    "tag.yaml": ("!!python/object/apply:os.system ['echo hi']\n", "invalid YAML"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD_YAML))
def test_bad_vehicle_yaml_is_one_line(tmp_path: Path, capsys, name: str) -> None:
    text, needle = BAD_YAML[name]
    path = tmp_path / name
    path.write_text(text)
    assert main(["vehicle", "report", "--config", str(path)]) == 2
    err = _err(capsys)
    assert len(err) == 1 and needle in err[0] and name in err[0], err


def test_binary_and_huge_configs_are_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00body")
    (tmp_path / "huge.yaml").write_text("# " + "x" * (2 << 20))
    for name, needle in (("bin.yaml", "not UTF-8"), ("huge.yaml", "larger than")):
        assert main(["vehicle", "report", "--config", str(tmp_path / name)]) == 2
        err = _err(capsys)
        assert len(err) == 1 and needle in err[0], err


def test_config_folder_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["vehicle", "report", "--config", str(tmp_path)]) == 2
    assert "not a regular file" in _err(capsys)[0]


def test_a_valid_yaml_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "car.yaml"
    path.write_text("name: mine\nbody: {mass_kg: 1400}\nbrakes: {abs_enabled: false}\n")
    cfg = load_config(path)
    assert cfg.name == "mine" and cfg.body.mass_kg == 1400 and cfg.brakes.abs_enabled is False


@pytest.mark.parametrize("argv", [
    ["preview", "--frames", "1", "--out", "EXISTING.png"],
    ["vehicle", "report", "--json", "EXISTING.png"],
    ["vehicle", "report", "--plot", "EXISTING.png"],
    ["drivers", "eval", "--episodes", "1", "--json", "EXISTING.png"],
])  # fmt: skip
def test_existing_output_is_not_replaced_without_force(tmp_path: Path, capsys, argv) -> None:
    existing = tmp_path / "old.png"
    existing.write_bytes(b"precious")
    argv = [str(existing) if a == "EXISTING.png" else a for a in argv]
    assert main(argv) == 2
    err = _err(capsys)
    assert len(err) == 1 and "already exists" in err[0] and "--force" in err[0], err
    assert existing.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.png"]


def test_drivers_train_refuses_to_replace_a_policy(tmp_path: Path, capsys) -> None:
    (tmp_path / "normal.npz").write_bytes(b"policy")
    assert main(["drivers", "train", "--style", "normal", "--out", str(tmp_path)]) == 2
    assert "already exists" in _err(capsys)[0]
    assert (tmp_path / "normal.npz").read_bytes() == b"policy"


@pytest.mark.parametrize("args,needle", [
    (["--seeds", "1000000"], "--seeds"),
    (["--frames", "100000000"], "--frames"),
    (["--image-size", "100000"], "--image-size"),
])  # fmt: skip
def test_preview_refuses_huge_requests(tmp_path: Path, capsys, args, needle) -> None:
    assert main(["preview", "--out", str(tmp_path / "p.png"), *args]) == 2
    err = _err(capsys)
    assert len(err) == 1 and needle in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_preview_out_that_is_a_folder_or_under_a_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d.png").mkdir()
    for out, needle in ((tmp_path / "d.png", "is a folder"),
                        (tmp_path / "f" / "p.png", "is not a folder")):  # fmt: skip
        assert main(["preview", "--frames", "1", "--out", str(out)]) == 2
        err = _err(capsys)
        assert len(err) == 1 and needle in err[0], err


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_umask_mode_and_leave_no_temporary(tmp_path: Path, umask, mode) -> None:
    old = os.umask(umask)
    try:
        out = tmp_path / "new" / "p.png"
        check_output_file(out, "--out", force=False)
        write_output_file(out, lambda tmp: tmp.write_bytes(b"png"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert [p.name for p in out.parent.iterdir()] == ["p.png"]


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_output_file(tmp_path / "a" / "b" / "p.png", fail)
    assert list(tmp_path.iterdir()) == []
