"""The hand-written Qwen3 chat template against the official jinja template, byte for byte.

``../shared/data/qwen3_chat_template/chat_template.jinja`` (Qwen3's published template, see its
SOURCE.md) is rendered with jinja2 exactly as transformers' ``apply_chat_template`` compiles it; 300
generated conversations cover every branch (system / tools / both, multi-turn, ``reasoning_content``
given, None or inline ``<think>``, thinking kept after the last query and dropped before it, tool
calls with and without the ``function`` wrapper, string and object arguments, consecutive tool
responses, user-relayed ``<tool_response>`` messages, ``enable_thinking`` absent / True / False).
Those tests skip when the folder is absent; the golden examples below (checked against the same
template when it is present) and the reasoning-split tests always run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tinyqwen.chat_template_qwen3 import (
    ReasoningStream,
    parse_reasoning,
    render_qwen3_chat,
    render_qwen3_chat_segments,
    split_reasoning,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "qwen3_chat_template"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询天气",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def hf_template():
    """The official template compiled the way transformers' apply_chat_template compiles it."""
    pytest.importorskip("jinja2")
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    if not (DATA / "chat_template.jinja").is_file():
        pytest.skip(f"fixture folder {DATA} is absent")
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    return env.from_string((DATA / "chat_template.jinja").read_text(encoding="utf-8"))


def jinja(template, messages, tools=None, add_generation_prompt=True, thinking="absent") -> str:
    kwargs = dict(messages=messages, tools=tools, add_generation_prompt=add_generation_prompt)
    if thinking != "absent":
        kwargs["enable_thinking"] = thinking
    return template.render(**kwargs)


# ------------------------------------------------------------------ golden examples (no data needed)

GOLDEN = [
    # thinking off: an empty think block after the generation prompt; no default system prompt
    (
        dict(messages=[{"role": "user", "content": "1+1?"}], enable_thinking=False),
        "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    ),
    # an earlier turn's thinking (inline <think>) is dropped; system text goes first
    (
        dict(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "<think>\ngreet\n</think>\n\nHello!"},
                {"role": "user", "content": "bye"},
            ]
        ),
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nbye<|im_end|>\n"
        "<|im_start|>assistant\n",
    ),
    # tools; after the last query the tool-calling step keeps its reasoning_content, the tool
    # result is a user turn, and the final answer (last message) always gets a think block
    (
        dict(
            messages=[
                {"role": "user", "content": "北京天气？"},
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "call the tool",
                    "tool_calls": [
                        {"function": {"name": "get_weather", "arguments": '{"city": "北京"}'}}
                    ],
                },
                {"role": "tool", "content": "晴"},
                {"role": "assistant", "content": "晴天。"},
            ],
            tools=[TOOL],
            add_generation_prompt=False,
        ),
        "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user "
        "query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        + json.dumps(TOOL, ensure_ascii=False)
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
        "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n北京天气？<|im_end|>\n"
        "<|im_start|>assistant\n<think>\ncall the tool\n</think>\n\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n晴\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n晴天。<|im_end|>\n",
    ),
]


@pytest.mark.parametrize("case", range(len(GOLDEN)))
def test_golden_examples(case):
    kwargs, want = GOLDEN[case]
    assert render_qwen3_chat(**kwargs) == want


@pytest.mark.parametrize("case", range(len(GOLDEN)))
def test_golden_examples_are_what_the_official_template_renders(hf_template, case):
    kwargs, want = GOLDEN[case]
    kwargs = dict(kwargs)
    thinking = kwargs.pop("enable_thinking", "absent")
    assert jinja(hf_template, thinking=thinking, **kwargs) == want


# ------------------------------------------------------------------ generated conversations

TEXTS = ["hi", "你好，世界", "a\nb", "\n lead", "trail\n\n", "x <|im_end|> y", '{"k": 1}', ""]


def _assistant(rng: random.Random, with_calls: bool) -> dict:
    m: dict = {"role": "assistant"}
    content = rng.choice(TEXTS[:-1] + ["42"])
    style = rng.randrange(5)
    if style == 1:  # inline thinking, newlines around it in several shapes
        thought = rng.choice(["plan", "多步\n推理", ""])
        content = rng.choice(["<think>\n", "<think>", "\n<think>\n\n"]) + thought
        content += rng.choice(["\n</think>\n\n", "</think>", "\n\n</think>\n"]) + rng.choice(TEXTS)
    elif style == 2:
        m["reasoning_content"] = rng.choice(["why", "\nwhy\n", "", "两步"])
    elif style == 3:
        m["reasoning_content"] = None
        if rng.random() < 0.5:
            content = "<think>r</think>" + content
    elif style == 4:  # reasoning_content given AND an inline block: the field wins, content stays
        m["reasoning_content"] = "field"
        content = "<think>inline</think>\n" + content
    m["content"] = content
    if with_calls:
        if rng.random() < 0.3:
            m["content"] = ""
        calls = []
        for j in range(rng.randint(1, 3)):
            args = rng.choice([{"city": "北京", "n": j}, '{"city": "Paris"}', {}, "not json"])
            fn = {"name": rng.choice(["get_weather", "search"]), "arguments": args}
            calls.append(
                {"id": f"c{j}", "type": "function", "function": fn} if rng.random() < 0.7 else fn
            )
        m["tool_calls"] = calls
    return m


def generate_conversation(rng: random.Random) -> tuple[list[dict], list | None, bool, object]:
    messages: list[dict] = []
    if rng.random() < 0.5:
        messages.append(
            {"role": "system", "content": rng.choice(["You are helpful.", "系统\n提示"])}
        )
    for _ in range(rng.randint(1, 4)):
        messages.append({"role": "user", "content": rng.choice(TEXTS[:-1])})
        for _step in range(rng.randint(0, 2)):  # tool-calling steps of this answer
            messages.append(_assistant(rng, with_calls=True))
            for k in range(rng.randint(1, 3)):
                messages.append(
                    {"role": "tool", "content": rng.choice(['{"temp": 20}', "晴", f"r{k}"])}
                )
            if rng.random() < 0.2:  # a client that relays tool output as a user message
                messages.append(
                    {"role": "user", "content": "<tool_response>\nok\n</tool_response>"}
                )
            if rng.random() < 0.1:
                messages.append({"role": "system", "content": "mid-conversation system"})
        if rng.random() < 0.75:
            messages.append(_assistant(rng, with_calls=False))
    tools = rng.choice(
        [None, [], [TOOL], [TOOL, {"type": "function", "function": {"name": "search"}}]]
    )
    add_generation_prompt = messages[-1]["role"] != "assistant" or rng.random() < 0.3
    thinking = rng.choice(["absent", True, False, None])
    return messages, tools, add_generation_prompt, thinking


def test_300_generated_conversations_match_the_official_template(hf_template):
    rng = random.Random(15)
    seen = set()
    for _ in range(300):
        messages, tools, agp, thinking = generate_conversation(rng)
        want = jinja(hf_template, messages, tools, agp, thinking)
        got = render_qwen3_chat(
            messages, tools, agp, enable_thinking=None if thinking == "absent" else thinking
        )
        assert got == want, (messages, tools, agp, thinking)
        seen.update(_branches(messages, tools, agp, thinking, want))
    assert seen == ALL_BRANCHES, ALL_BRANCHES - seen


ALL_BRANCHES = {
    "system", "tools", "tools+system", "reasoning_field", "inline_think", "kept_think",
    "dropped_think", "tool_calls", "string_args", "object_args", "multi_tool", "relayed_user",
    "thinking_off", "no_generation_prompt", "mid_system",
}  # fmt: skip


def _branches(messages, tools, agp, thinking, rendered) -> set[str]:
    b = set()
    if messages[0]["role"] == "system":
        b.add("tools+system" if tools else "system")
    if tools:
        b.add("tools")
    for i, m in enumerate(messages):
        if m.get("reasoning_content"):
            b.add("reasoning_field")
        if "</think>" in (m.get("content") or "") and m.get("reasoning_content") is None:
            b.add("inline_think")
        for c in m.get("tool_calls", []):
            b.add("tool_calls")
            args = (c.get("function") or c)["arguments"]
            b.add("string_args" if isinstance(args, str) else "object_args")
        if m["role"] == "tool" and i > 0 and messages[i - 1]["role"] == "tool":
            b.add("multi_tool")
        if m["role"] == "user" and m["content"].startswith("<tool_response>"):
            b.add("relayed_user")
        if m["role"] == "system" and i > 0:
            b.add("mid_system")
    if rendered.count("<think>") > (1 if thinking is False and agp else 0):
        b.add("kept_think")
    if any(m["role"] == "assistant" and "</think>" in (m.get("content") or "") for m in messages):
        if "<think>r</think>" not in rendered:
            b.add("dropped_think")
    if thinking is False and agp:
        b.add("thinking_off")
    if not agp:
        b.add("no_generation_prompt")
    return b


# ------------------------------------------------------------------ segments and errors


def test_segments_mark_message_data_as_data():
    msgs = [{"role": "user", "content": "<|im_end|>x"}]
    segs = render_qwen3_chat_segments(msgs, enable_thinking=False)
    assert ("<|im_end|>x", False) in segs
    assert all(is_markup for text, is_markup in segs if text != "<|im_end|>x")


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        render_qwen3_chat([])
    with pytest.raises(ValueError, match="role 'bot'"):
        render_qwen3_chat([{"role": "bot", "content": "x"}])
    with pytest.raises(ValueError, match=r"messages\[0\].content must be a string"):
        render_qwen3_chat([{"role": "user", "content": ["x"]}])


def test_continue_final_message_leaves_the_turn_open():
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Thought: I"}]
    text = render_qwen3_chat(msgs, add_generation_prompt=False, continue_final_message=True)
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\nThought: I")


# ------------------------------------------------------------------ reasoning / content split


@pytest.mark.parametrize(
    "text, reasoning, content",
    [
        ("<think>\nplan\n</think>\n\nanswer", "plan", "answer"),
        ("\n<think>a\n\nb\n\n</think>ok", "a\n\nb", "ok"),
        ("<think>\n\n</think>\n\nx", "", "x"),
        ("plain answer", "", "plain answer"),
        ("<think>\ncut off mid-thou", "cut off mid-thou", ""),  # max_new_tokens inside the thought
        ("<thin", "", "<thin"),
        ("a </think> b", "", "a </think> b"),  # no opening tag: all content
    ],
)
def test_parse_reasoning(text, reasoning, content):
    assert parse_reasoning(text) == (reasoning, content)
    assert parse_reasoning(text, thinking=False) == ("", text.lstrip("\n"))


def test_streamed_split_equals_whole_split_for_every_cut():
    rng = random.Random(0)
    texts = ["<think>\nplan\nmore\n\n</think>\n\nanswer\n", "\n\n<think>x</think>y", "no think\n"]
    for text in texts:
        want = parse_reasoning(text)
        for _ in range(50):
            cuts = sorted(rng.sample(range(1, len(text)), k=min(4, len(text) - 1)))
            pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
            stream = ReasoningStream()
            parts = [p for piece in pieces for p in stream.push(piece)] + stream.finish()
            got = (
                "".join(t for k, t in parts if k == "reasoning"),
                "".join(t for k, t in parts if k == "content"),
            )
            assert got == want, pieces


def test_split_reasoning_is_the_templates_rule():
    assert split_reasoning("<think>\nr\n</think>\n\nc") == ("r", "c")
    assert split_reasoning("no tags") == ("", "no tags")
