"""GSM8K answer extraction and exact match, as lm-evaluation-harness's ``gsm8k`` task (v3.0) does it.

Two filters run on the model's completion:

* ``strict-match``: regex ``#### (\\-?[0-9\\.\\,]+)``, first match, group 1, stripped;
* ``flexible-extract``: regex ``(-?[$0-9.,]{2,})|(-?[0-9]+)``, the *last* match (group_select -1),
  its first non-empty group, stripped.

No match gives ``"[invalid]"``. Then ``exact_match`` compares the extracted string with the *whole*
gold answer after deleting, from both, the regexes ``,``  ``\\$``  ``(?s).*#### ``  ``\\.$`` and
lower-casing (``ignore_case: true``).

    >>> gold = "Janet sells 16 - 3 - 4 = 9 eggs.\\n#### 18"
    >>> gsm8k_scores("She makes $18 a day.\\n#### 18", gold)
    {'strict-match': 1.0, 'flexible-extract': 1.0}
    >>> gsm8k_scores("So she makes 18 dollars.", gold)
    {'strict-match': 0.0, 'flexible-extract': 1.0}
    >>> reference_answer(gold)
    '18'

Limits: when a flexible match's groups are all empty the harness versions differ (older ones
crash); we return the fallback, as current versions do.
"""

from __future__ import annotations

import re

STRICT_PATTERN = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE_PATTERN = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
FALLBACK = "[invalid]"
REGEXES_TO_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]


def regex_extract(text: str, pattern: re.Pattern[str], group_select: int = 0) -> str:
    """lm-eval ``RegexFilter``: findall, pick one match, first non-empty group, strip."""
    found = pattern.findall(text)
    if not found:
        return FALLBACK
    match = found[group_select]
    if isinstance(match, tuple):
        groups = [g for g in match if g]
        if not groups:
            return FALLBACK
        match = groups[0]
    return match.strip()


def strict_extract(text: str) -> str:
    return regex_extract(text, STRICT_PATTERN, 0)


def flexible_extract(text: str) -> str:
    return regex_extract(text, FLEXIBLE_PATTERN, -1)


def _clean(s: str) -> str:
    for pattern in REGEXES_TO_IGNORE:
        s = re.sub(pattern, "", s)
    return s.lower()


def exact_match(prediction: str, reference: str) -> float:
    """lm-eval ``exact_match`` with the gsm8k task's regexes_to_ignore and ignore_case."""
    return float(_clean(prediction) == _clean(reference))


def gsm8k_scores(completion: str, answer: str) -> dict[str, float]:
    """{"strict-match", "flexible-extract"} exact match of one completion against the gold answer."""
    return {
        "strict-match": exact_match(strict_extract(completion), answer),
        "flexible-extract": exact_match(flexible_extract(completion), answer),
    }


def reference_answer(answer: str) -> str:
    """The official GSM8K extraction (openai/grade-school-math dataset.py): number after ``####``,
    commas removed; ``"[invalid]"`` when absent."""
    m = STRICT_PATTERN.search(answer)
    if not m:
        return FALLBACK
    return m.group(1).strip().replace(",", "")
