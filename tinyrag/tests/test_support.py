"""Support gate: content terms, best-passage coverage, calibration helpers (AUC vs scikit-learn)."""

from __future__ import annotations

from pathlib import Path

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


def test_a_question_word_jieba_cut_differently_in_the_index_is_matched_by_its_string() -> None:
    """In context jieba's HMM glues 时+省 into 时省 ("训练时省显存"), so the question's 省 is no
    index term at all: it used to weigh the most (an unseen term gets the highest idf) and never
    match. Such a term now counts as found when the passage contains it as a string."""
    idx = Index.from_texts({"ckpt": "训练时省显存：梯度检查点。", "rope": "旋转位置编码。"})
    assert "时省" in idx.bm25.vocab and "省" not in idx.bm25.vocab
    assert support_score(idx, "为什么省显存？", hits_of(idx, "ckpt")) == 1.0
    # a word that is an index term is still matched as a term, not as a substring
    assert support_score(idx, "位置", hits_of(idx, "rope")) == 1.0
    assert support_score(idx, "编码", hits_of(idx, "ckpt")) < MIN_SUPPORT


# Copies of the qwen-blog/docs paragraphs the README's example questions are about (the real files
# are used when this folder sits in the monorepo; a folder copied out alone has only these).
EXCERPT = {
    "06-attention.md": """# 06 · 注意力：Q/K/V、GQA、掩码、滑动窗口

## GQA：14 个 query 头共享 2 组 K/V

多头注意力（MHA）里每个 query 头都有自己的 K、V。Qwen2 用分组查询注意力（GQA）：14 个 query 头分成 2 组，
组内 7 个头读同一组 K/V。参数和计算几乎没少，但 **KV cache 小了 7 倍**——长上下文推理时，这才是内存大头。

## FlashAttention 在哪里

FlashAttention 不改变数学，只改变计算顺序：把 K/V 切成小块，在片上 SRAM 里边算 `q kᵀ` 边做“在线 softmax”，
分数矩阵从不落到显存，内存从 O(T²) 降到 O(T)，速度也因少读写而变快。
""",
    "08-decoder-layer.md": """# 08 · 解码层：pre-norm 残差

## 训练时省显存：梯度检查点

`model.gradient_checkpointing = True` 时，`Qwen2Model.forward` 用 `torch.utils.checkpoint` 包住每一层：前向不保存层内激活，
反向时重算一遍。以约 30% 的额外计算换取小得多的激活内存。
""",
    "10-generation.md": """# 10 · 生成：KV cache、prefill 与 decode、采样

KV cache 的大小：0.5B 模型每个 token 存 `2 × 24 层 × 2 头 × 64 = 6144` 个数，bf16 下 12 KB；32K 上下文约 384 MB。
如果没有 GQA（14 个 KV 头），会是 7 倍。
""",
    "05-rope.md": """# 05 · RoPE：用旋转编码相对位置

把每个头的向量（D=64）看成 32 对二维坐标。位置为 `m` 的 token，第 `i` 对坐标旋转角度 `m·θᵢ`。
""",
}
BLOG = Path(__file__).resolve().parents[2] / "qwen-blog" / "docs"


@pytest.mark.parametrize("corpus", ["excerpt", "qwen-blog/docs"])
def test_readme_example_questions_pass_the_gate_without_a_reranker(corpus, tmp_path) -> None:
    from tinyrag.answer import answer_question
    from tinyrag.conversation import fallback_rewrite

    if corpus == "excerpt":
        for name, text in EXCERPT.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        root = tmp_path
    elif (BLOG / "06-attention.md").is_file():
        root = BLOG
    else:
        pytest.skip(f"{BLOG} not present (tinyrag copied out of the monorepo)")
    idx, _ = Index.build(root, None)
    for q in ("GQA 为什么省显存？", "KV cache 有多大？"):
        a = answer_question(idx, q)  # extractive: no model, no reranker
        assert not a.refused and a.support >= MIN_SUPPORT and a.citations, (q, a.support)
    a = answer_question(idx, "GQA 为什么省显存？")
    assert "06-attention.md" in [h.source for h in a.cited_sources()]  # the GQA paragraph
    history = [{"role": "user", "content": "GQA 为什么省显存？"}]
    query = fallback_rewrite("它省了多少？", history)  # chat without a model
    assert not answer_question(idx, "它省了多少？", query=query).refused
    assert answer_question(idx, "汉朝的首都在哪里？").refused  # the docs do not say
