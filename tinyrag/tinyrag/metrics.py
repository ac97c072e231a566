"""Retrieval metrics (recall@k, MRR@10, nDCG@10, MAP) and answer metrics (EM/F1).

Retrieval metrics take a ranked list of doc ids and ``qrels`` = {doc id: graded gain > 0} for one
query (docs absent from qrels, or with gain <= 0, are non-relevant):

- ``recall_at_k``: relevant docs in the top k / all relevant docs.
- ``mrr_at_k``: 1 / rank of the first relevant doc within the top k, else 0.
- ``ndcg_at_k``: DCG = sum_{i<=k} gain_i / log2(i + 1) (linear gain, trec_eval's ``ndcg_cut``),
  divided by the DCG of the ideal ordering of all judged gains.
- ``average_precision``: mean of precision@rank over the ranks of relevant docs, divided by the
  number of relevant docs (unretrieved relevant docs count as precision 0), as trec_eval's ``map``.

    >>> ndcg_at_k(["d1", "d2", "d3"], {"d2": 1, "d3": 2}, k=10)
    0.6199...

Answer metrics: ``exact_match`` / ``f1`` normalise like the SQuAD v1.1 script for English (lower,
strip punctuation and a/an/the, token F1) and like the CMRC 2018 evaluator for text with Chinese
(characters as tokens, English words kept whole, punctuation dropped, F1 from the longest common
substring, as the official script computes it; non-Chinese runs are split on whitespace where the
official script uses nltk's word_tokenize), taking the best over the reference answers.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from tinyrag.analyzers import CJK_CHAR, has_cjk


def recall_at_k(ranked: Sequence, qrels: Mapping, k: int) -> float:
    rel = {d for d, g in qrels.items() if g > 0}
    if not rel:
        return 0.0
    return len(rel.intersection(ranked[:k])) / len(rel)


def mrr_at_k(ranked: Sequence, qrels: Mapping, k: int = 10) -> float:
    for i, d in enumerate(ranked[:k], 1):
        if qrels.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence, qrels: Mapping, k: int = 10) -> float:
    dcg = sum(max(qrels.get(d, 0), 0) / math.log2(i + 1) for i, d in enumerate(ranked[:k], 1))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    return dcg / idcg if idcg > 0 else 0.0


def average_precision(ranked: Sequence, qrels: Mapping) -> float:
    n_rel = sum(1 for g in qrels.values() if g > 0)
    if n_rel == 0:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranked, 1):
        if qrels.get(d, 0) > 0:
            hits += 1
            total += hits / i
    return total / n_rel


def evaluate_run(
    run: Mapping[str, Sequence], qrels: Mapping[str, Mapping], ks: Iterable[int] = (10, 100)
) -> dict[str, float]:
    """Mean metrics over the queries in ``qrels`` (a query missing from ``run`` scores 0)."""
    ks = list(ks)
    sums: Counter = Counter()
    qids = [q for q, rel in qrels.items() if any(g > 0 for g in rel.values())]
    for q in qids:
        ranked = list(run.get(q, []))
        rel = qrels[q]
        sums["MAP"] += average_precision(ranked, rel)
        sums["nDCG@10"] += ndcg_at_k(ranked, rel, 10)
        sums["MRR@10"] += mrr_at_k(ranked, rel, 10)
        for k in ks:
            sums[f"R@{k}"] += recall_at_k(ranked, rel, k)
    out = {name: sums[name] / len(qids) if qids else 0.0 for name in ["MAP", "nDCG@10", "MRR@10"]}
    out.update({f"R@{k}": sums[f"R@{k}"] / len(qids) if qids else 0.0 for k in ks})
    out["queries"] = len(qids)
    return out


# ----- answers ----------------------------------------------------------------------------------
_ZH_PUNCT = set("－：_*^/\\~`+=，。：？！“”；’《》【】…·、「」（）—｛｝『』〈〉〔〕［］﹏～．")


def _squad_normalize(s: str) -> str:
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _cmrc_segments(s: str) -> list[str]:
    """CMRC 2018 'mixed segmentation': CJK chars and punctuation one by one, other runs whole."""
    out, buf = [], ""
    for ch in s.lower().strip():
        if CJK_CHAR.match(ch) or ch in _ZH_PUNCT:
            if buf.strip():
                out.extend(buf.split())
            buf = ""
            out.append(ch)
        else:
            buf += ch
    if buf.strip():
        out.extend(buf.split())
    return out


def _cmrc_strip(s: str) -> str:
    punct = _ZH_PUNCT | set(string.punctuation)
    return "".join(ch for ch in s.lower().strip() if ch not in punct)


def _lcs_len(a: list[str], b: list[str]) -> int:
    """Length of the longest common contiguous run (the CMRC evaluator's find_lcs)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    if any(has_cjk(a) for a in answers):
        p = _cmrc_strip(prediction)
        return float(any(p == _cmrc_strip(a) for a in answers))
    p = _squad_normalize(prediction)
    return float(any(p == _squad_normalize(a) for a in answers))


def f1(prediction: str, answers: Sequence[str]) -> float:
    best = 0.0
    for a in answers:
        if has_cjk(a):
            punct = _ZH_PUNCT | set(string.punctuation)
            ps = [t for t in _cmrc_segments(prediction) if t not in punct]
            gs = [t for t in _cmrc_segments(a) if t not in punct]
            common = _lcs_len(gs, ps)
        else:
            ps, gs = _squad_normalize(prediction).split(), _squad_normalize(a).split()
            common = sum((Counter(ps) & Counter(gs)).values())
        if common == 0:
            continue
        prec, rec = common / len(ps), common / len(gs)
        best = max(best, 2 * prec * rec / (prec + rec))
    return best
