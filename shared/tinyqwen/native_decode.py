"""A decode step in one C call for all decoder layers (``csrc/decode_avx2.c``): int8 or bf16 weights.

PyTorch runs one layer of a decode step as ~50 small operators -- two RMSNorms, RoPE, the cache writes,
attention, SiLU, residual adds -- each a few microseconds of dispatch for a vector of a few thousand
numbers. For Qwen2.5-0.5B on a 2-core AVX2 CPU that is ~13 ms per token next to the ~21 ms the int8
weights take to stream through the cores; llama.cpp has no such overhead. Here each layer is one C
function (the same products as ``native.int8_matmul`` / ``native.bf16_matmul``, the small steps as
loops), all layers in one call, and Python only embeds the tokens, computes cos/sin once for all
layers, and runs the final norm and ``lm_head``.

    >>> from tinyqwen import native_decode                          # doctest: +SKIP
    >>> native_decode.supports(model, cache)                        # e.g. an int8 model on avx2
    True
    >>> logits = native_decode.decode_one_token(model, tokens, position_ids, cache)  # [B, V] fp32

``tinyqwen.generation.decode_one_token`` takes this path by itself whenever :func:`supports` says yes;
``TINYQWEN_NATIVE=0`` turns it off with the other hand-written kernels.

* int8 models (every projection an ``Int8Linear`` on the ``avx2`` kernel, fp32 activations): the same
  numbers as the PyTorch path up to fp32 rounding (the products are the same kernel; the small steps sum
  in another order).
* bf16 models, where the machine's probe sends bf16 decode steps to the avx2 kernel
  (``linear.native_decode_is_faster``): values are rounded to bf16 exactly where the PyTorch path rounds
  them (after each operator; see the C file), so the two agree up to summation order -- layer 0's K and
  V bitwise, the logits within a few bf16 ulps -- and greedy output matches transformers bf16 as the
  PyTorch path does (tested). (Carrying fp32 activations instead was closer to the fp32 model but
  parted from transformers' bf16 greedy tokens.)

Limits: CPU, inference (no gradient, no ``tinyqwen.trace``), dense layers (a MoE model takes the
PyTorch path), the plain ``KVCache`` in the model's dtype (``compile=True`` keeps its own compiled
step), head_dim even. The weights are looked up once per cache, i.e. per generation.
"""

from __future__ import annotations

import ctypes
import weakref

import torch

from tinyqwen import linear, native, trace
from tinyqwen.kv_cache import KVCache
from tinyqwen.linear import Linear
from tinyqwen.quant import Int8Linear

_P = ctypes.c_void_p


class _QLinear(ctypes.Structure):  # csrc/decode_avx2.c: qlinear
    _fields_ = [("weight", _P), ("scale", _P), ("bias", _P)]


class _Layer(ctypes.Structure):  # layer_weights
    _fields_ = [
        ("input_norm", _P), ("post_norm", _P), ("q_norm", _P), ("k_norm", _P),
        ("q", _QLinear), ("k", _QLinear), ("v", _QLinear), ("o", _QLinear),
        ("gate", _QLinear), ("up", _QLinear), ("down", _QLinear),
        ("k_cache", _P), ("v_cache", _P), ("window", ctypes.c_int64),
    ]  # fmt: skip


class _Step(ctypes.Structure):  # step_info
    _fields_ = [
        *((name, ctypes.c_int64) for name in ("B", "hidden", "H", "Hkv", "D", "I", "T_max", "pos")),
        ("cos", _P), ("sin", _P), ("mask", _P), ("eps", ctypes.c_float), ("threads", ctypes.c_int),
        ("cache_bf16", ctypes.c_int),
    ]  # fmt: skip


def _projections(layer: torch.nn.Module) -> tuple[torch.nn.Module, ...]:
    a, m = layer.self_attn, layer.mlp
    return a.q_proj, a.k_proj, a.v_proj, a.o_proj, m.gate_proj, m.up_proj, m.down_proj


def _projection_supported(p: torch.nn.Module, dtype: torch.dtype) -> bool:
    if dtype == torch.float32:  # an int8 model: every product on the avx2 kernel
        return type(p) is Int8Linear and p.kernel == "avx2"
    return type(p) is Linear and p.weight.dtype == torch.bfloat16 and p.weight.is_contiguous()


def _model_supported(model: torch.nn.Module) -> bool:
    dtype = model.dtype
    if dtype not in (torch.float32, torch.bfloat16) or model.device.type != "cpu":
        return False
    if model.config.head_dim % 2:
        return False
    # a bf16 model: where this machine's probe sends bf16 decode steps to the avx2 kernel
    if dtype == torch.bfloat16 and not linear.native_decode_is_faster():
        return False
    for layer in model.model.layers:
        if layer.is_moe:
            return False
        if not all(_projection_supported(p, dtype) for p in _projections(layer)):
            return False
    return True


class _Plan:
    """The C structs of every layer for one (model, cache) pair, built at the first step of a generation
    (~2 ms for 24 layers: too slow to redo per token) and kept with the tensors they point into."""

    def __init__(self, model: torch.nn.Module, cache: KVCache) -> None:
        cfg = model.config  # the C code trusts the cache's shape: a user-made cache is checked here
        want = (cfg.num_hidden_layers, cache.k.shape[1], cfg.num_key_value_heads, cache.max_len)
        for name, t in (("cache.k", cache.k), ("cache.v", cache.v)):
            if tuple(t.shape) != (*want, cfg.head_dim) or t.device.type != "cpu":
                raise ValueError(f"decode step: {name} is {tuple(t.shape)} on {t.device}, expected "
                                 f"{(*want, cfg.head_dim)} on cpu (KVCache.for_model makes it)")  # fmt: skip
        self.model = model
        self.tensors: list[torch.Tensor] = [cache.k, cache.v]  # alive as long as the pointers are
        layers = []
        for i, layer in enumerate(model.model.layers):
            a = layer.self_attn
            norms = [layer.input_layernorm.weight, layer.post_attention_layernorm.weight]
            norms += [a.q_norm.weight, a.k_norm.weight] if a.qk_norm else [None, None]
            norms = [None if t is None else _fp32(t) for t in norms]  # a bf16 model's: fp32 copies
            projections = []
            for p in _projections(layer):
                if type(p) is Int8Linear:
                    weight, scale, bias = p.weight, p.scale, p._packed  # _packed: the fp32 bias
                else:  # bf16 rows, an fp32 copy of the bias
                    weight, scale, bias = p.weight, None, None if p.bias is None else _fp32(p.bias)
                projections.append(_QLinear(_ptr(weight), _ptr(scale), _ptr(bias)))
                self.tensors += [t for t in (weight, scale, bias) if t is not None]
            self.tensors += [t for t in norms if t is not None]
            window = model.config.sliding_window if layer.is_sliding else 0
            layers.append(
                _Layer(*map(_ptr, norms), *projections, _ptr(cache.k[i]), _ptr(cache.v[i]), window)
            )
        self.layers = (_Layer * len(layers))(*layers)


_PLANS: weakref.WeakKeyDictionary[KVCache, _Plan] = weakref.WeakKeyDictionary()


def supports(model: torch.nn.Module, cache: object) -> bool:
    """True when this decode step can run here: a dense model on CPU, either int8 on the ``avx2`` kernel
    (fp32 activations) or bf16 where the machine's probe sends bf16 decode steps to the avx2 kernel; a
    plain ``KVCache`` in the model's dtype, no gradient, no trace, the kernels built (module limits)."""
    if type(cache) is not KVCache or torch.is_grad_enabled():
        return False
    if cache.k.dtype != model.dtype:
        return False
    if trace.active() or not native.available():
        return False
    plan = _PLANS.get(cache)
    return (plan is not None and plan.model is model) or _model_supported(model)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _fp32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().float().contiguous()


def decode_one_token(
    model: torch.nn.Module,
    tokens: torch.Tensor,
    position_ids: torch.Tensor,
    cache: KVCache,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``tokens [B, 1]`` at ``position_ids [B, 1]`` -> logits ``[B, V]`` fp32, writing one cache slot;
    ``attention_mask [B, cache.length + 1]`` (1 = real) or None. Call only where :func:`supports`.

    The weights are looked up once per cache (one generation): change the model between two
    generations, not during one."""
    cfg, inner = model.config, model.model
    B, pos = tokens.shape[0], cache.length
    if tuple(tokens.shape) != (B, 1) or tuple(position_ids.shape) != (B, 1):
        raise ValueError(f"decode step: tokens and position_ids must be [B, 1], got "
                         f"{tuple(tokens.shape)} and {tuple(position_ids.shape)}")  # fmt: skip
    if pos + 1 > cache.max_len:
        raise ValueError(f"KV cache is full: {pos + 1} positions needed, max_len={cache.max_len}")
    if cache.k.shape[1] != B:
        raise ValueError(f"decode step: the cache holds {cache.k.shape[1]} rows, tokens {B}")
    mask = None
    if attention_mask is not None:
        if tuple(attention_mask.shape) != (B, pos + 1):
            raise ValueError(f"attention_mask must be [batch, past+1] = {(B, pos + 1)}, got "
                             f"{tuple(attention_mask.shape)}")  # fmt: skip
        mask = attention_mask.to(torch.int64).contiguous()
    plan = _PLANS.get(cache)
    if plan is None or plan.model is not model:
        plan = _PLANS[cache] = _Plan(model, cache)
    x = inner.embed_tokens(tokens)[:, 0].float().contiguous()  # [B, hidden], updated layer by layer
    cos, sin = inner.rotary_emb(position_ids)  # [B, 1, D] fp32
    cos, sin = cos[:, 0].float().contiguous(), sin[:, 0].float().contiguous()  # [B, D]
    step = _Step(
        B, cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim,
        cfg.intermediate_size, cache.max_len, pos, cos.data_ptr(), sin.data_ptr(), _ptr(mask),
        inner.layers[0].input_layernorm.variance_epsilon, torch.get_num_threads(),
        cache.k.dtype == torch.bfloat16,
    )  # fmt: skip
    run = native._kernel("decode_layers")
    if run(x.data_ptr(), plan.layers, len(plan.layers), ctypes.byref(step)) != 0:
        raise MemoryError("decode step: no memory for the layers' scratch space")
    cache.advance(1)
    x = inner.norm(x[:, None].to(model.dtype))  # [B, 1, hidden]: a decode step for lm_head too
    return model.lm_head(x)[:, 0].float()  # [B, V]
