"""Vector store: exact top-k, filters, and agreement with FAISS IndexFlatIP."""

from __future__ import annotations

import numpy as np
import pytest

from tinyrag.vector_store import VectorStore, normalize


def random_store(n: int = 3000, d: int = 64, seed: int = 0) -> tuple[VectorStore, np.ndarray]:
    rng = np.random.default_rng(seed)
    store = VectorStore(d)
    langs = ["zh", "en", "code"]
    store.add(
        rng.standard_normal((n, d)), [{"lang": langs[i % 3], "page": i % 7} for i in range(n)]
    )
    return store, rng.standard_normal((25, d)).astype(np.float32)


def test_top_k_equals_full_sort() -> None:
    store, queries = random_store()
    for q in queries:
        ids, scores = store.search(q, k=10)
        sims = store.vectors @ normalize(q)[0]
        ref = np.argsort(-sims, kind="stable")[:10]
        assert list(ids) == list(ref)
        np.testing.assert_allclose(scores, sims[ref], rtol=0, atol=1e-6)
    assert np.allclose(np.linalg.norm(store.vectors, axis=1), 1, atol=1e-6)


def test_filters() -> None:
    store, queries = random_store()
    ids, _ = store.search(queries[0], k=20, where={"lang": "zh", "page": [1, 2]})
    assert len(ids) == 20
    assert all(store.meta[i]["lang"] == "zh" and store.meta[i]["page"] in (1, 2) for i in ids)
    allowed = [i for i, m in enumerate(store.meta) if m["lang"] == "zh" and m["page"] in (1, 2)]
    sims = store.vectors[allowed] @ normalize(queries[0])[0]
    assert list(ids) == [allowed[j] for j in np.argsort(-sims)[:20]]
    assert store.search(queries[0], k=5, where={"lang": "fr"})[0].size == 0


@pytest.mark.parametrize("where", [None, {"lang": "en"}])
def test_numpy_and_faiss_agree(where) -> None:
    pytest.importorskip("faiss")
    from tinyrag.faiss_store import FaissStore

    store, queries = random_store()
    fstore = FaissStore.from_store(store)
    a_ids, a_sc = store.search_batch(queries, k=10, where=where)
    b_ids, b_sc = fstore.search_batch(queries, k=10, where=where)
    for ai, asc, bi, bsc in zip(a_ids, a_sc, b_ids, b_sc):
        np.testing.assert_allclose(asc, bsc, rtol=0, atol=1e-5)
        # ids must agree except where two scores are within float32 rounding of each other
        for r in range(10):
            if ai[r] != bi[r]:
                assert abs(asc[r] - bsc[r]) < 1e-5 and np.isclose(
                    asc[r], asc[r - 1] if r else asc[1], atol=1e-5
                )
    same = sum(list(a) == list(b) for a, b in zip(a_ids, b_ids))
    assert same >= len(queries) - 1
    one_np, one_fs = (
        store.search(queries[3], k=10, where=where),
        fstore.search(queries[3], k=10, where=where),
    )
    assert list(one_np[0]) == list(a_ids[3]) and list(one_fs[0]) == list(b_ids[3])


def test_keep_and_errors(tmp_path) -> None:
    store, _ = random_store(n=10)
    store.keep(np.arange(10) % 2 == 0)
    assert len(store) == 5 and len(store.meta) == 5
    store.save(tmp_path)
    again = VectorStore.load(tmp_path, store.meta)
    np.testing.assert_array_equal(again.vectors, store.vectors)
    with pytest.raises(ValueError, match="all zeros"):
        store.add(np.zeros((1, 64)))
    with pytest.raises(ValueError, match="dim 3"):
        store.add(np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        normalize([np.nan, 1.0])
