"""``connect(spec)``: turn what a user types after ``--model`` into a ``ChatModel``.

    >>> import tinyqwen
    >>> llm = tinyqwen.connect("tiny-random")                           # doctest: +SKIP
    >>> llm = tinyqwen.connect("~/models/Qwen2.5-0.5B-Instruct")        # doctest: +SKIP
    >>> llm = tinyqwen.connect("http://127.0.0.1:8000/v1#qwen2.5-7b")   # doctest: +SKIP

Four forms, tried in this order:

- ``"tiny-random"``: the built-in random toy model (``tinyqwen.tiny_random``); output is gibberish.
- ``"tiny-universe"``: the built-in ~4M-parameter model trained by ``python -m qwen_blog universe``
  (``tinyqwen.tiny_universe``), trained to call the calculator and the clock and to answer from
  sources, in a toy world (its model card has the held-out metrics).
- ``"http://…"`` / ``"https://…"``: an OpenAI-compatible endpoint (``tinyqwen.OpenAIChatModel``). The
  model name is the part after ``#``, else ``model_name``, else the first id ``/v1/models`` lists.
  ``api_key`` defaults to ``$OPENAI_API_KEY``.
- a directory (``~`` is expanded): a Hugging Face Qwen2 checkpoint, loaded as ``tinyqwen.LLM``;
  a PEFT LoRA adapter directory (``adapter_config.json``, no ``config.json``) loads its base
  (``base_model_name_or_path``) with the adapter merged (``tinyqwen.adapters``).

``adapter=DIR`` merges a LoRA adapter into a local model (a checkpoint directory, tiny-random or
tiny-universe).

Anything else raises ``ValueError`` naming the spec and the three forms. Imports happen only for
the form used, so connecting to a URL does not import torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinyqwen.chat_model import ChatModel

QUANTIZE_SCHEMES = (
    "int8",
    "int4",
)  # = tinyqwen.quant.SCHEMES (not imported here: no torch for URLs)


def add_quantize_argument(parser: argparse.ArgumentParser) -> None:
    """``--quantize int8|int4`` on a CLI that takes ``--model`` (its value goes to ``connect``)."""
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_SCHEMES,
        help="int8 or int4 weights for a local model (tinyqwen.quant, tinyqwen.int4)",
    )


FORMS = (
    "a checkpoint directory (config.json + *.safetensors + tokenizer files), "
    "'tiny-random', 'tiny-universe', or an OpenAI-compatible URL like http://127.0.0.1:8000/v1 "
    "(optionally ending in '#model-name')"
)


def connect(
    spec: str,
    model_name: str | None = None,
    api_key: str | None = None,
    adapter: str | Path | None = None,
    quantize: str | None = None,
) -> ChatModel:
    """Return the ``ChatModel`` that ``spec`` names (see the module docstring); ``quantize="int8"``
    / ``"int4"`` loads a local model with int8 / int4 weights (``tinyqwen.quant``, ``tinyqwen.int4``)."""
    spec = str(spec).strip()
    if adapter is not None or _is_adapter(spec):
        if quantize:
            raise ValueError(
                "quantize with a LoRA adapter is not supported (merge it, save, then quantize)"
            )
        return _connect_adapter(spec, adapter)
    if spec == "tiny-random":
        from tinyqwen.tiny_random import load_tiny_random

        return load_tiny_random(quantize)
    if spec == "tiny-universe":
        from tinyqwen.tiny_universe import load_tiny_universe

        return load_tiny_universe(quantize)
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


def _is_adapter(spec: str) -> bool:
    from tinyqwen.adapters import is_adapter_dir

    return (
        bool(spec) and Path(spec).expanduser().is_dir() and is_adapter_dir(Path(spec).expanduser())
    )


def _connect_adapter(spec: str, adapter: str | Path | None) -> ChatModel:
    """A local base model with a LoRA adapter merged in (``tinyqwen.adapters``)."""
    from tinyqwen.adapters import base_model_path, load_llm_with_adapter, merge_adapter

    if adapter is None:  # the spec itself is the adapter directory
        from tinyqwen.adapters import read_lora_config

        adapter = Path(spec).expanduser()
        base = read_lora_config(adapter).base_model_name_or_path
        if base in ("tiny-random", "tiny-universe"):  # built-in specs, not directories
            return _connect_adapter(base, adapter)
        return load_llm_with_adapter(base_model_path(adapter), adapter)
    adapter = Path(adapter).expanduser()
    if not adapter.is_dir():
        raise ValueError(f"adapter {str(adapter)!r} is not a directory")
    if spec.lower().startswith(("http://", "https://")):
        raise ValueError("an adapter can only be merged into a local model, not an HTTP endpoint")
    if spec == "tiny-random":
        from tinyqwen.llm import LLM
        from tinyqwen.tiny_random import build_tiny_random_model, load_tiny_random

        tok = load_tiny_random().tokenizer  # a fresh model: the shared one must stay unmerged
        llm = LLM(build_tiny_random_model(tok.vocab_size), tok, name=f"tiny-random+{adapter.name}")
        merge_adapter(llm.model, adapter)
        return llm
    if spec == "tiny-universe":
        from tinyqwen.tiny_universe import ASSET_DIR

        spec = str(ASSET_DIR)
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        raise ValueError(f"cannot merge an adapter into {spec!r}: not a checkpoint directory")
    return load_llm_with_adapter(path, adapter)
