"""``tinyqwen serve --model tiny-universe`` answered through the official ``openai`` client.

    python examples/openai_client_demo.py                 # starts the server, talks to it, stops it
    python examples/openai_client_demo.py --model DIR     # any other spec tinyqwen.connect takes

Starts ``python -m tinyqwen serve`` as a separate process on a free 127.0.0.1 port, waits for
``/health``, then uses ``openai.OpenAI(base_url=...)`` exactly as a user would: one plain chat turn,
then one tool round trip (the model calls ``calculator``; this script evaluates the ``a op b``
expression itself and sends the result back as a ``tool`` message; the model writes the answer).

Limits: the script's own evaluator handles only ``int op int`` (the tool is the point, not the
arithmetic); the server is stopped at the end even on error.
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import socket
import subprocess
import sys
import time
import urllib.request

CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression and return the number.",
        "parameters": {
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": 'the expression, e.g. "2 * (3 + 4) ** 2" or "sqrt(2) / 3". Supports + - * / // % **, '
                    "parentheses, sqrt, log, exp, sin, cos, tan, floor, ceil, abs, round, min, max, pi and e.",
                }
            },
            "required": ["expression"],
        },
    },
}  # fmt: skip  (tinyagent's calculator schema, word for word)
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: the server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"error: no answer from {url}/health after {timeout:.0f} s")


def _evaluate(expression: str) -> str:
    m = re.fullmatch(r"\s*(\d+)\s*([-+*])\s*(\d+)\s*", expression)
    if not m:
        return f"error: this demo only evaluates 'int op int', got {expression!r}"
    return str(_OPS[m.group(2)](int(m.group(1)), int(m.group(3))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tiny-universe")
    p.add_argument("--question", default="23乘以47等于多少？")
    args = p.parse_args(argv)
    from openai import OpenAI

    port = _free_port()
    cmd = [sys.executable, "-m", "tinyqwen", "serve", "--model", args.model, "--port", str(port)]
    print("$", " ".join(cmd[1:]))
    proc = subprocess.Popen(cmd)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc)
        client = OpenAI(base_url=base + "/v1", api_key="not-needed")
        r = client.chat.completions.create(
            model=args.model, messages=[{"role": "user", "content": "你好"}], max_tokens=48
        )
        print(f"user: 你好\nassistant: {r.choices[0].message.content}")
        messages = [{"role": "user", "content": args.question}]
        r = client.chat.completions.create(
            model=args.model, messages=messages, tools=[CALCULATOR], max_tokens=64
        )
        msg = r.choices[0].message
        print(f"user: {args.question}")
        if not msg.tool_calls:
            print(f"assistant (no tool call): {msg.content}")
            return 0
        call = msg.tool_calls[0]
        expression = json.loads(call.function.arguments).get("expression", "")
        result = _evaluate(str(expression))
        print(f"assistant -> tool_call {call.function.name}({call.function.arguments})")
        print(f"tool -> {result}")
        messages += [msg.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": result}]  # fmt: skip
        r = client.chat.completions.create(
            model=args.model, messages=messages, tools=[CALCULATOR], max_tokens=64
        )
        print(f"assistant: {r.choices[0].message.content}")
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
