"""Chat query rewriting: model condensation, deterministic fallback, and the chat CLI's --verbose."""

from __future__ import annotations

from conftest import ScriptedModel

from tinyrag.conversation import fallback_rewrite, needs_context, rewrite_query

HISTORY = [
    {"role": "user", "content": "GQA 为什么省显存？"},
    {"role": "assistant", "content": "KV cache 小了 7 倍 [1]。"},
]


def test_fallback_prefixes_the_previous_question_only_when_needed() -> None:
    assert fallback_rewrite("它省了多少？", HISTORY) == "GQA 为什么省显存？ 它省了多少？"
    assert fallback_rewrite("What about it?", [{"role": "user", "content": "RoPE theta"}]) == (
        "RoPE theta What about it?"
    )
    standalone = "Qwen2 的 RoPE 用什么 theta？"
    assert fallback_rewrite(standalone, HISTORY) == standalone
    assert fallback_rewrite("它省了多少？", []) == "它省了多少？"
    assert needs_context("多少？") and not needs_context("rotary embedding theta value")


def test_model_rewrite_is_used_and_sees_the_history() -> None:
    model = ScriptedModel(lambda messages: "改写后的问题：GQA 能省多少显存？\n多余的一行")
    assert rewrite_query("它省了多少？", HISTORY, model) == "GQA 能省多少显存？"
    ((kind, messages),) = model.calls
    assert kind == "chat" and "GQA 为什么省显存？" in messages[-1]["content"]
    assert messages[-1]["content"].endswith("它省了多少？")


def test_unusable_model_output_falls_back() -> None:
    class Broken(ScriptedModel):
        def chat(self, messages, tools=None, **sampling):
            raise NotImplementedError("no chat here")

    assert rewrite_query("它省了多少？", HISTORY, Broken()) == "GQA 为什么省显存？ 它省了多少？"
    empty = ScriptedModel(lambda messages: "   ")
    assert rewrite_query("它省了多少？", HISTORY, empty) == "GQA 为什么省显存？ 它省了多少？"
    assert rewrite_query("它省了多少？", None, empty) == "它省了多少？"
