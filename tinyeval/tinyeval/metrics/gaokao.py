"""The seed TinyEval's GAOKAO multiple-choice score (``GAOKAO_math`` in its metrics.py).

Two rules exist in the seed's history (see ``shared/data/tinyeval/SOURCE.md``):

* ``rule="partial"`` (current seed, commit 8af27e3): single-choice (one gold letter) scores 1 when
  the *last* A–D letter of the prediction is the gold letter. Multi-choice (gold like ``"BC"``):
  walk the A–D letters of the prediction front to back, appending each while the gap to the
  previous one — measured with ``str.find`` on the *reversed* prediction, i.e. between first
  occurrences counted from the end — is at most 5 characters; sort and de-duplicate; 1 if equal to
  gold, 0.5 if a strict subset. Quirk kept: with exactly one letter in a multi-choice prediction
  nothing is collected, the empty answer is a "strict subset", and it scores 0.5.
* ``rule="last_letter"`` (the older rule the stored Qwen2 result.json = 10.0 was made with):
  1 iff the last A–D letter in the prediction equals the whole gold string.

    >>> gaokao_score("所以答案是 A", "A")
    1.0
    >>> gaokao_score("答案：B、C", "BCD")
    0.5
    >>> gaokao_score("答案：B、C", "BCD", rule="last_letter")
    0.0

Limits: letters are only upper-case A–D anywhere in the text (an "A" in an English word counts),
exactly as in the seed.
"""

from __future__ import annotations

import re

_LETTER = re.compile(r"[A-D]")


def _multi_choice_answer(prediction: str) -> str:
    matches = _LETTER.findall(prediction)
    answer = ""
    if len(matches) > 1:
        reversed_pred = prediction[::-1]
        for i, letter in enumerate(matches):
            if i == 0:
                answer += letter
                continue
            distance = reversed_pred.find(matches[i - 1]) - reversed_pred.find(letter) - 1
            if distance > 5:
                break
            answer += letter
        answer = "".join(sorted(set(answer)))
    return answer


def gaokao_score(
    prediction: str, ground_truth: str, *, rule: str = "partial", **kwargs: object
) -> float:
    """Score one prediction against a gold letter string ("A", "BC", ...)."""
    if rule == "last_letter":
        matches = _LETTER.findall(prediction)
        return 1.0 if matches and matches[-1] == ground_truth else 0.0
    if rule != "partial":
        raise ValueError(f"gaokao_score: unknown rule {rule!r} (use 'partial' or 'last_letter')")
    if len(ground_truth) > 1:
        if not _LETTER.search(prediction):
            return 0.0
        answer = _multi_choice_answer(prediction)
        if answer == ground_truth:
            return 1.0
        if all(opt in ground_truth for opt in answer) and len(answer) < len(ground_truth):
            return 0.5
        return 0.0
    matches = _LETTER.findall(prediction)
    return 1.0 if matches and matches[-1] == ground_truth else 0.0
