"""ROUGE-L F as LongBench computes it: the PyPI ``rouge`` 1.0.1 package, *not* Google's rouge-score.

rouge 1.0.1 works at "summary level" with set semantics (its default ``exclusive=True``):

1. split each text into sentences on ``"."``, keep non-empty pieces, collapse whitespace in each;
2. words = every sentence split on a single space;
3. ``m`` / ``n`` = number of *distinct* words in the reference / hypothesis;
4. for every (reference sentence, hypothesis sentence) pair take one longest common subsequence
   (a fixed back-tracking rule decides which one), and pool the *distinct words* of all of them;
   ``llcs`` = size of that pool;
5. ``R = llcs/m``, ``P = llcs/n``, ``F = 2·(P·R)/(P + R + 1e-8)``.

LongBench wraps the call in ``try/except: return 0.0``: the package raises on a text with no
sentence (``""``, ``"..."``), so those score 0 here too.

    >>> round(rouge_score("the cat sat on the mat", "the cat lay on the mat"), 6)
    0.8
    >>> rouge_score("", "anything")
    0.0
    >>> round(rouge_zh_score("我爱北京天安门", "我爱北京"), 6)
    0.857143

Limits / one divergence: the package back-tracks the LCS *recursively*, so for a sentence pair
whose back-track is longer than Python's recursion limit (about 1000 words in one "."-free
sentence pair) it raises RecursionError and LongBench silently scores 0. This file back-tracks
iteratively and returns the real value instead (tests compare against the package with a raised
recursion limit). The O(len·len) LCS table makes very long single sentences slow, as in the package.
"""

from __future__ import annotations

from tinyeval.metrics.qa_f1 import jieba_tokens


def _sentences(text: str) -> list[str]:
    # rouge.Rouge._get_avg_scores: filter on the raw piece, *then* collapse whitespace, so a
    # whitespace-only piece survives as an empty sentence "".
    return [" ".join(piece.split()) for piece in text.split(".") if len(piece) > 0]


def _lcs_words(ref: list[str], hyp: list[str]) -> set[str]:
    """Distinct words of the LCS that rouge 1.0.1's ``_recon_lcs(ref, hyp)`` reconstructs."""
    n, m = len(ref), len(hyp)
    table = [[0] * (m + 1) for _ in range(n + 1)]  # table[i][j] = LCS length of ref[:i], hyp[:j]
    for i in range(1, n + 1):
        row, prev, word = table[i], table[i - 1], ref[i - 1]
        for j in range(1, m + 1):
            if word == hyp[j - 1]:
                row[j] = prev[j - 1] + 1
            else:
                up, left = prev[j], row[j - 1]
                row[j] = up if up > left else left
    words: set[str] = set()
    i, j = n, m
    while i > 0 and j > 0:  # same tie rule as the package: go up only when strictly better
        if ref[i - 1] == hyp[j - 1]:
            words.add(ref[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return words


def rouge_l(hypothesis: str, reference: str) -> dict[str, float]:
    """rouge 1.0.1 ``rouge-l`` {"f", "p", "r"}; raises ValueError on a text with no sentence."""
    hyp_sents, ref_sents = _sentences(hypothesis), _sentences(reference)
    if not hyp_sents or not ref_sents:
        raise ValueError("rouge-l: hypothesis or reference has no sentence (empty or only '.')")
    ref_split = [s.split(" ") for s in ref_sents]
    hyp_split = [s.split(" ") for s in hyp_sents]
    m = len({w for ws in ref_split for w in ws})
    n = len({w for ws in hyp_split for w in ws})
    pooled: set[str] = set()
    for ref_words in ref_split:
        for hyp_words in hyp_split:
            pooled |= _lcs_words(ref_words, hyp_words)
    llcs = len(pooled)
    r_lcs = llcs / m
    p_lcs = llcs / n
    f_lcs = 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8))
    return {"f": f_lcs, "p": p_lcs, "r": r_lcs}


def rouge_score(prediction: str, ground_truth: str, **kwargs: object) -> float:
    """LongBench ``rouge_score``: rouge 1.0.1 ROUGE-L F, 0.0 where the package would raise."""
    if not isinstance(prediction, str) or not isinstance(ground_truth, str):
        return 0.0
    try:
        return rouge_l(prediction, ground_truth)["f"]
    except ValueError:
        return 0.0


def rouge_zh_score(prediction: str, ground_truth: str, **kwargs: object) -> float:
    """LongBench ``rouge_zh_score``: jieba words joined by spaces, then ``rouge_score``."""
    return rouge_score(" ".join(jieba_tokens(prediction)), " ".join(jieba_tokens(ground_truth)))
