"""A compiled decode step (gpt-fast style): ``torch.compile`` over one token's forward with a static KV cache.

    >>> from tinyqwen.compiled import compile_decode
    >>> model = compile_decode(Qwen2ForCausalLM.from_pretrained(path))          # doctest: +SKIP
    >>> generate(model, [[1, 2, 3]], max_new_tokens=64)    # decode steps now run compiled  # doctest: +SKIP

``torch.compile`` wants every step to look the same: same shapes, no Python ints that change. The
plain decode step does not: the cache hands attention ``[.., past + 1, D]`` keys (one longer every
step) and the step reads ``cache.length`` (a Python int). Here instead:

* ``StaticKVCache`` keeps the write position as a tensor ``pos``; a one-token ``update`` writes slot
  ``pos`` with ``index_copy_`` and returns the *whole* ``[B, H_kv, T_max, D]`` buffers;
* the attention mask is ``[B, 1, 1, T_max]``: slots after ``pos`` and padding slots are masked,
  so attention over the full buffer gives exactly the answer over the filled part;
* ``decode_step`` runs embedding -> layers -> norm -> lm_head with those fixed shapes, so it is
  compiled once per batch size and cache length, then replayed every step (on CUDA with
  ``mode="reduce-overhead"``: CUDA graphs, one launch per token instead of hundreds).

Prefill (many tokens) runs uncompiled, through the same cache (it behaves like ``KVCache`` there).

Int8 models: fbgemm's packed weights cannot be traced, so ``compile_decode`` switches such a model to
the fastest other int8 kernel (measured, ``tinyqwen.quant.probe_kernels``).

Limits: no sliding-window layers (the config's ``use_sliding_window`` must be off, as in released
Qwen2.5 configs; ``compile_decode`` raises otherwise); the first call of each new (batch size, cache
length) compiles for a while (CPU: tens of seconds with a C++ compiler; ``bench/bench_decode.py``
measures it); attention reads the full ``T_max`` slots every step (wasted work when short).
"""

from __future__ import annotations

import torch

from tinyqwen.kv_cache import KVCache


class StaticKVCache(KVCache):
    """A ``KVCache`` whose one-token updates have fixed shapes (write position held in a tensor)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pos = torch.zeros(1, dtype=torch.long, device=self.k.device)  # next slot to write
        if (
            self.k.is_cuda
        ):  # fixed addresses: CUDA graphs may then write into them (as HF's StaticCache)
            for t in (self.k, self.v, self.pos):
                torch._dynamo.mark_static_address(t)

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if k.shape[2] != 1:  # prefill: as KVCache (views of the filled slots)
            return super().update(layer, k, v)
        self.k[layer].index_copy_(2, self.pos, k)  # [B, H_kv, T_max, D], slot pos
        self.v[layer].index_copy_(2, self.pos, v)
        return self.k[layer], self.v[layer]

    def advance(self, n: int) -> None:
        super().advance(n)
        self.pos.fill_(self.length)

    def reset(self) -> None:
        super().reset()
        self.pos.zero_()


def decode_step(
    model: torch.nn.Module,
    tokens: torch.Tensor,
    position_ids: torch.Tensor,
    cache: StaticKVCache,
    padding_mask: torch.Tensor | None,
) -> torch.Tensor:
    """One token per row through the model with fixed shapes: ``tokens [B, 1]`` at ``position_ids
    [B, 1]``; ``padding_mask [B, T_max]`` (1 = real or not yet written, 0 = padding) or None.
    Returns logits ``[B, V]`` fp32. The caller advances the cache."""
    inner = model.model
    slots = torch.arange(cache.max_len, device=tokens.device)  # [T_max]
    allowed = (slots <= cache.pos)[None, :]  # [1, T_max]: filled slots and the one being written
    if padding_mask is not None:
        allowed = allowed & padding_mask.bool()  # [B, T_max]
    x = inner.embed_tokens(tokens)  # [B, 1, H]
    mask = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device)
    mask = mask.masked_fill(~allowed, torch.finfo(x.dtype).min)[
        :, None, None, :
    ]  # [B, 1, 1, T_max]
    cos, sin = inner.rotary_emb(position_ids)
    for layer in inner.layers:
        x, _ = layer(x, cos, sin, mask, cache, "sdpa")  # (hidden, MoE router logits or None)
    return model.lm_head(inner.norm(x)).float()[:, -1]  # [B, V]


def compile_decode(
    model: torch.nn.Module, mode: str | None = None, backend: str = "inductor"
) -> torch.nn.Module:
    """Attach a compiled ``decode_step`` to ``model`` (``model.compiled_decode``); generation then
    uses it with a ``StaticKVCache``. ``mode`` defaults to ``"reduce-overhead"`` (CUDA graphs) on
    CUDA and torch's default on CPU; ``backend="eager"`` only captures the graph (fast; for tests).
    Returns ``model``."""
    if getattr(model.model, "has_sliding_layers", False):
        raise ValueError("compile=True does not support sliding-window layers (use_sliding_window)")
    from tinyqwen import quant
    from tinyqwen.kernel_probe import fastest

    if any(isinstance(m, quant.Int8Linear) and m.kernel == "fbgemm" for m in model.modules()):
        # fbgemm's packed weights are opaque script objects that dynamo cannot trace: use the
        # fastest int8 kernel that it can
        timings = quant.probe_kernels(model.device)
        timings.pop("fbgemm")
        quant.set_kernels(model, fastest(timings))
    if mode is None:
        mode = "reduce-overhead" if model.device.type == "cuda" else "default"
    if backend != "inductor":
        mode = None  # modes are inductor options
    # fullgraph: the step must capture as one graph (a graph break would cost a Python round trip)
    model.compiled_decode = torch.compile(decode_step, mode=mode, backend=backend, fullgraph=True)
    return model
