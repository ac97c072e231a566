"""What one model turn meant, independent of the text protocol that produced it.

Both protocols (``react.py`` and ``qwen_tools.py``) turn the model's raw output into a ``Turn``:
zero or more ``ToolCall``s, or a final answer, or a format error that the agent sends back to the
model as an observation.

    >>> Turn(raw="Final Answer: 4", final_answer="4").is_final
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolCall", "Turn"]


@dataclass
class ToolCall:
    """One requested call. ``arguments`` is parsed JSON, or the raw string when it did not parse."""

    name: str
    arguments: dict | Any
    id: str = ""
    parse_error: str | None = None  # set when the arguments could not be recovered


@dataclass
class Turn:
    """The model's turn: a thought, tool calls, a final answer, or a format error."""

    raw: str
    thought: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    final_answer: str | None = None
    format_error: str | None = None  # what was wrong, phrased for the model
    reasoning: str = ""  # Qwen3 thinking (<think> / reasoning_content): traced, never parsed

    @property
    def is_final(self) -> bool:
        return self.final_answer is not None and not self.calls and self.format_error is None
