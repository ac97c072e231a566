"""Rotary position embeddings (RoPE) for Qwen2, in the "split-half" layout, with context-extension scaling.

Each head vector ``x`` (size D) is split into halves ``x1 = x[:D/2]`` and ``x2 = x[D/2:]``; pair ``(x1[i],
x2[i])`` is rotated by the angle ``pos * inv_freq[i]`` where ``inv_freq[i] = theta ** (-2i / D)``:

    x_rot = x * cos + rotate_half(x) * sin,  rotate_half(x) = [-x2, x1]

so that ``q_rot(m) . k_rot(n)`` depends only on ``m - n``. The angles and cos/sin are computed in fp32
(positions up to 32k+ lose precision in bf16) and cast to the activations' dtype just before use, as
transformers does.

``rope_scaling`` types (the ones real Qwen2/Qwen2.5 configs use), same formulas as transformers'
``ROPE_INIT_FUNCTIONS``:

* ``linear``:  ``inv_freq / factor`` (positions are squeezed by ``factor``).
* ``dynamic``: NTK-aware: when the sequence is longer than ``max_position_embeddings``, the base grows to
  ``theta * ((factor * L / max_pos) - (factor - 1)) ** (D / (D - 2))``. Recomputed from the longest
  position in each forward call. (transformers keeps the largest length seen so far across calls; we are
  stateless, so a later, shorter call can differ from transformers after a longer one.)
* ``yarn``: per-frequency blend of interpolated (``/ factor``) and original frequencies with a linear ramp
  between the ``beta_fast``/``beta_slow`` correction dims, and cos/sin multiplied by
  ``attention_factor = 0.1 * ln(factor) + 1``.

Example:

    >>> import torch
    >>> from tinyqwen.config import Qwen2Config
    >>> rope = RotaryEmbedding(Qwen2Config(hidden_size=64, num_attention_heads=4, num_key_value_heads=2))
    >>> cos, sin = rope(torch.arange(5)[None])          # [1, 5, 16] each, fp32
    >>> q = apply_rope(torch.randn(1, 4, 5, 16), cos, sin)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tinyqwen.config import Qwen2Config


def rope_inv_freq(config: Qwen2Config, seq_len: int | None = None) -> tuple[torch.Tensor, float]:
    """Inverse frequencies ``[D/2]`` (fp32) and the cos/sin multiplier for ``config``'s RoPE type.

    ``seq_len`` only matters for ``dynamic`` scaling (the current sequence length).
    """
    dim = config.head_dim
    base = config.rope_theta
    scaling = config.rope_scaling or {}
    rope_type = config.rope_type
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim  # [D/2]: 0, 2/D, 4/D, ...

    if rope_type == "default":
        return 1.0 / (base**exponents), 1.0

    factor = float(scaling["factor"])
    if rope_type == "linear":
        return 1.0 / (base**exponents) / factor, 1.0

    if rope_type == "dynamic":
        max_pos = config.max_position_embeddings
        seq_len = max(seq_len or max_pos, max_pos)  # no change inside the trained length
        base = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        return 1.0 / (base**exponents), 1.0

    # yarn (https://arxiv.org/abs/2309.00071)
    original_max = scaling.get("original_max_position_embeddings") or config.max_position_embeddings
    attention_factor = scaling.get("attention_factor")
    if attention_factor is None:
        mscale, mscale_all_dim = scaling.get("mscale"), scaling.get("mscale_all_dim")

        def get_mscale(scale: float, m: float = 1.0) -> float:
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

        if mscale and mscale_all_dim:
            attention_factor = get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)
        else:
            attention_factor = get_mscale(factor)
    beta_fast = scaling.get("beta_fast") or 32
    beta_slow = scaling.get("beta_slow") or 1

    def correction_dim(num_rotations: float) -> float:
        # the dimension index whose wavelength makes `num_rotations` turns over `original_max` tokens
        return (dim * math.log(original_max / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoid dividing by zero in the ramp

    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    inv_freq_extrapolation = 1.0 / pos_freqs  # original frequencies (high-frequency dims)
    inv_freq_interpolation = 1.0 / (factor * pos_freqs)  # squeezed frequencies (low-frequency dims)
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extrapolation_weight = 1 - ramp
    inv_freq = (
        inv_freq_interpolation * (1 - extrapolation_weight)
        + inv_freq_extrapolation * extrapolation_weight
    )
    return inv_freq, float(attention_factor)


class RotaryEmbedding(nn.Module):
    """Maps position ids ``[B, T]`` to fp32 ``cos, sin`` of shape ``[B, T, D]``. Has no parameters."""

    def __init__(self, config: Qwen2Config, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.config = config
        inv_freq, self.attention_scaling = rope_inv_freq(config)
        # non-persistent: not part of state_dict(), so our keys equal the HF checkpoint keys
        self.register_buffer("inv_freq", inv_freq.to(device), persistent=False)

    def forward(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq, scale = self.inv_freq, self.attention_scaling
        if self.config.rope_type == "dynamic":
            seq_len = int(position_ids.max()) + 1
            if seq_len > self.config.max_position_embeddings:
                inv_freq, scale = rope_inv_freq(self.config, seq_len)
                inv_freq = inv_freq.to(position_ids.device)
        freqs = position_ids[..., None].float() * inv_freq  # [B, T, D/2]
        emb = torch.cat((freqs, freqs), dim=-1)  # [B, T, D]: the same angle for both halves
        return emb.cos() * scale, emb.sin() * scale


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the last dim."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x [B, H, T, D]`` by ``cos, sin [B, T, D]`` (fp32, cast to ``x.dtype`` like transformers)."""
    cos = cos.to(x.dtype).unsqueeze(1)  # [B, 1, T, D], broadcast over heads
    sin = sin.to(x.dtype).unsqueeze(1)
    return x * cos + rotate_half(x) * sin
