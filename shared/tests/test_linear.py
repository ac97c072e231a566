"""``tinyqwen.linear``: multi-token bf16 products computed in fp32 where bf16 GEMM is slow.

Tolerances: ``upcast_linear`` is fp32 arithmetic rounded to bf16 once, so against an fp64 reference
each output is within half a bf16 ulp (2^-8 relative) plus fp32 summation error (1e-5 relative here);
a bf16 model through either path: logits within 0.05 (two bf16 ulps at |logit| ~ 4), identical greedy
tokens on the seeded checkpoint.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import make_hf_checkpoint

import tinyqwen.linear as linear
from tinyqwen import kernel_probe, native
from tinyqwen.generation import generate
from tinyqwen.model import Qwen2ForCausalLM


@pytest.mark.parametrize("rows,n_out,k", [(2, 300, 64), (33, 5000, 96), (3, 7, 4100)])
def test_upcast_linear_is_fp32_rounded_once(rows, n_out, k, monkeypatch):
    monkeypatch.setattr(linear, "SLICE_ELEMENTS", 128 * k + 5)  # several slices, a ragged last one
    g = torch.Generator().manual_seed(rows)
    x = torch.randn(2, rows, k, generator=g).bfloat16()  # [B, T, K]
    w = (torch.randn(n_out, k, generator=g) / k**0.5).bfloat16()
    b = torch.randn(n_out, generator=g).bfloat16()
    got = linear.upcast_linear(x, w, b)
    assert got.dtype == torch.bfloat16 and got.shape == (2, rows, n_out)
    ref = torch.nn.functional.linear(x.double(), w.double(), b.double())  # [B, T, N]
    err = (got.double() - ref).abs()
    assert (err <= ref.abs() * (2**-8 + 1e-5) + 1e-6).all(), err.max()
    assert linear.upcast_linear(x, w).shape == (2, rows, n_out)  # no bias


def test_forward_upcasts_only_many_bf16_rows_at_inference(monkeypatch):
    calls = []
    monkeypatch.setattr(linear, "upcast_is_faster", lambda: True)
    real = linear.upcast_linear
    monkeypatch.setattr(linear, "upcast_linear", lambda *a: calls.append(a[0].shape) or real(*a))
    lin = linear.Linear(16, 24).bfloat16()
    with torch.no_grad():
        lin(torch.randn(1, 2, 16).bfloat16())  # a prompt (T > 1): upcast
        lin(torch.randn(64, 1, 16).bfloat16())  # a decode step, any batch: bf16 (memory-bound)
        lin(torch.randn(64, 16).bfloat16())  # 2-D (MoE experts' routed tokens): bf16
        lin.float()(torch.randn(1, 64, 16))  # fp32: nothing to do
        lin.bfloat16()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lin(torch.randn(1, 64, 16).bfloat16())  # autocast decides
    lin(torch.randn(1, 64, 16).bfloat16())  # autograd records: nn.Linear's (training)
    assert calls == [torch.Size([1, 2, 16])]
    monkeypatch.setattr(linear, "upcast_is_faster", lambda: False)  # a CPU with fast bf16 GEMM
    with torch.no_grad():
        lin(torch.randn(1, 64, 16).bfloat16())
    assert len(calls) == 1
    assert list(lin.state_dict()) == ["weight", "bias"]  # the checkpoint's names, as nn.Linear


def test_bf16_model_same_through_both_paths(tmp_path, monkeypatch):
    path, _ = make_hf_checkpoint(tmp_path, seed=3)
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    ids = torch.randint(0, 200, (2, 24), generator=torch.Generator().manual_seed(0))
    out = {}
    for upcast in (False, True):
        monkeypatch.setattr(linear, "upcast_is_faster", lambda u=upcast: u)
        with torch.no_grad():
            out[upcast] = (model(ids), generate(model, ids.tolist(), max_new_tokens=12))
    assert (out[True][0] - out[False][0]).abs().max().item() <= 0.05
    assert out[True][1] == out[False][1]


def test_the_path_depends_on_the_phase_not_on_the_batch(tmp_path, monkeypatch):
    """Every matrix of a prefill takes the fp32 path and no decode step does, for a prompt alone and
    in a left-padded batch alike -- so batching never moves a prompt to the other path. (A rule by
    row count did: 7 + 2 + 4 tokens batched are 21 rows, alone 7, 2, 4; test_quant's batched greedy
    test failed that way on a machine whose probe picks bf16.)"""
    monkeypatch.setattr(linear, "upcast_is_faster", lambda: True)
    real, calls = linear.upcast_linear, []
    monkeypatch.setattr(linear, "upcast_linear", lambda *a: calls.append(a[0].shape) or real(*a))
    path, _ = make_hf_checkpoint(tmp_path, seed=0)
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    per_prefill = (
        7 * model.config.num_hidden_layers
    )  # q k v o gate up down; lm_head sees 1 position
    prompts = [[5, 6, 7, 8, 9, 10, 11], [300, 301], [17, 3, 99, 4]]
    with torch.no_grad():
        for batch in ([p] for p in prompts):
            calls.clear()
            generate(model, batch, max_new_tokens=6)
            assert len(calls) == per_prefill and all(s[1] == len(batch[0]) for s in calls)
        calls.clear()
        generate(model, prompts, max_new_tokens=6)
    assert len(calls) == per_prefill and all(s[:2] == (3, 7) for s in calls)


def test_gemm_probe_is_kept_beside_the_decode_probe(tmp_path, monkeypatch):
    import tinyqwen.checkpoint as ckpt

    monkeypatch.setenv("TINYU_CACHE_DIR", str(tmp_path))
    for probe in (linear.bf16_gemm_probe, ckpt.decode_dtype_probe, linear.upcast_is_faster):
        probe.cache_clear()
    monkeypatch.setattr(ckpt, "measure_decode_dtypes", lambda: (3.0, 1.5))
    monkeypatch.setattr(
        linear, "measure_bf16_gemm", lambda: {"bf16_gemm_ms": 12.0, "upcast_gemm_ms": 4.0}
    )
    assert linear.upcast_is_faster() and linear.bf16_gemm_probe()["source"] == "measured"
    assert ckpt.decode_dtype_probe()["dtype"] == torch.bfloat16
    saved = json.loads((tmp_path / kernel_probe.PROBE_CACHE_FILE).read_text())
    key = kernel_probe.probe_machine_key()
    assert saved == {key: {"fp32_ms": 3.0, "bf16_ms": 1.5},
                     key + ":bf16-gemm": {"bf16_gemm_ms": 12.0, "upcast_gemm_ms": 4.0}}  # fmt: skip
    for probe in (linear.bf16_gemm_probe, linear.upcast_is_faster):
        probe.cache_clear()  # a new process: reads the file, does not measure
    monkeypatch.setattr(
        linear, "measure_bf16_gemm", lambda: {"bf16_gemm_ms": 4.0, "upcast_gemm_ms": 12.0}
    )
    assert linear.upcast_is_faster() and linear.bf16_gemm_probe()["source"] != "measured"
    for probe in (linear.bf16_gemm_probe, ckpt.decode_dtype_probe, linear.upcast_is_faster):
        probe.cache_clear()


def test_docstring_example_runs():
    import doctest

    result = doctest.testmod(linear)
    assert result.attempted > 0 and result.failed == 0


needs_native = pytest.mark.skipif(not native.available(), reason=native.status())


@needs_native
def test_decode_steps_run_on_the_bf16_kernel_where_it_is_faster(monkeypatch):
    calls = []
    real = native.bf16_matmul
    monkeypatch.setattr(
        native, "bf16_matmul", lambda *a, **k: calls.append(a[0].shape) or real(*a, **k)
    )
    monkeypatch.setattr(linear, "native_decode_is_faster", lambda: True)
    lin = linear.Linear(40, 24).bfloat16()
    x = torch.randn(3, 1, 40).bfloat16()  # [B, 1, K]: a decode step
    with torch.no_grad():
        y = lin(x)
        lin(torch.randn(1, 2, 40).bfloat16())  # a prompt: not this path
        lin(torch.randn(3, 40).bfloat16())  # 2-D (MoE experts): nn.Linear's
    lin(x)  # autograd records: nn.Linear's
    assert calls == [torch.Size([3, 40])]
    assert y.dtype == torch.bfloat16 and y.shape == (3, 1, 24)
    ref = torch.nn.functional.linear(x.double(), lin.weight.double(), lin.bias.double())
    assert ((y.double() - ref).abs() <= ref.abs() * (2**-8 + 1e-5) + 1e-6).all()  # rounded once
    monkeypatch.setattr(linear, "native_decode_is_faster", lambda: False)
    with torch.no_grad():
        lin(x)
    assert len(calls) == 1


@needs_native
def test_bf16_model_same_with_and_without_the_decode_kernel(tmp_path, monkeypatch):
    path, _ = make_hf_checkpoint(tmp_path, seed=3)
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    prompts = [[5, 6, 7, 8, 9, 10, 11], [300, 301], [17, 3, 99, 4]]
    out = {}
    for use in (False, True):
        monkeypatch.setattr(linear, "native_decode_is_faster", lambda u=use: u)
        with torch.no_grad():
            logits = model(torch.tensor([prompts[0]]), logits_to_keep=1)  # lm_head: one position
            batched = generate(model, prompts, max_new_tokens=12)
            alone = [generate(model, [p], max_new_tokens=12)[0] for p in prompts]
        assert batched == alone
        out[use] = (logits, batched)
    assert (out[True][0] - out[False][0]).abs().max().item() <= 0.05
    assert out[True][1] == out[False][1]


@needs_native
def test_bf16_matvec_probe_is_kept_beside_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYU_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(linear, "measure_bf16_matvec", lambda: {"torch_ms": 2.0, "avx2_ms": 1.0})
    linear.bf16_matvec_probe.cache_clear()
    linear._DECODE_PATH.clear()
    try:
        assert linear.native_decode_is_faster()
        cache = json.loads((tmp_path / kernel_probe.PROBE_CACHE_FILE).read_text())
        assert any(key.endswith(":bf16-matvec") for key in cache)
        assert "avx2 kernel" in linear.decode_probe_text()
    finally:
        linear.bf16_matvec_probe.cache_clear()
        linear._DECODE_PATH.clear()
