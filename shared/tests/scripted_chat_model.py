"""A deterministic `ChatModel` double for the server tests (test_server.py, test_serve_hardening.py).

The scripted model's answers are pure functions of the request, so every field the server adds can
be checked exactly, and a tool call can be produced on demand (a random model cannot be made to).
"""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np

from tinyqwen.chat_template import parse_tool_calls

TOOL_TEXT = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "巴黎"}}\n</tool_call>'
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class ScriptedChatModel:
    """A deterministic ChatModel double. One token = one whitespace-separated word."""

    name = "scripted"
    context_length = 120

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # seconds per model call, to let concurrent requests pile up
        self.calls: list[tuple[str, int, dict]] = []  # (method, batch size, sampling)
        self.lock = threading.Lock()

    def _log(self, method: str, n: int, sampling: dict) -> None:
        with self.lock:
            self.calls.append((method, n, dict(sampling)))
        time.sleep(self.delay)

    @staticmethod
    def raw_reply(messages: list[dict], tools, max_new_tokens: int = 256, stop=None, **_) -> str:
        last = messages[-1]["content"]
        if last == "boom":
            raise ValueError("the scripted model refuses 'boom'")
        if tools and "weather" in last:
            return TOOL_TEXT
        words = f"回答 {last} {messages[-1]['role']} 好的 ok".split()[:max_new_tokens]
        text = " ".join(words)
        for s in stop or []:
            text = text.split(s)[0]
        return text

    def chat(self, messages, tools=None, **sampling) -> dict:
        self._log("chat", 1, sampling)
        self.last_messages = messages
        content, calls = parse_tool_calls(self.raw_reply(messages, tools, **sampling))
        return {"role": "assistant", "content": content} | ({"tool_calls": calls} if calls else {})

    def chat_batch(self, conversations, **sampling) -> list[dict]:
        self._log("chat_batch", len(conversations), sampling)
        return [
            {"role": "assistant", "content": self.raw_reply(c, None, **sampling)}
            for c in conversations
        ]

    def stream_chat(self, messages, tools=None, **sampling):
        self._log("stream_chat", 1, sampling)
        text = self.raw_reply(messages, tools, **sampling)  # raises at call time, as LLM does
        return (text[i : i + 3] for i in range(0, len(text), 3))

    def complete(self, prompts, *, max_new_tokens=256, stop=None, **sampling):
        self._log("complete", 1 if isinstance(prompts, str) else len(prompts), sampling)
        one = isinstance(prompts, str)
        outs = [
            " " + " ".join(p.split()[::-1][:max_new_tokens])
            for p in ([prompts] if one else prompts)
        ]
        return outs[0] if one else outs

    def loglikelihood(self, requests):
        raise NotImplementedError("loglikelihood is not supported by this backend")

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts, pooling="last") -> np.ndarray:
        self._log("embed", len(texts), {"pooling": pooling})
        rows = [
            np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:8] for t in texts
        ]
        emb = np.asarray(rows, dtype=np.float32) + (1.0 if pooling == "mean" else 0.0)
        return emb / np.linalg.norm(emb, axis=1, keepdims=True)
