"""The agent loop, driven by a scripted model that replays outputs a real small model could produce."""

from __future__ import annotations

import json

import pytest

from tinyagent import Agent, tool
from tinyagent.scripted import ScriptedChatModel
from tinyagent.tools.calculator import calculator

CALLS: list[tuple[str, dict]] = []


@tool
def lookup(city: str, unit: str = "C") -> str:
    """Current temperature of a city.

    Args:
        city: the city name.
        unit: C or F.
    """
    CALLS.append(("lookup", {"city": city, "unit": unit}))
    return {"北京": "21", "Paris": "18", "Tokyo": "25"}.get(city, "unknown") + unit


@tool
def boom(x: int) -> str:
    """Always fails.

    Args:
        x: anything.
    """
    CALLS.append(("boom", {"x": x}))
    raise ValueError(f"cannot handle {x}")


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def react(model, **kw):
    return Agent(model, [calculator, lookup, boom], "react", **kw)


def qwen(model, **kw):
    return Agent(model, [calculator, lookup, boom], "qwen", **kw)


# ------------------------------------------------------------------------------- ReAct


def test_react_multi_step_and_exact_prompts():
    model = ScriptedChatModel(
        [
            ' I need the temperature first.\nAction: lookup\nAction Input: {"city": "北京"}',
            ' Now convert to Fahrenheit.\nAction: calculator\nAction Input: {"expression": "21 * 9 / 5 + 32"}',
            " I now know the final answer.\nFinal Answer: 69.8°F",
        ]
    )
    agent = react(model)
    result = agent.run("北京现在多少华氏度？")
    assert result.answer == "69.8°F" and result.stop_reason == "final_answer"
    assert [s.kind for s in result.steps] == ["tool", "tool", "final"]
    assert [c.observation for s in result.steps for c in s.calls] == ["21C", "69.8"]
    assert CALLS == [("lookup", {"city": "北京", "unit": "C"})]
    # step 1 saw exactly what render() shows; step 3 saw both observations in the scratchpad
    assert model.prompts[0] == agent.render("北京现在多少华氏度？")
    assert model.prompts[0].endswith("<|im_start|>assistant\nThought:")
    assert model.prompts[2].endswith(
        'Action Input: {"expression": "21 * 9 / 5 + 32"}\nObservation: 69.8\nThought:'
    )
    assert "\nObservation: 21C\nThought: Now convert" in model.prompts[2]


def test_react_malformed_outputs_recovered():
    model = ScriptedChatModel(
        [
            # fenced, single-quoted, trailing comma, and a half-generated stop word at the end
            " look it up\nAction: lookup\nAction Input: ```json\n{'city': 'Paris', 'unit': 'F',}\n```\nObserv",
            # a bare string for a one-parameter tool, and an Observation the model invented itself
            " compute\nAction: `calculator`\nAction Input: 17*23\nObservation: 999 (made up)",
            # the ReAct paper's bracket form
            " again\nAction: calculator[2 ** 10]",
            " done\nFinal Answer: ok",
        ]
    )
    result = react(model).run("q")
    obs = [c.observation for s in result.steps for c in s.calls]
    assert obs == ["18F", "391", "1024"]
    assert result.answer == "ok"
    assert "999" not in model.prompts[2]  # the invented observation never reaches the scratchpad
    assert model.prompts[1].endswith("```\nObservation: 18F\nThought:")


def test_react_format_error_becomes_observation_then_recovers():
    model = ScriptedChatModel(
        [
            " I think the answer is 4",  # neither Action nor Final Answer
            " use the tool\nAction: calculator",  # Action without Action Input
            " ok\nFinal Answer: 4",
        ]
    )
    result = react(model).run("2+2?")
    assert [s.kind for s in result.steps] == ["format_error", "format_error", "final"]
    assert "Invalid format: write 'Action: <tool name>'" in model.prompts[1]
    assert "must be followed by a line 'Action Input: <JSON object>'" in model.prompts[2]
    assert result.answer == "4"


def test_react_unknown_tool_bad_args_and_exception_are_observations():
    model = ScriptedChatModel(
        [
            ' x\nAction: weather\nAction Input: {"city": "Paris"}',
            ' x\nAction: lookup\nAction Input: {"town": "Paris"}',
            ' x\nAction: boom\nAction Input: {"x": "7"}',
            ' x\nAction: Calculator\nAction Input: {"expression": "1+1"}',  # case-insensitive match
            " x\nFinal Answer: done",
        ]
    )
    result = react(model).run("q")
    obs = [c.observation for s in result.steps for c in s.calls]
    assert obs[0] == "Error: unknown tool 'weather'. Available tools: calculator, lookup, boom."
    assert (
        obs[1]
        == "Error: invalid arguments for lookup: unknown argument 'town'; valid arguments: city, unit"
    )
    assert obs[2] == "Error: boom raised ValueError: cannot handle 7"  # "7" coerced to 7
    assert obs[3] == "2"
    assert [c.ok for s in result.steps for c in s.calls] == [False, False, False, True]
    assert result.answer == "done"
    assert (
        "\nObservation: Error: boom raised ValueError: cannot handle 7\nThought:"
        in model.prompts[3]
    )


def test_react_loop_is_stopped():
    same = ' again\nAction: lookup\nAction Input: {"city": "Tokyo"}'
    model = ScriptedChatModel([same, same, same, " never reached\nFinal Answer: x"])
    result = react(model).run("q")
    assert result.stop_reason == "loop" and result.answer is None
    assert len(CALLS) == 1  # the tool ran once; the repeat was answered from memory
    second = result.steps[1].calls[0].observation
    assert second.startswith(
        "Error: repeated call. You already called lookup with these arguments at step 1"
    )
    assert "25C" in second
    assert result.steps[-1].kind == "stopped"
    assert len(model.outputs) == 1  # the model was not asked again after the loop was detected


def test_repeat_detection_uses_validated_arguments():
    # {"city": "Tokyo"} and {"city": "Tokyo", "unit": "C"} differ as text but are the same call
    model = ScriptedChatModel(
        [
            ' a\nAction: lookup\nAction Input: {"city": "Tokyo"}',
            ' b\nAction: lookup\nAction Input: {"unit": "C", "city": "Tokyo"}',
            " c\nFinal Answer: 25C",
        ]
    )
    result = react(model).run("q")
    assert len(CALLS) == 1 and result.answer == "25C"
    assert result.steps[1].calls[0].observation.startswith("Error: repeated call")


def test_max_steps():
    outputs = [
        f' step\nAction: calculator\nAction Input: {{"expression": "{i}+1"}}' for i in range(10)
    ]
    model = ScriptedChatModel(outputs)
    result = react(model, max_steps=3).run("q")
    assert result.stop_reason == "max_steps" and result.answer is None
    assert len(model.prompts) == 3
    assert [s.kind for s in result.steps] == ["tool", "tool", "tool", "stopped"]


# ------------------------------------------------------------------------------- Qwen native


def test_qwen_parallel_calls_and_messages():
    model = ScriptedChatModel(
        [
            {
                "content": "",
                "tool_calls": [
                    {
                        "id": "a",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"city": "北京"}'},
                    },
                    {
                        "id": "b",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": {"city": "Tokyo"}},
                    },
                ],
            },
            "北京 21C，巴黎 18C，东京 25C。",
        ]
    )
    agent = qwen(model)
    result = agent.run("三个城市的温度？")
    assert result.answer == "北京 21C，巴黎 18C，东京 25C。"
    assert [c["city"] for _, c in CALLS] == ["北京", "Paris", "Tokyo"]
    second = model.chats[1]["messages"]
    assert second[0] == {"role": "user", "content": "三个城市的温度？"}
    assert second[1]["role"] == "assistant" and len(second[1]["tool_calls"]) == 3
    # the history keeps the arguments as the model wrote them (a dict is serialised to a JSON string)
    assert second[1]["tool_calls"][2]["function"]["arguments"] == '{"city": "Tokyo"}'
    tools = [(m["tool_call_id"], m["name"], m["content"]) for m in second[2:]]
    assert tools == [("a", "lookup", "21C"), ("b", "lookup", "18C"), ("c", "lookup", "25C")]
    assert model.chats[0]["tools"] == [t.schema for t in agent.tools.values()]


def test_qwen_malformed_tool_calls_recovered():
    model = ScriptedChatModel(
        [
            # single quotes + trailing commas, two blocks, the second without its closing tag
            "Let me check.\n<tool_call>\n{'name': 'lookup', 'arguments': {'city': 'Paris',},}\n</tool_call>\n"
            '<tool_call>\n```json\n{"name": "calculator", "arguments": "{\\"expression\\": \\"2*3\\"}"}\n```',
            # a bare JSON call without the tags
            '{"name": "lookup", "arguments": {"city": "Tokyo"}}',
            "<tool_call>\nnot json at all\n</tool_call>",
            "done",
        ]
    )
    result = qwen(model).run("q")
    assert [s.kind for s in result.steps] == ["tool", "tool", "format_error", "final"]
    assert [c.observation for c in result.steps[0].calls] == ["18C", "6"]
    assert result.steps[0].thought == "Let me check."
    assert result.steps[1].calls[0].observation == "25C"
    assert result.steps[2].error.startswith("Invalid tool call: tool call #1 is not valid JSON")
    last = model.chats[3]["messages"][-1]
    assert last["role"] == "user" and last["content"].startswith("Error: Invalid tool call")
    assert result.answer == "done"


def test_qwen_loop_and_max_steps():
    call = {
        "tool_calls": [{"function": {"name": "calculator", "arguments": '{"expression": "1+1"}'}}]
    }
    result = qwen(ScriptedChatModel([call, call, call])).run("q")
    assert result.stop_reason == "loop"
    result = qwen(ScriptedChatModel([call, "still thinking"]), max_steps=1).run("q")
    assert result.stop_reason == "max_steps"


def test_parallel_partial_repeat_is_not_a_loop():
    first = {"tool_calls": [{"function": {"name": "lookup", "arguments": '{"city": "Paris"}'}}]}
    both = {
        "tool_calls": [
            {"function": {"name": "lookup", "arguments": '{"city": "Paris"}'}},
            {"function": {"name": "lookup", "arguments": '{"city": "Tokyo"}'}},
        ]
    }
    result = qwen(ScriptedChatModel([first, both, both, "answer"]), repeat_limit=1).run("q")
    # turn 2 repeats one call but makes a new one too; turn 3 repeats everything (strike 1)
    assert result.stop_reason == "final_answer" and len(CALLS) == 2


# ------------------------------------------------------------------------------- trace + stream


def test_trace_jsonl_and_streaming(tmp_path):
    seen = []
    model = ScriptedChatModel(
        [' x\nAction: calculator\nAction Input: {"expression": "6*7"}', " y\nFinal Answer: 42"]
    )
    trace = tmp_path / "runs" / "trace.jsonl"
    agent = react(
        model,
        trace_path=trace,
        on_step=lambda s: seen.append((s.index, s.kind, len(model.outputs))),
    )
    result = agent.run("6*7?")
    # on_step fired after step 1, while the final output was still unread: steps stream live
    assert seen == [(1, "tool", 1), (2, "final", 0)]
    lines = [json.loads(x) for x in trace.read_text("utf-8").splitlines()]
    assert [x["event"] for x in lines] == ["start", "step", "step", "end"]
    assert lines[0]["question"] == "6*7?" and lines[0]["protocol"] == "react"
    assert lines[0]["tools"][0]["function"]["name"] == "calculator"
    assert lines[1]["calls"][0] == {
        "name": "calculator",
        "arguments": {"expression": "6*7"},
        "observation": "42",
        "ok": True,
    }
    assert lines[-1] == {"event": "end", "answer": "42", "stop_reason": "final_answer"}
    assert result.answer == "42"


def test_constructor_errors():
    with pytest.raises(ValueError, match="protocol must be"):
        Agent(None, [], "json")
    with pytest.raises(ValueError, match="unique"):
        Agent(None, [calculator, calculator])


def test_qwen_partial_failure_and_unparsable_arguments_keep_history_renderable():
    from tinyqwen import render_chat

    model = ScriptedChatModel(
        [
            # one good block and one broken block in the same turn
            '<tool_call>\n{"name": "lookup", "arguments": {"city": "Paris"}}\n</tool_call>\n'
            "<tool_call>\n{name: lookup, arguments: {city: Tokyo}\n</tool_call>",
            # a backend that returned an arguments string that is not JSON
            {
                "tool_calls": [
                    {"id": "z", "function": {"name": "calculator", "arguments": "{expression: 2+2"}}
                ]
            },
            "final",
        ]
    )
    agent = qwen(model)
    result = agent.run("q")
    assert result.answer == "final"
    first = result.steps[0]
    assert [c.observation for c in first.calls] == ["18C"]
    assert first.error.startswith("Invalid tool call: tool call #2 is not valid JSON")
    history = model.chats[1]["messages"]
    assert history[-1]["role"] == "user" and history[-1]["content"].startswith(
        "Error: Invalid tool call"
    )
    obs = result.steps[1].calls[0].observation
    assert obs.startswith(
        "Error: could not parse the arguments for calculator: could not find valid JSON"
    )
    # the raw, invalid arguments are kept as a JSON string value, so every later prompt renders
    last = model.chats[2]["messages"]
    assert json.loads(last[-2]["tool_calls"][0]["function"]["arguments"]) == "{expression: 2+2"
    assert render_chat(last, tools=[t.schema for t in agent.tools.values()]).endswith(
        "<|im_start|>assistant\n"
    )


def test_backend_error_is_raised_and_traced(tmp_path):
    trace = tmp_path / "t.jsonl"
    model = ScriptedChatModel([' x\nAction: calculator\nAction Input: {"expression": "1+1"}'])
    with pytest.raises(RuntimeError, match="ran out of outputs"):
        react(model, trace_path=trace).run("q")
    last = json.loads(trace.read_text("utf-8").splitlines()[-1])
    assert last["event"] == "end" and last["stop_reason"].startswith(
        "backend_error: ScriptExhausted"
    )


def test_react_fenced_code_for_the_python_tool():
    from tinyagent.tools.python_exec import python
    from tinyagent.tools.sandbox import probe

    if not probe().ok:
        pytest.skip(f"no kernel sandbox for the python tool: {probe().reason}")

    model = ScriptedChatModel(
        [
            " run it\nAction: python\nAction Input:\n```python\nimport math\nprint(math.factorial(5))\n```",
            " done\nFinal Answer: 120",
        ]
    )
    result = Agent(model, [python], "react").run("5!?")
    assert result.steps[0].calls[0].arguments == {"code": "import math\nprint(math.factorial(5))"}
    assert result.steps[0].calls[0].observation == "120"


@pytest.mark.parametrize(
    "action_input, expected",
    [
        ('{"code": "print(1)"}', {"code": "print(1)"}),
        ("print({'a': 1})", {"code": "print({'a': 1})"}),  # a dict inside code is not the arguments
        ("x = [1, 2]\nprint(x)", {"code": "x = [1, 2]\nprint(x)"}),
        ("'abc'.upper()", {"code": "'abc'.upper()"}),
        ("'print(2)'", {"code": "print(2)"}),
        ('"print(3)"', {"code": "print(3)"}),
    ],
)
def test_react_bare_input_for_a_one_parameter_tool(action_input, expected):
    from tinyagent.react import parse_react
    from tinyagent.tools.python_exec import python

    turn = parse_react(f" t\nAction: python\nAction Input: {action_input}", {"python": python})
    assert turn.calls[0].arguments == expected and turn.calls[0].parse_error is None
