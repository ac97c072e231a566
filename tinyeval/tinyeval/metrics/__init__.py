"""Metrics written by hand, one file per metric, each matching its reference implementation.

``METRICS`` maps the names used in task configs and ``score`` to per-example functions
``fn(prediction, ground_truth, **kwargs) -> float`` in 0..1 (LongBench convention).

    >>> from tinyeval.metrics import METRICS
    >>> METRICS["qa_f1"]("Paris, France", "Paris")
    0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Callable

from tinyeval.metrics.choice import extract_choice
from tinyeval.metrics.classification import classification_score
from tinyeval.metrics.code_sim import code_sim_score
from tinyeval.metrics.count import count_score
from tinyeval.metrics.gaokao import gaokao_score
from tinyeval.metrics.gsm8k import gsm8k_scores
from tinyeval.metrics.qa_f1 import qa_f1_score, qa_f1_zh_score
from tinyeval.metrics.retrieval import retrieval_score, retrieval_zh_score
from tinyeval.metrics.rouge import rouge_score, rouge_zh_score


def _gaokao_last_letter(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return gaokao_score(prediction, ground_truth, rule="last_letter")


def _choice_letter(prediction: str, ground_truth: str, **kwargs: object) -> float:
    n = len(kwargs.get("choices") or "ABCD")
    return float(extract_choice(prediction, n) == ground_truth)


def _gsm8k_strict(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return gsm8k_scores(prediction, ground_truth)["strict-match"]


def _gsm8k_flexible(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return gsm8k_scores(prediction, ground_truth)["flexible-extract"]


METRICS: dict[str, Callable[..., float]] = {
    "qa_f1": qa_f1_score,
    "qa_f1_zh": qa_f1_zh_score,
    "rouge": rouge_score,
    "rouge_zh": rouge_zh_score,
    "classification": classification_score,
    "retrieval": retrieval_score,
    "retrieval_zh": retrieval_zh_score,
    "count": count_score,
    "code_sim": code_sim_score,
    "gaokao": gaokao_score,
    "gaokao_last_letter": _gaokao_last_letter,
    "choice_letter": _choice_letter,
    "gsm8k_strict": _gsm8k_strict,
    "gsm8k_flexible": _gsm8k_flexible,
}

__all__ = ["METRICS"]
