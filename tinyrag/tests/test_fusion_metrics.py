"""Fusion (RRF, weighted) and retrieval/answer metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from tinyrag.fusion import rrf, weighted_fusion
from tinyrag.metrics import (
    average_precision,
    evaluate_run,
    exact_match,
    f1,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)  # fmt: skip


def test_rrf_by_hand() -> None:
    fused = dict(rrf([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62, abs=1e-15)
    assert fused["b"] == pytest.approx(1 / 62, abs=1e-15)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61, abs=1e-15)
    assert [d for d, _ in rrf([["a", "b"], ["b", "a"]])] == ["a", "b"]  # tie -> first seen
    assert dict(rrf([["a"], ["b"]], weights=[2, 1]))["a"] == pytest.approx(2 / 61)


def test_weighted_fusion_by_hand() -> None:
    fused = dict(
        weighted_fusion([{"a": 10.0, "b": 5.0, "c": 0.0}, {"b": 0.9, "c": 0.1}], [0.3, 0.7])
    )
    assert fused == pytest.approx({"a": 0.3, "b": 0.3 * 0.5 + 0.7, "c": 0.0})


def test_retrieval_metrics_by_hand() -> None:
    ranked = ["d1", "d2", "d3", "d4", "d5"]
    qrels = {"d2": 1, "d4": 3, "d9": 2, "d5": 0}
    assert recall_at_k(ranked, qrels, 3) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, qrels) == 0.5
    dcg = 1 / math.log2(3) + 3 / math.log2(5)
    idcg = 3 + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, qrels, 10) == pytest.approx(dcg / idcg, abs=1e-12)
    assert average_precision(ranked, qrels) == pytest.approx((1 / 2 + 2 / 4) / 3, abs=1e-12)
    run = {"q1": ranked, "q2": []}
    out = evaluate_run(run, {"q1": qrels, "q2": {"x": 1}, "q3": {"y": 0}}, ks=(3,))
    assert out["queries"] == 2 and out["MRR@10"] == pytest.approx(0.25)


def test_answer_metrics() -> None:
    assert exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert f1("the big cat sat", ["a cat sat down"]) == pytest.approx(
        2 * (2 / 3) * (2 / 3) / (4 / 3)
    )
    assert exact_match("1963年。", ["1963年"]) == 1.0
    # CMRC: chars as tokens, LCS-based: pred 范廷颂于1963年 (6 tokens), answer 1963年 (2 tokens)
    assert f1("范廷颂于1963年", ["1963年"]) == pytest.approx(2 * (2 / 6) * 1 / (2 / 6 + 1))
    assert f1("完全无关", ["1963年"]) == 0.0
