"""``tiny-universe``: the small Qwen2 trained on a CPU by ``python -m qwen_blog universe``, shipped here.

    >>> from tinyqwen.tiny_universe import load_tiny_universe
    >>> llm = load_tiny_universe()                                        # doctest: +SKIP
    >>> llm.chat([{"role": "user", "content": "你好"}]).text              # doctest: +SKIP
    '你好！我可以帮你算数、查时间，或者根据资料回答问题。'

Unlike ``tiny-random`` it was trained for a job, in a toy world: calling tinyagent's ``calculator``
and ``current_time`` tools (Qwen2.5 ``<tool_call>`` and ReAct formats), answering from tinyrag's
numbered sources with an ``[n]`` citation, refusing with tinyrag's sentence when the sources do not
say, and small talk. On held-out questions it calls the tools right most of the time (97 % of agent
runs end with the right answer) and the grounded answers not yet (14 % exact; see the model card). ``assets/tiny-universe/README.md`` has the recipe, the held-out metrics and the
command that reproduces it; the files are an ordinary Hugging Face checkpoint (fp16 safetensors,
``tokenizer.json``, the Qwen2.5 chat template), so ``transformers`` loads them too.

Limits: ~4.1M parameters trained for 54 minutes on generated data. Outside the corpus's templates
(arithmetic on two integers, five unit conversions, the clock, short documents about towns) it
fails -- ``assets/tiny-universe/README.md`` lists measured failure cases.
"""

from __future__ import annotations

import functools
from pathlib import Path

NAME = "tiny-universe"
ASSET_DIR = Path(__file__).resolve().parent / "assets" / NAME


def load_tiny_universe(quantize: str | None = None):
    """The shared ``tiny-universe`` ``LLM`` (loaded once per process, fp32 on CPU: the dtype its
    metrics were measured in; int8 / int4 weights with
    ``quantize="int8"`` / ``"int4"``)."""
    from tinyqwen.quant import check_scheme

    check_scheme(quantize)
    return _load(quantize)


@functools.lru_cache(maxsize=3)
def _load(quantize: str | None):
    import torch

    from tinyqwen.llm import LLM

    if not (ASSET_DIR / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"tiny-universe weights missing: {ASSET_DIR / 'model.safetensors'} "
            "(the tinyqwen package was installed without its assets)"
        )
    llm = LLM.from_pretrained(ASSET_DIR, dtype=torch.float32, device="cpu", quantize=quantize)
    llm.name = NAME
    return llm
