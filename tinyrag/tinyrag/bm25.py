"""Okapi BM25 over sparse postings in numpy, with per-posting impacts precomputed at index time.

For a query q and document d (term frequency tf, length |d|, average length avgdl, N documents, df
documents containing the term):

    score(q, d) = sum_{t in q} idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

Everything right of the sum depends only on (t, d), so it is computed once per posting ("impact").
A query is then one gather + ``np.bincount`` over the postings of its terms, and top-k is an
``argpartition``. Repeated query terms count once per occurrence (``k3=None``, as ``rank_bm25``
does), or saturate with Robertson's query-term factor ``(k3 + 1) qtf / (k3 + qtf)`` (``k3=0``:
each distinct term once; the default ``k3=1`` is between the two: a term twice in the query weighs 4/3).

Two idf variants:

- ``idf="lucene"`` (default): ``log(1 + (N - df + 0.5) / (df + 0.5))`` -- always positive, so a
  term in most documents of a tiny corpus still scores (no zero/negative collapse). Scores are
  ``(k1 + 1)`` times ``bm25s``' ``method="lucene"`` scores (Lucene drops the constant numerator).
- ``idf="okapi"``: ``log(N - df + 0.5) - log(df + 0.5)`` with negative values replaced by
  ``epsilon * mean idf`` -- exactly ``rank_bm25.BM25Okapi`` (the tests compare at 1e-9).

    >>> bm = BM25.fit([["a", "b"], ["b", "c", "c"], ["d"]])
    >>> bm.search(["c"], k=2)
    (array([1]), array([1.18236951]))

Limits: the whole index lives in memory (16 bytes per posting: int32 doc id and tf, float64
impact). Updates rebuild idf and length norms for all postings (cheap, vectorised) -- see
``remove_docs`` / ``add_docs``.
"""

from __future__ import annotations

import ctypes
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from tinyqwen.atomic import atomic_path, atomic_write_text

_BLOCK = 1 << 14  # postings per block when computing impacts (~0.8 MB of temporaries)


class BM25:
    """Sparse BM25 index. Build with ``BM25.fit(token_lists)``; query with ``search(tokens, k)``."""

    def __init__(
        self,
        k1: float = 1.2,
        b: float = 0.75,
        idf: str = "lucene",
        epsilon: float = 0.25,
        k3: float | None = 1.0,
    ) -> None:
        if idf not in ("lucene", "okapi"):
            raise ValueError(f"BM25 idf must be 'lucene' or 'okapi', got {idf!r}")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        if k3 is not None and k3 < 0:
            raise ValueError(f"BM25 needs k3 >= 0 or None, got k3={k3}")
        self.k1, self.b, self.idf_kind, self.epsilon = float(k1), float(b), idf, float(epsilon)
        self.k3 = None if k3 is None else float(k3)
        self.vocab: dict[str, int] = {}
        # postings in CSR-by-term layout: the postings of term t are [indptr[t], indptr[t+1])
        self.indptr = np.zeros(1, dtype=np.int64)  # [V + 1]
        self.doc_ids = np.zeros(0, dtype=np.int32)  # [nnz]
        self.tfs = np.zeros(0, dtype=np.int32)  # [nnz]
        self.doc_len = np.zeros(0, dtype=np.int64)  # [N]
        self.idf = np.zeros(0, dtype=np.float64)  # [V]
        self.impacts = np.zeros(0, dtype=np.float64)  # [nnz]

    # ----- building -----------------------------------------------------------------------------
    @classmethod
    def fit(cls, corpus: Sequence[Sequence[str]], **params: float | str) -> BM25:
        """Index ``corpus`` (one token list per document; document i gets id i)."""
        bm = cls(**params)  # type: ignore[arg-type]
        bm.add_docs(corpus)
        return bm

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    def add_docs(self, corpus: Iterable[Sequence[str]], batch: int = 1024) -> None:
        """Append documents (ids continue from ``n_docs``) and refresh idf and impacts.

        ``corpus`` may be a generator: documents are consumed ``batch`` at a time (at most ~16k
        tokens) and each batch is reduced at once to its postings, sorted by (term, doc): runs of
        one term (term id, run length) and per posting a local doc id (uint16) and tf -- so the
        token lists are never all in memory. The batches are then scattered straight into the
        final (term, doc)-sorted arrays (a counting sort: no argsort, no [nnz] int64
        temporaries). Peak: ~6 bytes per new posting (+ 8 per term run) + the final index.
        """
        vocab = self.vocab
        n = self.n_docs
        local_type = np.uint16 if batch <= 1 << 16 else np.int32
        parts = []  # per batch: (first doc id, term of each run [R], run lengths [R], docs, tfs)
        parts_len = []
        for docs in _batches(corpus, batch):
            lens = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))  # [B]
            # setdefault(tok, len(vocab)): a new token gets the next id, a known one keeps its id
            ids = (vocab.setdefault(tok, len(vocab)) for doc in docs for tok in doc)
            t = np.fromiter(ids, dtype=np.int64, count=int(lens.sum()))  # [batch tokens]
            d = np.repeat(np.arange(len(docs), dtype=np.int64), lens)  # local doc ids
            # (term, doc) pairs -> unique with counts == term frequencies, sorted by (term, doc)
            key, tf = np.unique(t * len(docs) + d, return_counts=True)
            del t, d
            bt, bd = np.divmod(key, len(docs))
            starts = np.flatnonzero(np.diff(bt, prepend=-1))  # first posting of each term run
            run_len = np.diff(starts, append=len(bt)).astype(np.int32)  # [R]
            terms = bt[starts].astype(np.int32)
            parts.append((n, terms, run_len, bd.astype(local_type), tf.astype(np.int32)))
            parts_len.append(lens)
            n += len(docs)
        if not parts:
            return
        # postings per term, old + new, then each term's write cursor in the final arrays
        old_counts = np.diff(self.indptr)  # [V_old]
        counts = np.zeros(len(vocab), dtype=np.int64)  # [V]
        counts[: len(old_counts)] = old_counts
        for _, terms, run_len, _, _ in parts:
            counts[terms] += run_len  # a term has at most one run per batch
        doc_ids = np.empty(int(counts.sum()), dtype=np.int32)  # [nnz]
        tfs = np.empty(len(doc_ids), dtype=np.int32)  # [nnz]
        cursor = np.zeros(len(vocab), dtype=np.int64)  # [V]
        np.cumsum(counts[:-1], out=cursor[1:])
        # old postings first, then the batches in order: within a term, doc ids ascend
        _scatter(cursor, np.arange(len(old_counts)), old_counts, self.doc_ids, self.tfs,
                 doc_ids, tfs)  # fmt: skip
        self.doc_ids = self.tfs = self.impacts = np.zeros(0)  # replaced by the new arrays
        parts.reverse()
        while parts:  # drop each batch's postings as soon as they are placed
            first, terms, run_len, local, tf = parts.pop()
            _scatter(cursor, terms, run_len, local, tf, doc_ids, tfs, doc_offset=first)
        self.doc_len = np.concatenate([self.doc_len, *parts_len])
        release_freed_memory()  # the batches' postings: heap pages the impacts cannot reuse
        self._set_postings(counts, doc_ids, tfs)

    def remove_docs(self, remove: np.ndarray) -> None:
        """Drop documents where the bool mask ``remove`` [N] is True; later ids shift down."""
        remove = np.asarray(remove, dtype=bool)
        if remove.shape != (self.n_docs,):
            raise ValueError(f"remove mask has shape {remove.shape}, index has {self.n_docs} docs")
        new_id = np.cumsum(~remove) - 1  # old doc id -> new doc id
        t = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int64), np.diff(self.indptr))
        keep = ~remove[self.doc_ids]
        t, d, tf = t[keep], new_id[self.doc_ids[keep]], self.tfs[keep]
        # compact the vocabulary: terms left with no postings disappear (the okapi mean idf and
        # rank_bm25 parity are over terms that occur)
        used = np.zeros(len(self.vocab), dtype=bool)
        used[t] = True
        remap = np.cumsum(used) - 1
        terms = list(self.vocab)
        self.vocab = {terms[i]: int(remap[i]) for i in np.flatnonzero(used)}
        self.doc_len = self.doc_len[~remove]
        self._set_postings(np.bincount(remap[t], minlength=len(self.vocab)), d, tf)

    def _set_postings(self, term_counts: np.ndarray, d: np.ndarray, tf: np.ndarray) -> None:
        """Install postings sorted by (term, doc); ``term_counts`` [V] = postings per term."""
        self.indptr = np.zeros(len(term_counts) + 1, dtype=np.int64)
        np.cumsum(term_counts, out=self.indptr[1:])
        self.doc_ids = d.astype(np.int32, copy=False)
        self.tfs = tf.astype(np.int32, copy=False)
        self._compute_impacts()

    def _compute_impacts(self) -> None:
        n = self.n_docs
        df = np.diff(self.indptr).astype(np.float64)  # [V]
        if self.idf_kind == "lucene":
            self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        else:  # rank_bm25.BM25Okapi, including its difference-of-logs form and epsilon floor
            idf = np.log(n - df + 0.5) - np.log(df + 0.5)
            # a sequential sum in vocabulary order (= rank_bm25's loop order); cumsum never pairs
            mean = float(np.cumsum(idf)[-1]) / len(idf) if len(idf) else 0.0
            idf[idf < 0] = self.epsilon * mean
            self.idf = idf
        avgdl = float(self.doc_len.sum()) / n if n else 0.0
        # [N] per-document length norm, precomputed once
        norm = self.k1 * (1.0 - self.b + self.b * self.doc_len / avgdl) if n else np.zeros(0)
        # impacts = idf[t] * tf * (k1 + 1) / (tf + norm[d]), a block of postings at a time so the
        # temporaries stay small however large the index is
        nnz = len(self.doc_ids)
        impacts = np.empty(nnz, dtype=np.float64)  # [nnz]
        for s in range(0, nnz, _BLOCK):
            e = min(s + _BLOCK, nnz)
            tf = self.tfs[s:e].astype(np.float64)
            denom = norm[self.doc_ids[s:e]]
            denom += tf
            tf *= self.k1 + 1.0
            tf /= denom
            term_of = np.searchsorted(self.indptr, np.arange(s, e), side="right") - 1
            tf *= self.idf[term_of]
            impacts[s:e] = tf
        self.impacts = impacts

    # ----- querying -----------------------------------------------------------------------------
    def term_ids(self, tokens: Sequence[str]) -> list[int]:
        """Known term ids of ``tokens`` in order (unknown tokens dropped, repeats kept)."""
        get = self.vocab.get
        return [tid for tid in map(get, tokens) if tid is not None]

    def get_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Dense score vector [N] (float64) for a tokenised query."""
        tids = self.term_ids(tokens)
        if not tids:
            return np.zeros(self.n_docs)
        docs, w = self._gather(tids)
        return np.bincount(docs, weights=w, minlength=self.n_docs)

    def _gather(self, tids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Postings (doc ids, impacts) of the query terms, impacts scaled by the qtf factor."""
        ip, dids, imp = self.indptr, self.doc_ids, self.impacts
        if len(tids) == 1:
            s, e = ip[tids[0]], ip[tids[0] + 1]
            return dids[s:e], imp[s:e]
        if self.k3 is None:  # linear in qtf: a repeated term is simply added again (rank_bm25)
            terms = tids
            weights = None
        else:  # Robertson's qtf saturation (k3 + 1) qtf / (k3 + qtf); k3 = 0 -> distinct terms
            qtf: dict[int, int] = {}
            for t in tids:
                qtf[t] = qtf.get(t, 0) + 1
            terms = list(qtf)
            weights = [(self.k3 + 1.0) * n / (self.k3 + n) for n in qtf.values()]
        # concatenating slices is faster than a fancy index built from ranges
        docs = np.concatenate([dids[ip[t] : ip[t + 1]] for t in terms])
        if weights is None or all(w == 1.0 for w in weights):
            return docs, np.concatenate([imp[ip[t] : ip[t + 1]] for t in terms])
        return docs, np.concatenate([w * imp[ip[t] : ip[t + 1]] for t, w in zip(terms, weights)])

    def search(
        self, tokens: Sequence[str], k: int = 10, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k matching documents: (doc ids [<=k], scores [<=k]).

        Sorted by score descending, ties by doc id ascending; documents whose total score is
        exactly 0 (no query term) are never returned. ``mask`` [N] bool restricts the candidates
        (metadata filters).
        """
        tids = self.term_ids(tokens)
        if not tids or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        docs, w = self._gather(tids)
        scores = np.bincount(docs, weights=w, minlength=self.n_docs)  # [N]
        if mask is not None:
            scores[~mask] = 0.0
        return top_k(scores, k)

    # ----- persistence --------------------------------------------------------------------------
    def params(self) -> dict[str, float | str]:
        return {
            "k1": self.k1,
            "b": self.b,
            "idf": self.idf_kind,
            "epsilon": self.epsilon,
            "k3": self.k3,
        }

    def save(self, directory: Path) -> None:
        """Write ``bm25.npz`` + ``vocab.json`` into ``directory``, each file atomically."""
        directory = Path(directory)
        arrays = {"indptr": self.indptr, "doc_ids": self.doc_ids, "tfs": self.tfs}
        with atomic_path(directory / "bm25.npz") as tmp:
            save_npz(tmp, {**arrays, "doc_len": self.doc_len})  # np.savez's format, no copies
        atomic_write_text(
            directory / "vocab.json", json.dumps(list(self.vocab), ensure_ascii=False)
        )

    @classmethod
    def load(cls, directory: Path, **params: float | str) -> BM25:
        directory = Path(directory)
        bm = cls(**params)  # type: ignore[arg-type]
        terms = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        with np.load(directory / "bm25.npz") as z:
            bm.indptr, bm.doc_ids, bm.tfs = z["indptr"], z["doc_ids"], z["tfs"]
            bm.doc_len = z["doc_len"]
        if len(bm.indptr) != len(terms) + 1:
            raise ValueError(
                f"{directory}/bm25.npz has {len(bm.indptr) - 1} terms but vocab.json has {len(terms)}"
            )
        bm.vocab = {t: i for i, t in enumerate(terms)}
        bm._compute_impacts()
        return bm


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc's ``malloc_trim``; a no-op elsewhere).

    Thousands of small per-batch arrays end up spread over the heap; once freed, glibc keeps
    their pages (it only trims the top of the heap), so the next large array -- the impacts --
    would add to the peak instead of reusing them. Dask's workers do the same after large frees.
    """
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl, Windows)
            _trim = False
    if _trim:
        _trim(0)


_trim = None


def save_npz(path: Path, arrays: dict[str, np.ndarray], block: int = 1 << 20) -> None:
    """``np.savez(path, **arrays)`` without its copy of each array: data goes out ``block`` bytes
    at a time (``np.savez`` writes an array into a zip member through one ``tobytes()`` copy of
    up to 16 MB). Same file: a stored (uncompressed) zip of ``.npy`` members; ``np.load`` reads it.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, a in arrays.items():
            a = np.ascontiguousarray(a)
            with z.open(f"{name}.npy", "w", force_zip64=True) as fp:
                np.lib.format.write_array_header_1_0(
                    fp, np.lib.format.header_data_from_array_1_0(a)
                )
                step = max(block // max(a.itemsize, 1), 1)
                for s in range(0, len(a), step):
                    fp.write(a[s : s + step].tobytes())


def _batches(
    items: Iterable[Sequence[str]], size: int, max_tokens: int = 1 << 14
) -> Iterator[list[Sequence[str]]]:
    """Lists of at most ``size`` token lists holding at most ~``max_tokens`` tokens together."""
    batch: list[Sequence[str]] = []
    n = 0
    for item in items:
        batch.append(item)
        n += len(item)
        if len(batch) == size or n >= max_tokens:
            yield batch
            batch, n = [], 0
    if batch:
        yield batch


def _scatter(
    cursor: np.ndarray,
    terms: np.ndarray,
    run_len: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    out_docs: np.ndarray,
    out_tfs: np.ndarray,
    doc_offset: int = 0,
) -> None:
    """Write postings grouped in runs of one term (``terms`` [R], ``run_len`` [R], ``docs`` and
    ``tfs`` [P] with P = sum(run_len)) at each term's ``cursor`` [V] in ``out_*``; advance it."""
    if len(docs) == 0:
        return
    run_start = np.cumsum(run_len, dtype=np.int64) - run_len  # [R] run starts within the batch
    # posting i of run r goes to cursor[terms[r]] + (i - run_start[r])
    pos = np.repeat(cursor[terms] - run_start, run_len)  # [P]
    pos += np.arange(len(docs), dtype=np.int64)
    out_docs[pos] = docs + np.int32(doc_offset) if doc_offset else docs
    out_tfs[pos] = tfs
    cursor[terms] += run_len


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of a dense score vector [N]: score desc, ties by id asc, exact zeros dropped.

    One O(N) ``argpartition`` (vectorised; cheaper than sorting the matched postings), then a sort
    of the k winners. Every document tied with the k-th score is considered so the id tie-break is
    exact.
    """
    n = len(scores)
    if k < n:
        part = np.argpartition(-scores, k - 1)
        kth = scores[part[k - 1]]
        sel = np.flatnonzero(scores >= kth) if kth > 0 else np.flatnonzero(scores)
    else:
        sel = np.flatnonzero(scores)
    sel = sel[scores[sel] != 0]
    order = np.lexsort((sel, -scores[sel]))[:k]
    ids = sel[order]
    return ids, scores[ids]
