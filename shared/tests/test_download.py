"""tinyqwen download against a fake hub on 127.0.0.1 (http.server in a thread).

The fake speaks both layouts (HF tree API with Link pagination + resolve URLs, ModelScope
repo/files + repo?FilePath=), honours Range, and can misbehave on purpose: cut a connection
mid-file, ignore Range, or list a wrong checksum.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import random
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tinyqwen.download import ChecksumError, DownloadError, download, main

REPO = "org/tiny-model"


def _files() -> dict[str, bytes]:
    rng = random.Random(0)
    return {
        "config.json": json.dumps(
            {"model_type": "qwen2", "名字": "小"}, ensure_ascii=False
        ).encode(),
        "model.safetensors": rng.randbytes(3 * 1024 * 1024 + 17),  # 3 MiB + a ragged tail
        "tokenizer/vocab.json": rng.randbytes(5000),
        "empty.txt": b"",  # a zero-byte file must still be created
    }


class FakeHub:
    """State + behaviour switches of the fake hub; the handler reads them."""

    def __init__(self) -> None:
        self.files = _files()
        self.lfs = {"model.safetensors"}  # listed with lfs.oid (sha256); others with a git oid
        self.break_once: set[str] = set()  # first GET sends half the bytes, then drops the socket
        self.ignore_range: set[str] = set()
        self.wrong_sha: set[str] = set()
        self.extra_listing: list[dict] = []
        self.listed_size: dict[str, int] = {}  # lie about a file's size in the listing
        self.tree_api = True
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.bytes_sent = 0
        self.auth: set[str | None] = set()  # Authorization headers seen on file requests

    def sha256(self, path: str) -> str:
        if path in self.wrong_sha:
            return "0" * 64
        return hashlib.sha256(self.files[path]).hexdigest()

    def git_oid(self, path: str) -> str:
        data = self.files[path]
        oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        return "f" * 40 if path in self.wrong_sha else oid

    def hf_tree(self) -> list[dict]:
        out = [{"type": "directory", "path": "tokenizer", "oid": "d" * 40, "size": 0}]
        for path, data in self.files.items():
            entry = {"type": "file", "path": path, "size": self.listed_size.get(path, len(data))}
            if path in self.lfs:
                entry |= {"oid": "a" * 40, "lfs": {"oid": self.sha256(path), "size": len(data)}}
            else:
                entry["oid"] = self.git_oid(path)
            out.append(entry)
        return out + self.extra_listing

    def ms_files(self) -> list[dict]:
        out = [{"Name": "tokenizer", "Path": "tokenizer", "Type": "tree", "Size": 0}]
        for path, data in self.files.items():
            name = path.rsplit("/", 1)[-1]
            out.append(
                {
                    "Name": name,
                    "Path": path,
                    "Type": "blob",
                    "Size": len(data),
                    "Sha256": self.sha256(path),
                    "Revision": "abc123",
                }
            )
        return out


def _handler(hub: FakeHub):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

        def send_json(self, obj, headers=None) -> None:
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def send_file(self, path: str) -> None:
            hub.requests.append((path, self.headers.get("Range")))
            hub.auth.add(self.headers.get("Authorization"))
            if path not in hub.files:
                self.send_error(404)
                return
            data = hub.files[path]
            start = 0
            rng = self.headers.get("Range")
            if rng and path not in hub.ignore_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if path in hub.break_once:
                hub.break_once.discard(path)
                half = len(body) // 2
                self.wfile.write(body[:half])
                hub.bytes_sent += half
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the connection breaks mid-file
                return
            self.wfile.write(body)
            hub.bytes_sent += len(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            q = parse_qs(url.query)
            p = unquote(url.path)
            hf_tree = f"/api/models/{REPO}/tree/main"
            if p == hf_tree and hub.tree_api:
                tree = hub.hf_tree()
                if "cursor" not in q:  # page 1 of 2, like the hub's Link pagination
                    nxt = f"http://{self.headers['Host']}{hf_tree}?recursive=true&cursor=2"
                    self.send_json(tree[:2], {"Link": f'<{nxt}>; rel="next"'})
                else:
                    self.send_json(tree[2:])
            elif p == f"/api/models/{REPO}/revision/main":
                self.send_json({"id": REPO, "siblings": [{"rfilename": f} for f in hub.files]})
            elif p.startswith(f"/{REPO}/resolve/main/"):
                self.send_file(p.removeprefix(f"/{REPO}/resolve/main/"))
            elif p == f"/api/v1/models/{REPO}/repo/files":
                assert q == {"Revision": ["master"], "Recursive": ["true"]}, q
                self.send_json({"Code": 200, "Data": {"Files": hub.ms_files()}})
            elif p == f"/api/v1/models/{REPO}/repo":
                assert q["Revision"] == ["master"], q
                self.send_file(q["FilePath"][0])
            else:
                self.send_error(404)

    return Handler


@pytest.fixture
def hub():
    state = FakeHub()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def _assert_tree(root: Path, files: dict[str, bytes]) -> None:
    got = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert got == files  # exact bytes, and no *.incomplete left behind


def test_hf_layout_paginated_resumes_a_broken_connection(hub, tmp_path):
    hub.break_once.add("model.safetensors")
    out = download(REPO, tmp_path / "m", endpoint=hub.url, progress=False, backoff=0)
    _assert_tree(out, hub.files)
    size = len(hub.files["model.safetensors"])
    ranges = [r for p, r in hub.requests if p == "model.safetensors"]
    # the second request resumed where the first broke (the server sent size // 2 bytes; TCP may
    # deliver a little less of them before the connection dies, never more)
    assert len(ranges) == 2 and ranges[0] is None, ranges
    start = int(ranges[1].removeprefix("bytes=").removesuffix("-"))
    assert size // 2 - 256 * 1024 < start <= size // 2, (ranges, size)


def test_hf_endpoint_env_and_resume_from_partial_file(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # how hf-mirror.com users point at a mirror
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    target = tmp_path / "m"
    data = hub.files["model.safetensors"]
    target.mkdir()
    (target / "model.safetensors.incomplete").write_bytes(data[:1000])  # an earlier, killed run
    download(REPO, target, progress=False, backoff=0)
    _assert_tree(target, hub.files)
    assert ("model.safetensors", "bytes=1000-") in hub.requests
    assert hub.auth == {"Bearer hf_secret"}
    # a second run finds every file complete and downloads nothing
    before = len(hub.requests)
    download(REPO, target, progress=False, backoff=0)
    assert len(hub.requests) == before


def test_server_ignoring_range_restarts_the_file(hub, tmp_path):
    hub.ignore_range.add("model.safetensors")
    hub.break_once.add("model.safetensors")
    out = download(REPO, tmp_path / "m", endpoint=hub.url, progress=False, backoff=0)
    _assert_tree(out, hub.files)


@pytest.mark.parametrize("bad", ["model.safetensors", "config.json"])  # sha256 / git sha1
def test_wrong_checksum_is_rejected(hub, tmp_path, bad):
    hub.wrong_sha.add(bad)
    with pytest.raises(ChecksumError, match=bad.replace(".", r"\.")):
        download(REPO, tmp_path / "m", endpoint=hub.url, progress=False, backoff=0)
    leftovers = [p.name for p in (tmp_path / "m").rglob("*") if p.is_file()]
    assert bad.rsplit("/")[-1] not in leftovers
    assert not [n for n in leftovers if n.endswith(".incomplete")]


def test_modelscope_layout(hub, tmp_path):
    hub.break_once.add("model.safetensors")
    out = download(
        REPO, tmp_path / "m", source="modelscope", endpoint=hub.url, progress=False, backoff=0
    )
    _assert_tree(out, hub.files)
    hub.wrong_sha.add("tokenizer/vocab.json")
    with pytest.raises(ChecksumError):
        download(REPO, tmp_path / "m2", source="modelscope", endpoint=hub.url, progress=False)


def test_siblings_fallback_and_include(hub, tmp_path):
    hub.tree_api = False  # a mirror without the tree API
    out = download(REPO, tmp_path / "m", endpoint=hub.url, include=["*.json"], progress=False)
    _assert_tree(out, {k: v for k, v in hub.files.items() if k.endswith(".json")})


def test_listing_that_escapes_the_target_is_refused(hub, tmp_path):
    hub.extra_listing.append({"type": "file", "path": "../evil.sh", "size": 3, "oid": "0" * 40})
    with pytest.raises(DownloadError, match="escape"):
        download(REPO, tmp_path / "m", endpoint=hub.url, progress=False)
    assert not (tmp_path / "evil.sh").exists()


def test_cli_offline_message(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port with nothing listening: "offline"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    code = main([REPO, "--to", str(tmp_path / "m"), "--endpoint", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot reach" in err and "offline" in err and "HF_ENDPOINT" in err
    assert "Traceback" not in err


def test_cli_happy_path(hub, tmp_path, capsys):
    code = main([REPO, "--to", str(tmp_path / "m"), "--endpoint", hub.url, "--quiet"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "m")
    _assert_tree(tmp_path / "m", hub.files)


@pytest.mark.parametrize(
    "bad",
    [".", "a/./b.txt", "a//b.txt", "x\x00y.txt", "tokenizer\\..\\evil", "/etc/passwd"],
)
def test_odd_listed_paths_are_download_errors(hub, tmp_path, bad):
    hub.extra_listing.append({"type": "file", "path": bad, "size": 3, "oid": "0" * 40})
    with pytest.raises(DownloadError, match="refusing the listed file path"):
        download(REPO, tmp_path / "m", endpoint=hub.url, progress=False)
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == []
    )  # nothing written, not even in the parent


def test_a_path_that_is_both_file_and_folder_is_a_download_error(hub, tmp_path):
    hub.extra_listing += [
        {"type": "file", "path": "x", "size": 1, "oid": "0" * 40},
        {"type": "file", "path": "x/y.txt", "size": 1, "oid": "0" * 40},
    ]
    with pytest.raises(DownloadError, match="both the file 'x' and 'x/y.txt'"):
        download(REPO, tmp_path / "m", endpoint=hub.url, progress=False)


def test_a_file_in_the_way_of_a_folder_is_a_download_error(hub, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "tokenizer").write_text("not a folder")
    with pytest.raises(DownloadError, match="cannot create the folder"):
        download(REPO, tmp_path / "m", endpoint=hub.url, progress=False)


def test_a_stream_longer_than_listed_is_cut_at_the_listed_size(hub, tmp_path):
    hub.listed_size["model.safetensors"] = 10  # listed 10 bytes, the server streams 3 MiB
    with pytest.raises(ChecksumError, match="more than the listed 10 bytes"):
        download(REPO, tmp_path / "m", endpoint=hub.url, progress=False)
    assert not list((tmp_path / "m").rglob("model.safetensors*"))  # partial deleted
