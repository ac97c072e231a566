"""LoRA adapters in the PEFT layout, read and merged into a model for inference.

A PEFT LoRA adapter is a directory with ``adapter_config.json`` (``r``, ``lora_alpha``,
``target_modules``, ``base_model_name_or_path`` …) and ``adapter_model.safetensors`` holding, for
each adapted ``nn.Linear`` ``W [out, in]``, two matrices ``A [r, in]`` and ``B [out, r]`` stored as
``base_model.model.<module>.lora_A.weight`` / ``.lora_B.weight``. For inference the update is
folded into the weight once,

    W  ←  W + scaling · B @ A,      scaling = lora_alpha / r   (or / √r with use_rslora)

after which the model is an ordinary model: no extra matmul per token, every feature (batching,
KV cache, serving, scoring) unchanged. ``tinyqwen.connect(base, adapter=DIR)`` and a ``--model``
that is itself an adapter directory (its base is ``base_model_name_or_path``) both end here, so
eval, serve and chat all evaluate fine-tuned models the same way. qwen-blog's training LoRA
(``qwen_blog.lora``) writes this layout and reads its config through this module.

    >>> cfg = LoraConfig.from_peft_dict({"r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]})
    >>> cfg.scaling, peft_module_key("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
    (2.0, ('model.layers.0.self_attn.q_proj', 'A'))

Limits: plain LoRA on ``nn.Linear`` only; PEFT options that change the maths (DoRA, LoRA bias,
``modules_to_save``, rank/alpha patterns, ``layers_to_transform``, fan_in_fan_out, trainable
tokens) are refused with an error naming the field, never silently ignored. ``adapter_model.bin``
(pickle) is not read. Merging is in fp32, then cast to the weight's dtype (bf16 rounding applies).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = (
    "base_model.model."  # PEFT wraps the model twice: PeftModel.base_model (LoraModel).model
)
ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# PEFT fields that change the forward pass, with their harmless defaults
UNSUPPORTED = {
    "use_dora": False,
    "bias": "none",
    "lora_bias": False,
    "fan_in_fan_out": False,
    "modules_to_save": None,
    "rank_pattern": {},
    "alpha_pattern": {},
    "layers_to_transform": None,
    "layer_replication": None,
    "trainable_token_indices": None,
    "target_parameters": None,
    "exclude_modules": None,
    "use_qalora": False,
}


@dataclass
class LoraConfig:
    """The subset of ``peft.LoraConfig`` that plain LoRA needs (same field names)."""

    r: int = 8
    lora_alpha: float = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_TARGETS
    use_rslora: bool = False
    base_model_name_or_path: str | None = None
    extra: dict = field(
        default_factory=dict
    )  # unknown-but-harmless PEFT fields, kept on round trip

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = (self.target_modules,)
        self.target_modules = tuple(self.target_modules)
        if self.r <= 0:
            raise ValueError(f"LoraConfig.r must be > 0, got {self.r}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"LoraConfig.lora_dropout must be in [0, 1), got {self.lora_dropout}")

    @property
    def scaling(self) -> float:
        return self.lora_alpha / (math.sqrt(self.r) if self.use_rslora else self.r)

    def to_peft_dict(self) -> dict:
        d = dict(self.extra)
        d.update(
            peft_type="LORA",
            task_type="CAUSAL_LM",
            r=self.r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=sorted(self.target_modules),
            use_rslora=self.use_rslora,
            bias="none",
            fan_in_fan_out=False,
            modules_to_save=None,
            use_dora=False,
            init_lora_weights=True,
            rank_pattern={},
            alpha_pattern={},
            inference_mode=True,
            base_model_name_or_path=self.base_model_name_or_path,
        )
        return d

    @classmethod
    def from_peft_dict(cls, d: dict, source: str = ADAPTER_CONFIG) -> LoraConfig:
        if d.get("peft_type", "LORA") != "LORA":
            raise ValueError(
                f"{source}: peft_type={d.get('peft_type')!r}, only 'LORA' is supported"
            )
        for key, ok in UNSUPPORTED.items():
            value = d.get(key, ok)
            if value in (None, {}, [], False) or value == ok:
                continue
            raise ValueError(f"{source}: field {key}={value!r} is not supported (plain LoRA only)")
        targets = d.get("target_modules")
        if isinstance(targets, str):
            # PEFT treats a string as a full-match regex; only explicit lists are accepted here
            raise ValueError(
                f"{source}: target_modules as a regex string ({targets!r}) is unsupported"
            )
        if not targets:
            raise ValueError(f"{source}: target_modules is missing or empty")
        if not isinstance(d.get("r"), int) or isinstance(d.get("r"), bool):
            raise ValueError(f"{source}: field r must be an integer, got {d.get('r')!r}")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(
            r=int(d["r"]),
            lora_alpha=float(d.get("lora_alpha", 8)),
            lora_dropout=float(d.get("lora_dropout", 0.0)),
            target_modules=tuple(targets),
            use_rslora=bool(d.get("use_rslora", False)),
            base_model_name_or_path=d.get("base_model_name_or_path"),
            extra={k: v for k, v in d.items() if k not in known and k not in UNSUPPORTED},
        )


def is_adapter_dir(path: str | Path) -> bool:
    """A PEFT adapter directory (``adapter_config.json``) that is not a full checkpoint."""
    p = Path(path)
    return (p / ADAPTER_CONFIG).is_file() and not (p / "config.json").is_file()


def read_lora_config(adapter_dir: str | Path) -> LoraConfig:
    """Parse ``adapter_dir/adapter_config.json`` (ours or PEFT's)."""
    cfg_path = Path(adapter_dir) / ADAPTER_CONFIG
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path} not found (expected a PEFT adapter directory)")
    try:
        d = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_path}: invalid JSON: {e}") from e
    return LoraConfig.from_peft_dict(d, str(cfg_path))


def peft_module_key(key: str) -> tuple[str, str]:
    """``base_model.model.X.lora_A.weight`` → (``X``, ``"A"``); also ``lora_A.default.weight``."""
    k = key[len(PEFT_PREFIX) :] if key.startswith(PEFT_PREFIX) else key
    module_name, _, rest = k.rpartition(".lora_")
    return module_name, rest.split(".")[0]


def base_model_path(adapter_dir: str | Path) -> Path:
    """The base checkpoint an adapter names (``base_model_name_or_path``), relative paths resolved
    against the adapter directory first, then the current directory."""
    cfg = read_lora_config(adapter_dir)
    name = cfg.base_model_name_or_path
    where = Path(adapter_dir) / ADAPTER_CONFIG
    if not name:
        raise ValueError(f"{where}: no base_model_name_or_path; pass the base as --model and this "
                         "directory as --adapter")  # fmt: skip
    for cand in (Path(adapter_dir) / name, Path(name).expanduser()):
        if (cand / "config.json").is_file():
            return cand
    raise FileNotFoundError(
        f"{where}: base model {name!r} is not a local checkpoint directory; pass the base "
        "checkpoint as --model and this directory as --adapter"
    )


def merge_adapter(model: Any, adapter_dir: str | Path) -> list[str]:
    """Fold the adapter in ``adapter_dir`` into ``model``'s weights in place; returns the merged
    module names. Every tensor must land on a matching ``nn.Linear`` with the right shape, and every
    module must get both A and B, so an adapter for another base fails loudly."""
    import torch
    from safetensors.torch import load_file

    config = read_lora_config(adapter_dir)
    w_path = Path(adapter_dir) / ADAPTER_WEIGHTS
    if not w_path.is_file():
        bin_hint = (Path(adapter_dir) / "adapter_model.bin").exists()
        hint = " (adapter_model.bin is not supported; re-save with safetensors)" if bin_hint else ""
        raise FileNotFoundError(f"{w_path} not found{hint}")
    modules = dict(model.named_modules())
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in load_file(str(w_path)).items():
        name, which = peft_module_key(key)
        target = modules.get(name)
        if which not in ("A", "B") or not isinstance(target, torch.nn.Linear):
            raise ValueError(
                f"{w_path}: tensor {key!r} does not match any linear layer of this model"
            )
        pairs.setdefault(name, {})[which] = value
    for name, ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise ValueError(f"{w_path}: {name} has lora_{'A' if 'A' in ab else 'B'} but not both")
        weight = modules[name].weight  # [out, in]
        a, b = ab["A"].float(), ab["B"].float()  # [r, in], [out, r]
        if a.shape != (config.r, weight.shape[1]) or b.shape != (weight.shape[0], config.r):
            raise ValueError(
                f"{w_path}: {name}: A {tuple(a.shape)} / B {tuple(b.shape)} do not fit a weight of "
                f"shape {tuple(weight.shape)} with r={config.r}"
            )
        with torch.no_grad():
            delta = config.scaling * (b.to(weight.device) @ a.to(weight.device))  # [out, in]
            weight.copy_((weight.float() + delta).to(weight.dtype))
    if not pairs:
        raise ValueError(f"{w_path}: no LoRA tensors found")
    return sorted(pairs)


def load_llm_with_adapter(base: str | Path, adapter_dir: str | Path, **kwargs: Any) -> Any:
    """``tinyqwen.LLM`` of ``base`` with the adapter merged in; named ``base+adapter``."""
    from tinyqwen.llm import LLM

    read_lora_config(adapter_dir)  # fail on a bad adapter before loading the base
    llm = LLM.from_pretrained(base, **kwargs)
    merge_adapter(llm.model, adapter_dir)
    llm.name = f"{Path(base).name}+{Path(adapter_dir).name}"
    return llm


__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "PEFT_PREFIX",
    "LoraConfig",
    "base_model_path",
    "is_adapter_dir",
    "load_llm_with_adapter",
    "merge_adapter",
    "peft_module_key",
    "read_lora_config",
]
