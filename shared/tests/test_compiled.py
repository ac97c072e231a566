"""The compiled decode step (``tinyqwen.compiled``): static KV cache + full-buffer mask give the same
tokens as the plain step. Graph capture is checked with ``backend="eager"`` (dynamo traces the step
with ``fullgraph=True``, so a graph break fails the test; no C++ code generation, which takes minutes
on a small shared CPU -- ``bench/bench_decode.py --legs tq-bf16-compile`` measures the real thing).
fp32 throughout: greedy tokens are compared exactly.
"""

from __future__ import annotations

import pytest
import torch

from tinyqwen.compiled import StaticKVCache, compile_decode, decode_step
from tinyqwen.generation import generate, stream_generate
from tinyqwen.model import Qwen2ForCausalLM

PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [300, 301], [17, 3, 99, 4]]


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    from conftest import make_hf_checkpoint

    return make_hf_checkpoint(tmp_path_factory.mktemp("compiled"))[0]


def test_static_cache_writes_one_slot_and_returns_the_whole_buffer():
    cache = StaticKVCache(num_layers=1, batch_size=2, num_kv_heads=1, max_len=6, head_dim=3)
    k = torch.randn(2, 1, 4, 3)
    cache.update(0, k, k)  # prefill: like KVCache
    cache.advance(4)
    one = torch.ones(2, 1, 1, 3)
    k_all, _ = cache.update(0, one, one)
    assert k_all.shape == (2, 1, 6, 3) and cache.pos.item() == 4
    torch.testing.assert_close(k_all[:, :, :4], k)
    assert (k_all[:, :, 4] == 1).all() and (k_all[:, :, 5] == 0).all()


def test_eager_static_step_equals_the_plain_step(path):
    """The logic alone (no torch.compile): batched, left-padded, streamed."""
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    expect = generate(model, PROMPTS, max_new_tokens=12)
    model.compiled_decode = decode_step
    assert generate(model, PROMPTS, max_new_tokens=12) == expect
    assert list(stream_generate(model, PROMPTS[1], max_new_tokens=12)) == expect[1]


@pytest.mark.parametrize("quantize", [None, "int8", "int4"])
def test_captured_graph_gives_the_same_tokens(path, quantize):
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32, quantize=quantize)
    compile_decode(model, backend="eager")
    if quantize:  # fbgemm's packed weights cannot be traced: a traceable kernel was chosen
        assert "fbgemm" not in model.quantization
    step = model.__dict__.pop("compiled_decode")
    expect = generate(model, PROMPTS, max_new_tokens=8)  # the plain step, same int8 kernel
    model.compiled_decode = step
    assert generate(model, PROMPTS, max_new_tokens=8) == expect


def test_bf16_capture_gives_the_same_tokens(path):
    """bf16 decode steps may run on the hand-written kernel (``linear.native_decode_is_faster``): the
    per-machine decision is taken as a constant by dynamo, never traced into."""
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    compile_decode(model, backend="eager")
    step = model.__dict__.pop("compiled_decode")
    expect = generate(model, PROMPTS, max_new_tokens=8)
    model.compiled_decode = step
    assert generate(model, PROMPTS, max_new_tokens=8) == expect


def test_sliding_window_models_are_refused(tmp_path):
    from conftest import make_hf_checkpoint

    p, _ = make_hf_checkpoint(
        tmp_path, use_sliding_window=True, sliding_window=4, max_window_layers=1
    )
    with pytest.raises(ValueError, match="sliding"):
        compile_decode(Qwen2ForCausalLM.from_pretrained(p, dtype=torch.float32))
