"""The native protocol builds exactly the conversation Qwen2.5 was trained on.

Golden fixture: the function-calling example of the Qwen2.5 docs (``shared/data/qwen25_tool_prompt``),
two parallel calls and their results. We replay the model's side of it through the agent with real
``Tool`` objects; the history the agent builds, rendered by tinyqwen's template, must equal the
documented prompt byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyagent import Agent, Tool
from tinyagent.scripted import ScriptedChatModel
from tinyqwen.data_cache import shared_dev_data

GOLDEN = (
    shared_dev_data(Path(__file__).resolve().parents[2])
    or Path("../shared/data (absent or hidden)")
) / "qwen25_tool_prompt"


@pytest.fixture
def golden():
    if not (GOLDEN / "qwen2.5_hermes_fncall_example_messages.json").is_file():
        pytest.skip(f"golden Qwen2.5 tool prompt not found at {GOLDEN}")
    spec = json.loads((GOLDEN / "qwen2.5_hermes_fncall_example_messages.json").read_text("utf-8"))
    text = (GOLDEN / "qwen2.5_hermes_fncall_rendered_example.txt").read_text("utf-8")
    return spec, text


def test_agent_history_renders_to_the_documented_prompt(golden):
    from tinyqwen import render_chat

    spec, text = golden
    results = {
        "get_current_temperature": {
            "temperature": 26.1,
            "location": "San Francisco, CA, USA",
            "unit": "celsius",
        },
        "get_temperature_date": {
            "temperature": 25.9,
            "location": "San Francisco, CA, USA",
            "date": "2024-10-01",
            "unit": "celsius",
        },
    }
    tools = []
    for t in spec["tools"]:
        f = t["function"]
        tools.append(
            Tool(
                f["name"], f["description"], f["parameters"], lambda _n=f["name"], **kw: results[_n]
            )
        )
    system, user, assistant, _, _, final = spec["messages"]
    # what Qwen2.5 generates for the assistant turn: one <tool_call> block per call
    generated = "\n".join(
        "<tool_call>\n" + json.dumps(c["function"], ensure_ascii=False) + "\n</tool_call>"
        for c in assistant["tool_calls"]
    )
    model = ScriptedChatModel([generated, final["content"]])
    agent = Agent(model, tools, "qwen", instructions=system["content"])
    result = agent.run(user["content"])
    assert result.answer == final["content"]
    assert model.chats[0]["tools"] == spec["tools"]
    history = model.chats[1]["messages"]
    rendered = render_chat(history + [final], tools=spec["tools"], add_generation_prompt=False)
    assert rendered == text
    # and what the model saw before its final answer is the documented prompt up to that turn
    seen = render_chat(history, tools=spec["tools"])
    assert text.startswith(seen) and seen.endswith(
        "</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )
