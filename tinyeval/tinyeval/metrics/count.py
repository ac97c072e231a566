"""LongBench ``count_score`` (passage_count): fraction of integers in the prediction equal to gold.

    >>> count_score("There are 7 unique paragraphs.", 7)
    1.0
    >>> count_score("7 or 8", "7")
    0.5
    >>> count_score("none", 7)
    0.0

Limits: the gold is compared as ``str(ground_truth)``, so ``7`` and ``"7"`` both work but
``"07"`` never matches ``7``.
"""

from __future__ import annotations

import re


def count_score(prediction: str, ground_truth: object, **kwargs: object) -> float:
    """Fraction of the integers found in ``prediction`` that equal ``str(ground_truth)``."""
    numbers = re.findall(r"\d+", prediction)
    if not numbers:
        return 0.0
    gold = str(ground_truth)
    return float(sum(1 for n in numbers if n == gold) / len(numbers))
