"""Text generation for ``Qwen2ForCausalLM``: prefill once, then decode one token at a time into a KV cache.

    >>> from tinyqwen.generation import generate, stream_generate
    >>> generate(model, [[1, 2, 3], [4, 5]], max_new_tokens=8)            # doctest: +SKIP
    [[17, 9, ...], [3, 3, ...]]                                         # new tokens only, per prompt
    >>> for tok in stream_generate(model, [1, 2, 3], temperature=0.7, seed=0):  # doctest: +SKIP
    ...     print(tok)

How it works:

1. Prompts of different lengths are **left**-padded to one length ``P`` so that every row's next token
   sits in the last column; an attention mask ``[B, P + max_new_tokens]`` (1 = real, 0 = pad) hides the
   padding, and positions count from each row's first real token, so a batched prompt sees exactly what
   it would see alone.
2. ``prefill``: one forward pass over ``[B, P]`` fills the preallocated ``KVCache`` and returns the last
   position's logits (only that row goes through lm_head).
3. ``decode_one_token``: feed ``[B, 1]`` new tokens, append one slot to the cache, get ``[B, V]`` logits.
4. Pick the next token: repetition penalty -> temperature -> top-k -> top-p -> sample (or argmax when
   ``temperature == 0``), the same order and formulas as transformers' logits processors.

A row stops at its first token in ``stop_token_ids`` (not included in the output) or after
``max_new_tokens``; the loop ends when every row stopped. Greedy batched output equals one-by-one output;
sampled output with a ``seed`` is reproducible for the same batch, but a prompt's samples depend on the
batch it is in (one random stream is shared by the rows).

Stop *strings* and UTF-8-safe text streaming need a tokenizer and live in ``tinyqwen.text_generation``.
Limits: one device; the cache holds ``P + max_new_tokens`` slots; no speculative decoding or beam search.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from tinyqwen import native_decode
from tinyqwen.compiled import StaticKVCache
from tinyqwen.kv_cache import KVCache
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.sampling import Sampling


def prefill(
    model: Qwen2ForCausalLM,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    cache: KVCache,
) -> torch.Tensor:
    """Run the (left-padded) prompts ``[B, P]`` through the model into an empty ``cache``.

    Returns the logits of the last position, ``[B, V]`` fp32.
    """
    # no position_ids: the model counts each row's positions from its first real token
    logits = model(input_ids, attention_mask, None, cache, logits_to_keep=1)
    return logits[:, -1]


def decode_one_token(
    model: Qwen2ForCausalLM,
    tokens: torch.Tensor,
    position_ids: torch.Tensor,
    cache: KVCache,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Feed one new token per row (``tokens [B, 1]`` at ``position_ids [B, 1]``); return ``[B, V]`` logits.

    ``attention_mask`` is ``[B, cache.length + 1]`` or ``None`` when no row has padding. A model with
    a compiled step (``tinyqwen.compiled.compile_decode``) runs that step on its ``StaticKVCache``; an int8
    or bf16 model on the avx2 kernels runs all its layers in one C call (``tinyqwen.native_decode``).
    """
    step = getattr(model, "compiled_decode", None)
    if step is not None and isinstance(cache, StaticKVCache):
        if attention_mask is not None:  # slots not written yet count as real: pos masks them
            attention_mask = F.pad(
                attention_mask, (0, cache.max_len - attention_mask.shape[1]), value=1
            )
        logits = step(model, tokens, position_ids, cache, attention_mask)
        cache.advance(1)
        return logits
    # an int8 / bf16 model on the avx2 kernels (CPU): one C call for all layers
    if native_decode.supports(model, cache):
        return native_decode.decode_one_token(model, tokens, position_ids, cache, attention_mask)
    return model(tokens, attention_mask, position_ids, cache)[:, -1]


def apply_repetition_penalty(
    logits: torch.Tensor, seen: torch.Tensor, penalty: float
) -> torch.Tensor:
    """CTRL-style penalty on tokens already in the sequence (``seen [B, V]`` bool): shrink toward 0
    by ``penalty`` (divide positive logits, multiply negative ones), as transformers does."""
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalized, logits)


def warp_logits(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> torch.Tensor:
    """``logits [B, V] / temperature``, then everything outside the top-k and outside the top-p nucleus
    set to ``-inf`` (transformers' Temperature/TopK/TopP warpers, in that order)."""
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # [B, 1] smallest kept logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1)  # ascending
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop_sorted = cum <= (1 - top_p)  # the low-probability tail outside the nucleus
        drop_sorted[:, -1] = False  # always keep the most likely token
        drop = drop_sorted.scatter(1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token per row of ``logits [B, V]``: argmax when ``temperature == 0``, else a sample from
    ``softmax(warp_logits(...))``."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = warp_logits(logits, temperature, top_k, top_p).softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _check_prompts(model: Qwen2ForCausalLM, prompts: Sequence[Sequence[int]]) -> None:
    if isinstance(prompts, torch.Tensor) or not prompts:
        raise ValueError("input_ids must be a non-empty list of token-id lists")
    vocab = model.config.vocab_size
    for i, p in enumerate(prompts):
        if len(p) == 0:
            raise ValueError(f"prompt {i} is empty: at least one token is needed")
        bad = [t for t in p if not 0 <= int(t) < vocab]
        if bad:
            raise ValueError(f"prompt {i} has token id(s) {bad[:5]} outside the vocab [0, {vocab})")


def generate_steps(
    model: Qwen2ForCausalLM,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling,
    *,
    stop_token_ids: Sequence[int],
    pad_token_id: int,
) -> Iterator[list[int | None]]:
    """The loop behind ``generate``: yield, per step, each row's new token (``None`` once that row
    stopped; its stop token also shows as ``None``). Callers that watch the text as it grows (stop
    strings, streaming: ``tinyqwen.text_generation``) iterate this and ``close()`` it early. Run it
    under ``torch.inference_mode()``. ``sampling.stop`` (text) is not looked at here."""
    _check_prompts(model, prompts)
    max_new_tokens = sampling.max_new_tokens
    if max_new_tokens <= 0:
        return
    device = model.device
    B = len(prompts)
    lengths = [len(p) for p in prompts]
    P = max(lengths)
    max_len = P + max_new_tokens

    ids = torch.full((B, P), pad_token_id, dtype=torch.long)
    mask = torch.zeros((B, max_len), dtype=torch.long)  # grows by one real column per step
    for i, p in enumerate(prompts):
        ids[i, P - len(p) :] = torch.tensor(list(p), dtype=torch.long)
        mask[i, P - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    padded = min(lengths) != P  # with no padding the model needs no mask for decode steps

    generator = None
    if sampling.seed is not None:
        generator = torch.Generator(device=device).manual_seed(sampling.seed)
    seen = None
    if sampling.repetition_penalty != 1.0:
        # count real prompt tokens per id (scatter_add: a pad id that is also a real token is safe)
        counts = torch.zeros((B, model.config.vocab_size), dtype=torch.long, device=device)
        seen = counts.scatter_add_(1, ids, mask[:, :P]) > 0  # [B, V] bool

    stop = set(int(t) for t in stop_token_ids)
    done = [False] * B
    cache_type = StaticKVCache if hasattr(model, "compiled_decode") else KVCache
    cache = cache_type.for_model(model, B, max_len)  # allocated once for the whole call
    position_ids = torch.tensor(lengths, device=device)[:, None]  # [B, 1] next position per row

    logits = prefill(model, ids, mask[:, :P] if padded else None, cache)
    for step in range(max_new_tokens):
        if seen is not None:
            logits = apply_repetition_penalty(logits, seen, sampling.repetition_penalty)
        next_tokens = sample_next_token(
            logits, sampling.temperature, sampling.top_k, sampling.top_p, generator
        )  # [B]
        out: list[int | None] = []
        for i, t in enumerate(next_tokens.tolist()):
            if not done[i] and t in stop:
                done[i] = True
            out.append(None if done[i] else t)
        yield out
        if all(done) or step == max_new_tokens - 1:
            return
        if seen is not None:
            seen.scatter_(1, next_tokens[:, None], True)
        S = cache.length + 1
        logits = decode_one_token(
            model, next_tokens[:, None], position_ids, cache, mask[:, :S] if padded else None
        )
        position_ids += 1


@torch.inference_mode()
def generate(
    model: Qwen2ForCausalLM,
    input_ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    stop_token_ids: Sequence[int] = (),
    seed: int | None = None,
    pad_token_id: int = 0,
) -> list[list[int]]:
    """Continue each prompt in ``input_ids``; return the new tokens per prompt (stop token excluded)."""
    results: list[list[int]] = [[] for _ in input_ids]
    sampling = Sampling(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        seed=seed,
    )
    steps = generate_steps(
        model, input_ids, sampling, stop_token_ids=stop_token_ids, pad_token_id=pad_token_id
    )
    for step in steps:
        for row, t in zip(results, step):
            if t is not None:
                row.append(t)
    return results


def stream_generate(
    model: Qwen2ForCausalLM,
    ids: Sequence[int],
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    stop_token_ids: Sequence[int] = (),
    seed: int | None = None,
) -> Iterator[int]:
    """Yield new token ids for one prompt as soon as each is chosen (same tokens as ``generate``)."""
    sampling = Sampling(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        seed=seed,
    )
    steps = generate_steps(
        model, [list(ids)], sampling, stop_token_ids=stop_token_ids, pad_token_id=0
    )
    while True:
        with torch.inference_mode():  # not held across yields: the caller's code runs normally
            step = next(steps, None)
        if step is None or step[0] is None:
            return
        yield step[0]
