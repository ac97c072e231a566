"""Plan-and-execute with a scripted model: a failing step triggers a replan; bounded replans."""

from __future__ import annotations

import json

from tinyagent.cli import main
from tinyagent.plan import PlanAndExecute, parse_plan
from tinyagent.scripted import ScriptedChatModel
from tinyagent.tools import calculator


def call(name: str, **args) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"


def test_parse_plan_forms():
    assert parse_plan("1. a\n2、b\n三、c\n(no number)") == ["a", "b", "c"]
    assert parse_plan("just do it") == ["just do it"]
    assert parse_plan("  ") == []


def test_failed_step_is_replanned(tmp_path):
    script = [
        "1. 用 calculator 算 1/0\n2. 回答",
        call("calculator", expression="1/0"),
        "STEP FAILED: 除数为零",
        "1. 用 calculator 算 10/2",
        call("calculator", expression="10/2"),
        "5",
        "答案是 5。",
    ]
    model = ScriptedChatModel(script)
    trace = tmp_path / "t.jsonl"
    r = PlanAndExecute(model, [calculator], trace_path=trace).run("10 除以 2 是多少？")
    assert r.stop_reason == "final_answer" and r.answer == "答案是 5。"
    assert r.plans == [["用 calculator 算 1/0", "回答"], ["用 calculator 算 10/2"]]
    assert [x["ok"] for x in r.results] == [False, True] and r.results[0]["answer"] == "除数为零"
    replan_prompt = model.chats[3]["messages"][0]["content"]
    assert "除数为零" in replan_prompt and "用 calculator 算 1/0" in replan_prompt
    events = [json.loads(x)["event"] for x in trace.read_text().splitlines()]
    assert events[0] == "plan" and "replan" in events and events[-1] == "end"
    assert events.count("step") == 4  # the agent runs' own step lines share the trace


def test_replans_are_bounded():
    script = ["1. x", "STEP FAILED: a", "1. y", "STEP FAILED: b"]
    r = PlanAndExecute(ScriptedChatModel(script), [], max_replans=1).run("q")
    assert r.stop_reason == "step_failed" and r.answer is None and len(r.plans) == 2


def test_cli_plan_flag(capsys):
    assert main(["--plan", "2+2?", "--tools", "calculator", "--max-new-tokens", "4"]) in (0, 1)
    out = capsys.readouterr().out
    assert "[plan]" in out
