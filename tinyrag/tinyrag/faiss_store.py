"""Optional FAISS backend: the ``VectorStore`` interface over ``faiss.IndexFlatIP`` (exact search).

Flat inner-product search on normalised vectors is the same computation as ``VectorStore``, so the
top-k ids agree (up to float32 rounding between near-equal scores; the tests check this). Metadata
filters use ``faiss.IDSelectorBatch`` so FAISS only scores allowed rows.

    >>> store = FaissStore.from_store(vector_store)     # doctest: +SKIP
    >>> store.search(query_vector, k=10)                # doctest: +SKIP

Install with ``pip install 'tinyrag[faiss]'``. Limits: flat index only (no IVF/HNSW training here).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyrag.vector_store import VectorStore, normalize


def _faiss():
    try:
        import faiss
    except ImportError as e:
        raise ImportError("FaissStore needs faiss: pip install 'tinyrag[faiss]'") from e
    return faiss


class FaissStore(VectorStore):
    """``VectorStore`` whose search runs in ``faiss.IndexFlatIP``."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.index = _faiss().IndexFlatIP(self.dim)

    @classmethod
    def from_store(cls, store: VectorStore) -> FaissStore:
        fs = cls(store.dim)
        if len(store):
            fs.add(store.vectors, store.meta)
        return fs

    def add(self, vectors, meta=None) -> None:  # type: ignore[override]
        n0 = len(self.vectors)
        super().add(vectors, meta)
        self.index.add(np.ascontiguousarray(self.vectors[n0:]))  # FAISS wants C-order rows

    def keep(self, keep: np.ndarray) -> None:
        super().keep(keep)
        self.index.reset()
        self.index.add(np.ascontiguousarray(self.vectors))

    def search(  # type: ignore[override]
        self,
        query: np.ndarray,
        k: int = 10,
        where: dict[str, Any] | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = self.search_batch(normalize(query, "query"), k, where, mask)
        return ids[0], scores[0]

    def search_batch(
        self,
        queries: np.ndarray,
        k: int = 10,
        where: dict[str, Any] | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        faiss = _faiss()
        q = normalize(queries, "queries")
        mask = self._filter(where, mask)
        params = None
        if mask is not None:
            allowed = np.flatnonzero(mask).astype(np.int64)
            if len(allowed) == 0:
                return [np.zeros(0, np.int64)] * len(q), [np.zeros(0, np.float32)] * len(q)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        n = len(self.vectors) if mask is None else int(mask.sum())
        k = min(k, n)
        if k <= 0:
            return [np.zeros(0, np.int64)] * len(q), [np.zeros(0, np.float32)] * len(q)
        scores, ids = self.index.search(q, k, params=params)  # [Q, k] each
        return list(ids.astype(np.int64)), list(scores)
