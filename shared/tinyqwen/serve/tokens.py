"""Token counts and logprobs for `tinyqwen serve`: what the server needs beyond `ChatModel`.

    >>> counter = TokenCounter(llm)                                     # doctest: +SKIP
    >>> counter.chat_prompt([{"role": "user", "content": "hi"}], None)  # doctest: +SKIP
    20

With a local `LLM` (it has `.model`, `.tokenizer`, `encode`, `encode_chat`) counts are exact and
`/v1/completions` logprobs are token-exact: `generate_scored` generates with the public
`tinyqwen.generation.generate` (what `LLM.complete` drives) and scores prompt + generated ids in one
forward pass. Any other ChatModel gets `count_tokens` counts and no logprobs.

Logprobs use OpenAI's legacy layout: `tokens`, `token_logprobs` (the first is null: nothing
predicts it), `top_logprobs` (dicts token -> logprob), `text_offset` (character offsets). A token
that is not valid UTF-8 alone is shown as `bytes:\\xNN...`, as OpenAI does.
"""

from __future__ import annotations

from typing import Any

from tinyqwen.serve.validation import APIError


class TokenCounter:
    """Token counts for usage and context checks: exact with a local tokenizer, else count_tokens."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.tokenizer = getattr(model, "tokenizer", None)

    def text(self, text: str) -> int:
        return int(self.model.count_tokens(text))

    def prompt_ids(self, text: str) -> list[int]:
        """Ids of a raw /v1/completions prompt, encoded exactly as the model's `complete` does."""
        encode = getattr(self.model, "encode", None)  # LLM.encode: special-token strings count
        return encode(text) if encode else self.tokenizer.encode(text, allowed_special="all")

    def chat_prompt(
        self, messages: list[dict], tools: list[dict] | None, continue_final_message: bool = False
    ) -> int:
        encode_chat = getattr(self.model, "encode_chat", None)
        if encode_chat is not None:  # LLM: the exact ids it will feed the model
            return len(
                encode_chat(messages, tools, not continue_final_message, continue_final_message)
            )
        from tinyqwen.chat_template import render_chat_segments

        segments = render_chat_segments(
            messages, tools, not continue_final_message, continue_final_message
        )
        if self.tokenizer is None:
            return int(self.model.count_tokens("".join(t for t, _ in segments)))
        # template markup may contain special tokens; caller data is plain text (as LLM encodes it)
        return sum(
            len(self.tokenizer.encode(t, allowed_special="all" if markup else ()))
            for t, markup in segments
        )


def _token_text(tok: Any, i: int) -> str:
    """How a token is shown in logprobs: its text, or OpenAI's `bytes:\\xNN` spelling for a token
    that is not valid UTF-8 on its own (so distinct byte tokens stay distinct dict keys)."""
    try:
        raw = tok.token_bytes(i)
    except (AttributeError, ValueError):  # no such method, or an id past the tokenizer's vocab
        text = tok.decode([i]) if i < int(getattr(tok, "vocab_size", 0)) else ""
        return text or f"token_id:{i}"
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes:" + "".join(f"\\x{b:02x}" for b in raw)


def echo_logprobs(model: Any, ids: list[int], top_n: int) -> dict:
    """Legacy-format logprobs for `ids` scored by a local model in one forward pass.

    Position i holds log p(ids[i] | ids[:i]); position 0 has none (null), as in OpenAI's API. Needs
    `model.model` (the nn.Module returning logits [B, T, V]) and `model.tokenizer`: this is the small
    hook the server needs beyond the ChatModel contract.
    """
    import torch

    net, tok = getattr(model, "model", None), getattr(model, "tokenizer", None)
    if net is None or tok is None or not hasattr(tok, "decode"):
        raise APIError(
            "logprobs are not supported by this backend (needs a local model with a tokenizer)",
            param="logprobs",
            code="not_supported",
        )
    device = next(net.parameters()).device
    with torch.inference_mode():
        logits = net(torch.tensor([ids], dtype=torch.long, device=device))  # [1, T, V]
        logp = torch.log_softmax(logits[0].float(), dim=-1)  # [T, V]
    # logp[t] predicts ids[t + 1]
    picked = logp[:-1].gather(1, torch.tensor(ids[1:], device=device)[:, None])[:, 0]  # [T-1]
    top_vals, top_ids = logp[:-1].topk(max(top_n, 1), dim=-1)  # [T-1, k]
    tokens = [_token_text(tok, i) for i in ids]
    offsets, pos, stream = [], 0, tok.decode_stream()
    for i in ids:  # character offset of each token in the decoded text (UTF-8 never split)
        offsets.append(pos)
        pos += len(stream.step(i))
    token_logprobs: list[float | None] = [None] + picked.tolist()
    top_logprobs: list[dict | None] = [None]
    for row_ids, row_vals in zip(top_ids.tolist(), top_vals.tolist()):
        top = zip(row_ids[:top_n], row_vals[:top_n])
        top_logprobs.append({_token_text(tok, j): v for j, v in top})
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top_logprobs,
        "text_offset": offsets,
    }


def is_local(model: Any) -> bool:
    tok = getattr(model, "tokenizer", None)
    return hasattr(model, "model") and hasattr(tok, "decode") and hasattr(tok, "decode_stream")


def generate_scored(
    model: Any, prompt_ids: list[int], sampling: dict, top_n: int
) -> tuple[str, int, str, dict]:
    """(text, generated token count, finish_reason, logprobs over prompt + generated tokens).

    For /v1/completions with `logprobs`: generates with the public `tinyqwen.generation.generate` (the
    same function `LLM.complete` drives, so greedy text is the same), then scores the exact prompt
    and generated ids in one forward pass. Token-exact, unlike re-tokenising the returned text: an
    lm-evaluation-harness client slicing `token_logprobs[ctxlen:-1]` gets the right tokens.
    """
    import torch

    from tinyqwen.generation import generate

    max_new = sampling["max_new_tokens"]
    new: list[int] = []
    if max_new > 0:
        with torch.inference_mode():
            new = generate(
                model.model,
                [prompt_ids],
                max_new_tokens=max_new,
                temperature=sampling["temperature"],
                top_k=sampling["top_k"],
                top_p=sampling["top_p"],
                repetition_penalty=sampling["repetition_penalty"],
                stop_token_ids=tuple(getattr(model, "stop_token_ids", ())),
                seed=sampling["seed"],
                pad_token_id=int(getattr(model, "pad_token_id", 0)),
            )[0]
    ended_by_token = len(new) < max_new
    lp = echo_logprobs(model, prompt_ids + new, top_n)
    text = model.tokenizer.decode(new)
    stops = [i for i in (text.find(s) for s in sampling["stop"] or []) if i >= 0]
    if stops:  # cut before the stop string; drop the tokens that start at or after the cut
        cut = min(stops)
        text = text[:cut]
        base = lp["text_offset"][len(prompt_ids)]
        keep = sum(1 for o in lp["text_offset"][len(prompt_ids) :] if o - base < cut)
        new = new[:keep]
        lp = {k: v[: len(prompt_ids) + keep] for k, v in lp.items()}
    finish = "stop" if ended_by_token or stops else "length"
    return text, len(new), finish, lp


def slice_logprobs(lp: dict, start: int, offset_shift: int = 0) -> dict:
    return {
        "tokens": lp["tokens"][start:],
        "token_logprobs": lp["token_logprobs"][start:],
        "top_logprobs": lp["top_logprobs"][start:],
        "text_offset": [o - offset_shift for o in lp["text_offset"][start:]],
    }
