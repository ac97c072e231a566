"""Dense embeddings through any tinyqwen ``ChatModel`` (local checkpoint, tiny-random, or remote).

``Embedder`` wraps ``model.embed(texts, pooling)`` (contract: ``[N, H]`` float32, L2-normalised) and
adds the query convention of Qwen2-family embedding checkpoints (gte-Qwen2, Qwen3-Embedding):
queries get an instruction prefix, documents are embedded as they are, and the sentence vector is the
last token's hidden state (``pooling="last"``):

    Instruct: Given a question, retrieve passages that answer it
    Query: Qwen2 用的是什么位置编码？

    >>> emb = Embedder(tinyqwen.connect("tiny-random"))       # doctest: +SKIP
    >>> emb.embed_documents(["RoPE ..."]).shape               # doctest: +SKIP
    (1, 64)

A remote model (``http://host:8000/v1``) embeds through its ``/v1/embeddings`` endpoint. Outputs are
checked (shape, finite) and re-normalised, so a store never holds an unnormalised row.

Limits: a plain chat checkpoint (or ``tiny-random``, whose weights are random) gives vectors that
prove the wiring but carry little meaning; use an embedding checkpoint for real dense retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyqwen.chat_model import EMBED, ChatModel
from tinyrag.vector_store import normalize

DEFAULT_INSTRUCTION = "Given a question, retrieve passages that answer it"


class Embedder:
    def __init__(
        self,
        model: ChatModel,
        instruction: str | None = DEFAULT_INSTRUCTION,
        pooling: str = "last",
        batch_size: int = 16,
    ) -> None:
        if EMBED not in model.capabilities:
            raise TypeError(
                f"{model.name} does not offer embeddings (its capabilities: "
                f"{sorted(model.capabilities)})"
            )
        self.model, self.instruction, self.pooling = model, instruction, pooling
        self.batch_size = int(batch_size)

    @property
    def name(self) -> str:
        return str(self.model.name)

    def query_text(self, query: str) -> str:
        if self.instruction is None:
            return query
        return f"Instruct: {self.instruction}\nQuery: {query}"

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        parts = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            v = np.asarray(self.model.embed(batch, pooling=self.pooling), dtype=np.float32)
            if v.ndim != 2 or v.shape[0] != len(batch):
                raise ValueError(
                    f"{self.name}.embed returned shape {v.shape} for {len(batch)} texts; "
                    "expected [N, H]"
                )
            parts.append(normalize(v, f"{self.name}.embed output"))
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(parts)  # [N, H]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        return self._embed([self.query_text(q) for q in queries])
