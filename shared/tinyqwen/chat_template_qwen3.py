"""The Qwen3 chat template (thinking mode, tools, ``reasoning_content``), in plain Python.

``render_qwen3_chat`` produces exactly the bytes of Hugging Face's ``apply_chat_template`` with the
official Qwen3 jinja template (``trim_blocks``, ``lstrip_blocks``, ``tojson`` =
``json.dumps(ensure_ascii=False)``), without jinja at run time:

    >>> print(render_qwen3_chat([{"role": "user", "content": "1+1?"}], enable_thinking=False), end="")
    <|im_start|>user
    1+1?<|im_end|>
    <|im_start|>assistant
    <think>
    <BLANKLINE>
    </think>
    <BLANKLINE>
    >>> parse_reasoning("<think>\\nadd them\\n</think>\\n\\n2")     # a reply -> (reasoning, content)
    ('add them', '2')

What it does differently from the Qwen2.5 template (``tinyqwen.chat_template``):

* **No default system prompt**; with tools the system turn holds the caller's system text (if any)
  followed by the same ``# Tools`` block.
* **Thinking.** The model writes ``<think>\\n...\\n</think>\\n\\n`` before its answer.
  ``enable_thinking=False`` pre-fills an *empty* think block after the generation prompt, which makes
  the model answer directly; ``True`` or ``None`` leaves the choice to the model.
* **Reasoning of earlier turns is dropped.** Let *q* be the index of the last real user query (a user
  message that is not just a ``<tool_response>`` block). Assistant turns after *q* -- the tool-calling
  steps of the current answer -- keep their reasoning inside ``<think>`` (the final message always
  gets a think block, even an empty one); assistant turns before *q* are rendered with their content
  only. An assistant's reasoning comes from ``reasoning_content``, or, when that is absent/None, from a
  ``<think>...</think>`` prefix of ``content`` (which is then removed from the content).
* Tool-call ``arguments`` given as a string are inserted verbatim (OpenAI returns them as a JSON
  string, so this is the JSON itself); objects are rendered with ``tojson``.

``render_qwen3_chat_segments`` returns the same text split into template markup and message data,
so that ``LLM.encode_chat`` can encode special-token strings inside message data as plain text.

Where this differs from the jinja template, on purpose (only for inputs where jinja would crash or
silently drop a message): an empty message list, an unknown role, or non-string content raise
``ValueError``; ``content: None`` renders as ``""``.
"""

from __future__ import annotations

import json
from typing import Any

from tinyqwen.chat_template import _TOOLS_FOOTER, Segment

# The Qwen3 tools header: Qwen2.5's, without the leading "\n\n" (added only after a system text)
_TOOLS_HEADER = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_ROLES = ("system", "user", "assistant", "tool")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string (got {type(value).__name__})")
    return value


def _tojson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _last_query_index(messages: list[dict]) -> int:
    """Index of the last user message that is a real query, not a relayed tool response."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m["role"] == "user":
            content = _text(m.get("content"), f"messages[{i}].content")
            if not (content.startswith("<tool_response>") and content.endswith("</tool_response>")):
                return i
    return len(messages) - 1


def split_reasoning(text: str) -> tuple[str, str]:
    """``(reasoning, content)`` of an assistant text with a ``<think>...</think>`` prefix.

    The template's own rule: reasoning is what precedes the last ``</think>`` (after any
    ``<think>``), newlines trimmed; content is what follows it, leading newlines removed. A text
    without ``</think>`` is all content (thinking disabled, or cut before it closed -- see
    ``ReasoningStream`` for the streaming case).
    """
    if THINK_CLOSE not in text:
        return "", text
    content = text.split(THINK_CLOSE)[-1].lstrip("\n")
    reasoning = text.split(THINK_CLOSE)[0].rstrip("\n").split(THINK_OPEN)[-1].lstrip("\n")
    return reasoning, content


def _assistant(
    message: dict, i: int, keep_reasoning: bool, markup, data
) -> None:  # fmt: skip
    content = _text(message.get("content"), f"messages[{i}].content")
    reasoning = message.get("reasoning_content")
    if reasoning is not None:
        reasoning = _text(reasoning, f"messages[{i}].reasoning_content")
    else:
        reasoning, content = split_reasoning(content) if THINK_CLOSE in content else ("", content)
    markup("<|im_start|>assistant\n")
    if keep_reasoning:
        markup("<think>\n")
        data(reasoning.strip("\n"))
        markup("\n</think>\n\n")
        data(content.lstrip("\n"))
    else:
        data(content)
    for j, call in enumerate(message.get("tool_calls") or []):
        where = f"messages[{i}].tool_calls[{j}]"
        if j > 0 or content:
            markup("\n")
        fn = call["function"] if call.get("function") else call
        if "name" not in fn:
            raise ValueError(f"{where} has no function name")
        markup('<tool_call>\n{"name": "')
        data(str(fn["name"]))
        markup('", "arguments": ')
        arguments = fn.get("arguments")
        data(arguments if isinstance(arguments, str) else _tojson(arguments))
        markup("}\n</tool_call>")
    markup("<|im_end|>\n")


def render_qwen3_chat_segments(
    messages: list[dict],
    tools: list[dict] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
    enable_thinking: bool | None = None,
) -> list[Segment]:
    """Render like ``render_qwen3_chat`` but return ``[(text, is_markup), ...]`` pieces."""
    if not messages:
        raise ValueError("messages is empty: the Qwen3 template needs at least one message")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            role = m.get("role") if isinstance(m, dict) else m
            raise ValueError(f"messages[{i}] has role {role!r}; expected one of {_ROLES}")
    if continue_final_message:
        last = messages[-1]
        if last["role"] != "assistant" or last.get("tool_calls"):
            raise ValueError(
                "continue_final_message needs the last message to be an assistant message "
                "without tool_calls (the text the model should continue)"
            )
        if add_generation_prompt:
            raise ValueError("add_generation_prompt and continue_final_message exclude each other")

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
            data(_text(messages[0].get("content"), "messages[0].content"))
            markup("\n\n")
        markup(_TOOLS_HEADER)
        for tool in tools:
            markup("\n")
            data(_tojson(tool))
        markup(_TOOLS_FOOTER)
    elif first_is_system:
        markup("<|im_start|>system\n")
        data(_text(messages[0].get("content"), "messages[0].content"))
        markup("<|im_end|>\n")

    last_query = _last_query_index(messages)
    n = len(messages)
    for i, m in enumerate(messages):
        role = m["role"]
        if role == "user" or (role == "system" and i > 0):
            markup(f"<|im_start|>{role}\n")
            data(_text(m.get("content"), f"messages[{i}].content"))
            markup("<|im_end|>\n")
        elif role == "assistant":
            # after the last query: the final message always shows a think block, earlier steps
            # of the current answer only when they have reasoning
            has_reasoning = bool(_reasoning_of(m, i))
            keep = i > last_query and (i == n - 1 or has_reasoning)
            _assistant(m, i, keep, markup, data)
        elif role == "tool":
            if i == 0 or messages[i - 1]["role"] != "tool":
                markup("<|im_start|>user")
            markup("\n<tool_response>\n")
            data(_text(m.get("content"), f"messages[{i}].content"))
            markup("\n</tool_response>")
            if i == n - 1 or messages[i + 1]["role"] != "tool":
                markup("<|im_end|>\n")
        # else: the first system message, already rendered above

    if continue_final_message:
        assert out[-1] == ("<|im_end|>\n", True)
        out.pop()  # leave the last assistant turn open, as transformers does
    elif add_generation_prompt:
        markup("<|im_start|>assistant\n")
        if enable_thinking is False:
            markup("<think>\n\n</think>\n\n")  # an empty thought: answer directly
    return out


def _reasoning_of(message: dict, i: int) -> str:
    reasoning = message.get("reasoning_content")
    if reasoning is not None:
        return _text(reasoning, f"messages[{i}].reasoning_content")
    return split_reasoning(_text(message.get("content"), f"messages[{i}].content"))[0]


def render_qwen3_chat(
    messages: list[dict],
    tools: list[dict] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
    enable_thinking: bool | None = None,
) -> str:
    """Render OpenAI-style ``messages`` (and ``tools``) as the Qwen3 prompt string."""
    segments = render_qwen3_chat_segments(
        messages, tools, add_generation_prompt, continue_final_message, enable_thinking
    )
    return "".join(text for text, _ in segments)


class ReasoningStream:
    """Split streamed assistant text into ``("reasoning", delta)`` / ``("content", delta)`` pieces.

    A reply that starts with ``<think>`` (after newlines) is reasoning up to ``</think>`` and content
    after it; any other reply is all content. A reply cut inside its thought (``max_new_tokens``) is
    all reasoning, with empty content. Newlines around each part are trimmed as the template does
    (``split_reasoning``); a tag cut across deltas is held back until it is complete.
    ``parse_reasoning`` applies the same machine to a whole reply, so streamed and non-streamed
    replies always agree.

        >>> s = ReasoningStream()
        >>> [p for d in ["<thi", "nk>\\nhm", "m\\n</th", "ink>\\n\\nok"] for p in s.push(d)] + s.finish()
        [('reasoning', 'hm'), ('reasoning', 'm'), ('content', 'ok')]

    ``thinking=False`` (the prompt pre-filled an empty think block) treats everything as content.
    Limit: a template that pre-fills ``<think>`` in the prompt (not Qwen3's) would need ``mode``
    ``"reasoning"`` from the start.
    """

    def __init__(self, thinking: bool = True) -> None:
        self.mode = "start" if thinking else "content"  # start -> reasoning -> content
        self._buf = ""  # text not yet classified
        self._held = ""  # trailing newlines of the reasoning, dropped if "</think>" follows
        self._fresh = True  # nothing emitted yet in the current part: strip leading newlines

    def push(self, delta: str) -> list[tuple[str, str]]:
        self._buf += delta
        out: list[tuple[str, str]] = []
        while True:
            if self.mode == "start":
                head = self._buf.lstrip("\n")
                if head.startswith(THINK_OPEN):
                    self._buf, self.mode = head[len(THINK_OPEN) :], "reasoning"
                    continue
                if THINK_OPEN.startswith(head):
                    return out  # may still become "<think>"
                self.mode = "content"
            if self.mode == "content":
                text, self._buf = self._buf, ""
                self._emit("content", text, out)
                return out
            end = self._buf.find(THINK_CLOSE)
            if end >= 0:
                self._emit("reasoning", self._buf[:end], out, final=True)
                self._buf = self._buf[end + len(THINK_CLOSE) :]
                self.mode, self._fresh = "content", True
                continue
            cut = len(self._buf) - _partial_suffix(self._buf, THINK_CLOSE)
            self._emit("reasoning", self._buf[:cut], out)
            self._buf = self._buf[cut:]
            return out

    def _emit(self, kind: str, text: str, out: list, final: bool = False) -> None:
        if self._fresh:
            text = text.lstrip("\n")
        if kind == "reasoning":
            text = self._held + text
            body = text.rstrip("\n")
            self._held = "" if final else text[len(body) :]
            text = body
        if text:
            self._fresh = False
            out.append((kind, text))

    def finish(self) -> list[tuple[str, str]]:
        """Flush what is held back at the end of the reply (an unfinished tag is plain text)."""
        out: list[tuple[str, str]] = []
        if self.mode == "start":
            self.mode = "content"
        self._emit(self.mode, self._buf, out, final=True)
        self._buf = ""
        return out


def parse_reasoning(text: str, thinking: bool = True) -> tuple[str, str]:
    """``(reasoning, content)`` of a whole reply, by the rules of ``ReasoningStream``.

    >>> parse_reasoning("<think>\\nadd them\\n</think>\\n\\n2")
    ('add them', '2')
    >>> parse_reasoning("2")
    ('', '2')
    """
    stream = ReasoningStream(thinking)
    parts = stream.push(text) + stream.finish()
    reasoning = "".join(t for kind, t in parts if kind == "reasoning")
    return reasoning, "".join(t for kind, t in parts if kind == "content")


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0
