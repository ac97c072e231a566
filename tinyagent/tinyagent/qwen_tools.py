"""Qwen2.5's native tool-calling protocol: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.

The tools go to the backend as OpenAI-style schemas (``model.chat(messages, tools=...)``); a tinyqwen
backend renders them with the Qwen2.5 chat template (``tinyqwen.render_chat``: a ``# Tools`` section
in the system prompt with one JSON schema per line inside ``<tools></tools>``) and parses the reply with
``tinyqwen.parse_tool_calls``. The model may emit several ``<tool_call>`` blocks in one turn (parallel
calls); each result goes back as a ``tool`` message, rendered as ``<tool_response>...</tool_response>``.

When the backend could not parse a block (small models write single quotes, trailing commas, a code
fence, or forget the closing tag) the assistant message comes back with the raw ``<tool_call>`` text in
``content``; we recover it here with the lenient parser, and a bare ``{"name": ..., "arguments": ...}``
object without tags is accepted too. Whatever still fails becomes a format error for the model.

    >>> p = QwenProtocol([])
    >>> turn = p.parse_message({"role": "assistant", "content":
    ...     "<tool_call>\\n{'name': 'calc', 'arguments': {'x': 1,},}\\n</tool_call>"})
    >>> turn.calls[0].name, turn.calls[0].arguments
    ('calc', {'x': 1})

Limits: ``render`` shows the prompt a tinyqwen backend builds; a remote server with its own template
(vLLM, llama.cpp) may render the same messages differently.
"""

from __future__ import annotations

import json
import re

from tinyagent.parsing import JSONParseError, loads_lenient
from tinyagent.thinking import split_thinking
from tinyagent.tool import Tool
from tinyagent.turn import ToolCall, Turn
from tinyqwen.chat_model import ChatModel
from tinyqwen.sampling import Sampling

__all__ = ["QwenProtocol", "parse_tool_call_blocks"]

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|$)", re.S)


def _call_from_obj(obj: object, index: int) -> ToolCall | None:
    """A ToolCall from a decoded ``{"name", "arguments"}`` object (arguments may be a JSON string)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    error = None
    if isinstance(args, str):
        try:
            args = loads_lenient(args) if args.strip() else {}
        except JSONParseError as e:
            error = str(e)
    if error is None and not isinstance(args, dict):
        error = f"arguments must be a JSON object, got {type(args).__name__}"
    return ToolCall(name=obj["name"], arguments=args, id=f"call_{index}", parse_error=error)


def parse_tool_call_blocks(text: str) -> tuple[str, list[ToolCall], list[str]]:
    """(content without the blocks, recovered calls, error messages for blocks that failed)."""
    calls: list[ToolCall] = []
    errors: list[str] = []
    for i, m in enumerate(_BLOCK.finditer(text)):
        body = m.group(1).strip()
        try:
            obj = loads_lenient(body)
        except JSONParseError as e:
            errors.append(f"tool call #{i + 1} is not valid JSON: {e}")
            continue
        call = _call_from_obj(obj, i)
        if call is None:
            errors.append(f'tool call #{i + 1} must be {{"name": ..., "arguments": {{...}}}}')
        else:
            calls.append(call)
    content = _BLOCK.sub("", text).strip()
    return content, calls, errors


class QwenProtocol:
    """Per-run state for the native protocol: the OpenAI-format message list."""

    name = "qwen"

    def __init__(self, tools: list[Tool], instructions: str = "") -> None:
        self.tools = {t.name: t for t in tools}
        self.schemas = [t.schema for t in tools]
        self.instructions = instructions
        self.messages: list[dict] = []

    def start(self, question: str, history: list[dict] | None = None) -> None:
        self.messages = []
        if self.instructions:
            self.messages.append({"role": "system", "content": self.instructions})
        self.messages += list(history or [])
        self.messages.append({"role": "user", "content": question})
        self.question_index = len(self.messages) - 1  # memory.compact_run folds what follows

    def prompt(self) -> str:
        """The exact text a tinyqwen backend feeds the model for the current messages."""
        from tinyqwen import render_chat

        return render_chat(self.messages, tools=self.schemas or None, add_generation_prompt=True)

    def next_turn(self, model: ChatModel, sampling: Sampling) -> Turn:
        message = model.chat(self.messages, tools=self.schemas or None, sampling=sampling)
        return self.parse_message(message)

    def parse_message(self, message: dict) -> Turn:
        reasoning, content = split_thinking(message)  # calls come from the reply, never thoughts
        turn = self._parse(message, content)
        turn.reasoning = reasoning
        return turn

    def _parse(self, message: dict, content: str) -> Turn:
        calls: list[ToolCall] = []
        errors: list[str] = []
        for i, tc in enumerate(message.get("tool_calls") or []):
            fn = tc.get("function", tc)
            call = _call_from_obj(fn, i)
            if call is None:
                errors.append(f"tool call #{i + 1} has no function name")
                continue
            call.id = tc.get("id") or call.id
            calls.append(call)
        raw = content
        if "<tool_call>" in content:  # blocks the backend could not parse: recover them here
            content, more, block_errors = parse_tool_call_blocks(content)
            for k, call in enumerate(more, len(calls)):
                call.id = f"call_{k}"
            calls, errors = calls + more, errors + block_errors
        elif not calls and content.strip().startswith("{"):
            try:
                call = _call_from_obj(loads_lenient(content), 0)
            except JSONParseError:
                call = None
            if call is not None and call.name in self.tools:
                calls, content = [call], ""
        if calls:
            # some blocks parsed and some did not: run the good ones, tell the model about the rest
            partial = ("Invalid tool call: " + "; ".join(errors)) if errors else None
            turn = Turn(raw=raw or _render_calls(calls), thought=content.strip(), calls=calls)
            turn.format_error = partial
            return turn
        if errors:
            return Turn(
                raw=raw,
                thought=content.strip(),
                format_error="Invalid tool call: "
                + "; ".join(errors)
                + '. Write each call as <tool_call>\n{"name": "<tool>", "arguments": {...}}\n'
                "</tool_call>.",
            )
        if not content.strip():
            return Turn(raw=raw, format_error="Empty reply: call a tool or answer the question.")
        return Turn(raw=raw, thought="", final_answer=content.strip())

    def record(self, turn: Turn, observations: list[str]) -> None:
        if turn.format_error is not None and not turn.calls:
            self.messages.append({"role": "assistant", "content": turn.raw})
            self.messages.append({"role": "user", "content": f"Error: {turn.format_error}"})
            return
        tool_calls = []
        for i, c in enumerate(turn.calls):
            c.id = c.id or f"call_{i}"
            # unparsable arguments are kept as a JSON *string* value so the history still renders
            args = json.dumps(c.arguments, ensure_ascii=False)
            tool_calls.append(
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": args}}
            )
        self.messages.append(
            {"role": "assistant", "content": turn.thought, "tool_calls": tool_calls}
        )
        for c, obs in zip(turn.calls, observations):
            self.messages.append(
                {"role": "tool", "name": c.name, "tool_call_id": c.id, "content": obs}
            )
        if turn.format_error is not None:
            self.messages.append({"role": "user", "content": f"Error: {turn.format_error}"})


def _render_calls(calls: list[ToolCall]) -> str:
    """The canonical Qwen text of ``calls`` (for traces when the backend returned parsed calls)."""
    parts = []
    for c in calls:
        obj = {"name": c.name, "arguments": c.arguments}
        parts.append("<tool_call>\n" + json.dumps(obj, ensure_ascii=False) + "\n</tool_call>")
    return "\n".join(parts)
