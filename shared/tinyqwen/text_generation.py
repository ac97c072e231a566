"""Token ids in, text out: the ONE text driver over ``generation.generate_steps``.

    >>> from tinyqwen.text_generation import generate_text, stream_text
    >>> from tinyqwen.sampling import Sampling
    >>> [c.text for c in generate_text(model, tokenizer, [ids], Sampling(stop=["\\n"]))]  # doctest: +SKIP
    [' Paris.']
    >>> for delta in stream_text(model, tokenizer, ids, Sampling(max_new_tokens=20)):  # doctest: +SKIP
    ...     print(delta, end="")

``LLM.complete``, ``LLM.chat``, their streaming variants and ``tinyqwen serve`` all go through here.
What it adds on top of the token loop:

- **UTF-8-safe text.** Each row decodes with ``tokenizer.decode_stream()``, so a delta never ends
  inside a character that spans several byte tokens; a character cut by ``max_new_tokens`` comes
  out as U+FFFD at the end. Joined deltas always equal ``Completion.text``.
- **Stop strings**, even ones spanning tokens: text that could be the start of a stop string is
  held back until the next token decides; the text ends *before* the earliest stop string.
- **Early exit.** The loop ends once every row ended by a stop token, a stop string or
  ``max_new_tokens``, so a stop string saves the remaining steps just as a stop token does.
- **End tokens.** ``end_token_ids(model, tokenizer)``: ``<|im_end|>``, ``<|endoftext|>``, the
  tokenizer's eos and the config's ``eos_token_id``; generation stops at any of them (not shown).

Each row finishes as a ``Completion``: its text, the generated ids behind that text (the stop token
and any token starting at or after a stop string's cut are dropped) and ``finish_reason``
(``"stop"``: stop token or stop string; ``"length"``: ``max_new_tokens`` reached).

Limits: prompts must fit the context (``LLM`` checks that and names the prompt); the
nondeterminism of sampled rows is that of ``generate_steps`` (one RNG stream per batch).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from tinyqwen.generation import generate_steps
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.sampling import Sampling
from tinyqwen.tokenizer import Tokenizer

# Markers that end a turn or a document in Qwen tokenizers (ids looked up in the tokenizer).
END_TOKENS = ("<|im_end|>", "<|endoftext|>")


def end_token_ids(model: Qwen2ForCausalLM, tokenizer: Tokenizer) -> tuple[int, ...]:
    """Ids that end generation: the Qwen end markers, the tokenizer's eos, the config's eos."""
    specials = tokenizer.special_tokens
    ids = {specials[t] for t in END_TOKENS if t in specials}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    eos = model.config.eos_token_id
    ids.update([eos] if isinstance(eos, int) else (eos or []))
    return tuple(sorted(ids))


def pad_token_id(tokenizer: Tokenizer, end_ids: Sequence[int]) -> int:
    """The id left padding uses (never attended): the tokenizer's pad, else the first end token."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    return end_ids[0] if end_ids else 0


def find_stop(text: str, stops: Sequence[str], start: int = 0) -> int | None:
    """Index where the earliest stop string starts in ``text[start:]`` (absolute), or None."""
    hits = [i for i in (text.find(s, start) for s in stops) if i >= 0]
    return min(hits) if hits else None


def held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of some stop string.

    Those characters cannot be emitted yet: the next token may complete the stop string.
    """
    best = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:k]):
                best = k
                break
    return best


@dataclass
class Completion:
    """One row's result: ``text`` (stop string excluded), the ``token_ids`` behind it, and
    ``finish_reason`` ``"stop"`` or ``"length"``."""

    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None


class TextRow:
    """One sequence's ids -> text deltas: whole UTF-8 characters, cut before a stop string.

    ``push(id)`` returns the text that is now safe to show; ``finish(reason)`` the rest.
    ``done`` turns True once a stop string was found or ``finish`` was called.
    """

    def __init__(self, tokenizer: Tokenizer, stop: Sequence[str]) -> None:
        self._decoder = tokenizer.decode_stream()
        self._stop = [s for s in stop if s]
        self._text = ""  # everything decoded so far
        self._starts: list[int] = []  # character offset where each token's text starts
        self.completion = Completion()

    @property
    def done(self) -> bool:
        return self.completion.finish_reason is not None

    def _release(self, text: str, cut: int | None) -> str:
        """Emit up to ``cut`` (a stop string: the row ends there) or all that cannot start one."""
        c = self.completion
        if cut is not None:
            text = text[:cut]
            keep = sum(1 for s in self._starts if s < cut)  # tokens whose text is shown
            c.token_ids = c.token_ids[:keep]
            c.finish_reason = "stop"
            ready = len(text)
        else:
            ready = len(text) - (held_back(text, self._stop) if self._stop else 0)
        delta = text[len(c.text) : ready]
        c.text += delta
        return delta

    def push(self, token_id: int) -> str:
        if self.done:
            return ""
        self._starts.append(len(self._text))
        self.completion.token_ids.append(token_id)
        self._text += self._decoder.step(token_id)
        cut = find_stop(self._text, self._stop, len(self.completion.text)) if self._stop else None
        return self._release(self._text, cut)

    def finish(self, reason: str) -> str:
        """End of generation (``reason``: "stop" token or "length"): the held-back text, with an
        incomplete last character as U+FFFD."""
        if self.done:
            return ""
        self._text += self._decoder.flush()
        c = self.completion
        cut = find_stop(self._text, self._stop, len(c.text)) if self._stop else None
        if cut is not None:
            return self._release(self._text, cut)
        delta = self._text[len(c.text) :]
        c.text, c.finish_reason = self._text, reason
        return delta


def iter_text(
    model: Qwen2ForCausalLM,
    tokenizer: Tokenizer,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling,
) -> Generator[list[str], None, list[Completion]]:
    """Yield, per step, each row's new text (``""`` when nothing is ready); return the
    ``Completion`` of every row. Close it early to stop the model (a client went away)."""
    end_ids = end_token_ids(model, tokenizer)
    rows = [TextRow(tokenizer, sampling.stop) for _ in prompts]
    steps = generate_steps(
        model,
        prompts,
        sampling,
        stop_token_ids=end_ids,
        pad_token_id=pad_token_id(tokenizer, end_ids),
    )
    try:
        while not all(r.done for r in rows):
            with torch.inference_mode():  # not held across yields: the caller's code runs normally
                step = next(steps, None)
            if step is None:  # max_new_tokens reached
                break
            # a None token: that row hit an end token
            yield [r.finish("stop") if t is None else r.push(t) for r, t in zip(rows, step)]
    finally:
        steps.close()
    tails = [r.finish("length") for r in rows]
    if any(tails):
        yield tails
    return [r.completion for r in rows]


def generate_text(
    model: Qwen2ForCausalLM,
    tokenizer: Tokenizer,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling,
) -> list[Completion]:
    """Generate for a batch of prompts (token ids); one ``Completion`` per prompt."""
    steps = iter_text(model, tokenizer, prompts, sampling)
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value


def stream_text(
    model: Qwen2ForCausalLM,
    tokenizer: Tokenizer,
    prompt: Sequence[int],
    sampling: Sampling,
) -> Iterator[str]:
    """Non-empty text deltas of one prompt's generation, as soon as each is safe to show."""
    for deltas in iter_text(model, tokenizer, [prompt], sampling):
        if deltas[0]:
            yield deltas[0]
