"""Web search/fetch against a local fake server, offline/keyless messages, file search, clock."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tinyagent import Agent
from tinyagent.scripted import ScriptedChatModel
from tinyagent.tools.clock import current_time, now_text
from tinyagent.tools.files import make_file_tools
from tinyagent.tools.web import WebError, html_to_text, make_web_tools

DDG_HTML = """<html><body>
<div class="result"><h2><a rel="nofollow" class="result__a"
 href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fqwenlm.github.io%2Fblog%2Fqwen2.5%2F&amp;rut=abc">Qwen2.5: A <b>Party</b></a></h2>
<a class="result__snippet" href="#">We release   Qwen2.5 models.</a></div>
<div class="result"><h2><a class="result__a" href="https://example.org/b">Second</a></h2>
<a class="result__snippet">Snippet two</a></div>
</body></html>"""

PAGE = """<!doctype html><html><head><title>Hello  Page</title><style>p{}</style></head>
<body><script>var secret = 1;</script><h1>Header</h1><p>First   paragraph.</p><p>第二段。</p></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, body: str, kind: str):
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode()
        assert "q=qwen" in body
        self._send(DDG_HTML, "text/html; charset=utf-8")

    def do_GET(self):
        if self.path.startswith("/search"):
            self._send(
                json.dumps({"results": [{"title": "S", "url": "https://s.org", "content": "c"}]}),
                "application/json",
            )
        elif self.path == "/page":
            self._send(PAGE, "text/html; charset=utf-8")
        elif self.path == "/bin":
            self._send("xx", "image/png")
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def local_web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_duckduckgo_parsing_and_fetch(local_web):
    search, fetch = make_web_tools("duckduckgo", base_url=local_web + "/html/")
    out = search.fn(query="qwen")
    assert out.splitlines()[:3] == [
        "1. Qwen2.5: A Party",
        "   https://qwenlm.github.io/blog/qwen2.5/",
        "   We release Qwen2.5 models.",
    ]
    assert "2. Second" in out
    page = fetch.fn(url=local_web + "/page")
    assert page == "# Hello Page\n\nHeader\n\nFirst paragraph.\n\n第二段。"
    with pytest.raises(WebError, match="HTTP 404"):
        fetch.fn(url=local_web + "/missing")
    with pytest.raises(WebError, match="image/png, not a text page"):
        fetch.fn(url=local_web + "/bin")
    with pytest.raises(WebError, match="only http"):
        fetch.fn(url="file:///etc/passwd")


def test_searxng_provider(local_web):
    search, _ = make_web_tools("searxng", base_url=local_web)
    assert search.fn(query="x") == "1. S\n   https://s.org\n   c"


def test_offline_and_keyless_messages_reach_the_model(monkeypatch):
    monkeypatch.delenv("SERPER_API_KEY", raising=False)
    search, _ = make_web_tools("duckduckgo", base_url="http://127.0.0.1:9/html/")  # port 9: closed
    keyless, _ = make_web_tools("serper")
    model = ScriptedChatModel(
        [
            {
                "tool_calls": [
                    {"function": {"name": "web_search", "arguments": '{"query": "qwen"}'}}
                ]
            },
            "I could not search.",
        ]
    )
    result = Agent(model, [search], "qwen").run("q")
    obs = result.steps[0].calls[0].observation
    assert obs.startswith(
        "Error: web_search raised WebError: cannot reach 127.0.0.1:9: this machine looks offline"
    )
    assert result.answer == "I could not search."
    with pytest.raises(WebError, match="needs an API key: set SERPER_API_KEY"):
        keyless.fn(query="x")
    with pytest.raises(ValueError, match="unknown search provider"):
        make_web_tools("bing")


def test_html_to_text_skips_scripts():
    title, text = html_to_text(PAGE)
    assert title == "Hello Page" and "secret" not in text and "p{}" not in text


def test_file_tools_search_read_and_confinement(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rope.md").write_text(
        "# RoPE\nrope_theta is the base.\nOther line\n", "utf-8"
    )
    (tmp_path / "notes.txt").write_text("注意力机制 attention\nROPE_THETA again\n", "utf-8")
    (tmp_path / "blob.bin").write_bytes(b"rope_theta\0\1\2")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("rope_theta hidden", "utf-8")
    (tmp_path.parent / "outside.txt").write_text("secret", "utf-8")
    search, read = make_file_tools(tmp_path)
    assert (
        search.fn(query="rope_theta")
        == "docs/rope.md:2: rope_theta is the base.\nnotes.txt:2: ROPE_THETA again"
    )
    assert (
        search.fn(query="rope", pattern="**/*.md")
        == "docs/rope.md: (file name matches)\ndocs/rope.md:1: # RoPE\ndocs/rope.md:2: rope_theta is the base."
    )
    assert search.fn(query="注意力") == "notes.txt:1: 注意力机制 attention"
    assert (
        read.fn(path="docs/rope.md", start_line=2, max_lines=1)
        == "2: rope_theta is the base.\n[... 1 more lines]"
    )
    with pytest.raises(PermissionError, match="outside the searchable folder"):
        read.fn(path="../outside.txt")
    with pytest.raises(NotADirectoryError):
        make_file_tools(tmp_path / "notes.txt")


def test_search_files_refuses_symlinks_out_of_the_root(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("needle: the secret", "utf-8")
    (root / "ok.txt").write_text("needle inside", "utf-8")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    (root / "inner.txt").symlink_to(root / "ok.txt")  # a link that stays inside is fine
    search, read = make_file_tools(root)
    assert search.fn(query="needle") == "inner.txt:1: needle inside\nok.txt:1: needle inside"
    for path in ("link.txt", "dirlink/secret.txt"):
        with pytest.raises(PermissionError, match="outside the searchable folder"):
            read.fn(path=path)


def test_clock():
    fixed = datetime(2025, 3, 1, 6, 5, 9, tzinfo=timezone.utc)
    assert now_text("Asia/Shanghai", fixed) == "2025-03-01 14:05:09 CST (UTC+08:00), Saturday"
    assert now_text("UTC", fixed) == "2025-03-01 06:05:09 UTC (UTC+00:00), Saturday"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        now_text("Mars/Base")
    assert current_time.parameters["properties"]["timezone_name"]["default"] == "UTC"
    assert current_time.fn().startswith(str(datetime.now(timezone.utc).year))
