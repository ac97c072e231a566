"""``connect(spec)``: turn what a user types after ``--model`` into a ``ChatModel``.

    >>> import tinyqwen
    >>> llm = tinyqwen.connect("tiny-random")                           # doctest: +SKIP
    >>> llm = tinyqwen.connect("~/models/Qwen2.5-0.5B-Instruct")        # doctest: +SKIP
    >>> llm = tinyqwen.connect("http://127.0.0.1:8000/v1#qwen2.5-7b")   # doctest: +SKIP

Three forms, tried in this order:

- ``"tiny-random"``: the built-in random toy model (``tinyqwen.tiny_random``); output is gibberish.
- ``"http://…"`` / ``"https://…"``: an OpenAI-compatible endpoint (``tinyqwen.OpenAIChatModel``). The
  model name is the part after ``#``, else ``model_name``, else the first id ``/v1/models`` lists.
  ``api_key`` defaults to ``$OPENAI_API_KEY``.
- a directory (``~`` is expanded): a Hugging Face Qwen2 checkpoint, loaded as ``tinyqwen.LLM``.

Anything else raises ``ValueError`` naming the spec and the three forms. Imports happen only for
the form used, so connecting to a URL does not import torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinyqwen.chat_model import ChatModel

FORMS = (
    "a checkpoint directory (config.json + *.safetensors + tokenizer files), "
    "'tiny-random', or an OpenAI-compatible URL like http://127.0.0.1:8000/v1 "
    "(optionally ending in '#model-name')"
)


def connect(
    spec: str,
    model_name: str | None = None,
    api_key: str | None = None,
    quantize: str | None = None,
) -> ChatModel:
    """Return the ``ChatModel`` that ``spec`` names (see the module docstring); ``quantize="int8"``
    loads a local model with int8 weights (``tinyqwen.quant``)."""
    spec = str(spec).strip()
    if spec == "tiny-random":
        from tinyqwen.tiny_random import load_tiny_random

        return load_tiny_random(quantize)
    if spec.lower().startswith(("http://", "https://")):
        if quantize:
            raise ValueError(f"quantize={quantize!r} applies to local models, not to {spec!r}")
        from tinyqwen.openai_client import OpenAIChatModel

        url, _, fragment = spec.partition("#")
        return OpenAIChatModel(url, fragment or model_name or None, api_key=api_key)
    path = Path(spec).expanduser()
    if spec and path.is_dir():
        from tinyqwen.llm import LLM

        return LLM.from_pretrained(path, quantize=quantize)
    why = "it is a file, not a directory" if path.is_file() else "no such directory"
    raise ValueError(f"cannot use model spec {spec!r} ({why}); expected {FORMS}")
