"""tinyqwen.data_cache against tinyqwen.fake_hub: every source kind, resume, checksums, offline."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from tinyqwen.data_cache import (
    DatasetSpec,
    Source,
    data_dir,
    data_main,
    fetch,
    read_manifest,
    shared_dev_data,
)
from tinyqwen.download import ChecksumError, DownloadError
from tinyqwen.fake_hub import FakeHub

FILES = {"a/x.txt": b"x" * 5000, "b.txt": "中文\n".encode()}


def _pins(files: dict[str, bytes], prefix: str = "data/") -> dict:
    return {k: (prefix + k, len(v), hashlib.sha256(v).hexdigest()) for k, v in files.items()}


def _upper(raw: Path, out: Path) -> None:
    for p in raw.rglob("*.txt"):
        target = out / "conv" / p.relative_to(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.read_bytes().upper())


SPEC = DatasetSpec(
    name="demo",
    folder="demo_folder",
    about="test",
    size="5 kB",
    license="MIT",
    sources=(
        Source("github", "org/repo", "c0ffee", pins=_pins(FILES)),
        Source("hf", "org/ds", "main", files=("*.txt",), convert=_upper),
        Source("modelscope", "org/ds", "master", files=("*.txt",)),
    ),
)


@pytest.fixture
def hub():
    with FakeHub() as h:
        h.add_github("org/repo", "c0ffee", {"data/" + k: v for k, v in FILES.items()})
        h.add_hf_dataset("org/ds", "main", FILES)
        h.add_modelscope_dataset("org/ds", "master", FILES)
        yield h


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != "MANIFEST.json"
    }


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYU_DATA_DIR", raising=False)
    assert data_dir() == Path("~/.cache/tiny-universe/data").expanduser()
    monkeypatch.setenv("TINYU_DATA_DIR", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "flag") == tmp_path / "flag"


def test_shared_dev_data_switch(monkeypatch, tmp_path):
    (tmp_path / "shared" / "data").mkdir(parents=True)
    repo = tmp_path / "repo"
    monkeypatch.delenv("TINYU_SHARED_DATA", raising=False)
    assert shared_dev_data(repo) == tmp_path / "shared" / "data"
    monkeypatch.setenv("TINYU_SHARED_DATA", "off")
    assert shared_dev_data(repo) is None


@pytest.mark.parametrize("kind", ["github", "hf", "modelscope"])
def test_fetch_each_source_kind_writes_folder_and_manifest(hub, tmp_path, kind):
    out = fetch(SPEC, data_root=tmp_path, source=kind, endpoint=hub.url, progress=False)
    assert out == tmp_path / "demo_folder"
    want = {"conv/" + k: v.upper() for k, v in FILES.items()} if kind == "hf" else FILES
    assert _tree(out) == want
    m = read_manifest(out)
    assert m["dataset"] == "demo" and m["sources"][0]["source"] == kind
    fetched = {f["path"]: f["sha256"] for f in m["sources"][0]["files"]}
    assert fetched == {k: hashlib.sha256(v).hexdigest() for k, v in FILES.items()}
    assert {f["path"] for f in m["outputs"]} == set(want)
    assert not (tmp_path / ".partial" / "demo").exists()  # cleaned up


def test_resume_after_a_cut_connection(hub, tmp_path):
    key = "/org/repo/c0ffee/data/a/x.txt"
    hub.cut_once.add(key)
    out = fetch(SPEC, data_root=tmp_path, endpoint=hub.url, progress=False, backoff=0.01)
    assert _tree(out) == FILES
    ranges = [r for k, r in hub.requests if k == key]
    assert ranges[0] is None and ranges[1] == "bytes=2500-"  # the second request resumed


def test_checksum_mismatch_is_refused_and_nothing_lands(hub, tmp_path):
    hub.corrupt.add("/org/repo/c0ffee/data/b.txt")
    with pytest.raises(ChecksumError, match="b.txt.*sha256"):
        fetch(SPEC, data_root=tmp_path, endpoint=hub.url, progress=False)
    assert not (tmp_path / "demo_folder").exists()


def test_present_dataset_is_kept_unless_forced(hub, tmp_path):
    fetch(SPEC, data_root=tmp_path, endpoint=hub.url, progress=False)
    n = len(hub.requests)
    fetch(SPEC, data_root=tmp_path, endpoint=hub.url, progress=False)
    assert len(hub.requests) == n  # nothing fetched again
    out = fetch(SPEC, data_root=tmp_path, source="hf", endpoint=hub.url, progress=False, force=True)
    assert "conv/b.txt" in _tree(out) and len(hub.requests) > n


def test_unknown_source_kind(tmp_path):
    spec = DatasetSpec("x", "x", "x", "1 B", "MIT", (Source("github", "o/r", "c", pins={}),))
    with pytest.raises(DownloadError, match="no 'hf' source; it has: github"):
        fetch(spec, data_root=tmp_path, source="hf")


def test_cli_offline_is_one_error_line(tmp_path, capsys):
    with socket.socket() as s:  # a port with nothing listening: "offline"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from tinyqwen.errors import run_cli

    argv = ["fetch", "demo", "--data-dir", str(tmp_path), "--endpoint", f"http://127.0.0.1:{port}"]
    code = run_cli(lambda a: data_main(a, [SPEC], "prog"), argv + ["--source", "hf", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot reach") and "offline" in err
    assert "Traceback" not in err


def test_cli_list_and_fetch(hub, tmp_path, capsys):
    argv = ["fetch", "all", "--data-dir", str(tmp_path), "--endpoint", hub.url, "--quiet"]
    assert data_main(argv, [SPEC], "prog") == 0
    assert data_main(["list", "--data-dir", str(tmp_path)], [SPEC], "prog") == 0
    out = capsys.readouterr().out
    assert f"demo: {tmp_path / 'demo_folder'}" in out and "fetched 20" in out
    assert json.loads((tmp_path / "demo_folder" / "MANIFEST.json").read_text())["license"] == "MIT"


def test_a_folder_not_written_by_fetch_is_never_replaced_silently(hub, tmp_path):
    mine = tmp_path / "demo_folder"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own files")
    with pytest.raises(DownloadError, match="was not written by data fetch"):
        fetch(SPEC, data_root=tmp_path, endpoint=hub.url, progress=False)
    assert (mine / "notes.txt").read_text() == "my own files"
    fetch(SPEC, data_root=tmp_path, endpoint=hub.url, progress=False, force=True)
    assert _tree(mine) == FILES
