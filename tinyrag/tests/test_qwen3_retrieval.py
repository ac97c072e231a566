"""tinyrag's Qwen3-Embedding and Qwen3-Reranker paths equal tinyqwen's ``LLM.embed`` / ``LLM.rerank``
on tiny random checkpoints that transformers itself saves (``Qwen3Model`` as Qwen3-Embedding ships,
``Qwen3ForCausalLM`` for the reranker). tinyqwen's own tests prove those two against the model
cards' code; here: tinyrag adds no second recipe. Embeddings are compared exactly (same calls);
reranker log-odds map back to ``LLM.rerank``'s P(yes) within 1e-9."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tinyqwen
from tinyqwen.llm import LLM
from tinyqwen.tiny_random import load_tiny_random
from tinyrag.embedder import DEFAULT_INSTRUCTION, Embedder
from tinyrag.index import Index
from tinyrag.rerank import Reranker, rerank
from tinyrag.vector_store import normalize

transformers = pytest.importorskip("transformers")

DOCS = {
    "rope.md": "# RoPE\n\nQwen2 使用旋转位置编码（RoPE）。rope_theta 为一百万。\n",
    "gqa.md": "# GQA\n\nGQA 让多个查询头共享键值头，KV cache 小了 7 倍。\n",
    "norm.md": "# Norm\n\nRMSNorm does not subtract the mean.\n",
}
QUERIES = ["GQA 为什么省显存？", "What does RMSNorm skip?"]


def _config(vocab_size: int):
    return transformers.Qwen3Config(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True, initializer_range=0.2,
    )  # fmt: skip


def _patch_tokenizer(path: Path, eos_suffix: bool = False, yes_no: bool = False) -> None:
    """Qwen3-Embedding's tokenizer appends <|endoftext|>; Qwen3-Reranker's has "yes"/"no" tokens
    (the toy vocabulary has neither, so they are added as tokens after the special ones)."""
    tj = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    if eos_suffix:
        eos = "<|endoftext|>"
        eos_id = next(t["id"] for t in tj["added_tokens"] if t["content"] == eos)
        tj["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {eos: {"id": eos, "ids": [eos_id], "tokens": [eos]}},
        }  # fmt: skip
    if yes_no:
        top = max([*tj["model"]["vocab"].values(), *(t["id"] for t in tj["added_tokens"])])
        tj["model"]["vocab"].update({"yes": top + 1, "no": top + 2})
        vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
        vocab.update({"yes": top + 1, "no": top + 2})
        (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (path / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False), encoding="utf-8")


def _checkpoint(path: Path, kind: str, seed: int) -> Path:
    tokenizer = load_tiny_random().tokenizer
    tokenizer.save_pretrained(path)
    _patch_tokenizer(path, eos_suffix=kind == "embedding", yes_no=kind == "reranker")
    torch.manual_seed(seed)
    config = _config((tokenizer.vocab_size + 2 + 63) // 64 * 64)
    cls = transformers.Qwen3Model if kind == "embedding" else transformers.Qwen3ForCausalLM
    cls(config).eval().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("qwen3")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    return {
        "docs": docs,
        "embedding": _checkpoint(root / "Qwen3-Embedding-tiny", "embedding", 0),
        "reranker": _checkpoint(root / "Qwen3-Reranker-tiny", "reranker", 1),
    }


@pytest.fixture(scope="module")
def embedding(ckpts) -> LLM:
    llm = LLM.from_pretrained(ckpts["embedding"], dtype=torch.float32)
    assert llm.embed_suffix == "<|endoftext|>"  # the checkpoint's tokenizer says so
    return llm


@pytest.fixture(scope="module")
def reranker(ckpts) -> LLM:
    return LLM.from_pretrained(ckpts["reranker"], dtype=torch.float32)


def test_embedder_equals_llm_embed_with_instruction(embedding: LLM, ckpts, tmp_path) -> None:
    emb = Embedder(embedding, query_format="qwen3-embedding")
    # The Embedder re-normalises whatever a model's embed returns (any model may be plugged in), and
    # dividing an already unit row by its float32 norm can move the last bit on some CPUs (seen on an
    # AVX2 EPYC) -- so the exact statement is: Embedder == normalize(LLM.embed) in the Qwen3 format.
    want_q = normalize(embedding.embed(QUERIES, instruction=DEFAULT_INSTRUCTION))  # [N, H]
    np.testing.assert_array_equal(emb.embed_queries(QUERIES), want_q)
    texts = list(DOCS.values())
    np.testing.assert_array_equal(emb.embed_documents(texts), normalize(embedding.embed(texts)))
    # gte-Qwen2's format is a different text ("Query: " with a space), so a different vector
    assert not np.allclose(Embedder(embedding).embed_queries(QUERIES[:1]), want_q[:1])
    # dense retrieval ranks by exactly these vectors
    Index.build(ckpts["docs"], tmp_path / "idx", embedder=emb, embedder_spec="q3")
    index = Index.load(tmp_path / "idx", embedder=emb)
    doc_vecs = embedding.embed([c["text"] for c in index.chunks])
    expected = np.argsort(-(doc_vecs @ want_q[0]), kind="stable")
    assert [h.row for h in index.search(QUERIES[0], k=len(doc_vecs), mode="dense")] == list(
        expected
    )


def test_reranker_scores_equal_llm_rerank(reranker: LLM) -> None:
    texts = list(DOCS.values())
    want = reranker.rerank(QUERIES[0], texts)
    judge = Reranker(reranker, "qwen3-reranker")
    assert judge.p_yes(QUERIES[0], texts) == want
    order = rerank(judge, QUERIES[0], texts)
    assert [i for i, _ in order] == sorted(range(len(texts)), key=lambda i: (-want[i], i))
    for i, s in order:
        assert abs(1.0 / (1.0 + math.exp(-s)) - want[i]) <= 1e-9
    assert len({round(p, 6) for p in want}) > 1  # the documents are told apart


def test_yes_no_format_is_the_loglikelihood_fallback(reranker: LLM) -> None:
    texts = list(DOCS.values())
    order = rerank(Reranker(reranker, "yes-no"), QUERIES[1], texts)
    plain = rerank(reranker, QUERIES[1], texts)  # a bare chat model is judged in yes-no format
    assert order == plain
    assert [s for _, s in order] != [
        math.log(p) - math.log1p(-p) for p in reranker.rerank(QUERIES[1], texts)
    ]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinyrag", *args], capture_output=True, text=True, timeout=300
    )


def test_ask_with_qwen3_embedding_and_reranker_end_to_end(ckpts, tmp_path) -> None:
    idx = tmp_path / "idx"
    r = run(
        "index", str(ckpts["docs"]), "--index", str(idx), "--embed-model", str(ckpts["embedding"])
    )
    assert r.returncode == 0, r.stderr
    assert Index.read_manifest(idx)["embedder"]["query_format"] == "qwen3-embedding"  # auto
    r = run(
        "ask", QUERIES[0], "--index", str(idx), "--rerank-model", str(ckpts["reranker"]),
        "--k", "3", "--min-support", "0", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # the reranker's judgement of the best passage is LLM.rerank's P(yes), and it ordered them
    # (reference models loaded as the CLI loads them: tinyqwen.connect, its default dtype)
    embedder = Embedder(tinyqwen.connect(str(ckpts["embedding"])), query_format="qwen3-embedding")
    index = Index.load(idx, embedder=embedder)
    texts = {h.source: h.text for h in index.search(QUERIES[0], k=3)}
    judge = tinyqwen.connect(str(ckpts["reranker"]))
    p = dict(zip(texts, judge.rerank(QUERIES[0], list(texts.values()))))
    got = [s["source"] for s in out["sources"]]
    assert got == sorted(p, key=lambda s: -p[s])
    assert abs(out["rerank_yes"] - p[got[0]]) <= 1e-6
    r = run("ask", QUERIES[0], "--index", str(idx), "--rerank-model", "tiny-random",
            "--rerank-format", "qwen3-reranker")  # fmt: skip
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr, r.stderr
