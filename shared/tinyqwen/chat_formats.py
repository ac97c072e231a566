"""Which chat template a checkpoint uses, and rendering with it: Qwen2.5, Qwen3, or plain ChatML.

tinyqwen renders templates in Python (no jinja at run time), so it recognises the checkpoint's jinja
template by what it contains and renders the matching hand-written one:

==========  ===================================================  ====================================
format      recognised by (in the checkpoint's template)         renderer
==========  ===================================================  ====================================
``qwen3``   ``enable_thinking`` or ``<think>``                    ``tinyqwen.chat_template_qwen3``
``qwen2.5`` Qwen2.5's default system prompt, or no template       ``tinyqwen.chat_template``
``chatml``  ``<|im_start|>`` without either of the above          ``render_chatml_segments`` below
==========  ===================================================  ====================================

The template is read from ``chat_template.jinja`` (transformers >= 4.43 saves it there) or the
``chat_template`` field of ``tokenizer_config.json`` (a string, or a list of named templates whose
``default`` entry is used).

    >>> detect_chat_format("{%- if enable_thinking is defined %}...")
    'qwen3'
    >>> detect_chat_format(None)
    'qwen2.5'

Limits: a template that is none of these (Llama, Mistral, ...) falls back to ``chatml`` with no
warning when it uses ``<|im_start|>``, else to ``qwen2.5``; those models are not supported anyway.
"""

from __future__ import annotations

import json
from pathlib import Path

from tinyqwen.chat_template import DEFAULT_SYSTEM_PROMPT, Segment, render_chat_segments
from tinyqwen.chat_template_qwen3 import render_qwen3_chat_segments

CHAT_FORMATS = ("qwen2.5", "qwen3", "chatml")


def read_chat_template(directory: str | Path) -> str | None:
    """The checkpoint's jinja chat template text, or None when it has none."""
    directory = Path(directory)
    jinja_file = directory / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    config_file = directory / "tokenizer_config.json"
    if not config_file.is_file():
        return None
    try:
        template = json.loads(config_file.read_text(encoding="utf-8")).get("chat_template")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise ValueError(f"{config_file}: not a valid JSON object ({e})") from None
    if isinstance(
        template, list
    ):  # [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


def detect_chat_format(template: str | None) -> str:
    """One of ``CHAT_FORMATS`` for a jinja template text (see the module docstring)."""
    if not template:
        return "qwen2.5"
    if "enable_thinking" in template or "<think>" in template:
        return "qwen3"
    if DEFAULT_SYSTEM_PROMPT in template or "<|im_start|>" not in template:
        return "qwen2.5"
    return "chatml"


def render_chatml_segments(
    messages: list[dict],
    tools: list[dict] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
) -> list[Segment]:
    """Plain ChatML: ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message, no default system
    prompt, no tools (``ValueError``)."""
    if tools:
        raise ValueError("this checkpoint's chat template (plain ChatML) has no tool support")
    if not messages:
        raise ValueError("messages is empty")
    out: list[Segment] = []
    for i, m in enumerate(messages):
        content = m.get("content") if isinstance(m, dict) else None
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ValueError(f"messages[{i}] has no string 'role'")
        if content is not None and not isinstance(content, str):
            raise ValueError(f"messages[{i}].content must be a string")
        out.append((f"<|im_start|>{m['role']}\n", True))
        if content:
            out.append((content, False))
        out.append(("<|im_end|>\n", True))
    if continue_final_message:
        if messages[-1].get("role") != "assistant" or add_generation_prompt:
            raise ValueError(
                "continue_final_message needs a final assistant message and no generation prompt"
            )
        out.pop()
    elif add_generation_prompt:
        out.append(("<|im_start|>assistant\n", True))
    return out


def render_segments(
    chat_format: str,
    messages: list[dict],
    tools: list[dict] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
    enable_thinking: bool | None = None,
) -> list[Segment]:
    """Render with ``chat_format``'s template (``enable_thinking`` only matters for ``qwen3``)."""
    if chat_format == "qwen3":
        return render_qwen3_chat_segments(
            messages, tools, add_generation_prompt, continue_final_message, enable_thinking
        )
    if chat_format == "chatml":
        return render_chatml_segments(
            messages, tools, add_generation_prompt, continue_final_message
        )
    if chat_format == "qwen2.5":
        return render_chat_segments(messages, tools, add_generation_prompt, continue_final_message)
    raise ValueError(f"unknown chat_format {chat_format!r}; expected one of {CHAT_FORMATS}")
