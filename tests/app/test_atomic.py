"""dlproof.atomic: the one atomic writer (reports, caches, benchmarks)."""
import json
import os

import pytest

from dlproof import atomic


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "claims.md"
    atomic.write_atomic(path, "old\n")

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomic(path, "new " * 10000)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.md"], "a temporary file was left behind"


def test_write_atomic_bytes_and_text(tmp_path):
    atomic.write_atomic(tmp_path / "a" / "b.bin", b"\x89PNG")
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x89PNG"
    atomic.write_atomic(tmp_path / "c.md", "π ≤ 4")
    assert (tmp_path / "c.md").read_text(encoding="utf-8") == "π ≤ 4"


def test_write_json_ends_with_a_newline(tmp_path):
    atomic.write_json(tmp_path / "r.json", {"b": 1, "a": [2]}, indent=1, sort_keys=True)
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert text == json.dumps({"a": [2], "b": 1}, indent=1, sort_keys=True) + "\n"


def test_symlink_atomic_replaces_the_link(tmp_path):
    atomic.symlink_atomic("runs/a", tmp_path / "latest")
    atomic.symlink_atomic("runs/b", tmp_path / "latest")
    assert os.readlink(tmp_path / "latest") == "runs/b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]


def test_an_unwritable_destination_names_the_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(atomic.ReportDirError, match="is not a folder"):
        atomic.write_atomic(tmp_path / "f" / "a.md", "text")
