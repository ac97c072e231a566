"""Conversation memory: older turns are summarised by the model once the budget is exceeded."""

from __future__ import annotations

import json

import pytest

from tinyagent import Agent
from tinyagent.memory import ConversationMemory
from tinyagent.scripted import ScriptedChatModel


def test_summarises_old_turns_into_the_trace(tmp_path):
    model = ScriptedChatModel(["S1: 小王, 杭州", "S2: 小王, 杭州, 三天, 预算 2000"])
    trace = tmp_path / "t.jsonl"
    seen = []
    mem = ConversationMemory(
        model, budget_tokens=30, keep_last=2, trace_path=trace, on_summary=seen.append
    )
    turns = [
        "我叫小王",
        "你好小王",
        "我想去杭州",
        "好的",
        "玩三天，预算两千元",
        "明白了，我来安排",
        "好",
    ]
    for i, text in enumerate(turns[:4]):
        mem.add("user" if i % 2 == 0 else "assistant", text)
    assert not model.chats  # 4+4+5+2 = 15 chars: under budget, nothing summarised
    mem.add("user", turns[4])
    mem.add("assistant", turns[5])  # 32 > 30: turns 1-4 -> S1
    assert len(model.chats) == 1 and mem.summary.startswith("S1")
    mem.add("user", turns[6])  # over budget again: turn 5 + S1 -> S2
    assert len(model.chats) == 2 and mem.summary.startswith("S2")
    first, second = (c["messages"][0]["content"] for c in model.chats)
    assert "user: 我叫小王" in first and "已有摘要：（无）" in first
    assert "已有摘要：S1: 小王, 杭州" in second and "user: 我叫小王" not in second  # folded once
    assert "user: 玩三天，预算两千元" in second
    hist = mem.history()
    assert hist[0] == {
        "role": "system",
        "content": "此前对话的摘要：S2: 小王, 杭州, 三天, 预算 2000",
    }
    assert [m["content"] for m in hist[1:]] == turns[5:]  # the last keep_last turns verbatim
    rows = [json.loads(x) for x in trace.read_text().splitlines()]
    assert [r["event"] for r in rows] == ["memory_summary"] * 2 and rows == seen
    assert rows[0]["tokens_before"] > 30 and rows[1]["summary"].startswith("S2")


def test_history_feeds_the_agent():
    mem = ConversationMemory(
        ScriptedChatModel(["旧对话：用户叫小王"]), budget_tokens=3, keep_last=0
    )
    mem.add("user", "我叫小王")
    assert mem.turns == [] and mem.summary == "旧对话：用户叫小王"
    model = ScriptedChatModel(["你叫小王。"])
    assert Agent(model, []).run("我叫什么？", mem.history()).answer == "你叫小王。"
    assert model.chats[0]["messages"][0]["content"].startswith("此前对话的摘要：旧对话")


def test_bad_budget():
    with pytest.raises(ValueError, match="budget_tokens"):
        ConversationMemory(ScriptedChatModel([]), budget_tokens=0)


def _calc(expr: str) -> str:
    call = {"name": "calculator", "arguments": {"expression": expr}}
    return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"


def test_long_qwen_run_folds_its_older_steps(tmp_path):
    from tinyagent.tools import calculator

    # model turns interleaved with the summariser's replies (the scripted model serves both)
    script = [_calc("1+1"), _calc("2+2"), "S: 1+1=2", _calc("3+3"), "S2: 1+1=2, 2+2=4", "done"]
    model = ScriptedChatModel(script)
    trace = tmp_path / "t.jsonl"
    agent = Agent(model, [calculator], context_budget=1, keep_steps=1, trace_path=trace)
    result = agent.run("算几个加法")
    assert result.answer == "done"
    first = model.chats[2]["messages"][0]["content"]
    second = model.chats[4]["messages"][0]["content"]
    assert "calculator" in first and "1+1" in first and "2+2" not in first
    assert "已有摘要：S: 1+1=2" in second and "2+2" in second and "3+3" not in second
    last = model.chats[-1]["messages"]
    assert last[0]["content"].startswith("算几个加法\n\n此前步骤的摘要")
    assert last[0]["content"].endswith("S2: 1+1=2, 2+2=4")
    assert [m["role"] for m in last] == ["user", "assistant", "tool"]  # only the last step verbatim
    rows = [json.loads(x) for x in trace.read_text().splitlines()]
    folds = [r for r in rows if r["event"] == "memory_summary"]
    assert [r["summary"] for r in folds] == ["S: 1+1=2", "S2: 1+1=2, 2+2=4"]
    assert folds[0]["summarised_steps"] == 1
    assert folds[0]["tokens_after"] < folds[0]["tokens_before"]


def test_long_react_run_folds_its_scratchpad():
    from tinyagent.tools import calculator

    step = ' go\nAction: calculator\nAction Input: {"expression": "%s"}'
    script = [step % "1+1", step % "2+2", "SUM", " ok\nFinal Answer: 4"]
    model = ScriptedChatModel(script)
    result = Agent(model, [calculator], "react", context_budget=1, keep_steps=1).run("q")
    assert result.answer == "4"
    final_prompt = model.prompts[-1]
    assert "此前步骤的摘要（较早的工具调用与结果已压缩）：SUM" in final_prompt
    assert '"1+1"' not in final_prompt and '"2+2"' in final_prompt  # step 1 folded, step 2 kept
    assert final_prompt.rstrip().endswith("Observation: 4\nThought:")
