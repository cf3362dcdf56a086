"""Complete or absent: the one durable write recipe, and that it flushes before it renames."""

from __future__ import annotations

import os

import pytest

from moodline.core import durable
from moodline.core.durable import durable_path, staged_directory, write_atomically


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), durable_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_the_file_and_its_directory_are_flushed_before_and_after_the_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(durable.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(durable.os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b))[1])
    write_atomically(tmp_path / "a.txt", "text\r\n")
    assert events == ["fsync", "rename", "fsync"]
    assert (tmp_path / "a.txt").read_bytes() == b"text\r\n"
    assert oct((tmp_path / "a.txt").stat().st_mode & 0o777) == oct(0o644)


def test_a_staged_directory_replaces_the_old_one_whole_or_not_at_all(tmp_path):
    output = tmp_path / "model"
    with staged_directory(output) as work:
        (work / "weights").write_text("v1")
    with pytest.raises(RuntimeError), staged_directory(output) as work:
        (work / "weights").write_text("v2 half")
        raise RuntimeError("killed")
    assert (output / "weights").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
