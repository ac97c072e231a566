"""LongBench passage-retrieval scores (``passage_retrieval_en`` / ``passage_retrieval_zh``).

The gold answer names a paragraph ("Paragraph 12" / "段落12"); the score is the fraction of all
integers in the prediction that equal that paragraph number (0 when the prediction has none).

    >>> retrieval_score("Paragraph 3", "Paragraph 3")
    1.0
    >>> retrieval_score("Paragraph 3 or 30", "Paragraph 3")
    0.5
    >>> retrieval_zh_score("段落2", "段落2")
    1.0

Limits: digits are ASCII ``\\d`` as Python's ``re`` sees them (full-width digits count too, as in
the reference).
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+")


def _fraction_equal(prediction: str, target: str) -> float:
    numbers = _NUMBER.findall(prediction)
    if not numbers:
        return 0.0
    return float(sum(1 for n in numbers if n == target) / len(numbers))


def _paragraph_id(ground_truth: str, pattern: str) -> str:
    found = re.findall(pattern, ground_truth)
    if not found:
        raise ValueError(f"ground truth {ground_truth!r} has no paragraph id matching {pattern!r}")
    return found[0]


def retrieval_score(prediction: str, ground_truth: str, **kwargs: object) -> float:
    """English: gold like ``"Paragraph 12"``."""
    return _fraction_equal(prediction, _paragraph_id(ground_truth, r"Paragraph (\d+)"))


def retrieval_zh_score(prediction: str, ground_truth: str, **kwargs: object) -> float:
    """Chinese: gold like ``"段落12"``."""
    return _fraction_equal(prediction, _paragraph_id(ground_truth, r"段落(\d+)"))
