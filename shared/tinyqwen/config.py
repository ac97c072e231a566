"""Qwen2Config: the hyper-parameters of a Qwen2 / Qwen3 / Qwen2-MoE / Qwen3-MoE model, read from a
Hugging Face ``config.json`` as-is.

Field names are the Hugging Face ones, so a real checkpoint's config loads without conversion:

    >>> from tinyqwen.config import Qwen2Config
    >>> cfg = Qwen2Config.from_dict({"hidden_size": 896, "num_attention_heads": 14,
    ...                              "num_key_value_heads": 2, "rope_theta": 1e6})
    >>> cfg.head_dim, cfg.rope_type
    (64, 'default')

Both RoPE layouts are understood:

* transformers 4.x writes ``"rope_theta": 1e6`` and ``"rope_scaling": {"type": "yarn", "factor": 4, ...}``;
* transformers 5.x writes ``"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4, ...}``.

Either way we keep ``rope_theta`` (a float) and ``rope_scaling`` (``None`` or a dict with a ``rope_type``
key) and ``to_dict()`` writes the 4.x layout, which both transformers 4.x and 5.x read.

Sliding-window attention follows transformers exactly: it is used only when ``use_sliding_window`` is true,
and then only on layers ``i >= max_window_layers`` (or where an explicit ``layer_types`` list says
``"sliding_attention"``). Real Qwen2.5 configs set ``use_sliding_window: false``.

The four families differ in a handful of fields, and ``model_type`` says which rules apply:

==============  ==========================================================================================
``qwen2``       q/k/v projections have a bias, o_proj none (Qwen2, Qwen2.5)
``qwen3``       no bias unless ``attention_bias`` (then all four projections); per-head RMSNorm on q and k
                (``qk_norm``); ``head_dim`` is explicit (128 when absent), not ``hidden_size / heads``
``qwen2_moe``   as ``qwen2`` (bias from ``qkv_bias``), plus sparse MoE MLPs with a shared expert
``qwen3_moe``   as ``qwen3``, plus sparse MoE MLPs (no shared expert)
==============  ==========================================================================================

A layer ``i`` of an MoE model is sparse when ``num_experts > 0``, ``i not in mlp_only_layers`` and
``(i + 1) % decoder_sparse_step == 0`` (see ``is_moe_layer``); the other layers keep the dense SwiGLU MLP.

    >>> cfg = Qwen2Config.from_dict({"model_type": "qwen3", "hidden_size": 1024, "num_attention_heads": 16,
    ...                              "num_key_value_heads": 8, "head_dim": 128})
    >>> cfg.head_dim, cfg.qk_norm, cfg.qkv_bias_enabled
    (128, True, False)

Any other ``model_type`` (``llama``, ``mistral``, ...) is a ``ValueError`` naming it and the supported list.

Limits: only ``hidden_act == "silu"`` and the RoPE types ``default``, ``linear``, ``dynamic`` and ``yarn``
(the ones Qwen2/Qwen2.5 checkpoints use) are supported; anything else is a clear ``ValueError``.
Unknown keys (``architectures``, ``initializer_range``, ``use_cache``, ...) are ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tinyqwen.atomic import atomic_write_text

ROPE_TYPES = ("default", "linear", "dynamic", "yarn")
MODEL_TYPES = ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe")
QWEN3_TYPES = ("qwen3", "qwen3_moe")  # QK-norm, bias only with attention_bias
MOE_TYPES = ("qwen2_moe", "qwen3_moe")
# transformers' defaults for keys whose absence means something different per family (a config.json
# saved by transformers always spells them out; hand-written ones may not)
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "qwen2": {},
    "qwen3": {"explicit_head_dim": 128, "attention_bias": False},
    "qwen2_moe": {"num_experts": 60, "num_experts_per_tok": 4, "moe_intermediate_size": 1408,
                  "shared_expert_intermediate_size": 5632, "qkv_bias": True},
    "qwen3_moe": {"num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768,
                  "attention_bias": False},
}  # fmt: skip
LAYER_TYPES = ("full_attention", "sliding_attention")
ARCHITECTURES = {"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
                 "qwen2_moe": "Qwen2MoeForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM"}  # fmt: skip
MOE_KEYS = ("num_experts", "num_experts_per_tok", "moe_intermediate_size",
            "shared_expert_intermediate_size", "norm_topk_prob", "decoder_sparse_step",
            "mlp_only_layers", "router_aux_loss_coef", "output_router_logits")  # fmt: skip


@dataclass
class Qwen2Config:
    # Defaults are Qwen2.5-0.5B's, so Qwen2Config() is a real, useful shape.
    model_type: str = "qwen2"  # one of MODEL_TYPES; picks the family's rules (module docstring)
    vocab_size: int = 151936
    hidden_size: int = 896
    intermediate_size: int = 4864
    num_hidden_layers: int = 24
    num_attention_heads: int = 14
    num_key_value_heads: int = 2
    max_position_embeddings: int = 32768
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1000000.0
    rope_scaling: dict[str, Any] | None = (
        None  # None, or {"rope_type": "yarn"|"linear"|"dynamic", ...}
    )
    tie_word_embeddings: bool = True
    use_sliding_window: bool = False
    sliding_window: int | None = 32768
    max_window_layers: int = 21
    layer_types: list[str] | None = None  # explicit per-layer attention kind (transformers >= 4.54)
    hidden_act: str = "silu"
    explicit_head_dim: int | None = None  # "head_dim" in config.json; rarely present for Qwen2
    torch_dtype: str | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    # Qwen3: bias on q/k/v/o only when true. Qwen2-MoE: bias on q/k/v from qkv_bias. Qwen2: always q/k/v.
    attention_bias: bool = False
    qkv_bias: bool = True
    # sparse MoE (qwen2_moe / qwen3_moe only)
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0  # qwen2_moe: a dense expert every token passes through
    norm_topk_prob: bool = False  # renormalise the top-k router probabilities to sum to 1
    decoder_sparse_step: int = 1
    mlp_only_layers: list[int] = field(default_factory=list)
    router_aux_loss_coef: float = 0.001
    output_router_logits: bool = False
    source: str = field(
        default="<dict>", repr=False, compare=False
    )  # where it was read, for errors

    def __post_init__(self) -> None:
        self._validate()

    # ---- derived values -------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.explicit_head_dim or self.hidden_size // self.num_attention_heads

    @property
    def num_key_value_groups(self) -> int:
        return self.num_attention_heads // self.num_key_value_heads

    @property
    def rope_type(self) -> str:
        return (self.rope_scaling or {}).get("rope_type", "default")

    @property
    def qk_norm(self) -> bool:
        """Qwen3: RMSNorm over each head's q and k (``q_norm``/``k_norm``) before RoPE."""
        return self.model_type in QWEN3_TYPES

    @property
    def qkv_bias_enabled(self) -> bool:
        if self.model_type in QWEN3_TYPES:
            return self.attention_bias
        return self.qkv_bias if self.model_type == "qwen2_moe" else True

    @property
    def o_bias_enabled(self) -> bool:
        return self.model_type in QWEN3_TYPES and self.attention_bias

    @property
    def is_moe(self) -> bool:
        return self.model_type in MOE_TYPES and self.num_experts > 0

    def is_moe_layer(self, i: int) -> bool:
        """True when layer ``i`` has a sparse MoE MLP (transformers' Qwen2Moe/Qwen3Moe rule)."""
        return (
            self.is_moe
            and i not in self.mlp_only_layers
            and (i + 1) % self.decoder_sparse_step == 0
        )

    def is_sliding_layer(self, i: int) -> bool:
        """True when layer ``i`` uses a sliding-window mask (same rule as transformers' ``layer_types``)."""
        if not self.use_sliding_window or not self.sliding_window:
            return (
                False  # transformers sets config.sliding_window = None (qwen2_moe: 0) in this case
            )
        if self.layer_types is not None:
            return self.layer_types[i] == "sliding_attention"
        if self.model_type == "qwen3_moe":
            return True  # Qwen3-MoE has no per-layer kinds: the window applies everywhere
        if self.model_type == "qwen2_moe":
            return (i + 1) % 2 == 1 and i < self.max_window_layers  # its config's own default rule
        return i >= self.max_window_layers

    # ---- reading / writing ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> Qwen2Config:
        """Build from a config.json dict. Unknown keys are ignored; both RoPE layouts are accepted."""
        if not isinstance(d, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(d).__name__}")
        model_type = d.get("model_type") or "qwen2"
        if model_type not in MODEL_TYPES:
            raise ValueError(
                f"{source}: unsupported model_type {model_type!r}; "
                f"tinyqwen implements {', '.join(MODEL_TYPES)}"
            )
        known = {f.name for f in fields(cls)} - {"rope_theta", "rope_scaling", "explicit_head_dim"}
        kwargs: dict[str, Any] = dict(FAMILY_DEFAULTS[model_type])
        kwargs.update({k: v for k, v in d.items() if k in known and v is not None})
        kwargs["model_type"] = model_type
        if "torch_dtype" not in kwargs and isinstance(d.get("dtype"), str):
            kwargs["torch_dtype"] = d["dtype"]  # transformers 5.x renamed torch_dtype -> dtype
        if d.get("num_key_value_heads") is None and "num_attention_heads" in d:
            kwargs["num_key_value_heads"] = d["num_attention_heads"]  # as transformers does
        if d.get("num_experts") is None and d.get("num_local_experts") is not None:
            kwargs["num_experts"] = d["num_local_experts"]  # transformers 5.x's name for Qwen3-MoE
        if d.get("head_dim") is not None:
            kwargs["explicit_head_dim"] = d["head_dim"]
        if "sliding_window" in d:  # null is meaningful here (no window)
            kwargs["sliding_window"] = d["sliding_window"]

        # RoPE: 5.x "rope_parameters" (theta inside) or 4.x "rope_theta" + "rope_scaling".
        rope = d.get("rope_parameters") or d.get("rope_scaling")
        theta = d.get("rope_theta")
        if rope is not None:
            if not isinstance(rope, dict):
                raise ValueError(
                    f"{source}: rope_parameters/rope_scaling must be an object, got {rope!r}"
                )
            rope = dict(rope)
            theta = rope.pop("rope_theta", theta)
            rope_type = rope.pop("rope_type", None) or rope.pop("type", None) or "default"
            rope.pop("type", None)
            rope = None if rope_type == "default" else {"rope_type": rope_type, **rope}
        if theta is not None:
            kwargs["rope_theta"] = float(theta)
        kwargs["rope_scaling"] = rope
        return cls(**kwargs, source=source)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> Qwen2Config:
        """Read ``path/config.json`` (``path`` a model directory) or ``path`` itself (a JSON file)."""
        p = Path(path)
        file = p / "config.json" if p.is_dir() else p
        if not file.is_file():
            raise FileNotFoundError(f"no config.json found: {file} does not exist")
        try:
            d = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{file}: not valid JSON ({e})") from None
        return cls.from_dict(d, source=str(file))

    def to_dict(self) -> dict[str, Any]:
        """A config.json dict that transformers (4.x and 5.x) loads as the right family's config."""
        d = asdict(self)
        d.pop("source")
        head_dim = d.pop("explicit_head_dim")
        if head_dim is not None:
            d["head_dim"] = head_dim
        if d["layer_types"] is None:
            d.pop("layer_types")
        moe = self.model_type in MOE_TYPES
        for key in MOE_KEYS if not moe else ():
            d.pop(key)  # a dense config.json carries no MoE keys
        if self.model_type == "qwen3_moe":
            d.pop("shared_expert_intermediate_size")
        if self.model_type not in QWEN3_TYPES:
            d.pop("attention_bias")
        if self.model_type != "qwen2_moe":
            d.pop("qkv_bias")
        return {"architectures": [ARCHITECTURES[self.model_type]], **d}

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``directory/config.json`` atomically."""
        atomic_write_text(
            Path(directory) / "config.json", json.dumps(self.to_dict(), indent=2) + "\n"
        )

    # ---- validation -----------------------------------------------------------------------------
    def _validate(self) -> None:
        src = self.source

        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"{src}: invalid {name}={getattr(self, name, None)!r}: {why}")

        if self.model_type not in MODEL_TYPES:
            raise bad("model_type", f"unsupported; tinyqwen implements {', '.join(MODEL_TYPES)}")
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "max_position_embeddings"):  # fmt: skip
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise bad(name, "must be a positive integer")
        if self.num_attention_heads % self.num_key_value_heads:
            raise bad(
                "num_key_value_heads",
                f"num_attention_heads={self.num_attention_heads} must be a multiple of it (GQA)",
            )
        if self.explicit_head_dim is None and self.hidden_size % self.num_attention_heads:
            raise bad(
                "hidden_size",
                f"must be divisible by num_attention_heads={self.num_attention_heads}",
            )
        if self.head_dim % 2:
            raise bad("hidden_size", f"head_dim={self.head_dim} must be even for RoPE")
        if not (isinstance(self.rms_norm_eps, (int, float)) and self.rms_norm_eps > 0):
            raise bad("rms_norm_eps", "must be a positive number")
        if not self.rope_theta > 0:
            raise bad("rope_theta", "must be positive")
        if self.hidden_act != "silu":
            raise bad("hidden_act", "only 'silu' (SwiGLU) is implemented")
        if self.rope_type not in ROPE_TYPES:
            raise bad("rope_scaling", f"rope_type must be one of {ROPE_TYPES}")
        if self.rope_type != "default":
            factor = self.rope_scaling.get("factor")
            if not isinstance(factor, (int, float)) or factor < 1:
                raise bad("rope_scaling", "'factor' must be a number >= 1")
        if self.is_moe:
            for name in ("num_experts_per_tok", "moe_intermediate_size", "decoder_sparse_step"):
                v = getattr(self, name)
                if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                    raise bad(name, "must be a positive integer for an MoE model")
            if self.num_experts_per_tok > self.num_experts:
                raise bad("num_experts_per_tok", f"must be <= num_experts={self.num_experts}")
            if self.model_type == "qwen2_moe" and self.shared_expert_intermediate_size <= 0:
                raise bad("shared_expert_intermediate_size", "must be positive for qwen2_moe")
        if self.use_sliding_window and self.sliding_window is not None:
            if not isinstance(self.sliding_window, int) or self.sliding_window <= 0:
                raise bad("sliding_window", "must be a positive integer when use_sliding_window")
        if self.layer_types is not None:
            if len(self.layer_types) != self.num_hidden_layers or any(
                t not in LAYER_TYPES for t in self.layer_types
            ):
                raise bad(
                    "layer_types",
                    f"must list {self.num_hidden_layers} entries from {LAYER_TYPES}",
                )
