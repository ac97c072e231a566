"""Metrics written by hand, one file per metric, each matching its reference implementation.

``METRICS`` maps the names used in task configs and ``score`` to per-example functions
``fn(prediction, ground_truth, **kwargs) -> float`` in 0..1 (LongBench convention);
``CORPUS_METRICS`` to corpus functions ``fn(predictions, answers) -> float`` in 0..100 (BLEU is
not a mean of per-sentence scores). ``metrics/resolve.py`` turns a config's ``"metric"`` string
(a name here, ``file.py:function`` or a dotted path) into one of these.

    >>> from tinyeval.metrics import METRICS
    >>> METRICS["qa_f1"]("Paris, France", "Paris")
    0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Callable

from tinyeval.metrics.bleu import corpus_bleu, sentence_bleu
from tinyeval.metrics.choice import extract_choice
from tinyeval.metrics.classification import classification_score
from tinyeval.metrics.cmrc import cmrc_em, cmrc_f1
from tinyeval.metrics.code_sim import code_sim_score
from tinyeval.metrics.count import count_score
from tinyeval.metrics.gaokao import gaokao_score
from tinyeval.metrics.gsm8k import gsm8k_scores
from tinyeval.metrics.qa_f1 import qa_f1_score, qa_f1_zh_score
from tinyeval.metrics.retrieval import retrieval_score, retrieval_zh_score
from tinyeval.metrics.rouge import rouge_score, rouge_zh_score
from tinyeval.metrics.squad import squad_exact_match, squad_f1
from tinyeval.metrics.universe import universe_score


def _gaokao_last_letter(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return gaokao_score(prediction, ground_truth, rule="last_letter")


def _choice_letter(prediction: str, ground_truth: str, **kwargs: object) -> float:
    n = len(kwargs.get("choices") or "ABCD")
    return float(extract_choice(prediction, n) == ground_truth)


def _gsm8k_strict(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return gsm8k_scores(prediction, ground_truth)["strict-match"]


def _gsm8k_flexible(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return gsm8k_scores(prediction, ground_truth)["flexible-extract"]


def _sentence_bleu(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return sentence_bleu(prediction, [ground_truth]).score / 100


def _sentence_bleu_zh(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return sentence_bleu(prediction, [ground_truth], tokenize="zh").score / 100


def _streams(answers: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu reference streams: stream k holds every example's k-th answer (None if absent)."""
    k = max((len(a) for a in answers), default=0)
    return [[a[i] if i < len(a) else None for a in answers] for i in range(k)]


def _corpus_bleu(predictions: list[str], answers: list[list[str]]) -> float:
    return corpus_bleu(predictions, _streams(answers)).score


def _corpus_bleu_zh(predictions: list[str], answers: list[list[str]]) -> float:
    return corpus_bleu(predictions, _streams(answers), tokenize="zh").score


def _squad_em(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return squad_exact_match(prediction, ground_truth)


def _squad_f1(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return squad_f1(prediction, ground_truth)


def _cmrc_em(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return cmrc_em(prediction, ground_truth)


def _cmrc_f1(prediction: str, ground_truth: str, **kwargs: object) -> float:
    return cmrc_f1(prediction, ground_truth)


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
    "squad_em": _squad_em,
    "squad_f1": _squad_f1,
    "squad": _squad_f1,
    "cmrc_em": _cmrc_em,
    "cmrc_f1": _cmrc_f1,
    "cmrc": _cmrc_f1,
    "sentence_bleu": _sentence_bleu,
    "sentence_bleu_zh": _sentence_bleu_zh,
    "universe": universe_score,  # needs the record (example=...): tool calls, citations, refusals
}

CORPUS_METRICS: dict[str, Callable[[list[str], list[list[str]]], float]] = {
    "bleu": _corpus_bleu,  # sacrebleu corpus_bleu, 13a tokeniser
    "bleu_zh": _corpus_bleu_zh,  # sacrebleu corpus_bleu, zh tokeniser
}

__all__ = ["CORPUS_METRICS", "METRICS"]
