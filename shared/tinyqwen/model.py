"""The Qwen2 / Qwen3 decoder (dense and MoE), written out in one file (nanoGPT style), numerically
matching transformers.

Architecture (every Qwen2 / Qwen2.5 / Qwen3 size):

    ids -> embed_tokens -> N x [ x = x + Attn(RMSNorm(x));  x = x + MLP(RMSNorm(x)) ] -> RMSNorm -> lm_head

* RMSNorm: ``w * (x / sqrt(mean(x^2) + eps))``, the normalisation computed in fp32 and cast back to the
  activation dtype *before* the weight multiply (as transformers does; it matters in bf16).
* Attention: grouped-query (GQA): ``num_attention_heads`` query heads share ``num_key_value_heads`` K/V
  heads (Qwen2.5-0.5B: 14 query heads, 2 KV heads, head_dim 64). q/k/v projections have a bias, o_proj
  has none. Split-half RoPE on q and k (``tinyqwen.rope``). Causal mask, plus left-padding mask, plus a
  sliding window on the layers the config marks as sliding.
* MLP: SwiGLU, ``down(silu(gate(x)) * up(x))``; in MoE models a router picks a few of many such MLPs
  per token (``tinyqwen.moe``).

Qwen3 changes only the attention, in three config-driven lines below (search ``qk_norm``):

* no bias on q/k/v (``attention_bias``, default false);
* ``q_norm`` / ``k_norm``: an RMSNorm over each head's ``head_dim`` features of q and k, *before* RoPE,
  which keeps the attention logits bounded (the "QK-Norm" of the Qwen3 report);
* ``head_dim`` is its own config field (Qwen3-0.6B: hidden 1024, 16 heads, head_dim 128, so the
  attention width 2048 is larger than the hidden size).
* lm_head shares its weight with embed_tokens when ``tie_word_embeddings`` (the small Qwen2.5 models).
* Every projection is ``tinyqwen.linear.Linear``: an ``nn.Linear`` that, on CPUs with a slow bf16 GEMM,
  multiplies a bf16 prefill in fp32 (decode steps stay bf16).

Module names are exactly transformers' (``model.layers.3.self_attn.q_proj``...), so ``state_dict()`` keys
equal the checkpoint keys and PEFT/LoRA target names carry over.

Two attention paths give the same numbers (max diff ~1e-6 in fp32): ``attn_impl="eager"`` spells out
``scores = q k^T / sqrt(D) + mask``, ``probs = softmax(scores)`` in fp32, ``probs @ v`` (for teaching and
for ``tinyqwen.trace.capture``); ``attn_impl="sdpa"`` calls ``torch.nn.functional.scaled_dot_product_attention``.

Example:

    >>> import torch
    >>> from tinyqwen.config import Qwen2Config
    >>> cfg = Qwen2Config(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    ...                   num_attention_heads=4, num_key_value_heads=2)
    >>> model = Qwen2ForCausalLM(cfg).eval()
    >>> model(torch.tensor([[1, 2, 3]])).shape         # logits, always fp32
    torch.Size([1, 3, 100])

Limits: inference-oriented (``attention_dropout`` is ignored; training works, incl. gradient
checkpointing, but there is no loss function here); the KV cache is one shared length for a left-padded
batch (``tinyqwen.kv_cache``).
"""

from __future__ import annotations

import os
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from tinyqwen import trace
from tinyqwen.checkpoint import load_model, save_model
from tinyqwen.config import Qwen2Config
from tinyqwen.kv_cache import KVCache
from tinyqwen.linear import Linear
from tinyqwen.moe import SparseMoeBlock
from tinyqwen.rope import RotaryEmbedding, apply_rope

AttnImpl = Literal["sdpa", "eager"]


class Qwen2RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()  # the mean of squares overflows/loses precision in bf16
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(dtype)


class Qwen2MLP(nn.Module):
    """SwiGLU MLP; ``intermediate_size`` overrides the config's (MoE experts are smaller MLPs)."""

    def __init__(
        self, config: Qwen2Config, layer_idx: int = 0, intermediate_size: int | None = None,
        name: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        h, i = config.hidden_size, intermediate_size or config.intermediate_size
        self.gate_proj = Linear(h, i, bias=False)
        self.up_proj = Linear(h, i, bias=False)
        self.down_proj = Linear(i, h, bias=False)
        self.name = name or f"layers.{layer_idx}.mlp"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_proj(x), self.up_proj(x)  # [B, T, I]
        act = F.silu(gate) * up
        down = self.down_proj(act)  # [B, T, H]
        trace.record(self.name, gate=gate, up=up, act=act, down=down)
        return down


def eager_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    name: str,
) -> torch.Tensor:
    """Explicit attention. q ``[B, H, T, D]``, k/v ``[B, H_kv, S, D]``, mask additive ``[B, 1, T, S]``."""
    groups = q.shape[1] // k.shape[1]
    # GQA: query head h reads KV head h // groups -> repeat each KV head `groups` times
    k = k.repeat_interleave(groups, dim=1)  # [B, H, S, D]
    v = v.repeat_interleave(groups, dim=1)
    scores = (q @ k.transpose(2, 3)) * q.shape[-1] ** -0.5  # [B, H, T, S]
    if mask is not None:
        scores = scores + mask  # 0 where allowed, dtype-min where not
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)  # fp32 softmax
    trace.record(name, scores=scores, probs=probs)
    return probs @ v  # [B, H, T, D]


class Qwen2Attention(nn.Module):
    def __init__(self, config: Qwen2Config, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = d = config.head_dim
        h = config.hidden_size
        bias = config.qkv_bias_enabled  # Qwen2: True; Qwen3: attention_bias (False)
        self.q_proj = Linear(h, self.num_heads * d, bias=bias)
        self.k_proj = Linear(h, self.num_kv_heads * d, bias=bias)
        self.v_proj = Linear(h, self.num_kv_heads * d, bias=bias)
        self.o_proj = Linear(self.num_heads * d, h, bias=config.o_bias_enabled)
        self.qk_norm = config.qk_norm
        if self.qk_norm:  # Qwen3: one RMSNorm over head_dim, shared by all heads
            self.q_norm = Qwen2RMSNorm(d, config.rms_norm_eps)
            self.k_norm = Qwen2RMSNorm(d, config.rms_norm_eps)
        self.name = f"layers.{layer_idx}.self_attn"

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        cache: KVCache | None,
        attn_impl: AttnImpl,
    ) -> torch.Tensor:
        B, T, _ = x.shape
        H, Hkv, D = self.num_heads, self.num_kv_heads, self.head_dim
        q = self.q_proj(x).view(B, T, H, D)  # [B, T, H, D]
        k = self.k_proj(x).view(B, T, Hkv, D)  # [B, T, Hkv, D]
        if self.qk_norm:  # Qwen3's QK-Norm: normalise each head's vector before RoPE
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # [B, H, T, D], [B, Hkv, T, D]
        v = self.v_proj(x).view(B, T, Hkv, D).transpose(1, 2)  # [B, Hkv, T, D]
        trace.record(self.name, q=q, k=k, v=v)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        trace.record(self.name, q_rope=q, k_rope=k, mask=mask)  # a None mask is not recorded
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)  # [B, Hkv, past+T, D]

        if attn_impl == "eager":
            out = eager_attention(q, k, v, mask, self.name)
        elif attn_impl == "sdpa" and T == 1 and H != Hkv:
            # decode step, "packed" GQA: the G = H / Hkv query heads sharing a KV head become G query
            # rows of that head, so K/V are read once and never copied; a [B, 1, 1, S] mask broadcasts
            out = F.scaled_dot_product_attention(
                q.reshape(B, Hkv, H // Hkv, D), k, v, attn_mask=mask
            )
            out = out.reshape(B, H, 1, D)  # [B, H, 1, D]
        elif attn_impl == "sdpa":
            # no mask with T > 1 means plain causal over a fresh sequence (see build_attention_mask),
            # which lets SDPA's flash kernel skip the upper triangle instead of adding a mask
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                is_causal=mask is None and T > 1,
                enable_gqa=H != Hkv,
            )  # [B, H, T, D]; default scale is 1/sqrt(D)
        else:
            raise ValueError(f"attn_impl must be 'sdpa' or 'eager', got {attn_impl!r}")

        out = out.transpose(1, 2).reshape(B, T, H * D)  # [B, T, H*D]
        o = self.o_proj(out)
        trace.record(self.name, attn_out=out, o_proj=o)
        return o


class Qwen2DecoderLayer(nn.Module):
    def __init__(self, config: Qwen2Config, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = Qwen2Attention(config, layer_idx)
        self.is_moe = config.is_moe_layer(layer_idx)
        if self.is_moe:
            self.mlp = SparseMoeBlock(config, layer_idx, expert=Qwen2MLP)  # experts: Qwen2MLPs
        else:
            self.mlp = Qwen2MLP(config, layer_idx)
        self.input_layernorm = Qwen2RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = Qwen2RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.is_sliding = config.is_sliding_layer(layer_idx)
        self.name = f"layers.{layer_idx}"

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        cache: KVCache | None = None,
        attn_impl: AttnImpl = "sdpa",
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns ``(hidden [B, T, H], router_logits [B*T, num_experts] or None for a dense MLP)``."""
        h = self.input_layernorm(x)
        trace.record(self.name, input_layernorm=h)
        x = x + self.self_attn(h, cos, sin, mask, cache, attn_impl)
        h = self.post_attention_layernorm(x)
        trace.record(self.name, post_attention_layernorm=h)
        router_logits = None
        if self.is_moe:
            out, router_logits = self.mlp(h)
        else:
            out = self.mlp(h)
        x = x + out
        trace.record(self.name, residual=x)
        return x, router_logits


def build_attention_mask(
    padding_mask: torch.Tensor | None,
    q_len: int,
    kv_len: int,
    sliding_window: int | None,
    dtype: torch.dtype,
    device: torch.device,
    explicit_causal: bool = False,
) -> torch.Tensor | None:
    """Additive mask ``[B or 1, 1, q_len, kv_len]``: 0 where the query may attend, dtype-min where not.

    Query ``t`` sits at cache slot ``kv_len - q_len + t``. A key slot is visible when it is not in the
    future (causal), not padding (``padding_mask[b, s] == 0``), and, on sliding layers, fewer than
    ``sliding_window`` slots back (transformers' rule ``kv > q - window``).

    Returns ``None`` when the mask would be plain causal over a fresh sequence (``q_len == kv_len``; SDPA
    then uses ``is_causal=True``) or when nothing is masked (one new token, no padding, no window to
    enforce). ``explicit_causal=True`` (the eager path) always builds the causal part for ``q_len > 1``.
    A padding *query* row sees no key at all; with dtype-min (not -inf) its softmax is uniform instead
    of NaN, and its output is never used.
    """
    window_matters = sliding_window is not None and kv_len > sliding_window
    if padding_mask is None and not window_matters:
        if q_len == 1 or (q_len == kv_len and not explicit_causal):
            return None
    q_idx = torch.arange(kv_len - q_len, kv_len, device=device)[:, None]  # [T, 1]
    kv_idx = torch.arange(kv_len, device=device)[None, :]  # [1, S]
    allowed = kv_idx <= q_idx  # [T, S] causal
    if window_matters:
        allowed = allowed & (kv_idx > q_idx - sliding_window)
    allowed = allowed[None, None]  # [1, 1, T, S]
    if padding_mask is not None:
        allowed = allowed & padding_mask[:, None, None, :].bool()  # [B, 1, T, S]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)


class Qwen2Model(nn.Module):
    """Embeddings + decoder layers + final norm; returns hidden states ``[B, T, hidden_size]``."""

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            Qwen2DecoderLayer(config, i) for i in range(config.num_hidden_layers)
        )
        self.norm = Qwen2RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config)
        self.gradient_checkpointing = False
        self.has_sliding_layers = any(layer.is_sliding for layer in self.layers)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
        attn_impl: AttnImpl = "sdpa",
        router_logits: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Hidden states; MoE layers append their router logits to ``router_logits`` when given."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [batch, seq], got shape {tuple(input_ids.shape)}")
        B, T = input_ids.shape
        past = cache.length if cache is not None else 0
        S = past + T  # key length seen by this call
        if attention_mask is not None and tuple(attention_mask.shape) != (B, S):
            raise ValueError(
                f"attention_mask must be [batch, past+seq] = {(B, S)}, got {tuple(attention_mask.shape)}"
            )
        if trace.active():
            attn_impl = "eager"  # so that scores and probs exist to be recorded
        if position_ids is None:
            if attention_mask is not None:
                # left padding: each row counts positions from its first real token
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)[:, past:]
            else:
                position_ids = torch.arange(past, S, device=input_ids.device)[None].expand(B, T)

        x = self.embed_tokens(input_ids)  # [B, T, H]
        trace.record("", embed=x)
        cos, sin = self.rotary_emb(position_ids)  # [B, T, D] fp32
        # masks are built once per call and shared by all layers of the same kind
        eager = attn_impl == "eager"
        full_mask = build_attention_mask(attention_mask, T, S, None, x.dtype, x.device, eager)
        sliding_mask = None
        if self.has_sliding_layers:
            window = self.config.sliding_window
            sliding_mask = build_attention_mask(
                attention_mask, T, S, window, x.dtype, x.device, eager
            )

        for layer in self.layers:
            mask = sliding_mask if layer.is_sliding else full_mask
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                # recompute this layer's activations in backward instead of storing them
                x, logits = checkpoint(
                    layer, x, cos, sin, mask, cache, attn_impl, use_reentrant=False
                )
            else:
                x, logits = layer(x, cos, sin, mask, cache, attn_impl)
            if router_logits is not None and logits is not None:
                router_logits.append(logits)
        if cache is not None:
            cache.advance(T)
        x = self.norm(x)
        trace.record("", norm=x)
        return x


class Qwen2ForCausalLM(nn.Module):
    """Qwen2 / Qwen3 / Qwen2-MoE / Qwen3-MoE language model: ``forward(input_ids, ...) -> logits``.

    One class for the four families: ``config.model_type`` switches the few branches (QK-norm and
    biases in attention, ``SparseMoeBlock`` instead of ``Qwen2MLP``). ``tinyqwen.AutoModelForCausalLM``
    loads any of them from a checkpoint directory.
    """

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.config = config
        self.model = Qwen2Model(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)
        self.init_weights()
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight  # one tensor, two names

    def init_weights(self, std: float = 0.02) -> None:
        """transformers' initialisation: N(0, std) for matrices (router included), zeros for biases,
        ones for norms (their constructor already sets them)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    @property
    def gradient_checkpointing(self) -> bool:
        return self.model.gradient_checkpointing

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, value: bool) -> None:
        self.model.gradient_checkpointing = bool(value)

    @property
    def dtype(self) -> torch.dtype:
        return self.model.norm.weight.dtype  # the activation dtype, also when weights are int8/int4

    @property
    def device(self) -> torch.device:
        return self.model.norm.weight.device

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
        attn_impl: AttnImpl = "sdpa",
        logits_to_keep: int = 0,
        output_router_logits: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Logits ``[B, T, V]`` in fp32 (``[B, logits_to_keep, V]`` when ``logits_to_keep > 0``).

        ``attention_mask [B, past+T]``: 1 = real token, 0 = padding (left padding). Without
        ``position_ids``, positions are counted from each row's first real token.

        ``output_router_logits=True`` (MoE models, for training) returns ``(logits, router_logits)``,
        one ``[B*T, num_experts]`` tensor per sparse layer, as transformers' ``output_router_logits``;
        feed them to ``tinyqwen.moe.load_balancing_loss``.
        """
        collected: list[torch.Tensor] | None = [] if output_router_logits else None
        x = self.model(input_ids, attention_mask, position_ids, cache, attn_impl, collected)
        if logits_to_keep > 0:
            x = x[:, -logits_to_keep:]  # generation only needs the last position's logits
        logits = self.lm_head(x).float()
        trace.record("", logits=logits)
        if collected is not None:
            return logits, tuple(collected)
        return logits

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        dtype: torch.dtype | str | None = None,
        device: torch.device | str = "cpu",
        quantize: str | None = None,
    ) -> Qwen2ForCausalLM:
        """Load a Hugging Face Qwen2 directory (see ``tinyqwen.checkpoint.load_model``);
        ``quantize="int8"`` / ``"int4"`` for int8 / int4 weights (``tinyqwen.quant``)."""
        return load_model(cls, path, dtype=dtype, device=device, quantize=quantize)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``config.json`` + ``model.safetensors`` (see ``tinyqwen.checkpoint.save_model``)."""
        save_model(self, directory)
