"""Scoring text with a model instead of generating it: log-likelihood, token logprobs, embeddings.

Plain functions of ``(model, tokenizer)``, used by ``LLM.loglikelihood`` / ``LLM.embed``, by
``tinyqwen serve`` (``/v1/completions`` logprobs, ``/v1/embeddings``) and so by tinyeval and tinyrag.

    >>> from tinyqwen.scoring import loglikelihood, embed
    >>> loglikelihood(model, tokenizer, [("1 + 1 =", " 2")])         # doctest: +SKIP
    [(-0.08, True)]
    >>> embed(model, tokenizer, ["北京", "Beijing"]).shape          # doctest: +SKIP
    (2, 896)

Text is encoded as Hugging Face tokenizers do by default (special-token strings written in the
text become special tokens), the same as ``LLM.encode``.

``loglikelihood`` follows lm-evaluation-harness (``HFLM._encode_pair`` / ``_loglikelihood_tokens``):
trailing spaces of the context move to the continuation; ``context + continuation`` is encoded
whole and the continuation is whatever follows the tokens of ``context`` encoded alone (so a merge
across the boundary is scored as continuation, like lm-eval); an empty context is replaced by the
bos token, or eos when there is none (Qwen); the input is cut on the left to ``context_length + 1``
tokens, with a warning; ``is_greedy`` means every continuation token is the argmax. Requests are
batched longest first with right padding, which a causal model never attends to.

``embed`` feeds each text left-padded (the model counts positions from each row's first real
token), takes the final-norm hidden state of the last token (``pooling="last"``, as gte-Qwen2 does)
or the mean over real tokens (``"mean"``), and L2-normalises in float32. Texts longer than the
context are cut on the right, with a warning. Add any instruction prefix or eos your embedding
checkpoint expects to the texts yourself.

``token_logprobs`` scores one id sequence in one forward pass: ``log p(ids[t] | ids[:t])`` and the
``top_n`` alternatives at each position (what an OpenAI ``echo`` + ``logprobs`` answer reports).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.tokenizer import Tokenizer


def _encode(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, allowed_special="all")


def empty_context_token(model: Qwen2ForCausalLM, tokenizer: Tokenizer) -> int:
    """lm-eval's stand-in for an empty context: bos if any (Qwen has none), else eos."""
    for candidate in (
        model.config.bos_token_id,
        tokenizer.eos_token_id,
        tokenizer.special_tokens.get("<|endoftext|>"),
        tokenizer.pad_token_id,
    ):
        if candidate is not None:
            return int(candidate)
    return 0


def encode_pair(
    model: Qwen2ForCausalLM, tokenizer: Tokenizer, context: str, continuation: str
) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness ``HFLM._encode_pair``: ``(context ids, continuation ids)``."""
    if context == "":
        return [empty_context_token(model, tokenizer)], _encode(tokenizer, continuation)
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = _encode(tokenizer, context + continuation)
    n_context = len(_encode(tokenizer, context))
    return whole[:n_context], whole[n_context:]


def _loglikelihood_rows(
    model: Qwen2ForCausalLM, tokenizer: Tokenizer, requests: list[tuple[str, str]]
) -> list[tuple[int, list[int], list[int]]]:
    """``(request index, input ids, continuation ids)`` per request, cut to the context."""
    context_length = int(model.config.max_position_embeddings)
    rows = []
    for i, (context, continuation) in enumerate(requests):
        ctx, cont = encode_pair(model, tokenizer, context, continuation)
        if not cont:
            raise ValueError(f"requests[{i}]: the continuation {continuation!r} has no tokens")
        if len(cont) > context_length:
            raise ValueError(
                f"requests[{i}]: the continuation alone has {len(cont)} tokens, more than the "
                f"context of {context_length}"
            )
        full = ctx + cont
        if len(full) > context_length + 1:
            warnings.warn(
                f"requests[{i}]: {len(full)} tokens exceed the context of {context_length}; the "
                "context is cut on the left (as lm-eval does)",
                stacklevel=3,
            )
            full = full[-(context_length + 1) :]
        rows.append((i, full[:-1], cont))  # the last token is only ever a target
    return rows


@torch.inference_mode()
def loglikelihood(
    model: Qwen2ForCausalLM,
    tokenizer: Tokenizer,
    requests: list[tuple[str, str]],
    *,
    batch_size: int = 16,
    token_budget: int = 8192,
) -> list[tuple[float, bool]]:
    """``(sum log p(continuation | context), is_greedy)`` per ``(context, continuation)`` pair.

    ``token_budget`` bounds the padded tokens of one forward pass (``batch_size`` its rows)."""
    rows = _loglikelihood_rows(model, tokenizer, requests)
    rows.sort(key=lambda r: -len(r[1]))  # longest first: similar lengths share a batch
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = model.device
    results: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
    start = 0
    while start < len(rows):
        width = len(rows[start][1])
        count = max(1, min(batch_size, token_budget // width))
        batch = rows[start : start + count]
        start += count
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        for b, (_, inp, _) in enumerate(batch):
            ids[b, : len(inp)] = torch.tensor(inp)
        # Right padding needs no mask: causal attention never looks at later positions.
        hidden = model.model(ids.to(device))  # [B, T, H] final-norm hidden states
        for b, (i, inp, cont) in enumerate(batch):
            # the hidden state at position t predicts token t + 1
            h = hidden[b, len(inp) - len(cont) : len(inp)]  # [C, H]
            logprobs = torch.log_softmax(model.lm_head(h).float(), dim=-1)  # [C, V]
            target = torch.tensor(cont, device=device)  # [C]
            picked = logprobs.gather(-1, target[:, None]).squeeze(-1)  # [C]
            greedy = bool((logprobs.argmax(-1) == target).all())
            results[i] = (float(picked.sum()), greedy)
    return results


@torch.inference_mode()
def token_logprobs(
    model: Qwen2ForCausalLM, ids: list[int], top_n: int
) -> tuple[list[float], list[list[int]], list[list[float]]]:
    """For ``t = 1 .. len(ids) - 1``: ``log p(ids[t] | ids[:t])`` and the ``top_n`` most likely
    ids with their logprobs (``[T-1]``, ``[T-1][top_n]``, ``[T-1][top_n]``); one forward pass."""
    device = model.device
    logits = model(torch.tensor([ids], dtype=torch.long, device=device))  # [1, T, V]
    logp = torch.log_softmax(logits[0, :-1].float(), dim=-1)  # [T-1, V]; row t predicts ids[t+1]
    picked = logp.gather(1, torch.tensor(ids[1:], device=device)[:, None])[:, 0]  # [T-1]
    top_vals, top_ids = logp.topk(max(top_n, 1), dim=-1)  # [T-1, k]
    k = max(top_n, 0)
    return picked.tolist(), top_ids[:, :k].tolist(), top_vals[:, :k].tolist()


@torch.inference_mode()
def embed(
    model: Qwen2ForCausalLM,
    tokenizer: Tokenizer,
    texts: list[str],
    pooling: str = "last",
    *,
    batch_size: int = 16,
) -> np.ndarray:
    """``[N, H]`` float32 L2-normalised embeddings of ``texts`` (see the module docstring)."""
    if pooling not in ("last", "mean"):
        raise ValueError(f"pooling must be 'last' or 'mean', got {pooling!r}")
    context_length = int(model.config.max_position_embeddings)
    encoded: list[list[int]] = []
    for i, text in enumerate(texts):
        ids = _encode(tokenizer, text)
        if not ids:
            raise ValueError(f"texts[{i}] is empty; an empty text has no embedding")
        if len(ids) > context_length:
            warnings.warn(
                f"texts[{i}] has {len(ids)} tokens; only the first {context_length} "
                "(the context) are embedded",
                stacklevel=3,
            )
            ids = ids[:context_length]
        encoded.append(ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out = np.zeros((len(texts), int(model.config.hidden_size)), dtype=np.float32)
    order = sorted(range(len(encoded)), key=lambda k: -len(encoded[k]))
    device = model.device
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = len(encoded[idx[0]])
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for b, k in enumerate(idx):  # left padding: the last column is every text's last token
            ids[b, width - len(encoded[k]) :] = torch.tensor(encoded[k])
            mask[b, width - len(encoded[k]) :] = 1
        mask = mask.to(device)
        hidden = model.model(ids.to(device), attention_mask=mask).float()  # [B, T, H]
        if pooling == "last":
            pooled = hidden[:, -1]  # [B, H]
        else:
            m = mask.to(torch.float32)[..., None]  # [B, T, 1]
            pooled = (hidden * m).sum(1) / m.sum(1)  # [B, H]
        out[idx] = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
    return out
