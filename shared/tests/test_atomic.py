"""tinyqwen.atomic: temp file in the same folder + fsync + os.replace."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from tinyqwen.atomic import atomic_path, atomic_write_bytes, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_text_and_bytes(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "héllo\r\nworld\n")
    assert (tmp_path / "a.txt").read_bytes() == "héllo\r\nworld\n".encode()  # no translation
    atomic_write_text(tmp_path / "a.txt", "x", encoding="utf-16")
    assert (tmp_path / "a.txt").read_text(encoding="utf-16") == "x"
    atomic_write_bytes(str(tmp_path / "sub" / "b.bin"), b"\x00\x01")  # str path, parent created
    assert (tmp_path / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.bin", "sub"]


def test_atomic_path_success(tmp_path):
    target = tmp_path / "fig.png"
    target.write_text("old")
    with atomic_path(target, suffix=".png") as tmp:
        assert tmp.parent == tmp_path and tmp.exists() and tmp.name.endswith(".png.tmp")
        assert target.read_text() == "old"  # not replaced before the block ends
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_atomic_path_failure_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_text("previous")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("boom")
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_failure_without_previous_file_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "x.json"):
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_mode_is_0644(tmp_path):
    atomic_write_text(tmp_path / "t.json", "{}")
    atomic_write_bytes(tmp_path / "b.bin", b"1")
    with atomic_path(tmp_path / "p.bin") as tmp:
        tmp.write_bytes(b"2")
    for name in ("t.json", "b.bin", "p.bin"):
        assert _mode(tmp_path / name) == 0o644, name
