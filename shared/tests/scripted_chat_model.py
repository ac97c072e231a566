"""A deterministic `ChatModel` double for the server tests (test_server.py, test_serve_hardening.py).

The scripted model's answers are pure functions of the request, so every field the server adds can
be checked exactly, and a tool call can be produced on demand (a random model cannot be made to).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time

import numpy as np

from tinyqwen.chat_template import parse_tool_calls
from tinyqwen.sampling import Sampling, resolve

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
    """A deterministic ChatModel double. One token = one whitespace-separated word.

    Same signatures as `LLM` and `OpenAIChatModel` (`sampling=` plus keyword overrides); it offers
    streaming and embeddings, not log-likelihoods (no "loglikelihood" or "tokenizer" capability).
    `calls` logs (method, batch size, the Sampling's fields with `stop` as a list)."""

    name = "scripted"
    context_length = 120
    capabilities = frozenset({"stream", "embed"})

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # seconds per model call, to let concurrent requests pile up
        self.calls: list[tuple[str, int, dict]] = []  # (method, batch size, sampling)
        self.lock = threading.Lock()

    def _log(self, method: str, n: int, sampling: dict) -> None:
        with self.lock:
            self.calls.append((method, n, dict(sampling)))
        time.sleep(self.delay)

    @staticmethod
    def _fields(sampling: Sampling) -> dict:
        return dataclasses.asdict(sampling) | {"stop": list(sampling.stop) or None}

    @staticmethod
    def raw_reply(messages: list[dict], tools, max_new_tokens: int = 256, stop=None) -> str:
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

    def _reply(self, messages, tools, sampling: Sampling) -> str:
        return self.raw_reply(messages, tools, sampling.max_new_tokens, sampling.stop)

    def chat(
        self, messages, *, tools=None, sampling=None, continue_final_message=False, **overrides
    ) -> dict:
        sampling = resolve(sampling, **overrides)
        self._log("chat", 1, self._fields(sampling))
        self.last_messages = messages
        content, calls = parse_tool_calls(self._reply(messages, tools, sampling))
        return {"role": "assistant", "content": content} | ({"tool_calls": calls} if calls else {})

    def chat_batch(
        self, conversations, *, tools=None, sampling=None, continue_final_message=False, **overrides
    ) -> list[dict]:
        sampling = resolve(sampling, **overrides)
        self._log("chat_batch", len(conversations), self._fields(sampling))
        replies = [parse_tool_calls(self._reply(c, tools, sampling)) for c in conversations]
        return [
            {"role": "assistant", "content": content} | ({"tool_calls": calls} if calls else {})
            for content, calls in replies
        ]

    def stream_chat(
        self, messages, *, tools=None, sampling=None, continue_final_message=False, **overrides
    ):
        sampling = resolve(sampling, **overrides)
        self._log("stream_chat", 1, self._fields(sampling))
        text = self._reply(messages, tools, sampling)  # raises at call time, as LLM does
        return (text[i : i + 3] for i in range(0, len(text), 3))

    def complete(self, prompts, *, sampling=None, **overrides):
        sampling = resolve(sampling, **overrides)
        self._log(
            "complete", 1 if isinstance(prompts, str) else len(prompts), self._fields(sampling)
        )
        one = isinstance(prompts, str)
        outs = [
            " " + " ".join(p.split()[::-1][: sampling.max_new_tokens])
            for p in ([prompts] if one else prompts)
        ]
        return outs[0] if one else outs

    def stream_complete(self, prompt, *, sampling=None, **overrides):
        text = self.complete(prompt, sampling=sampling, **overrides)
        return (text[i : i + 2] for i in range(0, len(text), 2))

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
