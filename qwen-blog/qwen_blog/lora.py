"""LoRA written by hand, saved and loaded in the PEFT layout.

LoRA (Hu et al., 2021) freezes a pretrained weight ``W [out, in]`` and learns a low-rank update

    y = x W^T + b  +  scaling * dropout(x) A^T B^T,      A [r, in], B [out, r], scaling = alpha / r

``B`` starts at zero, so an adapted model starts *exactly* equal to its base. Only ``A`` and ``B`` train:
for Qwen2.5-0.5B with r=8 on q/k/v/o/gate/up/down that is 4.4M parameters instead of 494M.

Worked example::

    >>> cfg = LoraConfig(r=8, lora_alpha=16, target_modules=("q_proj", "v_proj"))
    >>> apply_lora(model, cfg)                  # replaces matching nn.Linear in place, freezes the rest
    >>> ...train...
    >>> save_lora(model, "adapter/")             # adapter_config.json + adapter_model.safetensors (PEFT)
    >>> merge_lora(model)                        # W += scaling * B @ A; forward is now one matmul
    >>> unmerge_lora(model)                      # W -= scaling * B @ A (float rounding only)

Names follow PEFT so adapters move both ways: the module ``model.layers.0.self_attn.q_proj`` gets
``lora_A`` / ``lora_B`` children, stored as
``base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight``; ``peft.PeftModel.from_pretrained``
on a transformers Qwen2 loads what :func:`save_lora` writes, and :func:`load_lora` loads what peft saves.

The PEFT config (``LoraConfig``, ``read_lora_config``) and key names come from
``tinyqwen.adapters``, which also merges an adapter into a model for inference (eval, serve, chat).

Limits: plain LoRA on ``nn.Linear`` only. PEFT features that change the maths (DoRA, LoRA bias,
``modules_to_save``, rank/alpha patterns, ``layers_to_transform``, fan_in_fan_out, trainable tokens) are
rejected with an error naming the field rather than silently ignored. ``use_rslora`` is supported.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tinyqwen.adapters import (  # the PEFT layout is read in one place: tinyqwen.adapters
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    ALL_TARGETS,
    PEFT_PREFIX,
    LoraConfig,
    peft_module_key,
    read_lora_config,
)
from tinyqwen.atomic import atomic_path, atomic_write_text


class LoRALinear(nn.Module):
    """``nn.Linear`` plus a low-rank update; the base layer is kept (frozen) as ``base_layer``."""

    def __init__(
        self,
        base: nn.Linear,
        r: int,
        lora_alpha: float,
        lora_dropout: float = 0.0,
        use_rslora: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps nn.Linear, got {type(base).__name__}")
        self.base_layer = base
        self.r = r
        self.scaling = lora_alpha / (math.sqrt(r) if use_rslora else r)
        self.lora_dropout = nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(base.in_features, r, bias=False, **kw)  # weight [r, in]
        self.lora_B = nn.Linear(r, base.out_features, bias=False, **kw)  # weight [out, r]
        # Same init as PEFT: A ~ kaiming-uniform (as nn.Linear), B = 0 -> the update starts at exactly 0.
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.merged = False
        base.weight.requires_grad_(False)
        if base.bias is not None:
            base.bias.requires_grad_(False)

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    @property
    def weight(self) -> torch.Tensor:  # code that reads `.weight` (e.g. tied checks) still works
        return self.base_layer.weight

    def delta_weight(self) -> torch.Tensor:
        """scaling * B @ A, the update to W, computed in fp32 then cast to W's dtype.  # [out, in]"""
        b, a = self.lora_B.weight.float(), self.lora_A.weight.float()
        return (self.scaling * (b @ a)).to(self.base_layer.weight.dtype)

    @torch.no_grad()
    def merge(self) -> None:
        if self.merged:
            return
        self.base_layer.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged:
            return
        self.base_layer.weight -= self.delta_weight()
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [..., in]
        y = self.base_layer(x)  # [..., out]
        if self.merged:
            return y
        # Cast x to the adapter dtype (as PEFT does) so a bf16 base can carry fp32 adapters.
        xa = self.lora_dropout(x).to(self.lora_A.weight.dtype)
        return y + (self.lora_B(self.lora_A(xa)) * self.scaling).to(y.dtype)

    def extra_repr(self) -> str:
        return f"r={self.r}, scaling={self.scaling:g}, merged={self.merged}"


def _matches(name: str, targets: tuple[str, ...]) -> bool:
    # PEFT's list semantics: a module matches when its full name equals a target or ends with ".target".
    return any(name == t or name.endswith("." + t) for t in targets)


def apply_lora(model: nn.Module, config: LoraConfig) -> list[str]:
    """Replace every ``nn.Linear`` whose name matches ``config.target_modules`` by a ``LoRALinear``.

    Freezes every parameter of ``model`` except the new ``lora_A`` / ``lora_B``. Returns the adapted module
    names. Raises if nothing matched (a typo in target_modules would otherwise train nothing).
    """
    for p in model.parameters():
        p.requires_grad_(False)
    names = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and _matches(n, config.target_modules)
    ]
    if not names:
        raise ValueError(
            f"no nn.Linear in the model matches target_modules={list(config.target_modules)}"
        )
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        base = getattr(parent, child)
        setattr(
            parent,
            child,
            # in the model's mode: adapters added to an eval() model must not apply dropout
            LoRALinear(
                base, config.r, config.lora_alpha, config.lora_dropout, config.use_rslora
            ).train(model.training),
        )
    model.lora_config = config  # remembered for save_lora
    return names


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def merge_lora(model: nn.Module) -> None:
    for m in lora_layers(model).values():
        m.merge()


def unmerge_lora(model: nn.Module) -> None:
    for m in lora_layers(model).values():
        m.unmerge()


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and put the plain ``nn.Linear`` back (for export)."""
    for name, m in lora_layers(model).items():
        m.merge()
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, m.base_layer)
    if hasattr(model, "lora_config"):
        del model.lora_config
    return model


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Adapter weights under PEFT's key names (``base_model.model.<module>.lora_A.weight``)."""
    out = {}
    for name, m in lora_layers(model).items():
        out[f"{PEFT_PREFIX}{name}.lora_A.weight"] = m.lora_A.weight.detach().contiguous().cpu()
        out[f"{PEFT_PREFIX}{name}.lora_B.weight"] = m.lora_B.weight.detach().contiguous().cpu()
    return out


def save_lora(model: nn.Module, out_dir: str | Path, config: LoraConfig | None = None) -> Path:
    """Write ``adapter_config.json`` + ``adapter_model.safetensors`` (PEFT layout), each atomically."""
    config = config or getattr(model, "lora_config", None)
    if config is None:
        raise ValueError("save_lora: the model has no adapters (call apply_lora first)")
    if any(m.merged for m in lora_layers(model).values()):
        raise ValueError(
            "save_lora: adapters are merged into the base weights; unmerge_lora() first"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = lora_state_dict(model)
    with atomic_path(out / ADAPTER_WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    text = json.dumps(config.to_peft_dict(), indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(out / ADAPTER_CONFIG, text)
    return out


def load_lora(model: nn.Module, adapter_dir: str | Path) -> LoraConfig:
    """Attach the adapter in ``adapter_dir`` (ours or PEFT-made) to ``model`` and load its weights."""
    config = read_lora_config(adapter_dir)
    apply_lora(model, config)
    load_lora_weights(model, adapter_dir)
    return config


def load_lora_weights(model: nn.Module, adapter_dir: str | Path) -> None:
    """Copy ``adapter_model.safetensors`` into the model's existing adapters (in place).

    Checks both ways: every tensor in the file must land on an adapted module with the right shape, and
    every adapted module must get both A and B, so a mismatched base model fails loudly.
    """
    adir = Path(adapter_dir)
    w_path = adir / ADAPTER_WEIGHTS
    if not w_path.is_file():
        hint = (
            " (adapter_model.bin is not supported; re-save with safetensors)"
            if (adir / "adapter_model.bin").exists()
            else ""
        )
        raise FileNotFoundError(f"{w_path} not found{hint}")
    layers = lora_layers(model)
    if any(m.merged for m in layers.values()):
        raise ValueError("load_lora_weights: adapters are merged; unmerge_lora() first")
    tensors = load_file(str(w_path))
    seen: set[str] = set()
    for key, value in tensors.items():
        module_name, which = peft_module_key(key)
        if module_name not in layers or which not in ("A", "B"):
            raise KeyError(
                f"{w_path}: tensor {key!r} does not match any adapted module of this model"
            )
        param = getattr(layers[module_name], f"lora_{which}").weight
        if param.shape != value.shape:
            raise ValueError(
                f"{w_path}: tensor {key!r} has shape {tuple(value.shape)}, "
                f"expected {tuple(param.shape)}"
            )
        with torch.no_grad():
            param.copy_(value.to(param.dtype))
        seen.add(f"{module_name}.{which}")
    missing = [f"{n}.lora_{w}" for n in layers for w in "AB" if f"{n}.{w}" not in seen]
    if missing:
        raise KeyError(
            f"{w_path}: no weights for {missing[:4]}{' ...' if len(missing) > 4 else ''}"
        )


def count_trainable(model: nn.Module) -> tuple[int, int]:
    """(trainable parameters, all parameters)."""
    total = sum(p.numel() for p in model.parameters())
    train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return train, total


__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "ALL_TARGETS",
    "PEFT_PREFIX",
    "LoraConfig",
    "LoRALinear",
    "apply_lora",
    "load_lora",
    "load_lora_weights",
    "read_lora_config",
    "save_lora",
    "merge_lora",
    "unmerge_lora",
    "merge_and_unload",
    "lora_state_dict",
    "lora_layers",
    "count_trainable",
]
