"""The Porter (1980) stemmer, written from the paper.

M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980. Each step applies at most one
rule: the one with the longest matching suffix; if that rule's condition fails, the step does nothing.
This follows the paper exactly (it equals ``nltk.stem.PorterStemmer(mode="ORIGINAL_ALGORITHM")``,
which the tests check word by word), not Porter's later C release or NLTK's extensions.

    >>> stem("generalizations"), stem("relational"), stem("caresses"), stem("hopping")
    ('gener', 'relat', 'caress', 'hop')

Limits: lower-case ASCII words only (the analyzer lower-cases first; other words pass through
unchanged). Words of one or two letters are stemmed too, as the paper does (``"as" -> "a"``).
"""

from __future__ import annotations

from functools import lru_cache

_VOWELS = frozenset("aeiou")


def _is_consonant(word: str, i: int) -> bool:
    """A consonant is a letter other than a, e, i, o, u, and other than y preceded by a consonant."""
    ch = word[i]
    if ch in _VOWELS:
        return False
    if ch == "y":
        return i == 0 or not _is_consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """m in [C](VC)^m[V]: the number of vowel-run -> consonant-run transitions."""
    m = 0
    prev_vowel = False
    for i in range(len(stem)):
        vowel = not _is_consonant(stem, i)
        if prev_vowel and not vowel:
            m += 1
        prev_vowel = vowel
    return m


def _has_vowel(stem: str) -> bool:
    return any(not _is_consonant(stem, i) for i in range(len(stem)))


def _ends_double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1)


def _ends_cvc(word: str) -> bool:
    """*o: the stem ends consonant-vowel-consonant and the last consonant is not w, x or y."""
    return (
        len(word) >= 3
        and _is_consonant(word, len(word) - 3)
        and not _is_consonant(word, len(word) - 2)
        and _is_consonant(word, len(word) - 1)
        and word[-1] not in "wxy"
    )


def _apply(word: str, rules: list[tuple[str, str]], min_measure: int) -> str:
    """Longest matching suffix wins; replace it when m(stem) > min_measure, else leave the word."""
    for suffix, replacement in rules:  # rules are sorted longest suffix first
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
            return stem + replacement if _measure(stem) > min_measure else word
    return word


def _by_length(rules: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(rules, key=lambda r: -len(r[0]))


_STEP2 = _by_length(
    [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"),
        ("izer", "ize"), ("abli", "able"), ("alli", "al"), ("entli", "ent"), ("eli", "e"),
        ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"), ("ator", "ate"),
        ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous"),
        ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ]
)  # fmt: skip
_STEP3 = _by_length(
    [
        ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"),
        ("ical", "ic"), ("ful", ""), ("ness", ""),
    ]
)  # fmt: skip
_STEP4 = _by_length(
    [
        (s, "")
        for s in (
            "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
            "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
        )
    ]
)  # fmt: skip


def _step1a(w: str) -> str:
    if w.endswith("sses"):
        return w[:-2]
    if w.endswith("ies"):
        return w[:-2]
    if w.endswith("ss"):
        return w
    if w.endswith("s"):
        return w[:-1]
    return w


def _step1b(w: str) -> str:
    if w.endswith("eed"):
        return w[:-1] if _measure(w[:-3]) > 0 else w
    for suffix in ("ed", "ing"):
        if w.endswith(suffix):
            stem = w[: -len(suffix)]
            if not _has_vowel(stem):
                return w
            # the extra clean-up applies only when "ed" or "ing" was removed
            if stem.endswith(("at", "bl", "iz")):
                return stem + "e"
            if _ends_double_consonant(stem) and stem[-1] not in "lsz":
                return stem[:-1]
            if _measure(stem) == 1 and _ends_cvc(stem):
                return stem + "e"
            return stem
    return w


def _step1c(w: str) -> str:
    if w.endswith("y") and _has_vowel(w[:-1]):
        return w[:-1] + "i"
    return w


def _step4(w: str) -> str:
    for suffix, _ in _STEP4:
        if w.endswith(suffix):
            stem = w[: len(w) - len(suffix)]
            ok = _measure(stem) > 1
            if suffix == "ion":  # (m>1 and (*S or *T)) ION
                ok = ok and stem.endswith(("s", "t"))
            return stem if ok else w
    return w


def _step5(w: str) -> str:
    if w.endswith("e"):
        stem = w[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _ends_cvc(stem)):
            w = stem
    if w.endswith("ll") and _measure(w[:-1]) > 1:
        w = w[:-1]
    return w


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Stem one lower-case word; non-ASCII-letter words are returned unchanged."""
    if not word.isascii() or not word.isalpha():
        return word
    w = _step1c(_step1b(_step1a(word)))
    w = _apply(w, _STEP2, 0)
    w = _apply(w, _STEP3, 0)
    return _step5(_step4(w))
