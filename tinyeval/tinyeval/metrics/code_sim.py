"""LongBench ``code_sim_score`` (lcc, repobench-p): fuzzywuzzy ``ratio`` on the first code line.

The prediction is cut to its first line (after leading newlines) that contains none of
`` ` ``, ``#``, ``//`` — i.e. skip markdown fences and comments — and compared with the gold line by
fuzzywuzzy's ``fuzz.ratio`` with its pure-Python (difflib) backend:

    ratio = round(100 · SequenceMatcher(None, a, b).ratio()),  100 if a == b, 0 if either is empty

    >>> code_sim_score("```python\\nx = 1\\n```", "x = 1")
    1.0
    >>> fuzz_ratio("abcd", "abce")
    75

Limits: ``difflib.SequenceMatcher`` (stdlib) is the matcher, with its default ``autojunk=True``
heuristic — exactly what fuzzywuzzy uses when python-Levenshtein is not installed. With
python-Levenshtein installed fuzzywuzzy switches to a different matcher and can give other values.
"""

from __future__ import annotations

from difflib import SequenceMatcher


def fuzz_ratio(s1: str | None, s2: str | None) -> int:
    """fuzzywuzzy 0.18 ``fuzz.ratio`` with the difflib backend (an int in 0..100)."""
    if s1 is None or s2 is None:
        return 0
    if s1 == s2:
        return 100
    if len(s1) == 0 or len(s2) == 0:
        return 0
    s1, s2 = str(s1), str(s2)
    return int(round(100 * SequenceMatcher(None, s1, s2).ratio()))


def first_code_line(prediction: str) -> str:
    """The first line without a backtick, ``#`` or ``//`` ("" when every line has one)."""
    for line in prediction.lstrip("\n").split("\n"):
        if "`" not in line and "#" not in line and "//" not in line:
            return line
    return ""


def code_sim_score(prediction: str, ground_truth: str, **kwargs: object) -> float:
    """``fuzz_ratio(first_code_line(prediction), ground_truth) / 100``."""
    return fuzz_ratio(first_code_line(prediction), ground_truth) / 100
