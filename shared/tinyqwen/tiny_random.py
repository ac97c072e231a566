"""``tiny-random``: a built-in, seeded, randomly initialised Qwen2 so everything runs offline.

    >>> from tinyqwen.tiny_random import load_tiny_random
    >>> llm = load_tiny_random()                       # doctest: +SKIP
    >>> llm.name, llm.context_length                   # doctest: +SKIP
    ('tiny-random', 2048)

The model has the Qwen2 architecture at toy size (2 layers, hidden 128, 4 query / 2 key-value heads,
tied embeddings) and the small byte-level BPE tokenizer shipped in ``assets/tiny-random`` (trained
by ``tinyqwen.tokenizer.bpe_train``; it has the Qwen special tokens, so the chat template works). Weights are
drawn from a fixed-seed ``torch.Generator``, so every run, on every machine, builds the same model.

**Its output is gibberish.** It exists so that demos, tests and every CLI work on a fresh machine
with nothing downloaded; CLIs print ``TINY_RANDOM_NOTICE`` to stderr when they use it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from tinyqwen.config import Qwen2Config
from tinyqwen.llm import LLM
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.tokenizer import Tokenizer

NAME = "tiny-random"
TINY_RANDOM_NOTICE = (
    "note: 'tiny-random' is a randomly initialised toy model; its output is gibberish "
    "(use a real checkpoint directory or an http(s)://.../v1 URL for real answers)"
)
ASSET_DIR = Path(__file__).resolve().parent / "assets" / NAME
SEED = 20240919  # Qwen2.5's release date; any fixed value would do
INIT_STD = 0.1  # transformers uses 0.02, which makes a toy model repeat one token forever


def tiny_random_config(vocab_size: int) -> Qwen2Config:
    """The toy Qwen2 shape: small enough to run instantly, with GQA and tied embeddings."""
    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=352,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        rope_theta=1_000_000.0,
        tie_word_embeddings=True,
        use_sliding_window=False,
        torch_dtype="float32",
    )


def build_tiny_random_model(vocab_size: int, seed: int = SEED) -> Qwen2ForCausalLM:
    """The seeded model. Parameters are filled in name order from one generator, so the result
    does not depend on torch's global RNG or on the module's own init."""
    config = tiny_random_config(vocab_size)
    model = Qwen2ForCausalLM(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):  # tied weights are listed once
            if name.endswith("norm.weight"):  # input_layernorm, post_attention_layernorm, norm
                param.fill_(1.0)
            else:  # matrices and the q/k/v biases (random, so the bias path is exercised)
                param.copy_(torch.randn(param.shape, generator=gen) * INIT_STD)
    return model.eval()


def load_tiny_random(quantize: str | None = None) -> LLM:
    """The shared ``tiny-random`` ``LLM`` (built once per process; fp32 on CPU; int8 / int4 weights
    with ``quantize="int8"`` / ``"int4"``)."""
    from tinyqwen.quant import check_scheme

    check_scheme(quantize)
    return _load(quantize)  # positional, so that () and (None) share one cache entry


@functools.lru_cache(maxsize=3)
def _load(quantize: str | None) -> LLM:
    if not (ASSET_DIR / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"tiny-random tokenizer missing: {ASSET_DIR / 'tokenizer.json'} "
            "(the tinyqwen package was installed without its assets)"
        )
    tokenizer = Tokenizer.from_pretrained(ASSET_DIR)
    model = build_tiny_random_model(tokenizer.vocab_size)
    if quantize:
        from tinyqwen.quant import quantize_model

        model = quantize_model(model, scheme=quantize)
    return LLM(model, tokenizer, name=NAME)
