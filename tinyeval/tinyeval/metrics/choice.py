"""Multiple-choice letter extraction from generated text (for backends without log-likelihood).

Rules, first hit wins:

1. an explicit answer phrase: ``答案是 B`` / ``答案：(B)`` / ``选B`` / ``Answer: B`` /
   ``the answer is (B)`` — the *last* such phrase, so "答案不是A，答案是B" gives B;
2. the reply starts with the letter: ``B``, ``B.``, ``(B)``, ``B、...``;
3. exactly one distinct stand-alone letter among the choices appears (not inside a word).

Otherwise ``None`` (scored as wrong).

    >>> extract_choice("答案是：C。因为……")
    'C'
    >>> extract_choice("B. Paris")
    'B'
    >>> extract_choice("I think (D) is right")
    'D'
    >>> extract_choice("Either A or B?") is None
    True

Limits: letters must be upper-case Latin (full-width Ａ–Ｄ are mapped to A–D first); a reply that
argues about several options without a final phrase is left unanswered on purpose.
"""

from __future__ import annotations

import re

_FULLWIDTH = str.maketrans("ＡＢＣＤＥＦＧＨＩＪ", "ABCDEFGHIJ")


def extract_choice(text: str, n_choices: int = 4) -> str | None:
    """The chosen letter among the first ``n_choices`` letters, or None."""
    if not 1 <= n_choices <= 10:
        raise ValueError(f"n_choices must be in 1..10, got {n_choices}")
    letters = "ABCDEFGHIJ"[:n_choices]
    text = text.translate(_FULLWIDTH)
    cls = f"[{letters}]"
    phrase = re.compile(
        rf"(?:答案|正确选项|正确答案|选项)\s*(?:应该|应|是|为|选)?\s*[:：]?\s*[(（]?({cls})(?![A-Za-z])"
        rf"|选\s*[(（]?({cls})(?![A-Za-z])"
        rf"|[Aa]nswer(?:\s+is)?\s*[:：]?\s*[(（]?({cls})(?![A-Za-z])"
    )
    found = [next(g for g in m.groups() if g) for m in phrase.finditer(text)]
    if found:
        return found[-1]
    start = re.match(rf"\s*[(（]?({cls})(?![A-Za-z])", text)
    if start:
        return start.group(1)
    alone = set(re.findall(rf"(?<![A-Za-z])({cls})(?![A-Za-z])", text))
    if len(alone) == 1:
        return alone.pop()
    return None
