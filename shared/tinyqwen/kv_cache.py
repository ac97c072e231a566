"""A key/value cache preallocated once per generation call: no per-token concatenation.

Layout ``[L, B, H_kv, T_max, D]`` for keys and values: layer, batch row, KV head, position slot, head dim.
Position slot ``t`` holds the ``t``-th token fed to the model (padding included), so with left padding all
rows share one write position ``length`` and a decode step writes one slot per layer.

    >>> import torch
    >>> cache = KVCache(num_layers=2, batch_size=1, num_kv_heads=2, max_len=8, head_dim=4)
    >>> k = v = torch.randn(1, 2, 3, 4)                  # [B, H_kv, T=3, D]
    >>> k_all, v_all = cache.update(0, k, v)             # layer 0 sees slots [0, 3)
    >>> _ = cache.update(1, k, v); cache.advance(3)      # after the last layer: 3 slots are filled
    >>> cache.length, k_all.shape
    (3, torch.Size([1, 2, 3, 4]))

The model calls ``update`` once per layer and ``advance`` once per forward call.
Limits: one shared length for the whole batch (left padding, not ragged); no eviction, so a sliding-window
layer keeps every key and masks the old ones instead of using a ring buffer.
"""

from __future__ import annotations

import torch


class KVCache:
    def __init__(
        self,
        num_layers: int,
        batch_size: int,
        num_kv_heads: int,
        max_len: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        shape = (num_layers, batch_size, num_kv_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)  # [L, B, H_kv, T_max, D]
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.max_len = max_len
        self.length = 0  # filled slots, identical for every layer and row

    @classmethod
    def for_model(cls, model: torch.nn.Module, batch_size: int, max_len: int) -> KVCache:
        """A cache shaped for ``model`` (a ``Qwen2ForCausalLM``), in its dtype and device."""
        cfg = model.config
        return cls(
            cfg.num_hidden_layers,
            batch_size,
            cfg.num_key_value_heads,
            max_len,
            cfg.head_dim,
            dtype=model.dtype,
            device=model.device,
        )

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``k, v [B, H_kv, T, D]`` at slots ``[length, length+T)``; return views of all filled slots."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache is full: {end} positions needed, max_len={self.max_len}")
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # [B, H_kv, end, D] views

    def advance(self, n: int) -> None:
        """Mark ``n`` more slots as filled (called once per forward, after the last layer)."""
        self.length += n

    def reset(self) -> None:
        self.length = 0
