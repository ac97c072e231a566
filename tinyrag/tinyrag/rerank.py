"""Rerank retrieved passages by a model's judgement "does this passage answer the question?".

Two formats (``Reranker(model, fmt)``), one score: the log-odds ``log P(yes) - log P(no)`` of the
model's yes/no decision, so ``sigmoid(score)`` is its P(yes) and 0 is its own decision boundary.

- ``"yes-no"`` (any chat model with ``loglikelihood``): for each (question, passage) the model
  scores the continuations " yes" and " no" after a judging prompt (``rerank_prompt``), through
  ``ChatModel.loglikelihood`` (lm-evaluation-harness semantics); score = the difference.
- ``"qwen3-reranker"`` (a Qwen3-Reranker checkpoint, model declaring the ``rerank`` capability):
  tinyqwen's ``model.rerank(query, documents)`` -- the model card's prompt and
  ``softmax([logit_no, logit_yes])[1]`` (``tinyqwen.retrieval``); score = ``logit(P(yes))``, with
  P clamped to ``[1e-12, 1 - 1e-12]`` so it stays finite (|score| <= 27.6).

``rerank_format_for(spec)`` picks qwen3-reranker for a spec naming Qwen3-Reranker, else yes-no
(``--rerank-format`` overrides it). Passages are re-sorted by score (ties keep the retriever's order).

    >>> rerank(model, "Qwen2 用什么激活函数？", ["SwiGLU ...", "RoPE ..."])   # doctest: +SKIP
    [(0, 3.2), (1, -1.7)]
    >>> judge = Reranker(tinyqwen.connect("~/models/Qwen3-Reranker-0.6B"), "qwen3-reranker")  # doctest: +SKIP
    >>> judge.p_yes("Qwen2 用什么激活函数？", ["SwiGLU ...", "RoPE ..."])   # doctest: +SKIP
    [0.98, 0.03]

Limits: one forward pass per (passage, label) pair in yes-no format, one per passage in
qwen3-reranker format, so rerank only the top few (``top_n``); a remote backend without
``/v1/completions`` logprobs raises ``NotImplementedError`` from tinyqwen, and remote models offer no
``rerank`` (use yes-no format, or run the reranker locally).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tinyqwen.chat_model import LOGLIKELIHOOD, RERANK

FORMATS = ("yes-no", "qwen3-reranker")
PROMPT = (
    "Judge whether the passage contains the answer to the question. Reply yes or no.\n\n"
    "Passage: {passage}\n\nQuestion: {question}\n\nAnswer:"
)
_EPS = 1e-12


def rerank_prompt(question: str, passage: str) -> str:
    return PROMPT.format(passage=passage.strip(), question=question.strip())


def rerank_format_for(spec: str) -> str:
    """The reranking format of the model named by ``spec`` (a path, hub id or URL)."""
    return "qwen3-reranker" if "qwen3-reranker" in spec.lower() else "yes-no"


class Reranker:
    """A model plus the format it judges passages in (see the module docstring)."""

    def __init__(self, model: Any, fmt: str = "yes-no", instruction: str | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"rerank format must be one of {list(FORMATS)}, got {fmt!r}")
        need = RERANK if fmt == "qwen3-reranker" else LOGLIKELIHOOD
        if need not in model.capabilities:
            what = "Qwen3-Reranker scoring" if fmt == "qwen3-reranker" else "log-likelihoods"
            raise ValueError(f"{model.name} cannot rerank: it offers no {what}")
        self.model, self.format, self.instruction = model, fmt, instruction

    @property
    def name(self) -> str:
        return str(self.model.name)

    def scores(self, question: str, passages: Sequence[str]) -> list[float]:
        """Log-odds ``log P(yes) - log P(no)`` per passage."""
        if not passages:
            return []
        if self.format == "qwen3-reranker":
            return [math.log(p) - math.log1p(-p) for p in self._clamped(question, passages)]
        requests = []
        for p in passages:
            ctx = rerank_prompt(question, p)
            requests += [(ctx, " yes"), (ctx, " no")]
        out = self.model.loglikelihood(requests)
        if len(out) != len(requests):
            raise ValueError(
                f"loglikelihood returned {len(out)} results for {len(requests)} requests"
            )
        return [float(out[2 * i][0]) - float(out[2 * i + 1][0]) for i in range(len(passages))]

    def p_yes(self, question: str, passages: Sequence[str]) -> list[float]:
        """The model's P(yes) per passage (for qwen3-reranker: exactly ``model.rerank``)."""
        if self.format == "qwen3-reranker":
            return [float(p) for p in self.model.rerank(question, list(passages), self.instruction)]
        return [
            1.0 / (1.0 + math.exp(-max(min(s, 50.0), -50.0)))
            for s in self.scores(question, passages)
        ]

    def _clamped(self, question: str, passages: Sequence[str]) -> list[float]:
        return [min(max(p, _EPS), 1.0 - _EPS) for p in self.p_yes(question, passages)]


def rerank(
    model: Any, question: str, passages: Sequence[str], top_n: int | None = None
) -> list[tuple[int, float]]:
    """[(index into ``passages``, score)] for the first ``top_n`` passages, best first.

    ``model`` is a ``Reranker`` or a chat model (judged in the yes-no format)."""
    judge = model if isinstance(model, Reranker) else Reranker(model)
    n = len(passages) if top_n is None else min(top_n, len(passages))
    scores = judge.scores(question, passages[:n])
    return sorted(enumerate(scores), key=lambda t: (-t[1], t[0]))
