"""Capture the intermediate tensors of a forward pass, for teaching and debugging.

    >>> from tinyqwen.trace import capture
    >>> with capture() as rec:                                   # doctest: +SKIP
    ...     logits = model(ids)
    >>> [name for name, _ in rec][:4]                            # doctest: +SKIP
    ['embed', 'layers.0.input_layernorm', 'layers.0.self_attn.q', 'layers.0.self_attn.k']

Names recorded by ``tinyqwen.model`` (in this order per layer ``i``):
``embed``; ``layers.i.input_layernorm``; ``layers.i.self_attn.{q,k,v}`` ([B, H, T, D], before RoPE);
``layers.i.self_attn.{q_rope,k_rope}``; ``layers.i.self_attn.mask`` (additive, [B, 1, T, S], only when
a mask is needed); ``layers.i.self_attn.scores`` (``q k^T / sqrt(D) + mask``, [B, H, T, S]);
``layers.i.self_attn.probs`` (softmax of scores); ``layers.i.self_attn.attn_out`` ([B, T, H*D], before
o_proj); ``layers.i.self_attn.o_proj``; ``layers.i.post_attention_layernorm``;
``layers.i.mlp.{gate,up,act,down}`` (``act = silu(gate) * up``); ``layers.i.residual`` (the layer's output
hidden state); then ``norm`` and ``logits``.

While capturing, the model uses the explicit (eager) attention path so that scores/probs exist.
Tensors are detached references, not copies. The model has ONE code path: it always calls
``record(scope, name=tensor, ...)``, which returns at once when no ``capture()`` is active (about
seven calls per layer, a few microseconds per forward pass).

Limits: not thread-safe (one global recorder); nested ``capture()`` blocks record into the innermost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

# The active recorder, or None (then record() does nothing).
RECORDER: list[tuple[str, torch.Tensor]] | None = None


@contextmanager
def capture() -> Iterator[list[tuple[str, torch.Tensor]]]:
    """Collect ``(name, tensor)`` pairs from every forward pass run inside the ``with`` block."""
    global RECORDER
    previous, RECORDER = RECORDER, []
    try:
        yield RECORDER
    finally:
        RECORDER = previous


def active() -> bool:
    """True inside a ``capture()`` block."""
    return RECORDER is not None


def record(scope: str, **tensors: torch.Tensor | None) -> None:
    """Append ``("scope.name", tensor.detach())`` per keyword, in order (``None`` values and all
    calls outside ``capture()`` are ignored). ``scope=""`` records the bare names."""
    if RECORDER is None:
        return
    for name, tensor in tensors.items():
        if tensor is not None:
            RECORDER.append((f"{scope}.{name}" if scope else name, tensor.detach()))
