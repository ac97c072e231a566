"""Qwen3-style thinking: keep the model's thoughts apart from its reply (and from tool calls).

A reasoning model writes ``<think>...</think>`` before its reply; an OpenAI-compatible server may
already have split it off into ``reasoning_content``. ``split_thinking`` returns both parts, so the
protocols parse tool calls and answers from the reply only (a ``<tool_call>`` the model merely
*considered* inside its thoughts is never executed) and the thoughts go to the trace::

    >>> split_thinking({"content": "<think>\\nmaybe f(1)?\\n</think>\\n\\nIt is 2."})
    ('maybe f(1)?', 'It is 2.')
    >>> split_thinking({"reasoning_content": "short", "content": "ok"})
    ('short', 'ok')
    >>> split_thinking("<think>never closed")
    ('never closed', '')

The rule for text is BFCL's and vLLM's: everything before the last ``</think>`` is reasoning (after
an opening ``<think>`` if there is one), the rest is the reply; an opening ``<think>`` that is never
closed (generation ran out) makes it all reasoning.
"""

from __future__ import annotations

__all__ = ["split_thinking"]


def split_thinking(message: dict | str) -> tuple[str, str]:
    """``(reasoning, reply)`` of an assistant message dict or of raw text."""
    if isinstance(message, dict):
        given = message.get("reasoning_content") or ""
        text = message.get("content") or ""
    else:
        given, text = "", message
    if "</think>" in text:
        head, *_, tail = text.split("</think>")
        reasoning = head.rstrip("\n").split("<think>")[-1].strip("\n")
        text = tail.lstrip("\n")
    elif text.lstrip().startswith("<think>"):
        reasoning, text = text.lstrip()[len("<think>") :].strip("\n"), ""
    else:
        reasoning = ""
    both = "\n".join(r for r in (given.strip("\n"), reasoning) if r)
    return both, text
