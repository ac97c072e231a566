"""User errors in the CLIs: one ``error:`` line naming the file / URL, exit code 2, no traceback."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time

import pytest

from tinyqwen.cli import main
from tinyqwen.errors import UserError, run_cli
from tinyqwen.openai_client import OpenAIAPIError, OpenAIChatModel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_cli_turns_user_errors_into_one_line(capsys):
    def boom(argv):
        raise UserError("runs/x/config.json: missing field 'dim'", hint="re-run pretrain")

    assert run_cli(boom, []) == 2
    assert capsys.readouterr().err == (
        "error: runs/x/config.json: missing field 'dim' (hint: re-run pretrain)\n"
    )


def test_run_cli_keeps_tracebacks_for_bugs():
    def bug(argv):
        raise KeyError("a bug, not a user error")

    with pytest.raises(KeyError):
        run_cli(bug, [])


def test_unreachable_endpoint_fails_fast_with_the_url():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    t0 = time.perf_counter()
    with pytest.raises(OpenAIAPIError, match=f"cannot reach {url}/models"):
        OpenAIChatModel(url)
    assert time.perf_counter() - t0 < 3.0  # no retries with backoff on the first probe


class _NotOpenAI(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b"<html>hello</html>" if self.path.endswith("/v1/models") else b"nope"
        self.send_response(200 if self.path.endswith("/v1/models") else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def not_openai():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotOpenAI)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/v1", "/other"])
def test_a_server_that_is_not_openai_is_named(not_openai, capsys, path):
    assert main(["generate", "hi", "--model", not_openai + path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not an OpenAI-compatible server" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["tinyqwen", "serve", "--model", "/nonexistent"],
        ["tinyqwen.serve", "--model", "/nonexistent"],
        ["tinyqwen", "info", "/nonexistent"],
        ["tinyqwen", "generate", "x", "--model", "/nonexistent"],
    ],
)
def test_missing_model_folder_is_one_line(argv):
    r = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and "/nonexistent" in r.stderr
    assert "Traceback" not in r.stderr
