"""Answers: citations point at the passages used; extractive quotes; refusal; streaming; rerank."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ScriptedModel

from tinyrag.answer import REFUSAL, answer_question, build_messages, one_line, parse_citations
from tinyrag.index import Index
from tinyrag.rerank import rerank

DOCS = {
    "attention.md": "# 注意力\n\nQwen2 使用分组查询注意力（GQA）。多个查询头共享一组键值头，从而减少 KV 缓存。\n",
    "rope.md": "# RoPE\n\nQwen2 使用旋转位置编码（RoPE）。rope_theta 设为一百万，以支持长上下文。\n",
    "mlp.md": "# MLP\n\nQwen2 的前馈网络使用 SwiGLU 激活函数。它由门控投影和上投影相乘得到。\n",
    "en.md": "# Norm\n\nQwen2 normalises with RMSNorm. RMSNorm does not subtract the mean.\n",
}


@pytest.fixture
def index(tmp_path: Path) -> Index:
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    idx, _ = Index.build(tmp_path, tmp_path / "idx")
    idx.root = tmp_path
    return idx


def source_text(index: Index, rel: str) -> str:
    return (index.root / rel).read_text(encoding="utf-8")


def quoting_model() -> ScriptedModel:
    """Answers by quoting the first sentence of the source that mentions RoPE, citing its number."""

    def reply(messages: list[dict]) -> str:
        user = messages[-1]["content"]
        for m in re.finditer(
            r"\[(\d+)\] \((.*?)\)\n(.*?)(?=\n\n\[\d+\] |\n\n问题：|\Z)", user, re.S
        ):
            if "旋转位置编码" in m.group(3):
                return f"Qwen2 使用旋转位置编码 [{m.group(1)}]。另见 [9]。"
        return REFUSAL["zh"]

    return ScriptedModel(reply)


def test_model_citations_map_to_the_passages_used(index: Index) -> None:
    model = quoting_model()
    a = answer_question(index, "Qwen2 使用什么位置编码？", model)
    assert not a.extractive and not a.refused
    assert a.invalid_citations == [9]  # out-of-range numbers are reported, not kept
    (cited,) = a.cited_sources()
    assert cited.source == "rope.md" and "旋转位置编码" in cited.text
    # the prompt numbered the passages exactly as Answer.sources does
    user = model.calls[-1][1][-1]["content"]
    n = a.citations[0]
    assert f"[{n}] ({cited.location()})\n{cited.text}" in user


def test_streaming_yields_the_same_answer(index: Index) -> None:
    deltas: list[str] = []
    a = answer_question(index, "Qwen2 使用什么位置编码？", quoting_model(), on_delta=deltas.append)
    assert len(deltas) > 1 and "".join(deltas) == a.text
    assert a.cited_sources()[0].source == "rope.md"


def test_extractive_answer_quotes_sources_exactly(index: Index) -> None:
    a = answer_question(index, "Qwen2 的前馈网络用什么激活函数？")
    assert a.extractive and a.text.startswith("【抽取式答案：未使用语言模型")
    assert a.quotes and a.citations
    for q in a.quotes:
        hit = a.sources[q.source_number - 1]
        assert source_text(index, hit.source)[q.start : q.end] == q.text
        assert f"{one_line(q.text)} [{q.source_number}]" in a.text
    assert a.sources[a.quotes[0].source_number - 1].source == "mlp.md"
    assert "SwiGLU" in a.quotes[0].text
    en = answer_question(index, "What does RMSNorm not subtract?")
    assert en.text.startswith("[Extractive answer: no language model")


def test_weak_support_refuses_without_calling_the_model(index: Index) -> None:
    model = quoting_model()
    a = answer_question(index, "量子计算机的纠错码如何工作？", model)
    assert a.refused and a.text == REFUSAL["zh"] and a.support < 0.5
    assert a.refused_by == "gate" and model.calls == []
    en = answer_question(index, "Who won the 1998 football world cup?")
    assert en.refused and en.text == "The documents do not say."
    # the gate off: the model is asked, and its own refusal is recorded as the model's
    q = "Qwen2 的量子纠错码如何工作？"
    assert answer_question(index, q, model).refused_by == "gate" and model.calls == []
    said = answer_question(index, q, ScriptedModel(lambda m: REFUSAL["zh"]), min_support=0.0)
    assert said.refused and said.refused_by == "model" and said.sources


def test_one_line_joins_soft_wraps() -> None:
    assert one_line("组内 7 个头\n读同一组。\nNext line") == "组内 7 个头读同一组。 Next line"
    assert one_line("soft\nwrap") == "soft wrap"


def test_parse_citations_forms() -> None:
    assert parse_citations("a [2] b [1, 3] c [2][4]，[5、1]", 4) == ([2, 1, 3, 4], [5])


def test_build_messages_numbers_sources(index: Index) -> None:
    hits = index.search("Qwen2", k=3)
    msgs = build_messages("Qwen2 是什么？", hits)
    assert msgs[0]["role"] == "system" and "[n]" in msgs[0]["content"]
    for i, h in enumerate(hits, 1):
        assert f"[{i}] ({h.location()})" in msgs[1]["content"]


def test_rerank_uses_yes_no_loglikelihood(index: Index) -> None:
    model = ScriptedModel()
    passages = ["cats sit on mats", "rmsnorm does not subtract the mean", "rope rotates keys"]
    order = rerank(model, "does rmsnorm subtract the mean", passages)
    # score = log p(yes) - log p(no): passage 1 shares 5 words -> -1/6 + 0.5; others -1 + 0.5
    assert order == [(1, pytest.approx(-1 / 6 + 0.5)), (0, -0.5), (2, -0.5)]
    ((kind, reqs),) = model.calls
    assert kind == "loglikelihood" and len(reqs) == 6
    assert [c for _, c in reqs] == [" yes", " no"] * 3
    hits = index.search("RMSNorm mean", k=3, rerank_model=model, rerank_top=3)
    assert hits[0].source == "en.md"


BLOG = Path(__file__).resolve().parents[2] / "qwen-blog" / "docs"


@pytest.fixture(scope="module")
def blog(tmp_path_factory) -> Index:
    if not (BLOG / "06-attention.md").is_file():
        pytest.skip(f"{BLOG} not present (tinyrag copied out of the monorepo)")
    idx, _ = Index.build(BLOG, tmp_path_factory.mktemp("blog") / "idx")
    return idx


def kv_judge() -> ScriptedModel:
    """A scripted reranker: judges a passage relevant when it states how much GQA shrinks the KV
    cache (the README's example; the real command uses a checkpoint)."""
    model = ScriptedModel()

    def loglikelihood(requests):
        return [
            (-0.1 if (cont == " yes") == ("KV cache 小了" in ctx) else -3.0, False)
            for ctx, cont in requests
        ]

    model.loglikelihood = loglikelihood
    return model


def citing_model(marker: str, rewrite: str | None = None) -> ScriptedModel:
    """Answers by citing the source that contains ``marker``; rewrites follow-ups to ``rewrite``."""

    def reply(messages: list[dict]) -> str:
        if rewrite and "改写" in messages[0]["content"]:
            return rewrite
        for m in re.finditer(r"\[(\d+)\] \((.*?)\)\n(.*?)(?=\n\n\[\d+\] |\n\n问题：|\Z)",
                             messages[-1]["content"], re.S):  # fmt: skip
            if marker in m.group(3):
                return f"KV cache 小了 7 倍 [{m.group(1)}]。"
        return REFUSAL["zh"]

    return ScriptedModel(reply)


def test_readme_questions_are_answered_with_citations(blog: Index) -> None:
    a = answer_question(blog, "KV cache 有多大？")  # extractive; was refused at 0.42
    assert not a.refused and a.citations and a.support >= 0.641
    # a paraphrase (the docs say 内存 and 小了 7 倍): the reranker's judgement passes the gate
    a = answer_question(
        blog, "GQA 为什么省显存？", citing_model("KV cache 小了"), rerank_model=kv_judge()
    )
    assert not a.refused and a.rerank_yes > 0.5
    assert [h.source for h in a.cited_sources()] == ["06-attention.md"]


def test_chat_follow_up_is_rewritten_then_answered(blog: Index) -> None:
    from tinyrag.conversation import rewrite_query

    history = [{"role": "user", "content": "GQA 为什么省显存？"},
               {"role": "assistant", "content": "KV cache 小了 7 倍 [1]。"}]  # fmt: skip
    model = citing_model("KV cache 小了", rewrite="GQA 让 KV cache 小了多少？")
    query = rewrite_query("它省了多少？", history, model)
    assert query == "GQA 让 KV cache 小了多少？"
    a = answer_question(blog, "它省了多少？", model, history=history, query=query)
    assert not a.refused and [h.source for h in a.cited_sources()] == ["06-attention.md"]
    # the model sees the user's own words and the history
    (_, messages) = model.calls[-1]
    assert messages[-1]["content"].endswith("它省了多少？") and messages[1] == history[0]
    # without the rewrite the follow-up retrieves nothing useful and is refused
    assert answer_question(blog, "它省了多少？", model, history=history).refused


def test_rerank_reorders_sources_in_ask(index: Index) -> None:
    judge = ScriptedModel()
    judge.loglikelihood = lambda reqs: [
        (-0.1 if (c == " yes") == ("RMSNorm" in ctx) else -2.0, False) for ctx, c in reqs
    ]
    plain = answer_question(index, "Qwen2 使用什么？", k=4)
    reranked = answer_question(index, "Qwen2 使用什么？", k=4, rerank_model=judge)
    assert reranked.sources[0].source == "en.md" and plain.sources[0].source != "en.md"
    assert reranked.rerank_yes > 0.5 and plain.rerank_yes is None
