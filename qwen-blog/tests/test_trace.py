"""`python -m qwen_blog trace`: shapes follow the config, for tiny-random and a Qwen2.5-0.5B head layout."""

import subprocess
import sys

import pytest
import torch

import tinyqwen
from qwen_blog.trace import format_trace, parse_layers, trace_forward
from tinyqwen import LLM, Qwen2Config, Qwen2ForCausalLM


def _expected_shapes(cfg: Qwen2Config, T: int) -> dict[str, tuple[int, ...]]:
    H, Hkv, D = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    inter = cfg.intermediate_size
    hid = cfg.hidden_size
    shapes = {"embed": (1, T, hid), "norm": (1, T, hid), "logits": (1, T, cfg.vocab_size)}
    for i in range(cfg.num_hidden_layers):
        p = f"layers.{i}"
        shapes.update(
            {
                f"{p}.input_layernorm": (1, T, hid),
                f"{p}.self_attn.q": (1, H, T, D),
                f"{p}.self_attn.k": (1, Hkv, T, D),
                f"{p}.self_attn.v": (1, Hkv, T, D),
                f"{p}.self_attn.q_rope": (1, H, T, D),
                f"{p}.self_attn.k_rope": (1, Hkv, T, D),
                f"{p}.self_attn.mask *": (1, 1, T, T),
                f"{p}.self_attn.scores *": (1, H, T, T),
                f"{p}.self_attn.probs": (1, H, T, T),
                f"{p}.self_attn.attn_out": (1, T, H * D),
                f"{p}.self_attn.o_proj": (1, T, hid),
                f"{p}.post_attention_layernorm": (1, T, hid),
                f"{p}.mlp.gate": (1, T, inter),
                f"{p}.mlp.up": (1, T, inter),
                f"{p}.mlp.act": (1, T, inter),
                f"{p}.mlp.down": (1, T, hid),
                f"{p}.residual": (1, T, hid),
            }
        )
    return shapes


def _qwen05b_heads_llm() -> LLM:
    """Qwen2.5-0.5B's attention layout (hidden 896, 14 query / 2 KV heads, head_dim 64), 2 layers."""
    tok = tinyqwen.connect("tiny-random").tokenizer
    cfg = Qwen2Config(num_hidden_layers=2, vocab_size=tok.vocab_size, intermediate_size=1024)
    torch.manual_seed(0)
    return LLM(Qwen2ForCausalLM(cfg).eval(), tok, name="qwen05b-heads")


@pytest.mark.parametrize("which", ["tiny-random", "qwen05b-heads"])
def test_trace_shapes_follow_config(which: str):
    llm = tinyqwen.connect("tiny-random") if which == "tiny-random" else _qwen05b_heads_llm()
    cfg = llm.model.config
    text = "你好，Qwen! RoPE rotates q and k."
    result = trace_forward(llm, text)
    T = len(llm.tokenizer.encode(text))
    expected = _expected_shapes(cfg, T)
    got = {r.name: r.shape for r in result.rows}
    assert got == expected  # every op recorded, nothing extra, every shape right
    assert [r.name for r in result.rows][:2] == ["embed", "layers.0.input_layernorm"]
    # the greedy next token is the argmax of the last logits, and top-5 is sorted
    with torch.no_grad():
        logits = llm.model(torch.tensor([llm.tokenizer.encode(text)]))[0, -1]
    assert result.next_token[0] == int(logits.argmax())
    probs = [p for _, _, p in result.top5]
    assert probs == sorted(probs, reverse=True) and len(probs) == 5


def test_trace_layer_filter_and_stats():
    llm = tinyqwen.connect("tiny-random")
    result = trace_forward(llm, "hello", layers=[1])
    layer_ids = {r.name.split(".")[1] for r in result.rows if r.name.startswith("layers.")}
    assert layer_ids == {"1"}
    probs = next(r for r in result.rows if r.name == "layers.1.self_attn.probs")
    assert 0.0 <= probs.min <= probs.max <= 1.0
    norm = next(r for r in result.rows if r.name == "norm")
    assert abs(norm.std - 1.0) < 0.1  # RMSNorm output with unit weights has rms 1
    text = format_trace(result)
    assert "layers.1.mlp.act" in text and "top-5" in text


def test_parse_layers():
    assert parse_layers("0,-1", 24) == {0, 23}
    assert parse_layers("all", 24) is None
    with pytest.raises(ValueError, match="out of range"):
        parse_layers("24", 24)


def test_trace_cli():
    out = subprocess.run(
        [sys.executable, "-m", "qwen_blog", "trace", "你好，Qwen", "--layers", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "layers.0.self_attn.q_rope" in out.stdout and "top-5" in out.stdout
    assert "gibberish" in out.stderr  # tiny-random is labelled as random


def test_trace_records_moe_routing():
    from qwen_blog.figures import moe_model

    model, tokenizer, _ = moe_model("tiny-random")  # a seeded random qwen3-moe-tiny
    llm = LLM(model, tokenizer)
    result = trace_forward(llm, "路由器只挑两个专家", layers=[0], chat=True)
    rows = {r.name: r for r in result.rows}
    n = len(result.tokens)
    assert rows["layers.0.mlp.router_probs"].shape == (n, 8)
    assert rows["layers.0.mlp.experts"].shape == (n, 2)
    assert rows["layers.0.mlp.out"].shape == (n, model.config.hidden_size)
    assert any(name.startswith("layers.0.mlp.experts.") for name in rows)  # the experts that ran
    assert not any(name.startswith("layers.1.") for name in rows)
    assert "layers.0.mlp.router_probs" in format_trace(result)
