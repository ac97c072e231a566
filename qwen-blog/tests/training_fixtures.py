"""Fixtures for the training tests (imported by each test_train_*.py): tiny-random tokenizer, toy config, corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

# Toy sizes gain nothing from intra-op threads, and on a shared machine spinning threads cost a lot.
torch.set_num_threads(1)

# A Qwen2 small enough that a training step takes milliseconds, with GQA (4 query / 2 KV heads).
TOY_MODEL = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
}
TOY_TRAIN = {
    "seq_len": 32,
    "micro_batch_size": 4,
    "grad_accum": 1,
    "lr": 3e-3,
    "warmup_steps": 2,
    "max_steps": 8,
    "eval_every": 4,
    "save_every": 4,
}


@pytest.fixture(scope="session")
def tokenizer():
    from qwen_blog.pretrain import load_tokenizer
    from tinyqwen.tiny_random import ASSET_DIR

    if not (ASSET_DIR / "tokenizer.json").is_file():
        pytest.skip("tinyqwen's tiny-random tokenizer asset is missing")
    return load_tokenizer("tiny-random")


@pytest.fixture(scope="session")
def toy_config_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("cfg") / "toy.json"
    p.write_text(json.dumps({"model": TOY_MODEL, "train": TOY_TRAIN}), encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory) -> Path:
    from qwen_blog.corpus import write_pretrain_corpus

    return write_pretrain_corpus(
        tmp_path_factory.mktemp("corpus") / "corpus.jsonl", n_docs=300, seed=1
    )
