"""Real model paths through tinyqwen's tiny-random (random weights: these prove the wiring only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyrag.answer import answer_question
from tinyrag.embedder import Embedder
from tinyrag.index import Index
from tinyrag.rerank import rerank, rerank_prompt

DOCS = {
    "rope.md": "# RoPE\n\nQwen2 使用旋转位置编码（RoPE）。rope_theta 为一百万。\n",
    "gqa.md": "# GQA\n\nQwen2 使用分组查询注意力，多个查询头共享键值头。\n",
    "norm.md": "# Norm\n\nRMSNorm does not subtract the mean.\n",
}


@pytest.fixture(scope="module")
def model():
    tinyqwen = pytest.importorskip("tinyqwen")
    try:
        return tinyqwen.connect("tiny-random")
    except (ImportError, NotImplementedError, AttributeError) as e:
        pytest.skip(f"tinyqwen.connect('tiny-random') not available yet: {e}")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tq")
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_dense_index_uses_model_embeddings(model, tree: Path, tmp_path: Path) -> None:
    emb = Embedder(model)
    Index.build(tree, tmp_path / "idx", embedder=emb, embedder_spec="tiny-random")
    index = Index.load(tmp_path / "idx", embedder=emb)
    texts = [c["text"] for c in index.chunks]
    doc_vecs = model.embed(texts, pooling="last")  # [N, H], straight from the model
    np.testing.assert_allclose(index.vectors.vectors, doc_vecs, atol=1e-5)
    q = "旋转位置编码"
    qv = model.embed([emb.query_text(q)], pooling="last")[0]
    expected = np.argsort(-(doc_vecs @ qv), kind="stable")
    hits = index.search(q, k=len(texts), mode="dense")
    assert [h.row for h in hits] == list(expected)
    assert index.manifest["embedder"]["model"] == "tiny-random"
    assert index.manifest["embedder"]["dim"] == doc_vecs.shape[1]


def test_rerank_scores_are_loglikelihood_differences(model) -> None:
    passages = ["RMSNorm does not subtract the mean.", "旋转位置编码"]
    q = "What does RMSNorm skip?"
    order = rerank(model, q, passages)
    ll = model.loglikelihood([(rerank_prompt(q, p), c) for p in passages for c in (" yes", " no")])
    want = {i: ll[2 * i][0] - ll[2 * i + 1][0] for i in range(2)}
    assert {i: s for i, s in order} == pytest.approx(want, abs=1e-4)
    assert order[0][1] >= order[1][1]


def test_ask_streams_with_a_real_model(model, tree: Path) -> None:
    index, _ = Index.build(tree, None)
    deltas: list[str] = []
    a = answer_question(
        index, "Qwen2 使用什么位置编码？", model, on_delta=deltas.append, max_new_tokens=12
    )
    assert not a.extractive and a.model == "tiny-random"
    assert "".join(deltas) == a.text and a.text
    assert all(1 <= n <= len(a.sources) for n in a.citations)


def test_chunks_measured_with_the_model_tokenizer(model, tree: Path) -> None:
    tok = model.tokenizer
    text = (tree / "rope.md").read_text(encoding="utf-8") * 8
    from tinyrag.chunking import chunk_text

    chunks = chunk_text(text, max_tokens=24, overlap=4, markdown=True, tokenizer=tok)
    assert len(chunks) > 2
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.n_tokens == len(tok.encode(c.text)) <= 24
    index, _ = Index.build(tree, None, tokenizer=tok)
    assert index.manifest["tokenizer"]["vocab_size"] == tok.vocab_size


def test_cli_dense_index_and_random_model_answer(tree: Path, tmp_path: Path, model) -> None:
    """index --embed-model, then ask in hybrid mode (reconnects the embedder) with tiny-random."""
    tr = [sys.executable, "-m", "tinyrag"]
    r = subprocess.run(
        [*tr, "index", str(tree), "--index", str(tmp_path / "i"), "--embed-model", "tiny-random"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "i" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"]["model"] == "tiny-random"
    r = subprocess.run(
        [*tr, "ask", "RMSNorm mean?", "--index", str(tmp_path / "i"), "--mode", "hybrid", "--json",
         "--model", "tiny-random", "--max-new-tokens", "4"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "randomly initialised" in r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "tiny-random" and not out["extractive"]
    assert {s["source"] for s in out["sources"]} == set(DOCS)  # hybrid: BM25 + dense candidates


def test_chat_rewrite_and_answer_eval_run_on_a_real_model(model, tmp_path: Path) -> None:
    """The model paths of chat rewriting, reranking and eval --answers, on tiny-random."""
    from tinyrag.answer_eval import evaluate_answers
    from tinyrag.conversation import rewrite_query
    from tinyrag.datasets import RetrievalSet

    history = [{"role": "user", "content": "Qwen2 用什么位置编码？"},
               {"role": "assistant", "content": "旋转位置编码 [1]"}]  # fmt: skip
    q = rewrite_query("它的 theta 是多少？", history, model)
    assert isinstance(q, str) and q.strip()
    ds = RetrievalSet(
        "mini", dict(DOCS), {"a": "RMSNorm subtract mean"}, {"a": {"norm.md": 1}},
        answers={"a": ["does not subtract the mean"]},
    )  # fmt: skip
    r = evaluate_answers(ds, model, k=2, min_support=0.0, rerank_model=model, max_new_tokens=8)
    assert r["answered"] == 1 and r["model"] == "tiny-random" and 0.0 <= r["F1"] <= 1.0
