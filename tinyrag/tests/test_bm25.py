"""BM25: exact parity with rank_bm25.BM25Okapi and bm25s (lucene), updates, top-k, persistence."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import DATA

from tinyrag.bm25 import BM25, save_npz

rank_bm25 = pytest.importorskip("rank_bm25")


def synthetic_corpus(seed: int = 0, n_docs: int = 300) -> list[list[str]]:
    """Zipf-ish vocabulary; 'common' is in ~70% of docs so okapi idf goes negative (epsilon floor)."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(400)]
    p = 1.0 / np.arange(1, 401)
    p /= p.sum()
    docs = []
    for _ in range(n_docs):
        doc = list(rng.choice(vocab, size=rng.integers(1, 60), p=p))
        if rng.random() < 0.7:
            doc.append("common")
        docs.append(doc)
    return docs


def cranfield_tokens() -> list[list[str]]:
    path = DATA / "cranfield" / "cran.all.1400"
    if not path.is_file():
        return []
    text = path.read_text(encoding="latin-1")
    return [re.findall(r"[a-z0-9]+", d.lower()) for d in text.split("\n.I ")]


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.75), (0.9, 0.4), (2.0, 1.0)])
def test_scores_equal_rank_bm25_okapi(k1: float, b: float) -> None:
    corpus = synthetic_corpus()
    ours = BM25.fit(corpus, k1=k1, b=b, idf="okapi", epsilon=0.25, k3=None)
    ref = rank_bm25.BM25Okapi(corpus, k1=k1, b=b, epsilon=0.25)
    assert any(
        v < 0
        for v in np.log(len(corpus) - np.diff(ours.indptr) + 0.5)
        - np.log(np.diff(ours.indptr) + 0.5)
    ), "no negative idf: epsilon floor untested"
    rng = np.random.default_rng(1)
    queries = [["common"], ["w0", "w0", "w3"], ["unknown", "w10"], ["common", "w7", "w250"]]
    queries += [list(rng.choice(corpus[i], size=min(5, len(corpus[i])))) for i in range(0, 300, 7)]
    for q in queries:
        np.testing.assert_allclose(ours.get_scores(q), ref.get_scores(q), rtol=0, atol=1e-9)


def test_scores_equal_rank_bm25_on_cranfield() -> None:
    corpus = cranfield_tokens()
    if not corpus:
        pytest.skip("cranfield not present")
    ours = BM25.fit(corpus, k1=1.5, b=0.75, idf="okapi", k3=None)
    ref = rank_bm25.BM25Okapi(corpus)
    for i in range(0, len(corpus), 97):
        q = corpus[i][:12]
        np.testing.assert_allclose(ours.get_scores(q), ref.get_scores(q), rtol=0, atol=1e-9)


def test_lucene_scores_equal_bm25s_times_k1_plus_1() -> None:
    bm25s = pytest.importorskip("bm25s")
    corpus = synthetic_corpus(seed=3)
    ours = BM25.fit(corpus, k1=1.2, b=0.75, idf="lucene", k3=None)
    ref = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    ref.index(corpus, show_progress=False)
    for q in (["w1", "w5"], ["common"], ["w3", "w3", "w100"]):
        expected = ref.get_scores(q).astype(np.float64) * 2.2  # bm25s drops the (k1 + 1) factor
        np.testing.assert_allclose(
            ours.get_scores(q), expected, rtol=2e-6, atol=1e-6
        )  # bm25s is float32


def test_lucene_idf_never_collapses_on_tiny_corpus() -> None:
    # two of three documents contain "模型": okapi idf would be negative; lucene keeps it positive
    bm = BM25.fit([["模型", "注意力"], ["模型", "位置"], ["分词"]])
    ids, scores = bm.search(["模型"], k=3)
    assert list(ids) == [0, 1] and (scores > 0).all()


def test_k3_query_term_frequency() -> None:
    corpus = synthetic_corpus(seed=5)
    linear = BM25.fit(corpus, k3=None)
    distinct = BM25.fit(corpus, k3=0.0)
    sat = BM25.fit(corpus, k3=1.0)
    q = ["w2", "w2", "w9"]
    s2, s9 = linear.get_scores(["w2"]), linear.get_scores(["w9"])
    np.testing.assert_allclose(linear.get_scores(q), 2 * s2 + s9, atol=1e-12)
    np.testing.assert_allclose(distinct.get_scores(q), s2 + s9, atol=1e-12)
    np.testing.assert_allclose(sat.get_scores(q), 4 / 3 * s2 + s9, atol=1e-12)


def test_search_is_exact_top_k_with_id_tie_break() -> None:
    corpus = synthetic_corpus(seed=7) + [["tie"], ["tie"], ["tie"]]
    bm = BM25.fit(corpus)
    for q in (["w1", "w4"], ["tie"], ["w30", "common"]):
        scores = bm.get_scores(q)
        cand = np.flatnonzero(
            np.isin(
                np.arange(len(corpus)), [d for d, doc in enumerate(corpus) if set(doc) & set(q)]
            )
        )
        ref = cand[np.lexsort((cand, -scores[cand]))][:10]
        ids, got = bm.search(q, k=10)
        assert list(ids) == list(ref)
        np.testing.assert_array_equal(got, scores[ref])
    mask = np.zeros(len(corpus), dtype=bool)
    mask[::2] = True
    ids, _ = bm.search(["w1"], k=50, mask=mask)
    assert len(ids) and all(i % 2 == 0 for i in ids)
    assert bm.search(["never-seen"], k=5)[0].size == 0


def test_remove_and_add_equal_a_fresh_fit() -> None:
    corpus = synthetic_corpus(seed=11)
    bm = BM25.fit(corpus, idf="okapi", k3=None)
    remove = np.arange(len(corpus)) % 4 == 1
    bm.remove_docs(remove)
    extra = synthetic_corpus(seed=12, n_docs=40)
    bm.add_docs(extra)
    kept = [d for d, r in zip(corpus, remove) if not r] + extra
    ref = rank_bm25.BM25Okapi(kept, k1=1.2, b=0.75)
    for q in (["w1", "w8"], ["common"], ["w50"]):
        np.testing.assert_allclose(bm.get_scores(q), ref.get_scores(q), rtol=0, atol=1e-9)
    assert len(bm.vocab) == len({t for d in kept for t in d})  # unused terms were compacted away


def test_save_load_roundtrip(tmp_path) -> None:
    corpus = synthetic_corpus(seed=2)
    bm = BM25.fit(corpus, k1=1.1, b=0.6)
    bm.save(tmp_path)
    again = BM25.load(tmp_path, **bm.params())
    np.testing.assert_array_equal(
        again.get_scores(["w1", "common"]), bm.get_scores(["w1", "common"])
    )


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="idf"):
        BM25(idf="bm42")
    with pytest.raises(ValueError, match="k1"):
        BM25(k1=-1)


def test_streamed_add_docs_equals_one_list() -> None:
    """A generator consumed in small batches, or two add_docs calls, give the same index as fit."""
    corpus = synthetic_corpus(3, 120)
    ref = BM25.fit(corpus)
    streamed = BM25()
    streamed.add_docs((doc for doc in corpus), batch=7)
    two = BM25()
    two.add_docs(corpus[:50])
    two.add_docs(iter(corpus[50:]))
    for bm in (streamed, two):
        assert bm.vocab == ref.vocab
        for name in ("indptr", "doc_ids", "tfs", "doc_len", "impacts"):
            np.testing.assert_array_equal(getattr(bm, name), getattr(ref, name))


def test_save_npz_writes_what_np_savez_writes(tmp_path) -> None:
    """The block-wise writer gives arrays np.load reads back exactly (dtype, shape, values)."""
    rng = np.random.default_rng(0)
    arrays = {
        "i32": rng.integers(0, 1 << 30, 100_001).astype(np.int32),
        "i64": rng.integers(0, 1 << 40, 7),
        "f64": rng.random(3),
        "empty": np.zeros(0, dtype=np.int32),
    }
    save_npz(tmp_path / "ours.npz", arrays, block=4096)  # several blocks per array
    np.savez(tmp_path / "ref.npz", **arrays)
    with np.load(tmp_path / "ours.npz") as ours, np.load(tmp_path / "ref.npz") as ref:
        assert sorted(ours.files) == sorted(ref.files)
        for name in ref.files:
            assert ours[name].dtype == ref[name].dtype
            np.testing.assert_array_equal(ours[name], ref[name])


def test_large_batches_keep_wide_doc_ids_and_tfs() -> None:
    """A batch of more than 65,536 documents, and a tf above 65,535, are not truncated."""
    # empty documents keep a batch under its token budget: 70,003 documents in one batch
    corpus = [["a"] * 70_000, ["b"]] + [[]] * 70_000 + [["c", "a"], ["a"]]
    bm = BM25()
    bm.add_docs(corpus, batch=100_000)
    ref = BM25()
    ref.add_docs(corpus, batch=3)
    for name in ("indptr", "doc_ids", "tfs", "doc_len", "impacts"):
        np.testing.assert_array_equal(getattr(bm, name), getattr(ref, name))
    a = bm.vocab["a"]
    assert bm.tfs[bm.indptr[a]] == 70_000 and bm.doc_ids[bm.indptr[a + 1] - 1] == 70_003


def test_postings_equal_a_plain_python_build() -> None:
    """The counting-sort build gives exactly the postings a dict-of-Counters build gives: terms in
    first-seen order, each term's docs ascending with their tf -- across batches and across two
    add_docs calls (old postings merged with new ones)."""
    from collections import Counter

    corpus = synthetic_corpus(5, 200) + [[]] + [["solo"]]
    bm = BM25()
    bm.add_docs(iter(corpus[:90]), batch=7)
    bm.add_docs(iter(corpus[90:]), batch=13)
    vocab: dict[str, int] = {}
    postings: dict[str, list[tuple[int, int]]] = {}
    for d, doc in enumerate(corpus):
        for t in doc:
            vocab.setdefault(t, len(vocab))
        for t, tf in sorted(Counter(doc).items(), key=lambda x: vocab[x[0]]):
            postings.setdefault(t, []).append((d, tf))
    assert bm.vocab == vocab
    for t, tid in vocab.items():
        s, e = bm.indptr[tid], bm.indptr[tid + 1]
        assert list(zip(bm.doc_ids[s:e].tolist(), bm.tfs[s:e].tolist())) == postings[t]
    assert bm.doc_ids.dtype == bm.tfs.dtype == np.int32
    assert bm.doc_len.tolist() == [len(doc) for doc in corpus]
