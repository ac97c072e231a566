"""Token counts and logprobs for `tinyqwen serve`: what the server needs beyond text in, text out.

    >>> counter = TokenCounter(llm)                                     # doctest: +SKIP
    >>> ids, n = counter.chat_prompt([{"role": "user", "content": "hi"}], None)  # doctest: +SKIP
    >>> n                                                               # doctest: +SKIP
    20
    >>> text, n, finish, lp = scored_completion(llm, llm.encode("1 2 3"), Sampling(max_new_tokens=2), 1)  # doctest: +SKIP
    >>> lp["tokens"], lp["token_logprobs"][:2]                          # doctest: +SKIP
    (['1', ' ', '2', ' ', '3', ' ', '4'], [None, -5.1])

A model that declares the `"tokenizer"` capability (`LLM`) gets exact counts (`encode`,
`encode_chat`: the very ids it is fed; the app then generates from those ids with `generate_ids`,
so the prompt is tokenised once and `usage` / `finish_reason` are exact) and token-exact
`/v1/completions` logprobs:
`scored_completion` generates with the model's own `generate_ids` (the one text driver,
`tinyqwen.text_generation`, which cuts stop strings and reports the ids behind the text) and scores
prompt + generated ids in one forward pass (`tinyqwen.scoring.token_logprobs`). Any other ChatModel
gets its `count_tokens` counts and no logprobs.

Logprobs use OpenAI's legacy layout: `tokens`, `token_logprobs` (the first is null: nothing
predicts it), `top_logprobs` (dicts token -> logprob), `text_offset` (character offsets). A token
that is not valid UTF-8 alone is shown as `bytes:\\xNN...`, as OpenAI does.
"""

from __future__ import annotations

from typing import Any

from tinyqwen.chat_model import TOKENIZER
from tinyqwen.sampling import Sampling


class TokenCounter:
    """Token counts for usage and context checks: exact with a local tokenizer, else count_tokens."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.exact = TOKENIZER in model.capabilities
        self.tokenizer = model.tokenizer if self.exact else None

    def text(self, text: str) -> int:
        return int(self.model.count_tokens(text))

    def prompt_ids(self, text: str) -> list[int]:
        """Ids of a raw /v1/completions prompt, encoded exactly as the model's `complete` does
        (needs the "tokenizer" capability)."""
        return self.model.encode(text)

    def chat_prompt(
        self,
        messages: list[dict],
        tools: list[dict] | None,
        continue_final_message: bool = False,
        enable_thinking: bool | None = None,
    ) -> tuple[list[int] | None, int]:
        """(the prompt's ids, their count): the exact ids the model will be fed with a local
        tokenizer; else (None, `count_tokens` of the rendered template)."""
        add_generation_prompt = not continue_final_message
        if self.exact:
            extra = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
            ids = self.model.encode_chat(
                messages, tools, add_generation_prompt, continue_final_message, **extra
            )
            return ids, len(ids)
        from tinyqwen.chat_template import render_chat_segments

        segments = render_chat_segments(
            messages, tools, add_generation_prompt, continue_final_message
        )
        return None, int(self.model.count_tokens("".join(t for t, _ in segments)))


def _token_text(tok: Any, i: int) -> str:
    """How a token is shown in logprobs: its text, or OpenAI's `bytes:\\xNN` spelling for a token
    that is not valid UTF-8 on its own (so distinct byte tokens stay distinct dict keys)."""
    try:
        raw = tok.token_bytes(i)
    except ValueError:  # an id past the tokenizer's vocab (the embedding may have spare rows)
        return f"token_id:{i}"
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes:" + "".join(f"\\x{b:02x}" for b in raw)


def echo_logprobs(model: Any, ids: list[int], top_n: int) -> dict:
    """Legacy-format logprobs for `ids` scored by a local model in one forward pass.

    Position i holds log p(ids[i] | ids[:i]); position 0 has none (null), as in OpenAI's API.
    `model` declares the "tokenizer" capability (`model.model`, `model.tokenizer`)."""
    from tinyqwen.scoring import token_logprobs

    tok = model.tokenizer
    picked, top_ids, top_vals = token_logprobs(model.model, ids, top_n)
    offsets, pos, stream = [], 0, tok.decode_stream()
    for i in ids:  # character offset of each token in the decoded text (UTF-8 never split)
        offsets.append(pos)
        pos += len(stream.step(i))
    top_logprobs: list[dict | None] = [None]
    for row_ids, row_vals in zip(top_ids, top_vals):
        top_logprobs.append({_token_text(tok, j): v for j, v in zip(row_ids, row_vals)})
    return {
        "tokens": [_token_text(tok, i) for i in ids],
        "token_logprobs": [None, *picked],
        "top_logprobs": top_logprobs,
        "text_offset": offsets,
    }


def scored_completion(
    model: Any, prompt_ids: list[int], sampling: Sampling, top_n: int
) -> tuple[str, int, str, dict]:
    """(text, generated token count, finish_reason, logprobs over prompt + generated tokens).

    For /v1/completions with `logprobs`: the same generation as `complete` (greedy text is
    identical), then the exact prompt and generated ids scored in one forward pass. Token-exact,
    unlike re-tokenising the returned text: an lm-evaluation-harness client slicing
    `token_logprobs[ctxlen:-1]` gets the right tokens."""
    text, new, finish = "", [], "length"
    if sampling.max_new_tokens > 0:
        completion = model.generate_ids([prompt_ids], sampling)[0]
        text, new, finish = completion.text, completion.token_ids, completion.finish_reason
    return text, len(new), finish, echo_logprobs(model, prompt_ids + new, top_n)


def slice_logprobs(lp: dict, start: int, offset_shift: int = 0) -> dict:
    return {
        "tokens": lp["tokens"][start:],
        "token_logprobs": lp["token_logprobs"][start:],
        "top_logprobs": lp["top_logprobs"][start:],
        "text_offset": [o - offset_shift for o in lp["text_offset"][start:]],
    }
