"""The Qwen2.5-Instruct chat template (ChatML + Hermes-style tool calls), in plain Python.

``render_chat`` produces exactly the bytes that Hugging Face's ``apply_chat_template`` produces with the
official Qwen2.5-Instruct jinja template (``trim_blocks``, ``lstrip_blocks``, ``tojson`` =
``json.dumps(ensure_ascii=False)``), without jinja at run time. ``parse_tool_calls`` turns the model's
``<tool_call>`` blocks back into OpenAI-style ``tool_calls``.

    >>> print(render_chat([{"role": "user", "content": "你好"}]), end="")
    <|im_start|>system
    You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>
    <|im_start|>user
    你好<|im_end|>
    <|im_start|>assistant
    >>> parse_tool_calls('<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>')
    ('', [{'id': 'call_0', 'type': 'function', 'function': {'name': 'f', 'arguments': '{"x": 1}'}}])

The layout the template produces::

    <|im_start|>system\\n{system prompt}[\\n\\n# Tools ... <tools>{one JSON per tool}</tools> ...]<|im_end|>\\n
    <|im_start|>user\\n{content}<|im_end|>\\n
    <|im_start|>assistant[\\n{content}][\\n<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>]...<|im_end|>\\n
    <|im_start|>user[\\n<tool_response>\\n{tool result}\\n</tool_response>]...<|im_end|>\\n   (consecutive tool messages share one turn)
    <|im_start|>assistant\\n                                   (add_generation_prompt)

``render_chat_segments`` returns the same text split into template markup and message data, so that a
tokenizer can treat special-token strings inside message data as plain text (no turn injection).

Where this differs from the jinja template, on purpose (only for inputs where jinja would silently
drop a message or crash): an empty message list, an unknown role, or non-string content raise
``ValueError``; ``content: None`` renders as ``""``; tool-call ``arguments`` given as a JSON string (as
OpenAI returns them) are parsed and rendered as the object, which is what vLLM does before applying
this template and what the model saw in training (jinja would render a quoted string).
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

DEFAULT_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

_TOOLS_HEADER = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
)

_ROLES = ("system", "user", "assistant", "tool")

# A segment is (text, is_markup): markup comes from the template itself; data comes from the caller.
Segment = tuple[str, bool]


class MalformedToolCallWarning(UserWarning):
    """A ``<tool_call>`` block whose body is not ``{"name": str, "arguments": object}`` JSON."""


def _tojson(value: Any) -> str:
    # HF's jinja `tojson`: json.dumps with ensure_ascii=False, default separators, keys not sorted.
    return json.dumps(value, ensure_ascii=False)


def _content(message: dict, index: int) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise ValueError(
            f"messages[{index}].content must be a string (got {type(content).__name__}); "
            "the Qwen2.5 template has no multi-part content"
        )
    return content


def _tool_call_arguments(arguments: Any, where: str) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}.arguments is a string but not valid JSON: {e}") from None
    return arguments


def render_chat_segments(
    messages: list[dict],
    tools: list[dict] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
) -> list[Segment]:
    """Render like ``render_chat`` but return ``[(text, is_markup), ...]`` pieces.

    Joining the texts gives ``render_chat``'s output. Markup pieces are the template's own text
    (``<|im_start|>``, role names, the tools preamble, ``<tool_call>`` wrappers); data pieces are
    message contents, tool JSON and tool-call names/arguments.
    """
    if not messages:
        raise ValueError("messages is empty: the Qwen2.5 template needs at least one message")
    if continue_final_message:
        last = messages[-1]
        if not isinstance(last, dict) or last.get("role") != "assistant" or last.get("tool_calls"):
            raise ValueError(
                "continue_final_message needs the last message to be an assistant message "
                "without tool_calls (the text the model should continue)"
            )
        if add_generation_prompt:
            raise ValueError("add_generation_prompt and continue_final_message exclude each other")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            role = m.get("role") if isinstance(m, dict) else m
            raise ValueError(f"messages[{i}] has role {role!r}; expected one of {_ROLES}")

    out: list[Segment] = []

    def markup(text: str) -> None:
        out.append((text, True))

    def data(text: str) -> None:
        if text:
            out.append((text, False))

    first_is_system = messages[0]["role"] == "system"
    if tools:
        markup("<|im_start|>system\n")
        if first_is_system:
            data(_content(messages[0], 0))
        else:
            markup(DEFAULT_SYSTEM_PROMPT)
        markup(_TOOLS_HEADER)
        for tool in tools:
            markup("\n")
            data(_tojson(tool))
        markup(_TOOLS_FOOTER)
    elif first_is_system:
        markup("<|im_start|>system\n")
        data(_content(messages[0], 0))
        markup("<|im_end|>\n")
    else:
        markup(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n")

    for i, message in enumerate(messages):
        role = message["role"]
        tool_calls = message.get("tool_calls")
        if (
            role == "user"
            or (role == "system" and i > 0)
            or (role == "assistant" and not tool_calls)
        ):
            markup(f"<|im_start|>{role}\n")
            data(_content(message, i))
            markup("<|im_end|>\n")
        elif role == "assistant":
            markup("<|im_start|>assistant")
            content = _content(message, i)
            if content:
                markup("\n")
                data(content)
            for j, call in enumerate(tool_calls):
                where = f"messages[{i}].tool_calls[{j}]"
                fn = call["function"] if "function" in call else call
                if "name" not in fn:
                    raise ValueError(f"{where} has no function name")
                markup('\n<tool_call>\n{"name": "')
                data(str(fn["name"]))
                markup('", "arguments": ')
                data(_tojson(_tool_call_arguments(fn.get("arguments", {}), where)))
                markup("}\n</tool_call>")
            markup("<|im_end|>\n")
        elif role == "tool":
            if i == 0 or messages[i - 1]["role"] != "tool":
                markup("<|im_start|>user")
            markup("\n<tool_response>\n")
            data(_content(message, i))
            markup("\n</tool_response>")
            if i == len(messages) - 1 or messages[i + 1]["role"] != "tool":
                markup("<|im_end|>\n")
        # else: the first system message, already rendered in the header.

    if continue_final_message:
        # leave the last assistant turn open: drop its closing "<|im_end|>\n" (as transformers'
        # apply_chat_template(continue_final_message=True) does), so the model continues that text
        assert out[-1] == ("<|im_end|>\n", True)
        out.pop()
    elif add_generation_prompt:
        markup("<|im_start|>assistant\n")
    return out


def render_chat(
    messages: list[dict],
    tools: list[dict] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
) -> str:
    """Render OpenAI-style ``messages`` (and ``tools``) as the Qwen2.5-Instruct prompt string.

    ``continue_final_message=True`` (with ``add_generation_prompt=False``) leaves the final assistant
    message open so that generation continues it — how a ReAct scratchpad is fed to a chat model
    without giving up the template's protection against special tokens inside the text.
    """
    segments = render_chat_segments(messages, tools, add_generation_prompt, continue_final_message)
    return "".join(text for text, _ in segments)


# A closed block, or an unclosed one running to the end of the text (generation stopped before
# `</tool_call>`): the same rule vLLM's hermes parser uses.
_TOOL_CALL_RE = re.compile(r"<tool_call>(.*?)</tool_call>|<tool_call>(.*)\Z", re.DOTALL)


def _parse_call(body: str) -> tuple[dict | None, str]:
    """Return ``(function, "")`` for a well-formed call body, else ``(None, reason)``."""
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as e:
        return None, f"invalid JSON ({e})"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None, 'missing a string "name"'
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        args_text = arguments  # already a JSON string (some models emit one)
    else:
        args_text = json.dumps(arguments, ensure_ascii=False)
    return {"name": name, "arguments": args_text}, ""


def parse_tool_calls(text: str) -> tuple[str, list[dict]]:
    """Split model output into ``(content, tool_calls)``.

    Each well-formed ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` block (whitespace
    around the JSON is ignored) becomes ``{"id": "call_<k>", "type": "function", "function":
    {"name": ..., "arguments": <JSON string>}}``, numbered in order. When there is at least one
    well-formed call, ``content`` is the remaining text with surrounding whitespace stripped;
    otherwise ``content`` is ``text`` unchanged. A malformed block stays in ``content`` verbatim and
    a ``MalformedToolCallWarning`` says why, so nothing the model wrote is lost.
    """
    calls: list[dict] = []
    kept: list[str] = []
    pos = 0
    for match in _TOOL_CALL_RE.finditer(text):
        body = match.group(1) if match.group(1) is not None else match.group(2)
        fn, reason = _parse_call(body.strip())
        kept.append(text[pos : match.start()])
        if fn is None:
            kept.append(match.group(0))
            warnings.warn(
                f"malformed <tool_call> block at character {match.start()} kept as text: {reason}; "
                f"block: {match.group(0)[:200]!r}",
                MalformedToolCallWarning,
                stacklevel=2,
            )
        else:
            calls.append({"id": f"call_{len(calls)}", "type": "function", "function": fn})
        pos = match.end()
    if not calls:
        return text, []
    kept.append(text[pos:])
    return "".join(kept).strip(), calls
