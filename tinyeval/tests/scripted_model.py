"""A scripted stand-in for ``tinyqwen.ChatModel``: deterministic replies, call log, optional delay.

Used to test the runner's control flow (batching, resume, fallbacks) without a model. Replies are
a hash of the prompt, so they are stable across processes; ``count_tokens`` counts characters and
``tokenizer`` is a character-level encode/decode, so middle truncation is checkable by hand.
Its ``capabilities`` declare what the constructor switched on (``loglik``, ``tokenizer``).
"""

from __future__ import annotations

import hashlib
import time


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


class CharTokenizer:
    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i) for i in ids)


class ScriptedModel:
    name = "scripted"

    def __init__(
        self,
        context_length: int = 4096,
        delay: float = 0.0,
        loglik: bool = True,
        tokenizer: bool = True,
    ):
        self.context_length = context_length
        self.delay = delay
        self.has_loglik = loglik
        self.capabilities = frozenset(
            (["loglikelihood"] if loglik else []) + (["tokenizer"] if tokenizer else [])
        )
        if tokenizer:
            self.tokenizer = CharTokenizer()
        self.calls: list[tuple[str, int]] = []
        self.prompts: list[str] = []

    def reply(self, prompt: str) -> str:
        words = ["东海", "Paris", "1889", "诗仙", "B", "waggle dance", "不知道", "答案是C"]
        return words[_h(prompt) % len(words)] + f" {_h(prompt) % 97}"

    def _sleep(self) -> None:
        if self.delay:
            time.sleep(self.delay)

    def complete(self, prompts, *, sampling=None, **overrides):
        single = isinstance(prompts, str)
        prompts = [prompts] if single else list(prompts)
        self.calls.append(("complete", len(prompts)))
        self.prompts += prompts
        self._sleep()
        outs = [self.reply(p) for p in prompts]
        return outs[0] if single else outs

    def chat(self, messages, *, tools=None, sampling=None, **overrides):
        return self.chat_batch([messages], tools=tools, sampling=sampling, **overrides)[0]

    def chat_batch(self, conversations, *, tools=None, sampling=None, **overrides):
        self.calls.append(("chat_batch", len(conversations)))
        self.prompts += [c[-1]["content"] for c in conversations]
        self._sleep()
        return [
            {"role": "assistant", "content": self.reply(c[-1]["content"])} for c in conversations
        ]

    def loglikelihood(self, requests):
        if not self.has_loglik:
            raise NotImplementedError("loglikelihood not supported by this backend")
        self.calls.append(("loglikelihood", len(requests)))
        self._sleep()
        return [(-(_h(c + x) % 1000) / 100.0, False) for c, x in requests]

    def count_tokens(self, text: str) -> int:
        return len(text)
