"""Qwen3-Embedding and Qwen3-Reranker recipes against transformers-based references (the code of
their model cards) on random checkpoints transformers wrote.

Embedding: a ``transformers.Qwen3Model`` saved as a base model (no ``model.`` prefix, no lm_head,
as Qwen3-Embedding ships), a tokenizer whose post-processor appends ``<|endoftext|>``; the
reference tokenises with HF ``tokenizers``, left-pads, takes ``last_token_pool``, L2-normalises.
Reranker: ``transformers.Qwen3ForCausalLM``, prompt prefix + formatted pair + suffix, left padding,
``log_softmax([no, yes])[1].exp()``. Tolerance: 1e-5 per component / score (fp32).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG

from tinyqwen.llm import LLM
from tinyqwen.retrieval import (
    RERANK_PREFIX,
    RERANK_SUFFIX,
    embedding_query,
    rerank_prompt,
    truncate_embeddings,
    yes_no_scores,
)
from tinyqwen.tiny_random import load_tiny_random

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
QWEN3_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "qwen3_chat_template"
TEXTS = ["什么是旋转位置编码？", "RoPE rotates q and k.", "The weather is nice today", "a"]
TASK = "Given a web search query, retrieve relevant passages that answer the query"


def _qwen3_config(vocab_size: int, **kw):
    fields = {**TINY_CONFIG, "vocab_size": vocab_size, "head_dim": 32, **kw}
    return transformers.Qwen3Config(**fields)


@pytest.fixture(scope="module")
def embedding_checkpoint(tmp_path_factory):
    """A Qwen3-Embedding-shaped checkpoint: base model weights + an eos-appending tokenizer."""
    path = tmp_path_factory.mktemp("qwen3-embedding")
    tokenizer = load_tiny_random().tokenizer
    torch.manual_seed(0)
    config = _qwen3_config((tokenizer.vocab_size + 63) // 64 * 64, tie_word_embeddings=True)
    hf = transformers.Qwen3Model(config).eval()
    hf.save_pretrained(path)
    tokenizer.save_pretrained(path)
    tj = json.loads((path / "tokenizer.json").read_text())
    eos = "<|endoftext|>"
    eos_id = tokenizer.special_tokens[eos]
    tj["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": eos, "type_id": 0}},
        ],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {eos: {"id": eos, "ids": [eos_id], "tokens": [eos]}},
    }
    (path / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False))
    return path, hf


def reference_embeddings(path: Path, hf, texts: list[str]) -> np.ndarray:
    """The model card's recipe: HF tokenizer (appends eos), left padding, last_token_pool, L2."""
    tok = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    ids = [tok.encode(t).ids for t in texts]  # add_special_tokens=True: the post-processor runs
    width = max(map(len, ids))
    batch = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    for i, row in enumerate(ids):
        batch[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    with torch.no_grad():
        hidden = hf(input_ids=batch, attention_mask=mask).last_hidden_state
    pooled = hidden[:, -1]  # left padding: the last column is every text's last token
    return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


def test_embedding_matches_the_model_card_recipe(embedding_checkpoint):
    path, hf = embedding_checkpoint
    llm = LLM.from_pretrained(path, dtype=torch.float32)
    assert llm.embed_suffix == "<|endoftext|>"
    docs = llm.embed(TEXTS)
    assert np.abs(docs - reference_embeddings(path, hf, TEXTS)).max() <= 1e-5
    queries = llm.embed(TEXTS[:2], instruction=TASK)
    want = reference_embeddings(path, hf, [embedding_query(TASK, t) for t in TEXTS[:2]])
    assert np.abs(queries - want).max() <= 1e-5
    assert np.abs(queries - docs[:2]).max() > 1e-3  # the instruction changes the embedding
    small = llm.embed(TEXTS, dimensions=16)
    assert small.shape == (len(TEXTS), 16)
    assert np.allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-6)
    assert np.allclose(small, truncate_embeddings(docs, 16), atol=1e-6)
    with pytest.raises(ValueError, match="dimensions"):
        llm.embed(TEXTS, dimensions=10_000)


def test_chat_checkpoints_append_nothing():
    assert load_tiny_random().embed_suffix == ""


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    path = tmp_path_factory.mktemp("qwen3-reranker")
    tokenizer = load_tiny_random().tokenizer
    torch.manual_seed(1)
    config = _qwen3_config((tokenizer.vocab_size + 63) // 64 * 64)
    hf = transformers.Qwen3ForCausalLM(config).eval()
    hf.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return LLM.from_pretrained(path, dtype=torch.float32), hf


def reference_rerank(hf, prompts: list[list[int]], yes_id: int, no_id: int) -> list[float]:
    """The model card's compute_logits on a left-padded batch."""
    width = max(map(len, prompts))
    batch = torch.zeros(len(prompts), width, dtype=torch.long)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for i, row in enumerate(prompts):
        batch[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    with torch.no_grad():
        scores = hf(input_ids=batch, attention_mask=mask).logits[:, -1, :]
    pair = torch.stack([scores[:, no_id], scores[:, yes_id]], dim=1)
    return torch.nn.functional.log_softmax(pair, dim=1)[:, 1].exp().tolist()


def test_yes_no_scores_match_the_model_card(reranker):
    llm, hf = reranker
    prompts = [llm.encode(rerank_prompt("RoPE 是什么？", doc)) for doc in TEXTS]
    yes_id, no_id = llm.encode("yes")[0], llm.encode("no")[0]  # stand-ins: tiny vocab has no "yes"
    got = yes_no_scores(llm.model, prompts, yes_id, no_id, batch_size=3)
    want = reference_rerank(hf, prompts, yes_id, no_id)
    assert np.abs(np.array(got) - np.array(want)).max() <= 1e-5
    assert len({round(s, 4) for s in got}) > 1  # different documents, different scores


def test_rerank_needs_yes_and_no_tokens(reranker):
    llm, _ = reranker
    with pytest.raises(ValueError, match="yes"):
        llm.rerank("q", ["d"])


def test_rerank_with_the_qwen3_tokenizer(tmp_path):
    if not (QWEN3_DATA / "tokenizer.json").is_file():
        pytest.skip(f"fixture folder {QWEN3_DATA} is absent")
    import shutil

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(QWEN3_DATA / name, tmp_path / name)
    torch.manual_seed(2)
    config = _qwen3_config(151680, hidden_size=32, intermediate_size=64, head_dim=16)
    hf = transformers.Qwen3ForCausalLM(config).eval()
    hf.save_pretrained(tmp_path)
    llm = LLM.from_pretrained(tmp_path, dtype=torch.float32)
    assert llm.chat_format == "qwen3"
    tok = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    yes_id, no_id = tok.token_to_id("yes"), tok.token_to_id("no")
    query, docs = "什么是 RoPE？", ["RoPE rotates q and k.", "今天天气很好", "x" * 50]
    # the model card: prefix ids + tokenizer(formatted pair) + suffix ids
    prefix = tok.encode(RERANK_PREFIX, add_special_tokens=False).ids
    suffix = tok.encode(RERANK_SUFFIX, add_special_tokens=False).ids
    pairs = [f"<Instruct>: {TASK}\n<Query>: {query}\n<Document>: {d}" for d in docs]
    prompts = [prefix + tok.encode(p, add_special_tokens=False).ids + suffix for p in pairs]
    want = reference_rerank(hf, prompts, yes_id, no_id)
    got = llm.rerank(query, docs)
    assert np.abs(np.array(got) - np.array(want)).max() <= 1e-5


def test_embedding_through_the_server_and_client(embedding_checkpoint):
    pytest.importorskip("fastapi")
    from tinyqwen.openai_client import OpenAIChatModel
    from tinyqwen.serve import serve_in_background

    path, _ = embedding_checkpoint
    llm = LLM.from_pretrained(path, dtype=torch.float32)
    with serve_in_background(llm) as url:
        client = OpenAIChatModel(url, llm.name)
        got = client.embed(TEXTS[:2], instruction=TASK, dimensions=16)
        want = llm.embed(TEXTS[:2], instruction=TASK, dimensions=16)
        assert got.shape == (2, 16) and np.abs(got - want).max() <= 1e-5
        with pytest.raises(Exception, match="dimensions"):
            client.embed(TEXTS[:1], dimensions=10_000)
