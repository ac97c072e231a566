"""A local stand-in for the Hugging Face Hub, ModelScope and GitHub raw, for tests (no network).

    >>> from tinyqwen.fake_hub import FakeHub
    >>> with FakeHub() as hub:
    ...     hub.add_github("org/repo", "abc", {"data/a.txt": b"hello"})
    ...     import requests
    ...     requests.get(f"{hub.url}/org/repo/abc/data/a.txt").content
    b'hello'

It serves, on 127.0.0.1 and a free port, the URL layouts :mod:`tinyqwen.download` and
:mod:`tinyqwen.data_cache` use:

- HF dataset repos: ``/api/datasets/{repo}/tree/{rev}?recursive=true`` (every file listed with its
  size and ``lfs.oid`` = sha256) and ``/datasets/{repo}/resolve/{rev}/{path}``;
- ModelScope dataset repos: ``/api/v1/datasets/{repo}/repo/tree?Revision=..`` (``Data.Files`` with
  ``Path``, ``Type``, ``Size``, ``Sha256``) and ``/api/v1/datasets/{repo}/repo?FilePath=..``;
- GitHub raw: ``/{owner}/{name}/{commit}/{path}``.

Files honour ``Range`` (206). Switches to misbehave on purpose: ``cut_once`` (URL paths whose first
response sends half the body, then drops the connection), ``corrupt`` (URL paths served with their
first byte flipped). ``requests`` records (path, Range header) of every file request.

Limits: one revision per repo is what a test needs; no pagination, no auth, no redirects.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from urllib.parse import parse_qs, unquote, urlparse


class FakeHub:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}  # URL path -> body
        self.hf_listings: dict[str, list[dict]] = {}  # listing URL path -> JSON
        self.ms_listings: dict[str, list[dict]] = {}
        self.cut_once: set[str] = set()
        self.corrupt: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self.url = ""
        self._server: http.server.ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ content
    def add_hf_dataset(self, repo: str, revision: str, files: dict[str, bytes]) -> None:
        listing = []
        for path, data in files.items():
            self.blobs[f"/datasets/{repo}/resolve/{revision}/{path}"] = data
            sha = hashlib.sha256(data).hexdigest()
            listing.append(
                {
                    "type": "file",
                    "path": path,
                    "size": len(data),
                    "oid": "0" * 40,
                    "lfs": {"oid": sha},
                }
            )
        self.hf_listings[f"/api/datasets/{repo}/tree/{revision}"] = listing

    def add_modelscope_dataset(self, repo: str, revision: str, files: dict[str, bytes]) -> None:
        listing = []
        for path, data in files.items():
            self.blobs[f"/api/v1/datasets/{repo}/repo?{revision}&{path}"] = data
            sha = hashlib.sha256(data).hexdigest()
            listing.append({"Path": path, "Type": "blob", "Size": len(data), "Sha256": sha})
        self.ms_listings[f"/api/v1/datasets/{repo}/repo/tree?{revision}"] = listing

    def add_github(self, repo: str, commit: str, files: dict[str, bytes]) -> None:
        for path, data in files.items():
            self.blobs[f"/{repo}/{commit}/{path}"] = data

    # ------------------------------------------------------------------ server
    def __enter__(self) -> FakeHub:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def _handler(hub: FakeHub):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def send_json(self, obj) -> None:
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def send_blob(self, key: str) -> None:
            hub.requests.append((key, self.headers.get("Range")))
            data = hub.blobs[key]
            if key in hub.corrupt and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start, rng = 0, self.headers.get("Range")
            if rng:
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
            if key in hub.cut_once:
                hub.cut_once.discard(key)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the connection breaks mid-file
                return
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path, q = unquote(url.path), parse_qs(url.query)
            if path.startswith("/api/v1/datasets/"):  # ModelScope
                rev = q.get("Revision", ["master"])[0]
                if path.endswith("/repo/tree"):
                    listing = hub.ms_listings.get(f"{path}?{rev}")
                    if listing is None:
                        self.send_error(404)
                        return
                    root = q.get("Root", [""])[0]
                    got = [e for e in listing if e["Path"].startswith(root)]
                    self.send_json({"Code": 200, "Data": {"Files": got}})
                    return
                key = f"{path}?{rev}&{q.get('FilePath', [''])[0]}"
            elif path.startswith("/api/datasets/"):  # HF tree API
                listing = hub.hf_listings.get(path)
                if listing is None:
                    self.send_error(404)
                    return
                self.send_json(listing)
                return
            else:
                key = path
            if key not in hub.blobs:
                self.send_error(404)
                return
            self.send_blob(key)

    return Handler
