"""Qwen3 thinking in both protocols: thoughts go to the step (and trace), never into tool calls."""

from __future__ import annotations

import json

from tinyagent import Agent
from tinyagent.scripted import ScriptedChatModel
from tinyagent.thinking import split_thinking
from tinyagent.tools import calculator

DECOY = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "999*999"}}\n</tool_call>'
REAL = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "17*23"}}\n</tool_call>'


def test_split_thinking_forms():
    assert split_thinking("no thoughts") == ("", "no thoughts")
    assert split_thinking("<think>\na\n</think>\n\nb") == ("a", "b")
    assert split_thinking("a</think>b") == ("a", "b")  # the template opened <think> itself
    assert split_thinking({"reasoning_content": "r", "content": "<think>t</think>c"}) == (
        "r\nt",
        "c",
    )


def test_qwen_protocol_thoughts_never_become_calls(tmp_path):
    model = ScriptedChatModel(
        [
            f"<think>\n也许先算 999*999？{DECOY}\n不，题目是 17*23。\n</think>\n\n{REAL}",
            {"reasoning_content": "391 就是答案", "content": "17*23 = 391"},
        ]
    )
    trace = tmp_path / "t.jsonl"
    result = Agent(model, [calculator], trace_path=trace).run("17*23?")
    assert result.answer == "17*23 = 391"
    step1 = result.steps[0]
    assert [c.arguments for c in step1.calls] == [{"expression": "17*23"}]
    assert "999*999" in step1.reasoning and "999" not in step1.raw
    assert result.steps[1].reasoning == "391 就是答案"
    history = json.dumps(model.chats[1]["messages"], ensure_ascii=False)
    assert "999" not in history and "也许" not in history  # thoughts stay out of the prompt
    rows = [json.loads(x) for x in trace.read_text().splitlines()]
    assert "999*999" in rows[1]["reasoning"]


def test_react_protocol_thoughts_never_become_actions():
    model = ScriptedChatModel(
        [
            '<think>Action: calculator\nAction Input: {"expression": "999*999"}</think>'
            ' 先算乘法。\nAction: calculator\nAction Input: {"expression": "17*23"}',
            "<think>好了</think> 我知道了。\nFinal Answer: 391",
        ]
    )
    result = Agent(model, [calculator], protocol="react").run("17*23?")
    assert result.answer == "391"
    assert result.steps[0].calls[0].arguments == {"expression": "17*23"}
    assert result.steps[0].calls[0].observation == "391"
    assert "999*999" in result.steps[0].reasoning and result.steps[1].reasoning == "好了"
    assert "999" not in model.prompts[-1]  # the scratchpad holds no thoughts
