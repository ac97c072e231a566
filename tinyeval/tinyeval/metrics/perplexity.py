"""Perplexity from summed token log-likelihoods.

``ppl = exp(-Σ log p(token) / N)`` over all scored tokens. Corpus perplexity weights every token
equally (sum the log-likelihoods and token counts of all documents first), which is *not* the mean
of per-document perplexities.

    >>> round(perplexity([-2.0, -4.0], [2, 2]), 6)
    4.481689
    >>> round(perplexity([-6.931471805599453], [10]), 6)
    2.0

Limits: the token count must come from the same tokenizer that produced the log-likelihoods; the
value is not comparable across tokenizers (use bits-per-byte for that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def perplexity(logliks: Sequence[float], n_tokens: Sequence[int]) -> float:
    """Token-weighted perplexity of documents with summed log-likelihoods ``logliks``."""
    if len(logliks) != len(n_tokens):
        raise ValueError(f"perplexity: {len(logliks)} log-likelihoods but {len(n_tokens)} counts")
    total = sum(n_tokens)
    if total <= 0:
        raise ValueError("perplexity: no tokens to score")
    return math.exp(-math.fsum(logliks) / total)


def bits_per_byte(logliks: Sequence[float], n_bytes: Sequence[int]) -> float:
    """Σ -log2 p / Σ UTF-8 bytes: tokenizer-independent."""
    total = sum(n_bytes)
    if total <= 0:
        raise ValueError("bits_per_byte: no bytes")
    return -math.fsum(logliks) / total / math.log(2)
