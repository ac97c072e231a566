"""``tinyqwen.connect``: the three spec forms, model-name resolution, and errors."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_hf_checkpoint

import tinyqwen
from tinyqwen.chat_model import ChatModel
from tinyqwen.connection import connect
from tinyqwen.llm import LLM
from tinyqwen.openai_client import OpenAIChatModel
from tinyqwen.tiny_random import load_tiny_random


def test_tiny_random():
    model = connect("tiny-random")
    assert model is load_tiny_random() and model.name == "tiny-random"
    assert isinstance(model, ChatModel)


def test_checkpoint_directory_with_home_expansion(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    make_hf_checkpoint(path, vocab_size=load_tiny_random().tokenizer.vocab_size)
    load_tiny_random().tokenizer.save_pretrained(path)
    monkeypatch.setenv("HOME", str(tmp_path))
    model = connect("~/ckpt")
    assert isinstance(model, LLM) and isinstance(model, ChatModel)
    assert model.name == str(path) and model.context_length == 256


def test_url_with_fragment_or_model_name_makes_no_request():
    # port 9 (discard) is closed: any request would fail, so these must not make one
    model = connect("http://127.0.0.1:9/v1#qwen2.5-7b", api_key="sk-test")
    assert isinstance(model, OpenAIChatModel) and isinstance(model, ChatModel)
    assert model.name == "qwen2.5-7b" and model.base_url == "http://127.0.0.1:9/v1"
    assert model.api_key == "sk-test"
    assert connect("https://example.invalid/v1", model_name="m").name == "m"


def test_url_without_a_name_uses_the_first_listed_model():
    class Models(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            body = json.dumps(
                {"object": "list", "data": [{"id": "first-model"}, {"id": "second"}]}
            ).encode()
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        model = connect(f"http://127.0.0.1:{server.server_address[1]}/v1")
        assert model.name == "first-model"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("spec", ["/no/such/dir", "ftp://host/v1", "tiny_random", ""])
def test_bad_spec_names_itself_and_the_accepted_forms(spec):
    with pytest.raises(ValueError) as info:
        connect(spec)
    msg = str(info.value)
    assert repr(spec) in msg and "'tiny-random'" in msg and "http://" in msg and "directory" in msg


def test_a_file_is_not_a_checkpoint(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        connect(str(f))


def test_package_level_names_stay_functions_after_submodule_imports():
    # the modules are named connection.py / generation.py, so importing them never rebinds the
    # package attributes tinyqwen.connect / tinyqwen.generate to modules
    for module in ("tinyqwen.connection", "tinyqwen.generation", "tinyqwen.llm"):
        importlib.import_module(module)

    assert callable(tinyqwen.connect) and callable(tinyqwen.generate)
    assert tinyqwen.connect("tiny-random") is load_tiny_random()


def test_connecting_to_a_url_does_not_import_torch():
    code = (
        "import sys, tinyqwen; m = tinyqwen.connect('http://127.0.0.1:9/v1#x'); "
        "print(m.name, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["x", "False"]
