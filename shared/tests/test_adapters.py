"""LoRA adapters for inference (tinyqwen.adapters): an adapter made by peft on a tiny random
transformers Qwen2, merged into our model, gives the logits of peft's own PeftModel (fp32,
<= 1e-4, the model-parity bar); the adapter directory passed as the model is recognised; bad
adapters fail with errors naming the file and tensor."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import make_hf_checkpoint

import tinyqwen
from tinyqwen.adapters import (
    LoraConfig,
    base_model_path,
    is_adapter_dir,
    load_llm_with_adapter,
    merge_adapter,
    read_lora_config,
)
from tinyqwen.tiny_random import load_tiny_random

peft = pytest.importorskip("peft")
TOL = 1e-4


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("base")
    tok = load_tiny_random().tokenizer
    _, hf = make_hf_checkpoint(path, vocab_size=tok.vocab_size, eos_token_id=tok.eos_token_id)
    tok.save_pretrained(path)
    return path, hf


def _peft_adapter(hf, out, base_path, **cfg):
    """A peft adapter with random (non-zero) A and B, saved by peft itself."""
    import copy

    torch.manual_seed(1)
    config = peft.LoraConfig(
        r=cfg.pop("r", 4), lora_alpha=cfg.pop("lora_alpha", 8),
        target_modules=cfg.pop("target_modules", ["q_proj", "v_proj", "o_proj", "down_proj"]),
        init_lora_weights=False, base_model_name_or_path=str(base_path), **cfg,
    )  # fmt: skip
    base_copy = copy.deepcopy(hf)
    base_copy.name_or_path = base_copy.config._name_or_path = str(base_path)  # peft records it
    model = peft.get_peft_model(base_copy, config).eval()
    model.save_pretrained(out)
    return model


@pytest.mark.parametrize("variant", [{}, {"use_rslora": True, "r": 8, "lora_alpha": 4}])
def test_merged_logits_equal_peft(base, tmp_path, variant) -> None:
    path, hf = base
    adir = tmp_path / "adapter"
    ref = _peft_adapter(hf, adir, path, **dict(variant))
    ids = torch.randint(
        0, hf.config.vocab_size, (2, 11), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        want = ref(input_ids=ids).logits
        base_logits = hf(input_ids=ids).logits
        # fp32 for the comparison (connect's default dtype may be bf16 on a bf16-capable CPU)
        for llm in (
            load_llm_with_adapter(path, adir, dtype=torch.float32),
            load_llm_with_adapter(base_model_path(adir), adir, dtype=torch.float32),
        ):
            got = llm.model(ids)
            got = got.logits if hasattr(got, "logits") else got
            diff = (got - want).abs().max().item()
            print(f"merged LoRA vs peft PeftModel {variant}: max |logit diff| = {diff:.2e}")
            assert diff <= TOL
            assert llm.name == f"{path.name}+adapter"
    # the user paths: --model BASE --adapter DIR, and --model ADAPTER_DIR (default dtype)
    fp32 = dict(load_llm_with_adapter(path, adir, dtype=torch.float32).model.named_parameters())
    for llm in (tinyqwen.connect(str(path), adapter=adir), tinyqwen.connect(str(adir))):
        assert llm.name == f"{path.name}+adapter"
        for name, p in llm.model.named_parameters():
            assert torch.allclose(p.float(), fp32[name], atol=2e-2, rtol=2e-2), name
    assert (want - base_logits).abs().max().item() > 1e-2  # the adapter really changes the model
    assert is_adapter_dir(adir) and not is_adapter_dir(path)
    assert read_lora_config(adir).use_rslora is variant.get("use_rslora", False)


def test_generation_uses_the_merged_weights(base, tmp_path) -> None:
    path, hf = base
    adir = tmp_path / "adapter"
    _peft_adapter(hf, adir, path)
    plain = tinyqwen.connect(str(path))
    merged = tinyqwen.connect(str(adir))
    prompts = ["hello", "你好，世界"]
    assert plain.complete(prompts, max_new_tokens=8) != merged.complete(prompts, max_new_tokens=8)


def test_bad_adapters_fail_loudly(base, tmp_path) -> None:
    path, hf = base
    adir = tmp_path / "adapter"
    _peft_adapter(hf, adir, path)
    other_path, other = make_hf_checkpoint(
        tmp_path / "other", hidden_size=32, vocab_size=hf.config.vocab_size
    )
    from tinyqwen.model import Qwen2ForCausalLM

    with pytest.raises(ValueError, match="do not fit a weight"):
        merge_adapter(Qwen2ForCausalLM.from_pretrained(other_path), adir)
    cfg = json.loads((adir / "adapter_config.json").read_text())
    for key, value in (
        ("use_dora", True),
        ("modules_to_save", ["lm_head"]),
        ("target_modules", "q_proj|v_proj"),
    ):
        bad = tmp_path / f"bad_{key}"
        bad.mkdir()
        (bad / "adapter_config.json").write_text(json.dumps({**cfg, key: value}))
        with pytest.raises(ValueError, match=key):
            read_lora_config(bad)
    missing = tmp_path / "no_weights"
    missing.mkdir()
    (missing / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(FileNotFoundError, match="adapter_model.safetensors"):
        tinyqwen.connect(str(path), adapter=missing)
    with pytest.raises(ValueError, match="not a directory"):
        tinyqwen.connect(str(path), adapter=tmp_path / "nope")
    with pytest.raises(ValueError, match="HTTP endpoint"):
        tinyqwen.connect("http://127.0.0.1:9/v1", adapter=adir)
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    (orphan / "adapter_config.json").write_text(
        json.dumps({**cfg, "base_model_name_or_path": "Qwen/x"})
    )
    with pytest.raises(FileNotFoundError, match="not a local checkpoint"):
        tinyqwen.connect(str(orphan))


def test_tiny_random_plus_adapter_leaves_the_shared_model_alone(tmp_path) -> None:
    shared = load_tiny_random()
    before = shared.model.model.layers[0].self_attn.q_proj.weight.clone()
    cfg = LoraConfig(r=2, lora_alpha=2, target_modules=("q_proj",))
    from safetensors.torch import save_file

    q = shared.model.model.layers[0].self_attn.q_proj.weight
    adir = tmp_path / "a"
    adir.mkdir()
    (adir / "adapter_config.json").write_text(json.dumps(cfg.to_peft_dict()))
    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.ones(2, q.shape[1]),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.ones(q.shape[0], 2)},
              str(adir / "adapter_model.safetensors"))  # fmt: skip
    llm = tinyqwen.connect("tiny-random", adapter=adir)
    merged = llm.model.model.layers[0].self_attn.q_proj.weight
    assert torch.allclose(merged, before + 2.0)  # scaling 1 · (ones[out,2] @ ones[2,in]) = 2
    assert torch.equal(shared.model.model.layers[0].self_attn.q_proj.weight, before)


def test_generate_cli_takes_an_adapter(base, tmp_path, capsys) -> None:
    """`tinyqwen generate --adapter` (chat and serve share the same flag and connect call)."""
    from tinyqwen import cli
    from tinyqwen.serve.cli import main as serve_main

    path, hf = base
    adir = tmp_path / "adapter"
    _peft_adapter(hf, adir, path)
    argv = ["generate", "hello", "--model", str(path), "--max-new-tokens", "6"]
    assert cli.main(argv) == 0
    plain = capsys.readouterr().out
    assert cli.main([*argv, "--adapter", str(adir)]) == 0
    assert capsys.readouterr().out != plain
    with pytest.raises(ValueError, match="not a directory"):  # serve merges before it binds
        serve_main(["--model", str(path), "--adapter", str(tmp_path / "nope"), "--port", "1"])
