"""tinyqwen — a hand-written Qwen2 / Qwen3 (dense and MoE) you can read top to bottom.

Model, byte-level BPE tokenizer, checkpoint loading, generation, the Qwen chat template, and one
chat-model interface (a local model or an OpenAI-compatible endpoint) that tinyrag, tinyagent and
tinyeval consume.

    >>> import tinyqwen
    >>> llm = tinyqwen.connect("tiny-random")          # or a checkpoint dir, or http://host:8000/v1
    >>> llm.chat([{"role": "user", "content": "你好"}])["content"]   # doctest: +SKIP

Imports are lazy: ``import tinyqwen`` does not import torch until a model is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Qwen2Config": "tinyqwen.config",
    "Qwen2ForCausalLM": "tinyqwen.model",
    "AutoModelForCausalLM": "tinyqwen.auto",
    "KVCache": "tinyqwen.kv_cache",
    "Tokenizer": "tinyqwen.tokenizer",
    "train_bpe": "tinyqwen.tokenizer.bpe_train",
    "generate": "tinyqwen.generation",
    "stream_generate": "tinyqwen.generation",
    "render_chat": "tinyqwen.chat_template",
    "parse_tool_calls": "tinyqwen.chat_template",
    "Sampling": "tinyqwen.sampling",
    "ChatModel": "tinyqwen.chat_model",
    "LLM": "tinyqwen.llm",
    "OpenAIChatModel": "tinyqwen.openai_client",
    "connect": "tinyqwen.connection",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tinyqwen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
