"""The ``universe`` task: tiny-universe's held-out split, scored through the normal ChatModel path.

A scripted model answers a small held-out file (built here, in heldout.jsonl's format) either with
the gold replies or with wrong ones of every kind; the scores must be the exact numbers worked out
by hand. Then the real ``heldout.jsonl`` shipped with tinyqwen: it loads, every request is the exact
prefix the model was trained on, and the gold replies score 100. Last, the CLI on ``tiny-universe``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyeval.cli import _universe_examples, main
from tinyeval.metrics.universe import (
    citations,
    contains_value,
    evaluate,
    react_action,
    universe_checks,
)
from tinyeval.runner import run_task
from tinyeval.task import load_examples, load_task
from tinyeval.universe import REACT_STOP, SCRATCHPAD, asset_path, universe_rows

HELDOUT = asset_path("heldout.jsonl")
WEIGHTS = asset_path("model.safetensors")

# ----------------------------------------------------------------------------- a tiny held-out file

CALC = {"type": "function", "function": {"name": "calculator", "description": "Evaluate.",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                       "required": ["expression"]}}}  # fmt: skip
CLOCK = {"type": "function", "function": {"name": "current_time", "description": "The time.",
         "parameters": {"type": "object", "properties": {"timezone_name": {"type": "string",
                        "default": "UTC"}}}}}  # fmt: skip
RAG_SYSTEM = "Answer only from the numbered sources below and cite [n]."
SOURCES = "Sources:\n\n[1] (a.md)\nLongriver has a population of 37282.\n\n[2] (b.md)\n{fact}\n\nQuestion: {q}"


def _react_system(tool: dict) -> str:
    fn = tool["function"]
    return (
        f"You have access to the following tools:\n\n{fn['name']}: {fn['description']} "
        f"Parameters: {json.dumps(fn['parameters'])}\n\nUse the following format:\n\n"
        f"Action: the action to take, should be one of [{fn['name']}]\nBegin!"
    )


def _qwen(task: str, q: str, tools: list, name: str, args: dict, value: str) -> dict:
    call = {"id": "call_0", "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}  # fmt: skip
    msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "name": name, "content": "obs"}, {"role": "assistant", "content": value}]  # fmt: skip
    return {"task": task, "lang": "en", "messages": msgs, "tools": tools, "value": value,
            "arguments": args, "answer": value}  # fmt: skip


def _react(task: str, q: str, tool: dict, args: dict, value: str) -> dict:
    name = tool["function"]["name"]
    content = (f"{SCRATCHPAD} I should use the {name} tool.\nAction: {name}\nAction Input: "
               f"{json.dumps(args)}\nObservation: obs\nThought: done\nFinal Answer: {value}")  # fmt: skip
    msgs = [{"role": "system", "content": _react_system(tool)},
            {"role": "user", "content": f"Question: {q}"}, {"role": "assistant", "content": content}]  # fmt: skip
    return {"task": task, "lang": "en", "messages": msgs, "value": value, "arguments": args,
            "answer": value}  # fmt: skip


def _rag(task: str, fact: str, q: str, answer: str, value, citation) -> dict:
    msgs = [{"role": "system", "content": RAG_SYSTEM},
            {"role": "user", "content": SOURCES.format(fact=fact, q=q)},
            {"role": "assistant", "content": answer}]  # fmt: skip
    return {"task": task, "lang": "zh" if "镇" in q else "en", "messages": msgs, "answer": answer,
            "value": value, "citation": citation}  # fmt: skip


ROWS = [
    _qwen(
        "calc_qwen",
        "帮我算算906减687的结果。",
        [CALC],
        "calculator",
        {"expression": "906 - 687"},
        "219",
    ),
    _qwen("calc_qwen", "12 times 47?", [CALC], "calculator", {"expression": "12 * 47"}, "564"),
    _react("calc_react", "69 plus 330?", CALC, {"expression": "69 + 330"}, "399"),
    _qwen(
        "clock_qwen",
        "What day is it in Bangkok?",
        [CALC, CLOCK],
        "current_time",
        {"timezone_name": "Asia/Bangkok"},
        "Monday",
    ),  # fmt: skip
    _react("clock_react", "Do you have the time?", CLOCK, {}, "19:27"),
    _rag(
        "rag",
        "Mapleton's product is honey.",
        "Product of Mapleton?",
        "The local product of Mapleton is honey [2].",
        "honey",
        2,
    ),  # fmt: skip
    _rag(
        "rag", "长河镇的海拔是992米。", "长河镇的海拔是多少？", "长河镇的海拔是992 [2]。", "992", 2
    ),
    _rag(
        "refuse",
        "Mapleton's product is honey.",
        "When was Mapleton founded?",
        "The documents do not say.",
        None,
        None,
    ),  # fmt: skip
    _rag("refuse", "长河镇的海拔是992米。", "长河镇建立于哪一年？", "文档中没有提到。", None, None),
    {
        "task": "chat",
        "lang": "en",
        "answer": "Hi!",
        "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}],
    },  # fmt: skip
]


def _wrong(text: str = "", call: tuple | None = None) -> dict:
    reply = {"role": "assistant", "content": text}
    if call:
        reply["tool_calls"] = [{"id": "call_0", "type": "function",
                                "function": {"name": call[0], "arguments": json.dumps(call[1])}}]  # fmt: skip
    return reply


# one wrong reply of a different kind per scored row (same order as ROWS)
WRONG = [
    _wrong(call=("calculator", {"expression": "906 + 687"})),  # valid call, wrong expression
    _wrong("12 * 47 = 564"),  # answered without calling the tool: invalid
    _wrong(" I should add.\nAction: calculator\nAction Input: 69 + 330"),  # input not JSON: invalid
    _wrong(call=("current_time", {})),  # valid, but UTC instead of Asia/Bangkok
    _wrong(" Let me see.\nAction: calendar\nAction Input: {}"),  # a tool that is not offered
    _wrong("The local product of Mapleton is honey [1]."),  # wrong citation
    _wrong("长河镇的海拔是1992 [2]。"),  # 992 only inside 1992
    _wrong("Mapleton was founded in 1754 [2]."),  # answers instead of refusing
    _wrong("我不知道。"),  # not the refusal sentence
]


def _gold_reply(row: dict) -> dict:
    first = next(m for m in row["messages"] if m["role"] == "assistant")
    if first.get("tool_calls"):
        return {"role": "assistant", "content": "", "tool_calls": first["tool_calls"]}
    text = first["content"]
    if row["task"].endswith("_react"):  # the model continues after "Thought:", stops at Observation
        text = text[len(SCRATCHPAD) :].split("\nObservation")[0]
    return {"role": "assistant", "content": text}


def _key(conversation: list[dict]) -> str:
    return json.dumps([m for m in conversation if m["role"] != "assistant"], ensure_ascii=False)


class UniverseScript:
    """A ChatModel that replies from a table keyed by the conversation, logging each call."""

    name = "scripted-universe"
    context_length = 4096
    capabilities = frozenset()

    def __init__(self, rows: list[dict], replies: list[dict]) -> None:
        self.table = {}
        for row, reply in zip(rows, replies):
            first = next(i for i, m in enumerate(row["messages"]) if m["role"] == "assistant")
            self.table[_key(row["messages"][:first])] = reply
        self.calls: list[dict] = []

    def chat_batch(self, conversations, *, tools=None, sampling=None, continue_final_message=False):
        self.calls.append({"n": len(conversations), "tools": tools, "stop": sampling.stop,
                           "continue": continue_final_message})  # fmt: skip
        replies = [dict(self.table[_key(c)]) for c in conversations]
        for r in replies:  # a real backend never returns the stop string or what follows
            for s in sampling.stop:
                r["content"] = r["content"].split(s)[0]
        return replies


@pytest.fixture
def small_task(tmp_path):
    (tmp_path / "heldout.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8"
    )
    cfg = json.loads(Path(load_task("universe").base_dir, "universe.json").read_text())
    cfg["data"]["path"] = "./heldout.jsonl"
    (tmp_path / "universe.json").write_text(json.dumps(cfg), encoding="utf-8")
    return load_task(str(tmp_path / "universe.json"))


def _run(task, replies, out):
    scored = [r for r in ROWS if r["task"] != "chat"]
    model = UniverseScript(scored, replies)
    return model, run_task(model, task, out, batch_size=4, progress=False)


# ----------------------------------------------------------------------------- the metric pieces


def test_safe_evaluator() -> None:
    assert evaluate("906 - 687") == 219 and evaluate("(3 + 4) * 2 ** 3") == 56
    assert evaluate("7 // 2") == 3 and evaluate("-7 % 3") == 2 and evaluate("1 / 4") == 0.25
    for bad in ("__import__('os').system('x')", "sqrt(4)", "a + 1", "2 ** 1000", "9 ** 64 ** 2",
                "1 / 0", "(1).real", "[1] * 3", "1 +", "True + 1"):  # fmt: skip
        with pytest.raises(ValueError):
            evaluate(bad)


def test_react_action_value_and_citations() -> None:
    assert react_action(' go\nAction: calculator\nAction Input: {"expression": "1 + 2"}\nThought: x') == (
        "calculator", {"expression": "1 + 2"})  # fmt: skip
    # an invented observation ends the step; what follows it is not read
    assert react_action(" go\nObservation: 3\nAction: calculator\nAction Input: {}") is None
    assert react_action(" go\nAction: calculator\nAction Input: [1]") is None  # not an object
    assert react_action(" go\nAction: calculator\nThought: hm") is None  # no Action Input
    assert contains_value("is 992 [2].", "992") and not contains_value("is 1992 [2].", "992")
    assert contains_value("The product is Honey.", "honey") and not contains_value("steam", "tea")
    assert contains_value("特产是蜂蜜 [2]。", "蜂蜜")
    assert citations("a [2] b [1][2] c [10]") == [1, 2, 10]
    with pytest.raises(ValueError, match="unknown tiny-universe subtask 'chat'"):
        universe_checks("hi", {"subtask": "chat"})


# ----------------------------------------------------------------------------- scripted model runs


def test_gold_replies_score_100(small_task, tmp_path) -> None:
    scored = [r for r in ROWS if r["task"] != "chat"]
    model, out = _run(small_task, [_gold_reply(r) for r in scored], tmp_path / "good")
    assert out["n"] == 9 and out["score"] == 100.0
    m = out["metrics"]
    assert (m["format_valid"], m["call_correct"], m["clock_call_correct"]) == (100.0, 100.0, 100.0)
    assert (m["qa_exact"], m["refusal_acc"], m["false_refusal"]) == (100.0, 100.0, 0.0)
    # how the requests went out: tools for the qwen protocol, an open scratchpad for ReAct
    tools = [c["tools"] for c in model.calls]
    assert [CALC] in tools and [CALC, CLOCK] in tools and None in tools
    react = [c for c in model.calls if c["continue"]]
    assert react and all(set(REACT_STOP) <= set(c["stop"]) and c["tools"] is None for c in react)
    assert sum(c["n"] for c in model.calls) == 9  # chat line skipped


def test_wrong_replies_score_0_with_the_right_breakdown(small_task, tmp_path) -> None:
    _, out = _run(small_task, WRONG, tmp_path / "bad")
    m = out["metrics"]
    assert out["score"] == 0.0
    assert m["format_valid"] == 40.0  # 2 of the 5 tool replies are well-formed calls
    assert (m["call_correct"], m["qa_exact"], m["refusal_acc"], m["false_refusal"]) == (
        0.0, 0.0, 0.0, 0.0)  # fmt: skip
    assert m["by_subtask"]["calc_qwen"] == {"n": 2, "score": 0.0, "format_valid": 50.0}


def test_mixed_replies_exact_numbers(small_task, tmp_path) -> None:
    scored = [r for r in ROWS if r["task"] != "chat"]
    replies = [_gold_reply(r) if i % 2 else WRONG[i] for i, r in enumerate(scored)]
    _, out = _run(small_task, replies, tmp_path / "mixed")
    m = out["metrics"]
    assert out["score"] == 44.44  # right: rows 1, 3, 5, 7 of 9
    assert (m["format_valid"], m["call_correct"], m["clock_call_correct"]) == (60.0, 33.33, 50.0)
    assert (m["qa_exact"], m["refusal_acc"], m["false_refusal"]) == (50.0, 50.0, 0.0)
    assert m["by_subtask"] == {
        "calc_qwen": {"n": 2, "score": 50.0, "format_valid": 100.0},
        "calc_react": {"n": 1, "score": 0.0, "format_valid": 0.0},
        "clock_qwen": {"n": 1, "score": 100.0, "format_valid": 100.0},
        "clock_react": {"n": 1, "score": 0.0, "format_valid": 0.0},
        "rag": {"n": 2, "score": 50.0},
        "refuse": {"n": 2, "score": 50.0},
    }
    # the same numbers come back from the prediction file through `report`
    assert main(["report", str(tmp_path / "mixed"), "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "| universe | 44.44 [" in md and "| calc_qwen | 2 | 50.00 | 100.00 |" in md
    assert "| format_valid | 60.00 | ≥ 98 |" in md
    # the demo's one-example-per-subtask view of the same file
    shown = _universe_examples(tmp_path / "mixed" / "universe.jsonl").splitlines()
    assert len(shown) == 7 and shown[1].split()[:2] == ["✗", "calc_qwen"]
    assert shown[1].endswith('calculator({"expression": "906 + 687"})')
    assert "✓ clock_qwen   What day is it in Bangkok? -> current_time(" in shown[3]
    assert shown[5].split()[:2] == ["✓", "rag"] and "honey [2]" in shown[5]


def test_bad_heldout_line_names_file_and_line(tmp_path) -> None:
    row = _qwen("calc_qwen", "1 + 1?", [CALC], "calculator", {"expression": "1 + 1"}, "2")
    row["messages"][1] = {"role": "assistant", "content": "2"}  # gold turn lost its tool call
    path = tmp_path / "heldout.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"heldout.jsonl:2: the gold assistant turn .* no tool call"
    ):
        universe_rows(path)
    with pytest.raises(ValueError, match="unknown"):
        universe_rows(path, ["calc_qwen", "poetry"])


# ----------------------------------------------------------------------------- the real held-out file


def _real_rows() -> list[dict]:
    if not HELDOUT.is_file():
        pytest.skip(f"tiny-universe's heldout.jsonl is not installed at {HELDOUT}")
    return [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line]


def test_real_heldout_loads_from_the_asset_dir() -> None:
    rows = _real_rows()
    task = load_task("universe")
    assert task.data["path"] == "tiny-universe:heldout.jsonl"
    examples = load_examples(task)
    assert len(examples) == sum(r["task"] != "chat" for r in rows) > 0
    assert {e["subtask"] for e in examples} <= {r["task"] for r in rows} - {"chat"}
    assert len(load_examples(task, limit=5)) == 5


def test_real_requests_are_the_trained_prefix() -> None:
    """Each request renders to exactly the start of its training conversation (tools preamble,
    ReAct scratchpad and all), so the model is asked in the format it learned."""
    from tinyqwen import render_chat

    rows = _real_rows()
    for where, ex in universe_rows(HELDOUT):
        row = rows[int(where.rsplit(":", 1)[1]) - 1]
        cont = ex["conversation"][-1]["role"] == "assistant"
        asked = render_chat(
            ex["conversation"], ex.get("tools"), add_generation_prompt=not cont,
            continue_final_message=cont,
        )  # fmt: skip
        assert render_chat(row["messages"], row.get("tools")).startswith(asked), where


def test_real_gold_replies_score_100(tmp_path) -> None:
    rows = [r for r in _real_rows() if r["task"] != "chat"]
    model = UniverseScript(rows, [_gold_reply(r) for r in rows])
    out = run_task(model, load_task("universe"), tmp_path, batch_size=16, progress=False)
    assert out["n"] == len(rows) and out["score"] == 100.0
    assert out["metrics"]["format_valid"] == 100.0 and out["metrics"]["false_refusal"] == 0.0


# ----------------------------------------------------------------------------- CLI on tiny-universe


def _need_model() -> None:
    if not (HELDOUT.is_file() and WEIGHTS.is_file()):
        pytest.skip(f"tiny-universe is not installed in {HELDOUT.parent}")


def test_cli_run_and_report_on_tiny_universe(tmp_path, capsys) -> None:
    _need_model()
    out = tmp_path / "run"
    args = ["run", "--model", "tiny-universe", "--task", "universe", "--limit", "6"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    recs = [json.loads(x) for x in (out / "universe.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and all(isinstance(r["pred"], str) and r["subtask"] for r in recs)
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "| universe |" in md and "(n=6)" in md and "## Per subtask" in md


def test_demo_defaults_to_tiny_universe(tmp_path, capsys) -> None:
    _need_model()
    assert main(["demo", "--out", str(tmp_path), "--limit", "2", "--quiet"]) == 0
    meta = json.loads((tmp_path / "metrics.json").read_text())
    assert meta["universe"]["model"] == "tiny-universe" and meta["universe"]["n"] == 2
    assert {"demo_qa_zh", "demo_mc", "demo_ppl"} <= set(meta)
    assert (tmp_path / "report" / "report.md").is_file()
    assert capsys.readouterr().out.rstrip().endswith("|")  # ends with the report's last table row
    # the weights are part of who predicted: an older tiny-universe's file (same name) starts over
    models = json.loads((tmp_path / "demo_models.json").read_text())
    assert models["universe"].startswith("tiny-universe@") and len(set(models.values())) == 1
    models["universe"] = "tiny-universe@0000000000000000"
    (tmp_path / "demo_models.json").write_text(json.dumps(models))
    assert main(["demo", "--out", str(tmp_path), "--limit", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "universe.jsonl was predicted by tiny-universe@0000000000000000; starting it over" in err
    assert "demo_mc.jsonl was predicted" not in err  # the same model's predictions are kept
    assert json.loads((tmp_path / "demo_models.json").read_text())["universe"] != models["universe"]


def test_model_id_changes_with_the_weights(tmp_path) -> None:
    from tinyeval.cli import _model_id

    class Named:
        name = "my-model"

    (tmp_path / "model.safetensors").write_bytes(b"weights v1")
    first = _model_id(str(tmp_path), Named())
    assert first.startswith("my-model@") and first == _model_id(str(tmp_path), Named())
    (tmp_path / "model.safetensors").write_bytes(b"weights v2")
    assert _model_id(str(tmp_path), Named()) != first
    assert _model_id("http://127.0.0.1:8000/v1", Named()) == "my-model"  # an endpoint: its name


def test_missing_heldout_is_one_line_error(tmp_path, monkeypatch, capsys) -> None:
    import tinyqwen.tiny_universe as tu

    monkeypatch.setattr(tu, "ASSET_DIR", tmp_path / "nowhere")
    assert (
        main(["run", "--task", "universe", "--model", "tiny-random", "--out", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "heldout.jsonl" in err and "Traceback" not in err
