"""Packing, the memmapped token file and the step-indexed sampler (qwen_blog.data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from training_fixtures import tokenizer  # noqa: F401

from qwen_blog import corpus, data


def test_pack_roundtrip_recovers_every_document(tmp_path, tokenizer):  # noqa: F811
    docs = corpus.pretrain_documents(n_docs=120, seed=3)
    meta = data.pack_corpus(
        tokenizer, docs, tmp_path, val_fraction=0.1, seed=0, show_progress=False
    )
    train, val = data.PackedTokens(tmp_path, "train"), data.PackedTokens(tmp_path, "val")
    assert (
        train.tokens.dtype == np.uint16 and meta["dtype"] == "uint16"
    )  # vocab 2048 fits in 16 bits
    assert len(train) == meta["train_tokens"] and len(val) == meta["val_tokens"]
    assert abs(len(val) / (len(train) + len(val)) - 0.1) < 0.01
    stream = np.concatenate([train.tokens, val.tokens]).tolist()
    eos = meta["eos_token_id"]
    assert eos == tokenizer.special_tokens["<|endoftext|>"] and stream[-1] == eos
    pieces, cur = [], []
    for t in stream:
        if t == eos:
            pieces.append(tokenizer.decode(cur, errors="strict"))
            cur = []
        else:
            cur.append(t)
    assert sorted(pieces) == sorted(docs)  # every document, exactly once, nothing else
    assert pieces != docs  # and shuffled (seeded), so the val split is a random sample


def test_blocks_shift_by_one(tmp_path, tokenizer):  # noqa: F811
    data.pack_corpus(tokenizer, corpus.pretrain_documents(60), tmp_path, show_progress=False)
    train = data.PackedTokens(tmp_path, "train")
    T = 16
    n = train.num_blocks(T)
    assert n == (len(train) - 1) // T
    x, y = train.batch([0, 1, n - 1], T)
    assert x.shape == y.shape == (3, T)
    assert (x[:, 1:] == y[:, :-1]).all()  # targets are the inputs shifted left by one
    assert (
        x[1, 0] == y[0, -1]
    )  # consecutive blocks chain: block 0's last target is block 1's first input
    assert y[2, -1] == int(train.tokens[n * T])
    with pytest.raises(IndexError, match="out of range"):
        train.batch([n], T)


def test_sampler_is_a_pure_function_of_step_and_covers_each_epoch():
    s = data.BlockSampler(num_blocks=10, global_batch=4, seed=7)
    first = [s.indices(k) for k in range(5)]  # 20 positions = 2 epochs
    again = data.BlockSampler(10, 4, seed=7)
    assert [again.indices(k) for k in (4, 2, 0, 3, 1)] == [first[k] for k in (4, 2, 0, 3, 1)]
    flat = [i for b in first for i in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:]) == list(range(10))
    assert flat[:10] != flat[10:]  # a fresh permutation per epoch
    assert data.BlockSampler(10, 4, seed=8).indices(0) != first[0]


def test_shard_splits_the_global_batch_like_distributed_sampler():
    g = list(range(100, 108))
    shards = [data.shard(g, r, 2) for r in range(2)]
    assert shards == [[100, 102, 104, 106], [101, 103, 105, 107]]
    assert sorted(shards[0] + shards[1]) == g
    with pytest.raises(ValueError, match="not divisible"):
        data.shard(g, 0, 3)


def test_read_documents_errors_name_the_line(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"text": "ok"}\n{"txt": "bad"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"c.jsonl:2: .*\"text\""):
        data.read_documents(p)
    t = tmp_path / "c.txt"
    t.write_text("one\n\n\ntwo\nlines\n", encoding="utf-8")
    assert data.read_documents(t) == ["one", "two\nlines"]


def test_incomplete_pack_is_detected(tmp_path, tokenizer):  # noqa: F811
    data.pack_corpus(tokenizer, ["a b c d e f g"] * 20, tmp_path, show_progress=False)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["train_tokens"] += 1
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="train.bin"):
        data.PackedTokens(tmp_path, "train")
