"""The hand-written AVX2 int8 kernel (``tinyqwen.native``) against an fp64 reference.

Tolerance, derived from what the kernel does: each activation is rounded to int16 with one scale per
block of 32 values, so ``|x - x_hat| <= d_b / 2`` with ``d_b = max|x_block| / 32767``; hence

    |y[m, n] - y_ref[m, n]| <= scale[n] * sum_b (d_b / 2) * sum_{k in b} |q[n, k]|  (+ fp32 rounding)

and the test checks exactly that bound (fp32 slack: 2^-20 of ``scale * sum |x| |q|``). The integer sums
are exact, so nothing else can add error. Skipped where the kernel cannot run (not x86-64 Linux with
AVX2, no C compiler); the fallback itself is tested in a subprocess that turns the kernel off.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import make_hf_checkpoint

from tinyqwen import native, quant
from tinyqwen.generation import generate
from tinyqwen.model import Qwen2ForCausalLM

needs_kernel = pytest.mark.skipif(not native.available(), reason=native.status())


def reference_and_bound(x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor):
    """fp64 ``(x @ q.T) * scale`` and the kernel's worst-case error per output value (docstring)."""
    m, k = x.shape
    nb = -(-k // 32)
    xp = torch.nn.functional.pad(x.double(), (0, nb * 32 - k)).view(m, nb, 32)
    qp = torch.nn.functional.pad(q.double().abs(), (0, nb * 32 - k)).view(-1, nb, 32)
    half_step = xp.abs().amax(dim=2) / 32767 / 2  # [M, nb]
    bound = torch.einsum("mb,nb->mn", half_step, qp.sum(dim=2)) * scale.double()
    slack = (x.double().abs() @ q.double().abs().T) * scale.double() * 2**-20
    return (x.double() @ q.double().T) * scale.double(), bound + slack


@needs_kernel
@pytest.mark.parametrize("n,k", [(7, 45), (13, 96), (64, 896), (5, 33), (4, 32), (9, 7)])
@pytest.mark.parametrize("m", [1, 2, 3, 5, 9])
def test_int8_matmul_is_within_its_stated_error_bound(m, n, k):
    gen = torch.Generator().manual_seed(m * 1000 + n * 10 + k)
    x = torch.randn(m, k, generator=gen) * torch.logspace(-2, 2, k)  # values of very different size
    q = torch.randint(-127, 128, (n, k), dtype=torch.int8, generator=gen)
    scale = torch.rand(n, generator=gen) + 0.01
    y = native.int8_matmul(x, q, scale)
    ref, bound = reference_and_bound(x, q, scale)
    assert y.shape == (m, n) and y.dtype == torch.float32
    assert ((y.double() - ref).abs() <= bound).all()
    # far finer than rounding the activations to bf16, as PyTorch's int8pack kernel does
    bf16 = (x.bfloat16().double() @ q.double().T) * scale.double()
    assert (y.double() - ref).abs().max() < (bf16 - ref).abs().max()
    bias = torch.randn(n, generator=gen)
    assert torch.equal(native.int8_matmul(x, q, scale, bias), y + bias)  # one fp32 addition


@needs_kernel
def test_a_rows_result_does_not_depend_on_its_batch():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(11, 200, generator=gen)
    q = torch.randint(-127, 128, (37, 200), dtype=torch.int8, generator=gen)
    scale = torch.rand(37, generator=gen)
    together = native.int8_matmul(x, q, scale)
    alone = torch.cat([native.int8_matmul(x[i : i + 1], q, scale) for i in range(11)])
    assert torch.equal(together, alone)  # bitwise: the same steps, whatever the batch


@needs_kernel
def test_zero_rows_empty_batches_and_strided_inputs():
    q = torch.randint(-127, 128, (6, 64), dtype=torch.int8)
    scale = torch.rand(6)
    assert torch.equal(native.int8_matmul(torch.zeros(2, 64), q, scale), torch.zeros(2, 6))
    assert native.int8_matmul(torch.zeros(0, 64), q, scale).shape == (0, 6)
    x = torch.randn(64, 3).T  # not contiguous
    ref, bound = reference_and_bound(x, q, scale)
    assert ((native.int8_matmul(x, q, scale).double() - ref).abs() <= bound).all()


def test_bad_inputs_name_what_is_wrong():
    q = torch.zeros(4, 8, dtype=torch.int8)
    with pytest.raises(ValueError, match=r"x \[M, K\].*q \(4, 8\)"):
        native.int8_matmul(torch.zeros(2, 9), q, torch.ones(4))
    with pytest.raises(TypeError, match="x fp32, q int8"):
        native.int8_matmul(torch.zeros(2, 8, dtype=torch.float64), q, torch.ones(4))
    with pytest.raises(ValueError, match=r"bias must be fp32 \[N\]"):
        native.int8_matmul(torch.zeros(2, 8), q, torch.ones(4), torch.ones(5))


@needs_kernel
def test_model_on_the_kernel_matches_fp32_and_prompts_use_it(monkeypatch, tmp_path):
    path, _ = make_hf_checkpoint(tmp_path, initializer_range=0.02)
    ref = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    q = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32, quantize="int8")
    quant.set_kernels(q, "avx2")
    assert q.quantization == "int8 (avx2)"
    calls = []
    real = native.int8_matmul
    monkeypatch.setattr(
        native, "int8_matmul", lambda *a, **kw: calls.append(a[0].shape) or real(*a, **kw)
    )
    err = quant.int8_error(ref, q, [list(range(1, 30)), [7, 8, 9]])
    assert err["min_cosine"] >= 0.999 and err["argmax_agree"] == 1.0
    n_linear = sum(isinstance(m, quant.Int8Linear) for m in q.modules())
    assert len(calls) == 2 * n_linear and calls[0][0] == 29  # every product of both prompts
    prompts = [[5, 6, 7, 8, 9, 10, 11], [300, 301]]
    assert generate(q, prompts, max_new_tokens=8) == [
        generate(q, [p], max_new_tokens=8)[0] for p in prompts
    ]


@needs_kernel
def test_the_kernel_compiles_into_one_graph():
    q = torch.randint(-127, 128, (16, 64), dtype=torch.int8)
    scale = torch.rand(16)
    f = torch.compile(
        lambda x: native.int8_matmul(x, q, scale) * 2, fullgraph=True, backend="eager"
    )
    x = torch.randn(3, 64)
    torch.testing.assert_close(f(x), native.int8_matmul(x, q, scale) * 2, rtol=0, atol=0)


def _in_fresh_process(code: str, **env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_without_the_kernel_int8_runs_on_pytorch_kernels(tmp_path):
    code = (
        "from tinyqwen import native, quant\n"
        "print(native.available(), quant.probe_kernels('cpu', [(64, 32)], reps=1)['avx2'],"
        " quant.choose_kernel('cpu'))\n"
        "print(native.status())\n"
    )
    off = _in_fresh_process(code, TINYQWEN_NATIVE="0", TINYU_CACHE_DIR=str(tmp_path / "a"))
    assert off.splitlines()[0].startswith("False not available ") and "avx2" not in off.split()[3]
    assert "TINYQWEN_NATIVE=0" in off
    # a compiler that fails: reported, nothing half-written left in the cache
    bad = _in_fresh_process(code, CC="false", TINYU_CACHE_DIR=str(tmp_path / "b"))
    assert bad.startswith("False not available")
    if native._cpu_supported() is None:
        assert "false failed" in bad
        kernels = tmp_path / "b" / "kernels"
        assert not kernels.exists() or not any(kernels.iterdir())


@needs_kernel
def test_the_build_is_kept_per_machine_and_reused(tmp_path):
    code = "from tinyqwen import native\nprint(native.status())\n"
    first = _in_fresh_process(code, TINYU_CACHE_DIR=str(tmp_path))
    built = list((tmp_path / "kernels").iterdir())
    assert len(built) == 1 and built[0].suffix == ".so" and str(built[0]) in first
    mtime = built[0].stat().st_mtime_ns
    assert _in_fresh_process(code, TINYU_CACHE_DIR=str(tmp_path)) == first
    assert built[0].stat().st_mtime_ns == mtime  # loaded, not rebuilt


@needs_kernel
@pytest.mark.parametrize("n,k", [(7, 45), (13, 96), (64, 896), (4, 16), (9, 7)])
@pytest.mark.parametrize("m", [1, 2, 5])
def test_bf16_matmul_is_the_fp32_product_of_the_bf16_weights(m, n, k):
    """Exact products, fp32 sums: within the textbook bound gamma_K * sum |x w| (u = 2^-24)."""
    gen = torch.Generator().manual_seed(m * 1000 + n * 10 + k)
    x = torch.randn(m, k, generator=gen)
    w = torch.randn(n, k, generator=gen).bfloat16()
    bias = torch.randn(n, generator=gen)
    y = native.bf16_matmul(x, w)
    ref = x.double() @ w.double().T
    gamma = k * 2**-24 / (1 - k * 2**-24)
    assert ((y.double() - ref).abs() <= gamma * (x.double().abs() @ w.double().abs().T)).all()
    assert torch.equal(native.bf16_matmul(x, w, bias), y + bias)
    alone = torch.cat([native.bf16_matmul(x[i : i + 1], w) for i in range(m)])
    assert torch.equal(alone, y)  # a row's result does not depend on its batch


def test_bf16_matmul_bad_inputs_name_what_is_wrong():
    w = torch.zeros(4, 8, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"x \[M, K\], w \[N, K\]"):
        native.bf16_matmul(torch.zeros(2, 9), w)
    with pytest.raises(TypeError, match="x fp32, w bf16"):
        native.bf16_matmul(torch.zeros(2, 8), w.float())
    with pytest.raises(ValueError, match="bias must be fp32"):
        native.bf16_matmul(torch.zeros(2, 8), w, torch.zeros(4, dtype=torch.bfloat16))
