"""The endpoint path: `tinyqwen serve --model tiny-random` in a subprocess, evaluated over HTTP
(concurrent chat requests, log-likelihood via /v1/completions echo) — the predictions must equal
the local in-process run of the same greedy model. tiny-random output is gibberish by design."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from tinyeval.runner import run_task
from tinyeval.task import load_task


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_random):
    import requests

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyqwen", "serve", "--model", "tiny-random", "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.skip("tinyqwen serve exited at start-up")
        try:
            if requests.get(f"{url}/models", timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.skip("tinyqwen serve did not come up in 180 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _preds(path) -> list:
    return [json.loads(line)["pred"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("task", ["demo_qa_zh", "demo_mc"])
def test_endpoint_predictions_equal_local(server, tiny_random, tmp_path, task) -> None:
    import tinyqwen

    remote = tinyqwen.connect(server)
    run_task(tiny_random, load_task(task), tmp_path / "local", batch_size=4, progress=False)
    run_task(remote, load_task(task), tmp_path / "remote", batch_size=4, progress=False)
    assert _preds(tmp_path / "local" / f"{task}.jsonl") == _preds(
        tmp_path / "remote" / f"{task}.jsonl"
    )
