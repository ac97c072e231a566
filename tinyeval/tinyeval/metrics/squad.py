"""SQuAD v1.1 exact match and F1 (the official ``evaluate-v1.1.py`` rules).

Per question: EM = normalised prediction equals a normalised gold answer; F1 = token F1 of the
normalised strings; both take the max over the gold answers. Corpus: ``100 · mean``.

    >>> squad_exact_match("the Eiffel Tower.", "Eiffel Tower")
    1.0
    >>> squad_evaluate(["Paris", "in 1889"], [["Paris"], ["1889", "in 1889."]])
    {'exact_match': 100.0, 'f1': 100.0}

Limits: English normalisation (articles, ASCII punctuation); for Chinese use ``cmrc``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tinyeval.metrics.normalize import normalize_answer
from tinyeval.metrics.qa_f1 import f1_score


def squad_exact_match(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def squad_f1(prediction: str, ground_truth: str) -> float:
    return f1_score(normalize_answer(prediction).split(), normalize_answer(ground_truth).split())


def _max_over(fn: Callable[[str, str], float], prediction: str, truths: Sequence[str]) -> float:
    if not truths:
        raise ValueError("SQuAD scoring needs at least one gold answer per question")
    return max(fn(prediction, t) for t in truths)


def squad_evaluate(
    predictions: Sequence[str], answers: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Corpus EM and F1 in percent, max over each question's gold answers."""
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions but {len(answers)} answer lists")
    em = f1 = 0.0
    for pred, truths in zip(predictions, answers):
        em += _max_over(squad_exact_match, pred, truths)
        f1 += _max_over(squad_f1, pred, truths)
    total = len(predictions)
    return {"exact_match": 100.0 * em / total, "f1": 100.0 * f1 / total}
