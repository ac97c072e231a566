"""The agent through a real ``tinyqwen serve`` (tiny-random) on loopback: proves the wiring.

tiny-random's replies are gibberish, so these runs cannot reach a right answer; what they prove is
that every path works end to end over HTTP -- our tool schemas are accepted by the server's
``/v1/chat/completions``, ReAct prompts go through ``/v1/completions`` with stop words, the replies
come back into the same parsing and loop code, the run ends cleanly (format errors become
observations, ``max_steps`` stops it) -- and that replaying the recorded server replies through the
scripted model gives step-for-step the same run.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import requests

from tinyagent import Agent
from tinyagent.scripted import ScriptedChatModel
from tinyagent.tools.calculator import calculator
from tinyagent.tools.clock import current_time
from tinyagent.tools.python_exec import python
from tinyqwen.data_cache import shared_dev_data
from tinyqwen.sampling import Sampling

ACEBENCH = (
    shared_dev_data(Path(__file__).resolve().parents[2])
    or Path("../shared/data (absent or hidden)")
) / "acebench_zh"
SAMPLING = Sampling(max_new_tokens=12, temperature=0.0)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    if importlib.util.find_spec("tinyqwen.serve") is None:
        pytest.skip("tinyqwen.serve is absent (the OpenAI-compatible server is not installed)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("server") / "serve.log"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from tinyqwen.serve import main; sys.exit(main(sys.argv[1:]))",
        *["--model", "tiny-random", "--port", str(port), "--log-level", "warning"],
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"tinyqwen serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if requests.get(url + "/models", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"tinyqwen serve did not answer within 180 s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


class Recorder:
    """Wraps a ChatModel and keeps every reply, to replay them through the scripted model."""

    def __init__(self, model):
        self.model, self.replies = model, []
        self.name = model.name

    def complete(self, prompt, **kw):
        out = self.model.complete(prompt, **kw)
        self.replies.append(out)
        return out

    def chat(self, messages, *, tools=None, **kw):
        out = self.model.chat(messages, tools=tools, **kw)
        self.replies.append(out)
        return out


def _strip_time(steps):
    return [{k: v for k, v in asdict(s).items() if k != "seconds"} for s in steps]


@pytest.mark.parametrize("protocol", ["react", "qwen"])
def test_agent_runs_through_the_server(server_url, protocol, tmp_path):
    import tinyqwen

    model = Recorder(tinyqwen.connect(server_url))
    tools = [calculator, python, current_time]
    trace = tmp_path / "trace.jsonl"
    result = Agent(model, tools, protocol, max_steps=2, sampling=SAMPLING, trace_path=trace).run(
        "17 * 23 = ?"
    )
    assert result.stop_reason in ("final_answer", "max_steps", "loop")
    assert 1 <= len(model.replies) <= 2
    assert all(isinstance(r, (str, dict)) for r in model.replies)
    events = [json.loads(line)["event"] for line in trace.read_text("utf-8").splitlines()]
    assert events[0] == "start" and events[-1] == "end"
    # the same outputs replayed through the scripted model give the same run, step for step
    replay = Agent(ScriptedChatModel(model.replies), tools, protocol, max_steps=2).run(
        "17 * 23 = ?"
    )
    assert _strip_time(replay.steps) == _strip_time(result.steps)
    assert (replay.answer, replay.stop_reason) == (result.answer, result.stop_reason)


def test_cli_against_the_server(server_url):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyagent",
            "17 * 23 = ?",
            "--model",
            server_url,
            "--tools",
            "calculator",
        ]
        + ["--max-steps", "1", "--max-new-tokens", "8", "--protocol", "react"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode in (0, 1), r.stderr
    assert "[stopped] no final answer after 1 steps" in r.stdout or "[answer]" in r.stdout


def test_acebench_runner_through_the_server(server_url, tmp_path):
    import tinyqwen
    from tinyagent.acebench import evaluate, load_examples

    data = ACEBENCH
    if not (data / "possible_answer").is_dir():
        pytest.skip(f"ACEBench data not found at {data}")
    # the first two prompts fit tiny-random's 2048-token context
    examples = load_examples(data, "normal_single_turn_single_function", limit=2)
    out = tmp_path / "ace.jsonl"
    report = evaluate(tinyqwen.connect(server_url), examples, out, max_new_tokens=8)
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert (
        rows[0] == report
        and report["n"] == 2
        and [r["id"] for r in rows[1:]] == [e.id for e in examples]
    )
    assert "backend_error" not in report["errors"]  # the ACEBench tool schemas went through
    assert all(isinstance(r["raw"], str) for r in rows[1:])
