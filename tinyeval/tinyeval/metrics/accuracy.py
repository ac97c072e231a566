"""Accuracy, and multiple-choice picking from log-likelihoods (lm-evaluation-harness ``acc``/``acc_norm``).

For one question with choice log-likelihoods ``ll_i`` (sum of log p of the choice's continuation):
``acc`` picks ``argmax ll_i``; ``acc_norm`` picks ``argmax ll_i / len(continuation_i)`` with the
length in *characters* of the continuation string, as the harness does. Ties go to the first
choice (numpy ``argmax``).

    >>> pick_choice([-3.0, -1.0, -2.0])
    1
    >>> pick_choice([-4.0, -3.0], lengths=[8, 3])
    0
    >>> accuracy(["A", "B", "C"], ["A", "B", "D"])
    0.6666666666666666

Limits: ``acc_norm`` by characters favours long choices less than byte length would for CJK text
(the harness also uses ``len(str)``).
"""

from __future__ import annotations

from collections.abc import Sequence


def pick_choice(logliks: Sequence[float], lengths: Sequence[int] | None = None) -> int:
    """Index of the best choice; with ``lengths``, by log-likelihood per character."""
    if not logliks:
        raise ValueError("pick_choice: no choices")
    values = list(logliks)
    if lengths is not None:
        if len(lengths) != len(values):
            raise ValueError(
                f"pick_choice: {len(values)} log-likelihoods but {len(lengths)} lengths"
            )
        values = [ll / float(n) for ll, n in zip(values, lengths)]
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def accuracy(predictions: Sequence[object], labels: Sequence[object]) -> float:
    """Fraction of exact equality (0..1)."""
    if len(predictions) != len(labels):
        raise ValueError(f"accuracy: {len(predictions)} predictions but {len(labels)} labels")
    if not labels:
        raise ValueError("accuracy: empty input")
    return sum(1 for p, g in zip(predictions, labels) if p == g) / len(labels)
