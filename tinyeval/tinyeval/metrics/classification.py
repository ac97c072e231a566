"""LongBench ``classification_score`` (trec, lsht), including its two quirks.

The score for one prediction against one gold class:

1. ``matches`` = every class name that occurs as a *substring* of the prediction;
2. drop a match that is a strict substring of the gold class (so "step" does not count against
   gold "two step") — but LongBench removes items from the list *while iterating over it*, so the
   element right after each removed one is never examined. We reproduce that skip exactly;
3. score = ``1/len(matches)`` if the gold class is among the matches, else 0.

LongBench also has a difflib "closest class" fallback for when nothing matches, but it sits behind
``if em_match_list != 0`` (a list compared with an int: always true), so it never runs; it is
deliberately not implemented here.

    >>> classification_score("Type: Location", "Location", all_classes=["Location", "Date"])
    1.0
    >>> classification_score("Date or Location", "Location", all_classes=["Location", "Date"])
    0.5

Limits: pure substring matching — "Other location" in a prediction also matches "location" classes
if such exist; that is the reference behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence


def classification_score(
    prediction: str,
    ground_truth: str,
    *,
    all_classes: Sequence[str] | None = None,
    **kwargs: object,
) -> float:
    """LongBench classification score of ``prediction`` for gold class ``ground_truth``."""
    if all_classes is None:
        raise ValueError("classification_score needs all_classes (the record field 'all_classes')")
    matches = [name for name in all_classes if name in prediction]
    # Mirror of `for term in matches: ... matches.remove(term)`: a list iterator walks an index
    # that advances every step, so after a removal the element that slid into slot i is skipped.
    i = 0
    while i < len(matches):
        term = matches[i]
        if term in ground_truth and term != ground_truth:
            matches.remove(term)
        i += 1
    if ground_truth in matches:
        return 1.0 / len(matches)
    return 0.0
