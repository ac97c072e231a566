"""``AutoModelForCausalLM``: load whichever Qwen family a checkpoint directory holds.

    >>> from tinyqwen import AutoModelForCausalLM
    >>> model = AutoModelForCausalLM.from_pretrained("Qwen3-0.6B")            # doctest: +SKIP
    >>> model.config.model_type, model.config.qk_norm                          # doctest: +SKIP
    ('qwen3', True)

``config.json``'s ``model_type`` decides: ``qwen2`` (Qwen2, Qwen2.5), ``qwen3``, ``qwen2_moe`` and
``qwen3_moe`` all load into ``tinyqwen.model.Qwen2ForCausalLM``, whose few family-specific branches
(QK-norm, attention biases, sparse MoE MLPs) read the config. Any other ``model_type`` (``llama``,
``mistral``, ``gemma``, ...) is one ``ValueError`` naming it and the supported list, raised before any
weight is read -- never a confusing "missing tensor" error.

Every tinyqwen entry point that takes a model path (``LLM.from_pretrained``, ``connect``, the CLIs,
``qwen_blog``) loads through here.
"""

from __future__ import annotations

import os

import torch

from tinyqwen.config import MODEL_TYPES, Qwen2Config
from tinyqwen.model import Qwen2ForCausalLM

SUPPORTED_MODEL_TYPES = MODEL_TYPES


class AutoModelForCausalLM:
    """Namespace for ``from_pretrained`` / ``from_config`` (not instantiated)."""

    def __init__(self) -> None:
        raise TypeError(
            "use AutoModelForCausalLM.from_pretrained(path) or AutoModelForCausalLM.from_config(config)"
        )

    @staticmethod
    def from_pretrained(
        path: str | os.PathLike,
        dtype: torch.dtype | str | None = None,
        device: torch.device | str | None = None,
        quantize: str | None = None,
    ) -> Qwen2ForCausalLM:
        """Load ``path`` (a Hugging Face model directory) in eval mode (``quantize="int8"`` /
        ``"int4"``: int8 / int4 weights, ``tinyqwen.quant``).

        ``dtype=None`` picks bf16 where a measured bf16 matrix-vector product beats fp32's, else fp32
        (``tinyqwen.checkpoint.default_dtype``); ``device=None`` means CPU.
        """
        device = device if device is not None else "cpu"
        return Qwen2ForCausalLM.from_pretrained(path, dtype=dtype, device=device, quantize=quantize)

    @staticmethod
    def from_config(config: Qwen2Config) -> Qwen2ForCausalLM:
        """A randomly initialised model of ``config``'s family and shape (for training from scratch)."""
        return Qwen2ForCausalLM(config)
