"""Query an ``Index``: BM25, dense, or hybrid (RRF / weighted fusion), with filters and rerank.

    >>> hits = retrieve(index, "Qwen2 的注意力机制", k=5)                    # doctest: +SKIP
    >>> hits[0].source, hits[0].start, hits[0].end, round(hits[0].score, 2)   # doctest: +SKIP
    ('qwen-blog/docs/attention.md', 1032, 1688, 12.41)

``mode="auto"`` is hybrid when the index has vectors and an embedder is attached, else BM25.
Hybrid takes ``candidates`` (default ``max(50, 5k)``) hits from each retriever and fuses them with
RRF (``fusion="rrf"``, k=60) or min-max weighted scores (``fusion="weighted"``, ``weights`` = (bm25,
dense)). ``where={"source": "README.md"}`` or ``{"ext": [".md", ".txt"]}`` filters on chunk
metadata (source, page, ext, title) before ranking. ``rerank_model`` re-sorts the top
``rerank_top`` hits by the chat model's yes/no log-likelihood (``tinyrag.rerank``).

Limits: a query with no indexed term returns no BM25 hits (by design: nothing matched).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinyrag.fusion import rrf, weighted_fusion
from tinyrag.rerank import rerank
from tinyrag.vector_store import match_mask


@dataclass
class Hit:
    """One retrieved chunk; ``text == source_document_text[start:end]``."""

    row: int
    score: float
    chunk: dict[str, Any]

    @property
    def text(self) -> str:
        return self.chunk["text"]

    @property
    def source(self) -> str:
        return self.chunk["source"]

    @property
    def page(self) -> int | None:
        return self.chunk.get("page")

    @property
    def start(self) -> int:
        return self.chunk["start"]

    @property
    def end(self) -> int:
        return self.chunk["end"]

    def location(self) -> str:
        """``path › heading › sub-heading, p.3, chars 10-250`` for display."""
        parts = [self.source, *self.chunk.get("heading_path", [])]
        loc = " › ".join(parts)
        if self.page is not None:
            loc += f", p.{self.page}"
        return f"{loc}, chars {self.start}-{self.end}"

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "score": self.score, **self.chunk}


def retrieve(
    index: Any,
    query: str,
    k: int = 10,
    mode: str = "auto",
    where: dict[str, Any] | None = None,
    fusion: str = "rrf",
    weights: tuple[float, float] = (0.5, 0.5),
    candidates: int | None = None,
    rerank_model: Any = None,
    rerank_top: int = 10,
) -> list[Hit]:
    if mode == "auto":
        mode = "hybrid" if index.vectors is not None and index.embedder is not None else "bm25"
    if mode not in ("bm25", "dense", "hybrid"):
        raise ValueError(f"search mode must be auto, bm25, dense or hybrid, got {mode!r}")
    if mode != "bm25" and (index.vectors is None or index.embedder is None):
        raise ValueError(
            f"mode={mode!r} needs an index built with --model and an embedder attached "
            "(Index.load(path, embedder=Embedder(model)))"
        )
    mask = None
    if where:
        mask = match_mask(index.metadata, where)
    n_cand = candidates or max(50, 5 * k)
    want = max(k, rerank_top if rerank_model is not None else 0)

    ranked: list[tuple[int, float]]
    if mode == "bm25":
        ids, scores = index.bm25.search(index.analyzer(query), k=want, mask=mask)
        ranked = list(zip(ids.tolist(), scores.tolist()))
    else:
        qv = index.embedder.embed_queries([query])[0]
        dids, dscores = index.vectors.search(qv, k=want if mode == "dense" else n_cand, mask=mask)
        dense = list(zip(dids.tolist(), dscores.tolist()))
        if mode == "dense":
            ranked = dense
        else:
            bids, bscores = index.bm25.search(index.analyzer(query), k=n_cand, mask=mask)
            sparse = list(zip(bids.tolist(), bscores.tolist()))
            if fusion == "rrf":
                fused = rrf([[i for i, _ in sparse], [i for i, _ in dense]], weights=list(weights))
            elif fusion == "weighted":
                fused = weighted_fusion([dict(sparse), dict(dense)], weights=list(weights))
            else:
                raise ValueError(f"fusion must be 'rrf' or 'weighted', got {fusion!r}")
            ranked = [(int(i), float(s)) for i, s in fused[:want]]

    if rerank_model is not None and ranked:
        head = ranked[:rerank_top]
        order = rerank(rerank_model, query, [index.chunks[i]["text"] for i, _ in head])
        ranked = [(head[j][0], s) for j, s in order] + ranked[rerank_top:]
    return [Hit(int(i), float(s), index.chunks[i]) for i, s in ranked[:k]]
