"""How well do the retrieved passages support a question? The signal behind ``ask``'s refusal.

Before a model is called, ``answer_question`` computes ``support`` in [0, 1] and refuses ("文档中没有
提到。") below ``MIN_SUPPORT``. Three signals are implemented; ``bench/calibrate_refusal.py`` measures
them on labelled answerable / unanswerable questions (CMRC 2018 trial: each question once with its
own paragraph in the corpus, once with every paragraph containing its answer removed):

- ``"best"`` (the default): the best single passage's coverage of the question's *content* terms --
  idf-weighted, question words and pronouns (多大, 多少, 它, and the analyzer's English stopwords
  how, what, it ...) ignored. A Chinese question term that is no term of the index at all counts
  as found when the passage contains it as a string: jieba cuts a word differently in context (its
  HMM glues 训练时省显存 into 时省 / 显存, so the question's 省 is never an index term, and as an
  unseen term it weighs the most). Any other Chinese term that is absent as a word gets half
  credit for the share of its characters found in the passage (显存 vs 内存).
- ``"bm25"``: the best passage's BM25 score for the question divided by the sum of the question
  terms' idf (a passage containing each term once at average length scores about 1).
- ``"pair"``: like ``best``, for the best *pair* of passages together (an answer may combine two).
- ``"union"``: the old gate -- share of the question's terms found anywhere in the top-k passages.

    >>> support_score(index, "KV cache 有多大？", hits)               # doctest: +SKIP
    1.0

Measured (``python bench/calibrate_refusal.py``; articles split 50/50 into dev and test, seed 0;
982 dev / 1,022 test rows, half answerable; thresholds chosen on dev, numbers on test):

    signal  threshold rule (dev)        threshold  refusal P / R / F1     answerable refused
    best    <= 5% false refusals        0.641      0.949 / 0.912 / 0.930  4.9%   <- MIN_SUPPORT
    best    max refusal F1              0.676      0.916 / 0.937 / 0.926  8.6%
    bm25    <= 5% false refusals        0.728      0.936 / 0.912 / 0.924  6.3%
    pair    <= 5% false refusals        0.807      0.925 / 0.916 / 0.920  7.4%
    union   old gate                    0.5        0.965 / 0.540 / 0.693  2.0%

(Before unseen terms were matched as strings: best 0.641, 0.947 / 0.914 / 0.930, 5.1% -- the
same threshold and F1; over qwen-blog/docs the README's "GQA 为什么省显存？" went from 0.57,
refused, to 0.82.)

(AUC on test: best 0.974, bm25 0.976, pair 0.967, union 0.939.) ``best`` at the "at most 5% of
answerable questions refused" point is the default: a wrong refusal costs the user an answer the
documents hold, while a weakly supported question that passes still meets the model's own
instruction to say "文档中没有提到". ``best`` does not depend on the retriever's scores, so it
means the same in BM25, dense and hybrid mode and after reranking.

With a reranker (``answer_question(..., rerank_model=...)``), its judgement is a second, semantic
signal: a question is also answered when the reranker gives the best passage P(yes) >= 0.5
(``log p(yes) - log p(no) >= 0``, the model's own decision; with a Qwen3-Reranker this P(yes) is
tinyqwen's ``LLM.rerank``, see ``tinyrag.rerank``) -- not calibrated here: no checkpoint is
available to this project's tests; run the bench with one to measure it).

Limits: lexical. A paraphrase that shares no content word with any passage is still refused;
calibrated on Chinese Wikipedia questions (CMRC), not on technical docs or English. Passing the
gate says a passage shares the question's words, not that it answers it: over qwen-blog/docs
"GQA 为什么省显存？" passes on the gradient-checkpointing section (训练时省显存), while the
paragraph that answers it (06-attention: "KV cache 小了 7 倍……这才是内存大头") shares only GQA
with the question -- it is among the five sources, and the model has to read it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from tinyrag.analyzers import CJK

# Interrogatives, question frames and pronouns: they say what kind of answer is wanted (or point
# back into a conversation), not what the question is about. Removed from the question's text
# before analysis, because jieba glues them to their neighbours (它省了 -> 它省, 多大 -> 多 大).
_QUESTION_WORDS = re.compile(
    "多(?:大|长|久|高|远|重|深|宽|快|少)|几(?:个|年|种|次|倍)?|哪(?:一|年|位|种|个|些|里|儿)?"
    "|何时|何地|为何|为什么|是否|有没有|怎么样|怎样|怎么|如何|什么样|叫什么|是什么|什么"
    "|它们|他们|她们|这个|那个|这些|那些|[它其该]"
)
# Chosen by bench/calibrate_refusal.py on the CMRC 2018 trial dev split (seed 0) for signal "best":
# the highest threshold refusing <= 5% of answerable dev questions; on the test split: refusal
# precision 0.949, recall 0.912, 4.9% of answerable questions refused.
MIN_SUPPORT = 0.641
SIGNALS = ("best", "pair", "bm25", "union")
_CJK_WORD = re.compile(f"[{CJK}]+")


def term_weights(index: Any, question: str, content_only: bool = True) -> dict[str, float]:
    """idf of each distinct question term (terms unknown to the index get the highest idf)."""
    bm = index.bm25
    max_idf = math.log1p((bm.n_docs + 0.5) / 0.5)  # idf of a term in no document
    out: dict[str, float] = {}
    if content_only:
        question = _QUESTION_WORDS.sub(" ", question)
    for t in index.analyzer(question):
        tid = bm.vocab.get(t)
        out[t] = max(float(bm.idf[tid]) if tid is not None else max_idf, 1e-6)
    return out


def coverage(
    weights: dict[str, float], terms: set[str], text: str, unknown: frozenset[str] = frozenset()
) -> float:
    """idf-weighted share of ``weights``' terms in ``terms``. A CJK term in ``unknown`` (never an
    index term) counts as found when it occurs in ``text`` as a string; other absent CJK words get
    half credit for the share of their characters that occur in ``text``."""
    total = sum(weights.values())
    if total == 0:
        return 0.0
    found = 0.0
    for t, w in weights.items():
        if t in terms:
            found += w
        elif _CJK_WORD.fullmatch(t):
            if t in unknown and t in text:
                found += w
            else:
                found += 0.5 * w * sum(ch in text for ch in t) / len(t)
    return found / total


def unknown_terms(index: Any, weights: dict[str, float]) -> frozenset[str]:
    """The question terms that are no term of the index (jieba cut them differently there)."""
    return frozenset(t for t in weights if t not in index.bm25.vocab)


def support_score(index: Any, question: str, hits: list, signal: str = "best") -> float:
    """Support of ``question`` by ``hits`` (``tinyrag.retriever.Hit``), in [0, 1] (``bm25`` may
    exceed 1). See the module docstring for the signals."""
    if signal not in SIGNALS:
        raise ValueError(f"support signal must be one of {SIGNALS}, got {signal!r}")
    if not hits:
        return 0.0
    if signal == "union":
        weights = term_weights(index, question, content_only=False)
        present: set[str] = set()
        for h in hits:
            present.update(index.analyzer(h.text))
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in present) / total if total else 0.0
    weights = term_weights(index, question)
    if not weights:
        return 0.0
    if signal == "bm25":
        scores = index.bm25.get_scores(index.analyzer(question))  # [N]
        return max(float(scores[h.row]) for h in hits) / sum(weights.values())
    unknown = unknown_terms(index, weights)
    passages = [(set(index.analyzer(h.text)), h.text) for h in hits]
    if signal == "pair" and len(passages) > 1:
        return max(
            coverage(weights, a[0] | b[0], a[1] + "\n" + b[1], unknown)
            for i, a in enumerate(passages)
            for b in passages[i + 1 :]
        )
    return max(coverage(weights, terms, text, unknown) for terms, text in passages)


# ----- calibration (bench/calibrate_refusal.py) ---------------------------------------------
def auc(labels: list[int], scores: list[float]) -> float:
    """Area under the ROC curve (ties count one half): P(score of a 1 > score of a 0)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1, n0 = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def refusal_prf(answerable: list[int], support: list[float], threshold: float) -> dict[str, float]:
    """Refusal (support < threshold) precision/recall/F1 with 'unanswerable' as the positive class."""
    refuse = np.asarray(support) < threshold
    unans = np.asarray(answerable) == 0
    tp = int((refuse & unans).sum())
    p = tp / max(int(refuse.sum()), 1)
    r = tp / max(int(unans.sum()), 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def best_threshold(answerable: list[int], support: list[float]) -> float:
    """The threshold with the best refusal F1 (midpoints between distinct scores)."""
    values = np.unique(np.asarray(support))
    cands = np.concatenate([(values[:-1] + values[1:]) / 2, values[-1:] + 1e-9])
    f1s = [refusal_prf(answerable, support, float(c))["f1"] for c in cands]
    return round(float(cands[int(np.argmax(f1s))]), 3)


def recall_threshold(answerable: list[int], support: list[float], max_false: float) -> float:
    """The highest threshold that refuses at most ``max_false`` of the answerable questions."""
    pos = np.sort(np.asarray(support)[np.asarray(answerable) == 1])
    i = int(np.floor(max_false * len(pos)))  # this many answerable rows may fall below
    return round(float(pos[min(i, len(pos) - 1)]) - 1e-9, 3)
