"""Training the Qwen3 family: ``pretrain --config qwen3-tiny / qwen3-moe-tiny`` (shortened to a few
steps), the MoE auxiliary loss in the objective and the log, transformers loading the result, and
LoRA SFT on top of an MoE checkpoint (adapters on every expert's projections).

Margins: the MoE objective's gradient equals autograd of ``CE_mean + coef * aux`` within 1e-6;
transformers on our trained checkpoints within 1e-4 of tinyqwen's logits.
"""

from __future__ import annotations

import json

import pytest
import torch
from training_fixtures import tokenizer, toy_corpus  # noqa: F401

from qwen_blog import corpus, lora, pretrain, sft
from qwen_blog.trainer import loss_sum

SHORT = ["--max-steps", "6", "--eval-every", "3", "--save-every", "6", "--seq-len", "32",
         "--micro-batch-size", "4", "--warmup-steps", "2"]  # fmt: skip


def _records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module", params=["qwen3-tiny", "qwen3-moe-tiny"])
def run(request, tmp_path_factory, toy_corpus, tokenizer):  # noqa: F811
    out = tmp_path_factory.mktemp("runs") / request.param
    pretrain.main(["--config", request.param, "--data", str(toy_corpus), "--out", str(out),
                   *SHORT, "--keep-last", "0", "--device", "cpu", "--no-progress"])  # fmt: skip
    return request.param, out


def test_pretrain_presets_train_and_transformers_loads_them(run):
    import transformers

    from tinyqwen import AutoModelForCausalLM

    name, out = run
    records = _records(out)
    assert len(records) == 6 and all(r["loss"] > 0 for r in records)
    moe = name == "qwen3-moe-tiny"
    # the router's load-balancing loss is logged for MoE only (>= top_k = 2 by construction)
    assert all((r["aux_loss"] is not None) == moe for r in records)
    if moe:
        assert all(r["aux_loss"] >= 2.0 - 1e-6 for r in records)
    ckpt = out / "step-000006"
    config = json.loads((ckpt / "config.json").read_text())
    assert config["model_type"] == ("qwen3_moe" if moe else "qwen3")
    ours = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
    hf = transformers.AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
    x = torch.randint(0, 256, (2, 16))
    with torch.no_grad():
        assert (hf(x).logits - ours(x)).abs().max().item() < 1e-4


def test_moe_objective_is_ce_plus_coef_times_aux(run):
    from tinyqwen import AutoModelForCausalLM
    from tinyqwen.moe import load_balancing_loss

    name, out = run
    if name != "qwen3-moe-tiny":
        pytest.skip("dense model: no router")
    model = AutoModelForCausalLM.from_pretrained(out / "step-000006", dtype=torch.float32).train()
    cfg = model.config
    ids = torch.randint(0, 256, (2, 17))
    batch = {"input_ids": ids[:, :-1], "targets": ids[:, 1:]}
    s, n, aux = loss_sum(model, batch)
    logits, router_logits = model(batch["input_ids"], output_router_logits=True)
    want = load_balancing_loss(router_logits, cfg.num_experts, cfg.num_experts_per_tok)
    assert aux.item() == pytest.approx(want.item(), rel=1e-6)
    model.eval()
    assert loss_sum(model, batch)[2] is None  # evaluation reports the plain cross-entropy


def test_lora_sft_on_an_moe_checkpoint_adapts_every_expert(run, tmp_path):
    name, out = run
    if name != "qwen3-moe-tiny":
        pytest.skip("covered for the dense presets by test_train_loop.py")
    chats = corpus.write_sft_corpus(tmp_path / "chats.jsonl", n=32, seed=3)
    sft.main(["--base", str(out / "step-000006"), "--data", str(chats), "--lora", "--max-steps", "3",
              "--save-every", "3", "--eval-every", "3", "--micro-batch-size", "4", "--keep-last", "0",
              "--device", "cpu", "--no-progress", "--out", str(tmp_path / "sft")])  # fmt: skip
    adapter = tmp_path / "sft" / "step-000003"
    from safetensors import safe_open

    with safe_open(str(adapter / "adapter_model.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    # 4 layers x 8 experts x (gate, up, down) expert projections, plus attention
    assert sum(".mlp.experts." in k and "lora_A" in k for k in keys) == 4 * 8 * 3
    assert any("self_attn.q_proj.lora_A" in k for k in keys)
    assert all(r["aux_loss"] is not None for r in _records(tmp_path / "sft"))
    from tinyqwen import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "step-000006", dtype=torch.float32)
    lora.load_lora(model, adapter)
    x = torch.randint(0, 256, (1, 12))
    with torch.no_grad():
        before = model(x)
        merged = lora.merge_and_unload(model)
        torch.testing.assert_close(merged(x), before, atol=1e-5, rtol=0)
