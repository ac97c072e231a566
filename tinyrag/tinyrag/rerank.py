"""Rerank retrieved passages with a chat model's yes/no log-likelihood.

For each (question, passage) the model scores the continuations " yes" and " no" after a judging
prompt, through ``ChatModel.loglikelihood`` (lm-evaluation-harness semantics: summed log-probability
of the continuation given the context). The relevance score is ``log p(yes) - log p(no)``; passages
are re-sorted by it (ties keep the retriever's order).

    >>> rerank(model, "Qwen2 用什么激活函数？", ["SwiGLU ...", "RoPE ..."])   # doctest: +SKIP
    [(0, 3.2), (1, -1.7)]

Limits: one forward pass per (passage, label) pair, so rerank only the top few (``top_n``); a remote
backend without ``/v1/completions`` logprobs raises ``NotImplementedError`` from tinyqwen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PROMPT = (
    "Judge whether the passage contains the answer to the question. Reply yes or no.\n\n"
    "Passage: {passage}\n\nQuestion: {question}\n\nAnswer:"
)


def rerank_prompt(question: str, passage: str) -> str:
    return PROMPT.format(passage=passage.strip(), question=question.strip())


def rerank(
    model: Any, question: str, passages: Sequence[str], top_n: int | None = None
) -> list[tuple[int, float]]:
    """[(index into ``passages``, score)] for the first ``top_n`` passages, best first."""
    n = len(passages) if top_n is None else min(top_n, len(passages))
    requests = []
    for p in passages[:n]:
        ctx = rerank_prompt(question, p)
        requests += [(ctx, " yes"), (ctx, " no")]
    if not requests:
        return []
    out = model.loglikelihood(requests)
    if len(out) != len(requests):
        raise ValueError(f"loglikelihood returned {len(out)} results for {len(requests)} requests")
    scores = [float(out[2 * i][0]) - float(out[2 * i + 1][0]) for i in range(n)]
    return sorted(enumerate(scores), key=lambda t: (-t[1], t[0]))
