"""Hand-written LoRA: exactness at init, merge/unmerge, and adapter exchange with peft in both directions.

Tolerances (fp32): merged vs unmerged outputs 1e-5 absolute; unmerge restores W to 1e-6; our model +
adapter vs transformers + peft on the same checkpoint: logits 1e-5 absolute (logits are O(1); the two
implementations differ only in float summation order; measured 0.0 on CPU).
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from training_fixtures import TOY_MODEL

from qwen_blog import lora


def _layer(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(48, 32, bias=True)


def test_b_zero_equals_base_exactly():
    base = _layer()
    x = torch.randn(5, 7, 48)
    ref = base(x)
    layer = lora.LoRALinear(base, r=4, lora_alpha=8)
    assert (
        torch.count_nonzero(layer.lora_B.weight) == 0
        and torch.count_nonzero(layer.lora_A.weight) > 0
    )
    assert torch.equal(layer(x), ref)  # bit-identical: the update is exactly zero


def test_lora_math_merge_and_unmerge():
    base = _layer()
    w0 = base.weight.detach().clone()
    layer = lora.LoRALinear(base, r=4, lora_alpha=12)
    nn.init.normal_(layer.lora_B.weight)
    x = torch.randn(3, 48)
    expected = x @ w0.T + base.bias + (12 / 4) * (x @ layer.lora_A.weight.T @ layer.lora_B.weight.T)
    out = layer(x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    layer.merge()
    assert layer.merged
    torch.testing.assert_close(layer(x), out, atol=1e-5, rtol=0)
    layer.unmerge()
    torch.testing.assert_close(base.weight, w0, atol=1e-6, rtol=0)
    torch.testing.assert_close(layer(x), out, atol=1e-6, rtol=0)


def test_rslora_scaling_and_dropout_only_in_training():
    base = _layer()
    layer = lora.LoRALinear(base, r=16, lora_alpha=8, lora_dropout=0.5, use_rslora=True)
    assert layer.scaling == pytest.approx(8 / 4)
    nn.init.normal_(layer.lora_B.weight)
    x = torch.randn(4, 48)
    layer.train()
    assert not torch.equal(layer(x), layer(x))  # dropout on the adapter path
    layer.eval()
    assert torch.equal(layer(x), layer(x))


def _toy_model(seed=0):
    from tinyqwen import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config.from_dict({**TOY_MODEL, "vocab_size": 256, "max_position_embeddings": 64})
    model = Qwen2ForCausalLM(cfg)
    with torch.no_grad():  # non-trivial biases and norms, so every path is exercised
        for n, p in model.named_parameters():
            if n.endswith("bias") or "norm" in n:
                p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_apply_lora_freezes_everything_but_adapters():
    model = _toy_model()
    names = lora.apply_lora(model, lora.LoraConfig(r=4, target_modules=("q_proj", "down_proj")))
    assert names == [
        f"model.layers.{i}.{m}" for i in range(2) for m in ("self_attn.q_proj", "mlp.down_proj")
    ]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{n}.lora_{w}.weight" for n in names for w in "AB"}
    with pytest.raises(ValueError, match="target_modules"):
        lora.apply_lora(_toy_model(), lora.LoraConfig(target_modules=("qproj",)))


def _randomize_b(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in lora.lora_layers(model).values():
            m.lora_B.weight.copy_(torch.randn(m.lora_B.weight.shape, generator=g) * 0.05)


def test_save_load_roundtrip_and_merged_model(tmp_path):
    ids = torch.randint(0, 256, (2, 12))
    model = _toy_model()
    lora.apply_lora(model, lora.LoraConfig(r=4, lora_alpha=8))
    _randomize_b(model)
    ref = model(ids)
    lora.save_lora(model, tmp_path)
    cfg = json.loads((tmp_path / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and len(cfg["target_modules"]) == 7
    other = _toy_model()
    lora.load_lora(other, tmp_path)
    assert torch.equal(other(ids), ref)
    merged = lora.merge_and_unload(other)
    assert not lora.lora_layers(merged)
    torch.testing.assert_close(merged(ids), ref, atol=1e-5, rtol=0)


def test_unsupported_peft_fields_are_rejected():
    with pytest.raises(ValueError, match="use_dora"):
        lora.LoraConfig.from_peft_dict({"r": 4, "target_modules": ["q_proj"], "use_dora": True})
    with pytest.raises(ValueError, match="modules_to_save"):
        lora.LoraConfig.from_peft_dict(
            {"r": 4, "target_modules": ["q_proj"], "modules_to_save": ["lm_head"]}
        )


@pytest.fixture()
def hf_pair(tmp_path):
    """Our toy model saved in HF layout, and transformers' Qwen2 loaded from the same directory."""
    transformers = pytest.importorskip("transformers")
    model = _toy_model()
    model.save_pretrained(tmp_path / "base")
    hf = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path / "base", dtype=torch.float32
    ).eval()
    return model, hf, tmp_path


def test_peft_loads_our_adapter(hf_pair):
    peft = pytest.importorskip("peft")
    ours, hf, tmp = hf_pair
    ids = torch.randint(0, 256, (2, 12))
    base_logits = hf(ids).logits
    torch.testing.assert_close(base_logits, ours(ids), atol=1e-5, rtol=0)  # same base
    lora.apply_lora(
        ours, lora.LoraConfig(r=4, lora_alpha=16, target_modules=("q_proj", "v_proj", "up_proj"))
    )
    _randomize_b(ours)
    lora.save_lora(ours, tmp / "ours")
    pm = peft.PeftModel.from_pretrained(hf, tmp / "ours").eval()
    diff = (pm(ids).logits - ours(ids)).abs().max().item()
    assert diff < 1e-5, diff
    base_diff = (base_logits - ours(ids)).abs().max().item()
    assert (
        base_diff > 1e-3
    )  # the adapter really changes the output (the check above is not vacuous)


def test_we_load_a_peft_made_adapter(hf_pair):
    peft = pytest.importorskip("peft")
    ours, hf, tmp = hf_pair
    pcfg = peft.LoraConfig(r=8, lora_alpha=32, lora_dropout=0.1, target_modules=["k_proj", "o_proj", "gate_proj", "down_proj"],
                           task_type="CAUSAL_LM")  # fmt: skip
    pm = peft.get_peft_model(hf, pcfg)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    pm.eval()
    pm.save_pretrained(tmp / "peft")
    ids = torch.randint(0, 256, (2, 12))
    expected = pm(ids).logits
    cfg = lora.load_lora(ours, tmp / "peft")
    assert cfg.r == 8 and cfg.scaling == 4.0 and set(cfg.target_modules) == set(pcfg.target_modules)
    ours.eval()
    diff = (ours(ids) - expected).abs().max().item()
    assert diff < 1e-5, diff
