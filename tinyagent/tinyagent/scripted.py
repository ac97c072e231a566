"""A scripted chat model: replays fixed outputs through the tinyqwen ``ChatModel`` interface.

It is the test double for the agent's control flow (and the model of ``python -m tinyagent demo``):
no weights, fully deterministic, and it records every prompt it was shown so a test can assert on
exactly what the model saw.

    >>> m = ScriptedChatModel(["Final Answer: 4"])
    >>> m.complete("2+2?", stop=["Observation:"])
    'Final Answer: 4'
    >>> m.prompts
    ['2+2?']

``complete`` behaves like a real backend with stop words: the text is cut at the first stop word
(which is not returned); ``chat(..., continue_final_message=True)`` renders the prompt and does
the same (recorded in ``prompts``). ``chat`` returns ``{"role": "assistant", "content": text}`` for a string
entry, or the entry itself when it is a dict (e.g. with pre-parsed ``tool_calls``).

Limits: of the sampling settings it honours only ``stop``; no tokenizer (``count_tokens`` counts
characters), no scoring or embeddings (its ``capabilities`` say so).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from tinyqwen.sampling import Sampling, resolve

__all__ = ["ScriptedChatModel", "ScriptExhausted"]


class ScriptExhausted(RuntimeError):
    """The code under test asked the scripted model for more outputs than the script holds."""


class ScriptedChatModel:
    """Replays ``outputs`` one per call to ``complete``/``chat``/``stream_chat``."""

    name = "scripted"
    context_length = 32768
    capabilities = frozenset({"stream"})

    def __init__(self, outputs: list[str | dict]) -> None:
        self.outputs = list(outputs)
        self.prompts: list[str] = []  # what complete() was given
        self.chats: list[dict] = []  # {"messages": ..., "tools": ...} for each chat() call

    def _next(self) -> str | dict:
        if not self.outputs:
            raise ScriptExhausted(
                f"scripted model ran out of outputs after {len(self.prompts) + len(self.chats)} calls"
            )
        return self.outputs.pop(0)

    def complete(
        self, prompts: str | list[str], *, sampling: Sampling | None = None, **overrides: object
    ) -> str | list[str]:
        sampling = resolve(sampling, **overrides)
        if isinstance(prompts, list):
            return [self.complete(p, sampling=sampling) for p in prompts]
        self.prompts.append(prompts)
        out = self._next()
        text = out if isinstance(out, str) else out.get("content") or ""
        for s in sampling.stop:
            pos = text.find(s)
            if pos != -1:
                text = text[:pos]
        return text

    def chat(
        self,
        messages: list[dict],
        *,
        tools: list[dict] | None = None,
        sampling: Sampling | None = None,
        continue_final_message: bool = False,
        **overrides: object,
    ) -> dict:
        sampling = resolve(sampling, **overrides)
        if continue_final_message:  # a continuation (ReAct): behaves like complete() on the prompt
            from tinyqwen import render_chat

            prompt = render_chat(messages, tools, False, continue_final_message=True)
            return {"role": "assistant", "content": self.complete(prompt, sampling=sampling)}
        self.chats.append({"messages": copy.deepcopy(messages), "tools": tools})
        out = self._next()
        if isinstance(out, dict):
            return {"role": "assistant", "content": "", **copy.deepcopy(out)}
        return {"role": "assistant", "content": out}

    def chat_batch(
        self,
        conversations: list[list[dict]],
        *,
        tools: list[dict] | None = None,
        sampling: Sampling | None = None,
        continue_final_message: bool = False,
        **overrides: object,
    ) -> list[dict]:
        sampling = resolve(sampling, **overrides)
        return [
            self.chat(
                c, tools=tools, sampling=sampling, continue_final_message=continue_final_message
            )
            for c in conversations
        ]

    def stream_chat(
        self,
        messages: list[dict],
        *,
        tools: list[dict] | None = None,
        sampling: Sampling | None = None,
        continue_final_message: bool = False,
        **overrides: object,
    ) -> Iterator[str]:
        msg = self.chat(
            messages,
            tools=tools,
            sampling=sampling,
            continue_final_message=continue_final_message,
            **overrides,
        )
        yield from (msg.get("content") or "")

    def stream_complete(
        self, prompt: str, *, sampling: Sampling | None = None, **overrides: object
    ) -> Iterator[str]:
        yield from self.complete(prompt, sampling=sampling, **overrides)

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        raise NotImplementedError("loglikelihood is not supported by the scripted model")

    def embed(self, texts: list[str], pooling: str = "last"):
        raise NotImplementedError("embed is not supported by the scripted model")

    def count_tokens(self, text: str) -> int:
        return len(text)
