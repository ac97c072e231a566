"""Answer-quality eval: EM/F1 over the full pipeline, citation claims, faithfulness (lexical, judge)."""

from __future__ import annotations

import re

import pytest
from conftest import ScriptedModel

from tinyrag.answer_eval import citation_claims, evaluate_answers, strip_answer
from tinyrag.datasets import RetrievalSet

DS = RetrievalSet(
    "mini",
    docs={
        "p1": "北京是中华人民共和国的首都，也是全国的政治中心。",
        "p2": "巴黎是法国的首都，塞纳河穿城而过。",
        "p3": "东京是日本的首都，人口超过一千万。",
    },
    queries={"a": "中华人民共和国的首都是哪里？", "b": "法国的首都是哪座城市？"},
    qrels={"a": {"p1": 1}, "b": {"p2": 1}},
    answers={"a": ["北京"], "b": ["巴黎"]},
)


def answering(cite_right: bool) -> ScriptedModel:
    """Replies '<city> [n]' with n the source that mentions the city (or a wrong one)."""

    def reply(messages: list[dict]) -> str:
        user = messages[-1]["content"]
        city = "北京" if "中华人民共和国" in user.rsplit("问题：", 1)[1] else "巴黎"
        for m in re.finditer(r"\[(\d+)\] \(.*?\)\n(.*?)(?=\n\n\[\d+\] |\n\n问题：)", user, re.S):
            if (city in m.group(2)) == cite_right:
                return f"{city}是首都 [{m.group(1)}]。"
        return f"{city}是首都。"

    return ScriptedModel(reply)


def test_claims_and_stripping() -> None:
    text = "北京是首都 [1]。它在华北。[2][9] Paris [1, 2]"
    assert citation_claims(text, 2) == [
        ("北京是首都", 1), ("它在华北", 2), ("Paris", 1), ("Paris", 2),
    ]  # fmt: skip
    assert (
        strip_answer("【抽取式答案：未使用语言模型，以下句子摘自检索到的文档】\n北京 [1]") == "北京"
    )


def test_em_f1_and_faithfulness_follow_the_model() -> None:
    right = evaluate_answers(DS, answering(True), k=2, min_support=0.0)
    assert right["answered"] == 2 and right["refused"] == 0.0
    assert right["F1"] > 0.3 and right["answer_in_text"] == 1.0
    assert right["faithfulness"] == 1.0 and right["citation_claims"] == 2
    wrong = evaluate_answers(DS, answering(False), k=2, min_support=0.0)
    assert wrong["faithfulness"] == 0.0 and wrong["citation_claims"] == 2


def test_extractive_and_judge() -> None:
    ext = evaluate_answers(DS, None, k=2)
    assert ext["model"] == "extractive" and ext["faithfulness"] > 0.9
    judge = ScriptedModel()
    judge.loglikelihood = lambda reqs: [(-1.0 if c == " yes" else -0.1, False) for _, c in reqs]
    harsh = evaluate_answers(DS, answering(True), k=2, min_support=0.0, judge=judge)
    assert harsh["faithfulness"] == 0.0 and harsh["judge"] == "scripted"


def test_needs_gold_answers() -> None:
    with pytest.raises(ValueError, match="SQuAD-style"):
        evaluate_answers(RetrievalSet("x", {"d": "t"}, {"q": "t"}, {"q": {"d": 1}}), None)
