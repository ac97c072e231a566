"""Rank fusion: reciprocal rank fusion (RRF) and weighted score fusion.

RRF (Cormack et al., SIGIR 2009): ``score(d) = sum_i w_i / (k + rank_i(d))`` with 1-based ranks; a
document absent from a list contributes nothing from it. Only ranks matter, so BM25 scores and
cosine similarities never need to share a scale.

Weighted fusion: each list's scores are min-max normalised to [0, 1] (a list whose scores are all
equal maps to 1), then ``score(d) = sum_i w_i * norm_i(d)``, absent = 0.

    >>> rrf([["a", "b", "c"], ["c", "a"]], k=60)[:2]
    [('a', 0.0325...), ('c', 0.0322...)]
    >>> weighted_fusion([{"a": 10.0, "b": 5.0}, {"b": 0.9, "c": 0.1}], weights=[0.5, 0.5])
    [('a', 0.5), ('b', 0.5), ('c', 0.0)]

Ties are broken by the order of first appearance (list 0 first), so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence


def rrf(
    rankings: Sequence[Sequence[Hashable]], k: float = 60.0, weights: Sequence[float] | None = None
) -> list[tuple[Hashable, float]]:
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[Hashable, float] = {}
    for w, ranking in zip(weights, rankings):
        for rank, doc in enumerate(ranking, 1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
    return _sorted(scores)


def weighted_fusion(
    score_lists: Sequence[Mapping[Hashable, float]], weights: Sequence[float] | None = None
) -> list[tuple[Hashable, float]]:
    weights = [1.0 / len(score_lists)] * len(score_lists) if weights is None else list(weights)
    if len(weights) != len(score_lists):
        raise ValueError(f"{len(weights)} weights for {len(score_lists)} score lists")
    scores: dict[Hashable, float] = {}
    for w, lst in zip(weights, score_lists):
        if not lst:
            continue
        lo, hi = min(lst.values()), max(lst.values())
        for doc, s in lst.items():
            norm = 1.0 if hi == lo else (s - lo) / (hi - lo)
            scores[doc] = scores.get(doc, 0.0) + w * norm
    return _sorted(scores)


def _sorted(scores: dict[Hashable, float]) -> list[tuple[Hashable, float]]:
    first = {doc: i for i, doc in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], first[kv[0]]))
