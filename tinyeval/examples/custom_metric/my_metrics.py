"""Your own metrics for tinyeval: plain functions, named in a task config as
``"metric": "my_metrics.py:keyword_recall"`` (path relative to the config file).

Per-example signature (LongBench convention): ``fn(prediction, ground_truth, **kwargs) -> float``
in 0..1; ``kwargs["example"]`` is the prediction record (with the fields the task lists in
``record_fields``), ``kwargs["all_classes"]`` the label set or None. The task score is
``round(100 · mean over examples of max over gold answers, 2)``.
"""

from __future__ import annotations


def keyword_recall(prediction: str, ground_truth: str, **kwargs) -> float:
    """Share of the example's ``keywords`` that appear in the prediction.

    Rule metrics such as token F1 punish a right answer said differently ("厦大" vs "厦门大学");
    checking only the facts that matter is often closer to what you want. Without a
    ``keywords`` field the whole gold answer is the one keyword.

    >>> keyword_recall("我是甄嬛。", "臣妾是甄嬛", example={"keywords": ["甄嬛", "大理寺少卿"]})
    0.5
    """
    example = kwargs.get("example") or {}
    keywords = example.get("keywords") or [ground_truth]
    return sum(k in prediction for k in keywords) / len(keywords)


def exact_length_ratio(predictions: list[str], answers: list[list[str]]) -> float:
    """A corpus metric (``corpus = True``): total prediction length over total gold length, in
    percent, capped at 100 — a whole-set number, not a mean of per-example scores.

    >>> exact_length_ratio(["ab", "c"], [["abcd"], ["cd"]])
    50.0
    """
    pred = sum(len(p) for p in predictions)
    gold = sum(len(a[0]) for a in answers)
    return min(100.0, 100.0 * pred / gold) if gold else 0.0


exact_length_ratio.corpus = True
