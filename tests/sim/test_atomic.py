"""Atomic writes: the new content appears whole, a failed write keeps the old file."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sim.atomic import atomic_write_json


def test_json_round_trips_and_follows_the_umask(tmp_path):
    path = tmp_path / "sub" / "a.json"
    old = os.umask(0o022)
    try:
        atomic_write_json(path, {"b": 1, "a": [1.5, "x"], "p": tmp_path})
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        atomic_write_json(tmp_path / "private.json", {})
        assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert json.loads(path.read_text()) == {"a": [1.5, "x"], "b": 1, "p": str(tmp_path)}
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"ok": True})
    with pytest.raises(ValueError, match="Circular"):  # fails before writing anything
        loop: list = []
        loop.append(loop)
        atomic_write_json(path, loop)

    def no_rename(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr("sim.atomic.os.replace", no_rename)
    with pytest.raises(OSError, match="disk gone"):  # fails after the data was written
        atomic_write_json(path, {"ok": False})
    assert json.loads(path.read_text()) == {"ok": True}
    assert list(tmp_path.iterdir()) == [path]
