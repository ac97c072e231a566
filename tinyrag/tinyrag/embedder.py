"""Dense embeddings through any tinyqwen ``ChatModel`` (local checkpoint, tiny-random, or remote).

``Embedder`` wraps ``model.embed(texts, pooling)`` (contract: ``[N, H]`` float32, L2-normalised) and
adds the query convention of Qwen-family embedding checkpoints: queries get an instruction prefix,
documents are embedded as they are, and the sentence vector is the last token's hidden state
(``pooling="last"``). The two formats differ by one space (``query_format``):

    gte-qwen2 (gte-Qwen2-1.5B/7B-instruct)        qwen3-embedding (Qwen3-Embedding-0.6B/4B/8B)
    Instruct: Given a question, retrieve ...      Instruct: Given a question, retrieve ...
    Query: Qwen2 用的是什么位置编码？             Query:Qwen2 用的是什么位置编码？

``query_format_for(spec)`` picks qwen3-embedding for a spec naming Qwen3-Embedding, else gte-qwen2.
Qwen3-Embedding queries are formatted by tinyqwen, the one source of its recipe: they are sent as
``model.embed(queries, instruction=...)`` (``tinyqwen.retrieval.embedding_query``; ``LLM.embed``
also appends the ``<|endoftext|>`` the checkpoint's tokenizer adds). gte-Qwen2's format (the space)
is written here, since tinyqwen has no gte recipe.

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
from tinyqwen.retrieval import embedding_query
from tinyrag.vector_store import normalize

DEFAULT_INSTRUCTION = "Given a question, retrieve passages that answer it"
QUERY_FORMATS = ("gte-qwen2", "qwen3-embedding")
GTE_QWEN2_QUERY = "Instruct: {instruction}\nQuery: {query}"  # gte-Qwen2 model card


def query_format_for(spec: str) -> str:
    """The query format of the embedding model named by ``spec`` (a path, hub id or URL)."""
    return "qwen3-embedding" if "qwen3-embedding" in spec.lower() else "gte-qwen2"


class Embedder:
    def __init__(
        self,
        model: ChatModel,
        instruction: str | None = DEFAULT_INSTRUCTION,
        pooling: str = "last",
        batch_size: int = 16,
        query_format: str = "gte-qwen2",
    ) -> None:
        if query_format not in QUERY_FORMATS:
            raise ValueError(
                f"query_format must be one of {sorted(QUERY_FORMATS)}, got {query_format!r}"
            )
        if EMBED not in model.capabilities:
            raise TypeError(
                f"{model.name} does not offer embeddings (its capabilities: "
                f"{sorted(model.capabilities)})"
            )
        self.model, self.instruction, self.pooling = model, instruction, pooling
        self.batch_size = int(batch_size)
        self.query_format = query_format

    @property
    def name(self) -> str:
        return str(self.model.name)

    def query_text(self, query: str) -> str:
        """The text a query is embedded as (what the model sees)."""
        if self.instruction is None:
            return query
        if self.query_format == "qwen3-embedding":
            return embedding_query(self.instruction, query)
        return GTE_QWEN2_QUERY.format(instruction=self.instruction, query=query)

    def _embed(self, texts: Sequence[str], instruction: str | None = None) -> np.ndarray:
        """``instruction``: passed to ``model.embed``, which formats each text as a
        Qwen3-Embedding query (tinyqwen's recipe)."""
        extra = {} if instruction is None else {"instruction": instruction}
        parts = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            v = np.asarray(self.model.embed(batch, pooling=self.pooling, **extra), dtype=np.float32)
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
        if self.query_format == "qwen3-embedding" and self.instruction is not None:
            return self._embed(list(queries), instruction=self.instruction)
        return self._embed([self.query_text(q) for q in queries])
