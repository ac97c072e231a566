"""SOP agents with a scripted model: branch, retry, hand-off + resume, max-steps, bad SOP files."""

from __future__ import annotations

import json

import pytest

from tinyagent.cli import main
from tinyagent.scripted import ScriptedChatModel
from tinyagent.sop import SOP, SOPRunner, load_sop
from tinyagent.sops import SOP_DIR
from tinyagent.sops.tools import EXAMPLE_TOOLS


def call(name: str, **args) -> str:
    return (
        "<tool_call>\n"
        + json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
        + "\n</tool_call>"
    )


LOOKUP_OK = [
    call("lookup_order", order_id="A1001"),
    json.dumps(
        {"order_id": "A1001", "status": "已签收", "days_since_delivery": 3, "amount": 199.0}
    ),
]


def test_refund_sop_branch_retry_and_trace(tmp_path):
    script = [
        call("lookup_order", order_id="A1001"),
        "订单已签收，3 天，199 元。",  # not JSON: retried with the error as a message
        LOOKUP_OK[1],
        "签收 3 天，在 7 天内。\nNEXT: 可以退款",
        call("issue_refund", order_id="A1001", amount=199.0),
        '{"refund_id": "R-A1001", "amount": 199}',
        "退款已受理：R-A1001，199 元，1-3 个工作日到账。",
    ]
    model = ScriptedChatModel(script)
    trace = tmp_path / "trace.jsonl"
    runner = SOPRunner(model, load_sop(SOP_DIR / "refund.json"), EXAMPLE_TOOLS, trace_path=trace)
    state = runner.run("我要退货，订单号 A1001")
    assert state.status == "done", state.error
    assert state.path == ["lookup", "decide", "confirm", "reply"]
    assert state.outputs["lookup"]["amount"] == 199.0
    assert state.outputs["confirm"] == {"refund_id": "R-A1001", "amount": 199.0}
    assert state.outputs["decide"] == "签收 3 天，在 7 天内。"  # the NEXT line is taken out
    rows = [json.loads(x) for x in trace.read_text().splitlines()]
    assert [r["step"] for r in rows] == state.path  # one trace line per SOP step
    assert rows[0]["attempts"] == 2 and rows[0]["calls"][0]["name"] == "lookup_order"
    retry_msgs = model.chats[2]["messages"]  # the retry saw its bad answer and the error
    assert (
        "上一个回答不合格" in retry_msgs[-1]["content"] and "不是 JSON" in retry_msgs[-1]["content"]
    )
    # the step's tools only: lookup sees lookup_order, decide sees none
    assert [t["function"]["name"] for t in model.chats[0]["tools"]] == ["lookup_order"]
    assert not model.chats[3]["tools"]


def test_handoff_saves_and_resumes(tmp_path):
    sop = load_sop(SOP_DIR / "refund.json")
    state_path = tmp_path / "state.json"
    first = ScriptedChatModel(
        [
            call("lookup_order", order_id="A1003"),
            json.dumps(
                {"order_id": "A1003", "status": "运输中", "days_since_delivery": 0, "amount": 329}
            ),
            "还没签收，需要确认用户是否拒收。\nNEXT: 需要问用户",
            "请问您是想拒收这个包裹，还是换一个已签收的订单？",
        ]
    )
    state = SOPRunner(first, sop, EXAMPLE_TOOLS, state_path=state_path).run("退款 A1003")
    assert state.status == "waiting_user" and state.current == "lookup"
    saved = json.loads(state_path.read_text())
    assert saved["status"] == "waiting_user" and "ask_user" in saved["outputs"]

    second = ScriptedChatModel(
        [*LOOKUP_OK, "NEXT: 不能退款", "抱歉，A1001 …"]  # then explain -> END
    )
    runner = SOPRunner(second, sop, EXAMPLE_TOOLS, state_path=state_path)
    with pytest.raises(ValueError, match="waiting for the user"):
        runner.resume(state_path)
    done = runner.resume(state_path, "换成订单 A1001")
    assert done.status == "done" and done.path[-3:] == ["lookup", "decide", "explain"]
    assert "换成订单 A1001" in second.chats[0]["messages"][-1]["content"]  # the reply is in context
    assert json.loads(state_path.read_text())["status"] == "done"


def test_paper_sop_loops_back_then_max_steps():
    script = [
        call("search_papers", query="ReAct reasoning"),
        '{"paper_ids": ["react"]}',
        call("read_paper", paper_id="react"),
        '{"notes": [{"id": "react", "method": "Thought/Action/Observation", "finding": "less hallucination"}]}',
        "还缺工具学习方面的论文。\nNEXT: 不够",
        '{"paper_ids": ["toolformer"]}',
    ]
    runner = SOPRunner(
        ScriptedChatModel(script), load_sop(SOP_DIR / "paper.json"), EXAMPLE_TOOLS, max_steps=4
    )
    state = runner.run("总结 LLM 使用工具的方法")
    assert state.path == ["search", "read", "enough", "search"]
    assert state.status == "failed" and state.error.startswith("max_steps")


def test_bad_branch_fails_after_bounded_retries():
    sop = SOP.from_dict(
        {
            "name": "b",
            "steps": [
                {"name": "pick", "instruction": "pick", "branches": {"a": "END", "b": "END"}}
            ],
        }
    )
    model = ScriptedChatModel(["NEXT: c", "no next line", "NEXT: d"])
    state = SOPRunner(model, sop, max_retries=2).run("x")
    assert state.status == "failed" and "NEXT" in state.error and len(model.chats) == 3
    # resuming a failed run retries the failed step
    done = SOPRunner(ScriptedChatModel(["NEXT: b"]), sop).resume(state)
    assert done.status == "done" and done.path == ["pick", "pick"] and done.error is None


@pytest.mark.parametrize(
    "data, message",
    [
        ({"steps": []}, "non-empty 'steps'"),
        ({"steps": [{"name": "a", "instruction": "i"}]}, "no transition"),
        ({"steps": [{"name": "a", "instruction": "i", "next": "zz"}]}, "unknown step 'zz'"),
        (
            {"steps": [{"name": "a", "instruction": "i", "next": "END", "tool": []}]},
            "unknown field",
        ),
    ],
)
def test_bad_sop_is_a_clear_error(data, message):
    with pytest.raises(ValueError, match=message):
        SOP.from_dict(data)


def test_missing_tool_is_named():
    with pytest.raises(ValueError, match="lookup_order"):
        SOPRunner(ScriptedChatModel([]), load_sop(SOP_DIR / "refund.json"), [])


def test_cli_sop(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert main(["sop", str(bad), "task"]) == 2
    assert "invalid JSON" in capsys.readouterr().err
    # tiny-random with the example SOP: the wiring runs end to end (gibberish fails the step)
    rc = main(
        [
            "sop",
            str(SOP_DIR / "refund.json"),
            "退款 A1001",
            "--max-new-tokens",
            "8",
            "--max-retries",
            "0",
            "--state",
            str(tmp_path / "s.json"),
        ]
    )
    out = capsys.readouterr().out
    assert (
        rc == 1
        and "[sop] lookup" in out
        and json.loads((tmp_path / "s.json").read_text())["status"] == "failed"
    )


def test_react_protocol_step_with_schema():
    sop = SOP.from_dict(
        {
            "name": "r",
            "steps": [
                {
                    "name": "search",
                    "instruction": "检索",
                    "tools": ["search_papers"],
                    "output": {
                        "type": "object",
                        "properties": {"paper_ids": {"type": "array", "items": {"type": "string"}}},
                        "required": ["paper_ids"],
                    },
                    "next": "END",
                }
            ],
        }
    )
    model = ScriptedChatModel(
        [
            ' 先检索。\nAction: search_papers\nAction Input: {"query": "ReAct reasoning"}',
            ' 找到了。\nFinal Answer: {"paper_ids": ["react"]}',
        ]
    )
    state = SOPRunner(model, sop, EXAMPLE_TOOLS, protocol="react").run("找 ReAct 论文")
    assert state.status == "done" and state.outputs["search"] == {"paper_ids": ["react"]}
    assert "Observation: " in model.prompts[1] and '"id": "react"' in model.prompts[1]


def test_yaml_sop_loads_like_json(tmp_path):
    yaml = pytest.importorskip("yaml")
    data = json.loads((SOP_DIR / "refund.json").read_text("utf-8"))
    path = tmp_path / "refund.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert load_sop(path) == load_sop(SOP_DIR / "refund.json")
