"""CMRC 2018 character-level EM / F1 (after the official ``cmrc2018_evaluate.py``, v5).

Text is lower-cased and stripped; every CJK ideograph (U+4E00..U+9FA5) and every listed punctuation
mark is its own segment, and runs of other characters are split into words. F1 uses the longest
common *substring* (contiguous) of the two segment lists, not a bag of tokens:
``P = lcs/len(pred)``, ``R = lcs/len(gold)``. EM compares the strings with the listed punctuation
removed. Both take the max over gold answers; the corpus score is ``100 · mean``.

    >>> cmrc_f1("厦门大学", "厦门大学。")
    1.0
    >>> round(cmrc_f1("南京大学", "厦门大学"), 4)
    0.5
    >>> cmrc_em("厦门大学", "厦门大学。")
    1.0

Limits: the official script splits non-CJK runs with ``nltk.word_tokenize`` (Punkt + Treebank).
nltk is not a dependency here; non-CJK runs are split by a small Treebank-style rule (whitespace,
then ASCII punctuation other than ``.``/``'`` inside words becomes its own token). Pure-Chinese
answers — almost all of CMRC — segment identically; mixed English answers with unusual punctuation
can differ slightly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Official list, verbatim: "……" is one *two-character* item, so a single "…" is never matched.
SP_CHAR = [
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
    "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、",
    "「", "」", "（", "）", "－", "～", "『", "』",
]  # fmt: skip
_SP = frozenset(c for c in SP_CHAR if len(c) == 1)
_CJK = re.compile(r"[\u4e00-\u9fa5]")
# Treebank-style: a word, or a single non-space non-word symbol (keeps "3.5" and "don't" whole).
_WORD = re.compile(r"[\w.']+|[^\w\s]")


def _word_tokenize(text: str) -> list[str]:
    tokens = []
    for tok in _WORD.findall(text):
        # a trailing period of a run is split off, as the Treebank tokenizer does at sentence end
        if len(tok) > 1 and tok.endswith(".") and not tok[:-1].endswith("."):
            tokens.extend([tok[:-1], "."])
        else:
            tokens.append(tok)
    return tokens


def mixed_segmentation(text: str, rm_punc: bool = False) -> list[str]:
    """CJK characters and listed punctuation one by one, other runs word-tokenised."""
    text = str(text).lower().strip()
    segs: list[str] = []
    run = ""
    for ch in text:
        if rm_punc and ch in _SP:
            continue
        if _CJK.search(ch) or ch in _SP:
            if run:
                segs.extend(_word_tokenize(run))
                run = ""
            segs.append(ch)
        else:
            run += ch
    if run:
        segs.extend(_word_tokenize(run))
    return segs


def remove_punctuation(text: str) -> str:
    return "".join(ch for ch in str(text).lower().strip() if ch not in _SP)


def _longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for i in range(len(a)):
        cur = [0] * (len(b) + 1)
        for j in range(len(b)):
            if a[i] == b[j]:
                cur[j + 1] = prev[j] + 1
                if cur[j + 1] > best:
                    best = cur[j + 1]
        prev = cur
    return best


def cmrc_f1(prediction: str, ground_truth: str) -> float:
    gold = mixed_segmentation(ground_truth, rm_punc=True)
    pred = mixed_segmentation(prediction, rm_punc=True)
    lcs = _longest_common_substring(gold, pred)
    if lcs == 0:
        return 0.0
    precision = 1.0 * lcs / len(pred)
    recall = 1.0 * lcs / len(gold)
    return (2 * precision * recall) / (precision + recall)


def cmrc_em(prediction: str, ground_truth: str) -> float:
    return float(remove_punctuation(prediction) == remove_punctuation(ground_truth))


def cmrc_evaluate(predictions: Sequence[str], answers: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus {"f1", "em", "average"} in percent, max over each question's gold answers."""
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions but {len(answers)} answer lists")
    f1 = em = 0.0
    for pred, truths in zip(predictions, answers):
        if not truths:
            raise ValueError("CMRC scoring needs at least one gold answer per question")
        f1 += max(cmrc_f1(pred, t) for t in truths)
        em += max(cmrc_em(pred, t) for t in truths)
    f1, em = 100.0 * f1 / len(predictions), 100.0 * em / len(predictions)
    return {"f1": f1, "em": em, "average": (f1 + em) * 0.5}
