"""Int8 weight-only quantisation (``tinyqwen.quant``) on transformers-made random checkpoints.

Tolerances: one int8 weight is off by at most half its row's scale; last-position logits of the
int8 model have cosine >= 0.99 against fp32 (the issue's bar; measured ~0.9999 here); the kernels
agree with the plain dequantise-then-matmul reference to cosine >= 0.999 (fbgemm and int_mm also
quantise activations on the fly, which adds ~1e-4).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import make_hf_checkpoint

from tinyqwen import cli, quant
from tinyqwen.connection import connect
from tinyqwen.generation import generate, stream_generate
from tinyqwen.model import Qwen2ForCausalLM
from tinyqwen.tiny_random import load_tiny_random

RUNNABLE = [
    k for k, v in quant.probe_kernels("cpu", [(64, 32)], reps=1).items() if isinstance(v, float)
]


@pytest.fixture(scope="module", params=[True, False], ids=["tied", "untied"])
def pair(request, tmp_path_factory):
    """(fp32 model, int8 model, path) from one transformers checkpoint with real-looking 0.02 init."""
    path, _ = make_hf_checkpoint(
        tmp_path_factory.mktemp("q"), tie_word_embeddings=request.param, initializer_range=0.02
    )
    ref = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    return ref, Qwen2ForCausalLM.from_pretrained(path, quantize="int8"), path


def test_quantize_int8_round_trip_error_is_at_most_half_a_step():
    w = torch.randn(16, 40) * torch.logspace(-3, 1, 16)[:, None]  # rows of very different size
    w[3] = 0.0  # an all-zero row must not divide by zero
    q, scale = quant.quantize_int8(w)
    assert q.dtype == torch.int8 and scale.shape == (16,) and q.abs().max() == 127
    err = (q.float() * scale[:, None] - w).abs()
    assert (err <= scale[:, None] / 2 + 1e-7).all()
    assert (q[3] == 0).all()


@pytest.mark.parametrize("kernel", RUNNABLE)
def test_each_kernel_matches_dequantised_matmul(kernel):
    torch.manual_seed(0)
    lin = torch.nn.Linear(96, 48, bias=True)
    x = torch.randn(2, 5, 96)  # [B, T, K]: leading dims are kept
    q = quant.Int8Linear.from_float(lin)
    deq = q.dequantized()
    ref = x @ deq.t() + lin.bias
    q.set_kernel(kernel)
    y = q(x)
    assert y.shape == (2, 5, 48) and y.dtype == x.dtype
    assert F.cosine_similarity(y.flatten(), ref.flatten(), dim=0) > 0.999
    assert torch.equal(q.dequantized(), deq)  # also when fbgemm keeps only its packed copy


def test_chosen_kernel_is_the_fastest_working_one():
    timings = quant.probe_kernels("cpu")
    ok = {k: v for k, v in timings.items() if isinstance(v, float)}
    assert "dequant" in ok  # the fallback always runs
    assert quant.choose_kernel("cpu") in ok


def test_int8_logits_stay_close_to_fp32_and_weights_shrink(pair):
    ref, q, _ = pair
    prompts = [list(range(1, 20)), [5, 9, 300, 7], [42] * 30]
    err = quant.int8_error(ref, q, prompts)
    assert err["min_cosine"] >= 0.99
    assert quant.weight_bytes(q) <= 0.5 * quant.weight_bytes(ref)
    assert q.dtype == quant.activation_dtype(quant.choose_kernel("cpu"))


def test_tied_head_shares_the_embedding_table(pair):
    ref, q, _ = pair
    emb = q.model.embed_tokens
    assert isinstance(emb, quant.Int8Embedding) and emb.weight.dtype == torch.int8
    if ref.config.tie_word_embeddings:
        assert q.lm_head.scale is emb.scale  # one table, looked up and multiplied by
        rows = torch.tensor([[0, 7, 511]])
        expect = quant.quantize_int8(ref.model.embed_tokens.weight)  # per-row, like the head
        deq = expect[0][rows].float() * expect[1][rows][..., None]
        torch.testing.assert_close(emb(rows), deq.to(emb.dtype))


def test_loading_quantised_equals_quantising_the_loaded_model(pair):
    _, _, path = pair
    kernel = quant.choose_kernel("cpu")
    loaded = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32, quantize="int8")
    again = quant.quantize_model(Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32))
    assert loaded.quantization == again.quantization == f"int8 ({kernel})"
    ids = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    with torch.inference_mode():
        torch.testing.assert_close(again(ids), loaded(ids), rtol=0, atol=0)


@pytest.mark.parametrize("kernel", RUNNABLE)
def test_batched_left_padded_greedy_equals_one_by_one(pair, kernel):
    # Each kernel in the activation dtype it is used with (activation_dtype), not in the dtype of the
    # kernel this process measured fastest: the pair's int8 model runs in bf16 where int8pack wins
    # (an AVX2 EPYC), and int_mm / dequant forced onto bf16 activations flipped a greedy token there.
    _, _, path = pair
    q = Qwen2ForCausalLM.from_pretrained(
        path, dtype=quant.activation_dtype(kernel), quantize="int8"
    )
    quant.set_kernels(q, kernel)
    prompts = [[5, 6, 7, 8, 9, 10, 11], [300, 301], [17, 3, 99, 4]]
    batched = generate(q, prompts, max_new_tokens=12)
    alone = [generate(q, [p], max_new_tokens=12)[0] for p in prompts]
    assert batched == alone
    assert list(stream_generate(q, prompts[0], max_new_tokens=12)) == alone[0]


def test_int8_upcast_is_the_dequantised_product_rounded_once(monkeypatch):
    # what int8pack's prompt path computes: x @ (q * s).T + b in fp32, rounded to bf16 once
    import tinyqwen.linear as linear

    monkeypatch.setattr(linear, "SLICE_ELEMENTS", 128 * 96 + 5)  # several slices, a ragged last
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 9, 96, generator=g).bfloat16()  # [B, T, K]
    q, scale = quant.quantize_int8(torch.randn(700, 96, generator=g) * 0.02)
    s, b = scale.bfloat16(), torch.randn(700, generator=g).bfloat16()  # int8pack's bf16 scale
    got = linear.upcast_linear(x, q, b, s)
    ref = x.double() @ (q.double() * s.double()[:, None]).t() + b.double()  # [B, T, N]
    assert got.dtype == torch.bfloat16 and got.shape == (2, 9, 700)
    assert ((got.double() - ref).abs() <= ref.abs() * (2**-8 + 1e-5) + 1e-6).all()


@pytest.mark.skipif("int8pack" not in RUNNABLE, reason="int8pack does not run on this CPU")
def test_int8pack_prompts_in_fp32_same_model_phase_rule(pair, monkeypatch):
    """Where the probe says so, int8pack's prompt products run in fp32 (``upcast_linear``): the same
    model to a bf16 ulp (logits within 0.05, identical greedy), every prefill matrix and no decode
    step, alone or left-padded in a batch."""
    import tinyqwen.linear as linear

    _, _, path = pair
    q = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16, quantize="int8")
    quant.set_kernels(q, "int8pack")
    real, calls = linear.upcast_linear, []
    monkeypatch.setattr(quant, "upcast_linear", lambda *a: calls.append(a[0].shape) or real(*a))
    ids = torch.randint(0, 200, (2, 24), generator=torch.Generator().manual_seed(0))
    prompts = [[5, 6, 7, 8, 9, 10, 11], [300, 301], [17, 3, 99, 4]]
    out = {}
    for upcast in (False, True):
        monkeypatch.setattr(quant, "int8pack_upcast_is_faster", lambda u=upcast: u)
        with torch.inference_mode():
            out[upcast] = (q(ids), generate(q, prompts, max_new_tokens=8))
    assert (out[True][0] - out[False][0]).abs().max().item() <= 0.05
    assert out[True][1] == out[False][1]
    per_prefill = 7 * q.config.num_hidden_layers + 1  # q k v o gate up down; full-logits head
    assert len(calls) == 2 * per_prefill - 1  # the forward (head on all 24) and the batch's prefill
    for batch in ([p] for p in prompts):
        calls.clear()
        with torch.inference_mode():
            generate(q, batch, max_new_tokens=6)
        assert len(calls) == per_prefill - 1 and all(c[1] == len(batch[0]) for c in calls)


def test_int8pack_probe_is_kept_beside_the_others(tmp_path, monkeypatch):
    import json

    from tinyqwen import kernel_probe

    monkeypatch.setenv("TINYU_CACHE_DIR", str(tmp_path))
    for probe in (quant.int8pack_gemm_probe, quant.int8pack_upcast_is_faster):
        probe.cache_clear()
    monkeypatch.setattr(
        quant, "measure_int8pack_gemm", lambda: {"int8pack_ms": 16.0, "upcast_ms": 10.0}
    )
    assert quant.int8pack_upcast_is_faster() and "in fp32" in quant.int8_gemm_probe_text()
    saved = json.loads((tmp_path / kernel_probe.PROBE_CACHE_FILE).read_text())
    assert saved == {kernel_probe.probe_machine_key() + ":int8pack-gemm": {"int8pack_ms": 16.0, "upcast_ms": 10.0}}  # fmt: skip
    for probe in (quant.int8pack_gemm_probe, quant.int8pack_upcast_is_faster):
        probe.cache_clear()  # a new process: reads the file, does not measure
    monkeypatch.setattr(
        quant, "measure_int8pack_gemm", lambda: {"int8pack_ms": 1.0, "upcast_ms": 9.0}
    )
    assert quant.int8pack_upcast_is_faster() and quant.int8pack_gemm_probe()["source"] != "measured"
    for probe in (quant.int8pack_gemm_probe, quant.int8pack_upcast_is_faster):
        probe.cache_clear()


def test_llm_stream_equals_complete_with_int8_tiny_random():
    llm = connect("tiny-random", quantize="int8")
    assert llm is load_tiny_random("int8") and llm is not load_tiny_random()
    assert "int8" in repr(llm)
    text = llm.complete("你好，Qwen", max_new_tokens=16)
    assert "".join(llm.stream_complete("你好，Qwen", max_new_tokens=16)) == text
    assert llm.chat_batch([[{"role": "user", "content": "hi"}]] * 2, max_new_tokens=8)[0] == (
        llm.chat([{"role": "user", "content": "hi"}], max_new_tokens=8)
    )


def test_bad_quantize_values_are_rejected(pair):
    _, _, path = pair
    with pytest.raises(ValueError, match="quantize"):
        Qwen2ForCausalLM.from_pretrained(path, quantize="int3")
    with pytest.raises(ValueError, match="local models"):
        connect("http://127.0.0.1:9/v1", quantize="int8")
    with pytest.raises(ValueError, match="int8 kernel"):
        quant.Int8Linear(4, 4, False).set_kernel("fast")


def test_cli_generate_with_quantize(capsys):
    assert cli.main(["generate", "--model", "tiny-random", "--quantize", "int8", "hi"]) == 0
    out = capsys.readouterr().out
    expect = load_tiny_random("int8").complete("hi", max_new_tokens=64)
    assert out == expect + "\n"
