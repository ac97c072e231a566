"""Qwen3 / MoE specifics beyond the shared parity suite (tests/test_model_parity.py runs every family
through logits, greedy, cache and batching checks): bf16, router logits and the load-balancing loss
against transformers, saving back to transformers, model_type errors, training paths.

Tolerances: fp32 logits and losses vs transformers <= 1e-4 (losses: 1e-6 relative); bf16 logits <= 0.02.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import make_hf_checkpoint

from tinyqwen.auto import AutoModelForCausalLM
from tinyqwen.config import Qwen2Config
from tinyqwen.generation import generate
from tinyqwen.moe import load_balancing_loss

QWEN3 = dict(model_type="qwen3", num_hidden_layers=2, head_dim=32, tie_word_embeddings=False)
QWEN3_MOE = dict(
    model_type="qwen3_moe",
    num_hidden_layers=3,
    head_dim=32,
    num_experts=8,
    num_experts_per_tok=2,
    moe_intermediate_size=32,
    norm_topk_prob=True,
    mlp_only_layers=[1],
)
QWEN2_MOE = dict(
    model_type="qwen2_moe",
    num_hidden_layers=2,
    num_experts=6,
    num_experts_per_tok=2,
    moe_intermediate_size=24,
    shared_expert_intermediate_size=96,
)


def ids_and_mask(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 512, (3, 20), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :7] = 0  # left padding
    mask[2, :15] = 0
    return ids, mask


@pytest.mark.parametrize("family", [QWEN3, QWEN3_MOE, QWEN2_MOE], ids=lambda f: f["model_type"])
def test_bf16_matches_transformers_bf16(monkeypatch, tmp_path, family):
    import transformers

    import tinyqwen.linear
    import tinyqwen.native

    # transformers' bf16 GEMM order; the fp32 path for many rows (tinyqwen.linear) is tested there
    monkeypatch.setattr(tinyqwen.linear, "upcast_is_faster", lambda: False)
    # dense Qwen3's decode steps in one C call (tinyqwen.native_decode) on any machine with the kernels
    monkeypatch.setattr(tinyqwen.linear, "native_decode_is_faster", tinyqwen.native.available)

    path, _ = make_hf_checkpoint(tmp_path, seed=2, **family)
    ours = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    hf = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
    ids = torch.randint(0, 512, (1, 30), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        got, want = ours(ids), hf(ids).logits.float()
    assert (got - want).abs().max().item() <= 0.02
    prompt = ids[0, :7].tolist()
    out = hf.generate(torch.tensor([prompt]), max_new_tokens=32, do_sample=False, pad_token_id=0)
    assert generate(ours, [prompt], max_new_tokens=32)[0] == out[0, 7:].tolist()


@pytest.mark.parametrize("family", [QWEN3_MOE, QWEN2_MOE], ids=lambda f: f["model_type"])
def test_router_logits_and_aux_loss_match_transformers(tmp_path, family):
    path, hf = make_hf_checkpoint(tmp_path, seed=4, **family)
    ours = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    cfg = ours.config
    ids, mask = ids_and_mask()
    position_ids = (mask.cumsum(-1) - 1).clamp_min(0)
    for attention_mask in (None, mask):
        kw = {} if attention_mask is None else dict(attention_mask=mask, position_ids=position_ids)
        with torch.no_grad():
            logits, router_logits = ours(ids, output_router_logits=True, **kw)
            want = hf(ids, output_router_logits=True, **kw)
        sparse = sum(cfg.is_moe_layer(i) for i in range(cfg.num_hidden_layers))
        assert len(router_logits) == len(want.router_logits) == sparse
        real = (
            torch.ones(ids.numel(), dtype=torch.bool)
            if attention_mask is None
            else mask.view(-1) > 0
        )
        for a, b in zip(router_logits, want.router_logits, strict=True):
            assert a.shape == (ids.numel(), cfg.num_experts)
            # padding rows attend to nothing; their values differ and never count
            assert (a[real] - b[real]).abs().max().item() <= 1e-4
        aux = load_balancing_loss(
            router_logits, cfg.num_experts, cfg.num_experts_per_tok, attention_mask
        )
        assert aux.item() == pytest.approx(want.aux_loss.item(), rel=1e-6)
        assert (
            aux.item() > cfg.num_experts_per_tok * 0.99
        )  # >= k; k only for a perfectly even router
    # the loss transformers trains on is lm loss + router_aux_loss_coef * aux
    labels = ids.clone()
    with torch.no_grad():
        want = hf(ids, labels=labels, output_router_logits=True)
        logits, router_logits = ours(ids, output_router_logits=True)
    lm = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
    )
    aux = load_balancing_loss(router_logits, cfg.num_experts, cfg.num_experts_per_tok)
    assert (lm + cfg.router_aux_loss_coef * aux).item() == pytest.approx(want.loss.item(), rel=1e-5)


def test_load_balancing_loss_prefers_an_even_router():
    even = (torch.zeros(64, 4),)  # every expert equally likely
    lopsided = (torch.tensor([[5.0, 0, 0, 0]]).repeat(64, 1),)  # expert 0 takes everything
    assert load_balancing_loss(even, 4, 1).item() == pytest.approx(1.0)
    assert load_balancing_loss(lopsided, 4, 1).item() > 3.0
    with pytest.raises(ValueError, match="at least one MoE layer"):
        load_balancing_loss((), 4, 1)


def test_moe_block_runs_only_the_experts_that_got_tokens(tmp_path):
    path, _ = make_hf_checkpoint(tmp_path, seed=5, **QWEN3_MOE)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    block = model.model.layers[0].mlp
    called: list[int] = []
    for e, expert in enumerate(block.experts):
        expert.register_forward_hook(lambda *_, e=e: called.append(e))
    # with grad enabled the experts run as modules (inference uses packed weights, same math)
    for shape in ((1, 1, 64), (2, 3, 64)):
        called.clear()
        _, router_logits = block(torch.randn(*shape))
        assert sorted(called) == sorted(set(router_logits.topk(2).indices.flatten().tolist()))


@pytest.mark.parametrize("family", [QWEN3, QWEN3_MOE, QWEN2_MOE], ids=lambda f: f["model_type"])
def test_saved_model_loads_in_transformers(tmp_path, family):
    import transformers

    path, _ = make_hf_checkpoint(tmp_path / "src", seed=6, **family)
    ours = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    ours.save_pretrained(tmp_path / "copy")
    saved = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert saved["model_type"] == family["model_type"]
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "copy", dtype=torch.float32)
    ids, _ = ids_and_mask(7)
    with torch.no_grad():
        assert (ours(ids) - hf(ids).logits).abs().max().item() <= 1e-4


def test_family_defaults_when_config_json_omits_them():
    # transformers' Qwen3 default head_dim is 128 (not hidden / heads) and there is no qkv bias
    cfg = Qwen2Config.from_dict(
        {"model_type": "qwen3", "hidden_size": 64, "num_attention_heads": 4}
    )
    assert (cfg.head_dim, cfg.qkv_bias_enabled, cfg.qk_norm) == (128, False, True)
    cfg = Qwen2Config.from_dict(
        {"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4}
    )
    assert (cfg.head_dim, cfg.qkv_bias_enabled, cfg.qk_norm) == (16, True, False)
    # transformers 5.x writes Qwen3-MoE's expert count as num_local_experts
    cfg = Qwen2Config.from_dict({"model_type": "qwen3_moe", "num_local_experts": 16})
    assert cfg.num_experts == 16 and cfg.num_experts_per_tok == 8
    with pytest.raises(ValueError, match="num_experts_per_tok"):
        Qwen2Config.from_dict(
            {"model_type": "qwen3_moe", "num_experts": 4, "num_experts_per_tok": 8}
        )


@pytest.mark.parametrize("model_type", ["llama", "mistral", "qwen2_vl"])
def test_unsupported_model_type_is_one_clear_error(tmp_path, model_type):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type, "hidden_size": 64}))
    with pytest.raises(ValueError) as e:
        AutoModelForCausalLM.from_pretrained(tmp_path)
    msg = str(e.value)
    assert f"unsupported model_type {model_type!r}" in msg
    assert "qwen2, qwen3, qwen2_moe, qwen3_moe" in msg and "config.json" in msg
    with pytest.raises(TypeError):
        AutoModelForCausalLM()


def test_gradient_checkpointing_keeps_moe_gradients(tmp_path):
    path, _ = make_hf_checkpoint(tmp_path, seed=8, **QWEN3_MOE)
    ids, _ = ids_and_mask(9)
    grads = []
    for flag in (False, True):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).train()
        model.gradient_checkpointing = flag
        logits, router_logits = model(ids, output_router_logits=True)
        lm = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:])
        (lm + 0.1 * load_balancing_loss(router_logits, 8, 2)).backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    assert grads[0]["model.layers.0.mlp.gate.weight"].abs().sum() > 0  # the router learns
    for k in grads[0]:
        assert torch.allclose(grads[0][k], grads[1][k], atol=1e-6), k


def test_cli_info_describes_moe_and_rejects_llama(tmp_path, capsys):
    from tinyqwen import cli
    from tinyqwen.tiny_random import load_tiny_random

    path, _ = make_hf_checkpoint(tmp_path / "moe", seed=10, **QWEN2_MOE)
    load_tiny_random().tokenizer.save_pretrained(path)
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "qwen2_moe" in out and "2 of 6 x 24" in out and "shared expert" in out
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert cli.main(["info", str(tmp_path / "llama")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "unsupported model_type 'llama'" in err
    assert len(err.splitlines()) == 1


def test_packed_inference_weights_are_views_and_keep_every_path_exact(tmp_path):
    path, hf = make_hf_checkpoint(tmp_path / "src", seed=11, **QWEN3_MOE)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    block = model.model.layers[0].mlp
    ids = torch.randint(0, 512, (2, 9), generator=torch.Generator().manual_seed(12))
    with torch.enable_grad():  # training-style call: per-expert path, nothing packed
        reference = model(ids).detach()
    assert getattr(block, "_packed", None) is None
    with torch.no_grad():
        packed = model(ids)  # inference: packs the experts on first use
        one = model(ids[:1, :1])  # the one-token path on packed weights
        assert torch.allclose(one, hf(ids[:1, :1]).logits, atol=1e-4)
    gate_up, down = block._packed
    size = block.experts[0].gate_proj.out_features
    assert block.experts[3].up_proj.weight.data_ptr() == gate_up[3, size:].data_ptr()  # a view
    assert torch.allclose(packed, reference, atol=1e-5)
    # the parameters still train, and saving writes ordinary (unshared) tensors
    logits = model(ids)
    logits.sum().backward()
    assert block.experts[0].gate_proj.weight.grad is not None or block.gate.weight.grad is not None
    model.save_pretrained(tmp_path / "copy")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "copy", dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(again(ids), packed)


def test_packing_during_training_keeps_the_optimizer_in_charge(tmp_path):
    path, _ = make_hf_checkpoint(tmp_path, seed=13, **QWEN3_MOE)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).train()
    weight = model.model.layers[0].mlp.experts[0].gate_proj.weight
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ids = torch.randint(0, 512, (2, 9), generator=torch.Generator().manual_seed(14))
    with torch.no_grad():
        model(ids)  # an evaluation packs the experts
    assert model.model.layers[0].mlp.experts[0].gate_proj.weight is weight  # same Parameter
    model(ids).logsumexp(-1).mean().backward()
    before = weight.detach().clone()
    opt.step()
    packed_row = model.model.layers[0].mlp._packed[0][0, : weight.shape[0]]
    assert not torch.equal(weight, before) and torch.equal(packed_row, weight)
