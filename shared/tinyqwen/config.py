"""Qwen2Config: the hyper-parameters of a Qwen2 model, read from a Hugging Face ``config.json`` as-is.

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
LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass
class Qwen2Config:
    # Defaults are Qwen2.5-0.5B's, so Qwen2Config() is a real, useful shape.
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

    def is_sliding_layer(self, i: int) -> bool:
        """True when layer ``i`` uses a sliding-window mask (same rule as transformers' ``layer_types``)."""
        if not self.use_sliding_window or self.sliding_window is None:
            return False  # transformers sets config.sliding_window = None in this case
        if self.layer_types is not None:
            return self.layer_types[i] == "sliding_attention"
        return i >= self.max_window_layers

    # ---- reading / writing ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> Qwen2Config:
        """Build from a config.json dict. Unknown keys are ignored; both RoPE layouts are accepted."""
        if not isinstance(d, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)} - {"rope_theta", "rope_scaling", "explicit_head_dim"}
        kwargs: dict[str, Any] = {k: v for k, v in d.items() if k in known and v is not None}
        if "torch_dtype" not in kwargs and isinstance(d.get("dtype"), str):
            kwargs["torch_dtype"] = d["dtype"]  # transformers 5.x renamed torch_dtype -> dtype
        if d.get("num_key_value_heads") is None and "num_attention_heads" in d:
            kwargs["num_key_value_heads"] = d["num_attention_heads"]  # as transformers does
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
        """A config.json dict that transformers (4.x and 5.x) loads as a Qwen2Config."""
        d = asdict(self)
        d.pop("source")
        head_dim = d.pop("explicit_head_dim")
        if head_dim is not None:
            d["head_dim"] = head_dim
        if d["layer_types"] is None:
            d.pop("layer_types")
        return {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", **d}

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
