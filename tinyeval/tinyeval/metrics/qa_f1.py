"""Token-overlap F1 for extractive / short-answer QA (LongBench ``qa_f1_score``, ``qa_f1_zh_score``).

F1 = 2PR / (P + R) over the multiset of shared tokens. English tokens are whitespace words after
``normalize_answer``; Chinese tokens are jieba words (precise mode), each normalised with
``normalize_zh_answer`` and dropped when that leaves nothing.

    >>> qa_f1_score("The Eiffel Tower", "Eiffel tower in Paris")
    0.6666666666666666
    >>> round(qa_f1_zh_score("厦门大学", "厦门大学。"), 6)
    1.0

Limits: jieba's dictionary and HMM decide the Chinese tokens, so the score is only comparable with
runs using the same jieba version (checked against jieba 0.42.1).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import jieba

from tinyeval.metrics.normalize import normalize_answer, normalize_zh_answer

jieba.setLogLevel(logging.WARNING)  # jieba prints "Building prefix dict..." at INFO on first use


def f1_score(prediction: Sequence[str], ground_truth: Sequence[str]) -> float:
    """F1 between two token lists, counting shared tokens with multiplicity."""
    common = Counter(prediction) & Counter(ground_truth)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(prediction)
    recall = 1.0 * num_same / len(ground_truth)
    return (2 * precision * recall) / (precision + recall)


def qa_f1_score(prediction: str, ground_truth: str, **kwargs: object) -> float:
    """English QA F1 over whitespace tokens of the SQuAD-normalised strings."""
    return f1_score(normalize_answer(prediction).split(), normalize_answer(ground_truth).split())


def jieba_tokens(text: str) -> list[str]:
    """jieba precise-mode words of ``text`` (what LongBench calls ``jieba.cut(text, cut_all=False)``)."""
    return list(jieba.cut(text, cut_all=False))


def qa_f1_zh_score(prediction: str, ground_truth: str, **kwargs: object) -> float:
    """Chinese QA F1 over jieba words, each zh-normalised, empty ones dropped."""
    pred = [t for t in (normalize_zh_answer(w) for w in jieba_tokens(prediction)) if t]
    gold = [t for t in (normalize_zh_answer(w) for w in jieba_tokens(ground_truth)) if t]
    return f1_score(pred, gold)
