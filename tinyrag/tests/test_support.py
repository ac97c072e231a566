"""Support gate: content terms, best-passage coverage, calibration helpers (AUC vs scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest

from tinyrag.index import Index
from tinyrag.retriever import Hit
from tinyrag.support import (
    MIN_SUPPORT,
    auc,
    best_threshold,
    recall_threshold,
    refusal_prf,
    support_score,
    term_weights,
)

TEXTS = {
    "gqa": "Qwen2 使用分组查询注意力（GQA）。KV cache 小了 7 倍，这才是内存大头。",
    "ckpt": "梯度检查点让训练省显存：反向时重算激活。",
    "rope": "旋转位置编码（RoPE）把位置写进 query 和 key 的旋转角度。",
    "en": "Grouped-query attention shares key and value heads between query heads.",
}


@pytest.fixture(scope="module")
def index() -> Index:
    return Index.from_texts(TEXTS)


def hits_of(index: Index, *names: str) -> list[Hit]:
    rows = {c["source"]: i for i, c in enumerate(index.chunks)}
    return [Hit(rows[n], 1.0, index.chunks[rows[n]]) for n in names]


def test_question_words_and_pronouns_are_not_content(index: Index) -> None:
    assert set(term_weights(index, "KV cache 有多大？")) == {"kv", "cache"}
    assert set(term_weights(index, "它省了多少？")) == {"省"}
    assert set(term_weights(index, "What heads share a key?")) == {"heads", "share", "key"}


def test_best_passage_not_the_union_of_passages(index: Index) -> None:
    q = "KV cache 和 RoPE"
    # kv + cache in one passage, rope in another: one passage covers about two thirds
    both = support_score(index, q, hits_of(index, "gqa", "rope"), signal="union")
    best = support_score(index, q, hits_of(index, "gqa", "rope"))
    pair = support_score(index, q, hits_of(index, "gqa", "rope"), signal="pair")
    assert both == pytest.approx(1.0) and pair == pytest.approx(1.0) and 0.3 < best < 0.9
    assert support_score(index, "KV cache 有多大？", hits_of(index, "rope", "gqa")) == 1.0
    assert support_score(index, q, []) == 0.0
    with pytest.raises(ValueError, match="signal"):
        support_score(index, q, hits_of(index, "gqa"), signal="magic")


def test_half_credit_for_characters_of_a_missing_chinese_word(index: Index) -> None:
    # 显存 is not a word of the gqa passage, but 存 (in 内存) is: 1/2 of its characters, half credit
    w = term_weights(index, "GQA 显存")
    expect = (w["gqa"] + 0.5 * w["显存"] * 0.5) / (w["gqa"] + w["显存"])
    assert support_score(index, "GQA 显存", hits_of(index, "gqa")) == pytest.approx(expect)


def test_calibration_helpers_agree_with_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300).tolist()
    s = (np.asarray(y) * 0.3 + rng.random(300)).round(2).tolist()  # ties on purpose
    assert auc(y, s) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
    th = best_threshold(y, s)
    refuse = [int(v < th) for v in s]
    unans = [1 - v for v in y]
    m = refusal_prf(y, s, th)
    assert m["precision"] == pytest.approx(metrics.precision_score(unans, refuse))
    assert m["recall"] == pytest.approx(metrics.recall_score(unans, refuse))
    best_f1 = max(refusal_prf(y, s, t)["f1"] for t in np.unique(s) + 1e-9)
    assert m["f1"] >= best_f1 - 1e-12
    th5 = recall_threshold(y, s, 0.05)
    pos = np.asarray(s)[np.asarray(y) == 1]
    assert (pos < th5).mean() <= 0.05 and (pos < th5 + 0.02).mean() > 0.0


def test_default_threshold_is_the_calibrated_constant() -> None:
    import inspect

    from tinyrag.answer import answer_question

    default = inspect.signature(answer_question).parameters["min_support"].default
    assert default == MIN_SUPPORT and 0.0 < MIN_SUPPORT < 1.0
