"""``Linear``: ``nn.Linear`` whose bf16 products take the faster path on CPUs without bf16 arithmetic.

Why. A bf16 model decodes fast on a CPU without bf16 arithmetic (AVX2, most laptops): one token is a
matrix-*vector* product, memory-bound, and bf16 weights are half the bytes (``dtype="auto"`` picks bf16
there, ``tinyqwen.checkpoint``). But a prompt (prefill) or a scoring pass is a
matrix-*matrix* product, compute-bound, and torch's bf16 GEMM on such a CPU is several times slower than
its fp32 GEMM. Measured on a 2-core AVX2 EPYC, torch 2.13, one [M, 896] x [896, 4864] product alone:

    rows M              1      8      32     128
    bf16 GEMM       0.5 ms 4.6 ms  15 ms   60 ms
    fp32 (this)     2.8 ms 4.6 ms 4.3 ms   15 ms      (weights converted to fp32 in slices)

and in the whole Qwen2.5-0.5B-shaped model in bf16 (``bench/bench_decode.py``): a 128-token prefill
5.3 s -> 1.0-1.3 s (fp32 model: 1.1-1.2 s; transformers bf16: 4.9 s); batch-8 prefill 40 s -> 7 s.

So the rule is by *phase*, the issue's "prefill may run in the faster format for compute": a forward
over more than one position per sequence (``x [B, T, K]`` with ``T > 1``: prefill, scoring), where the
machine's probe found bf16 GEMM slower (:func:`upcast_is_faster`), converts the bf16 weight to fp32 one
slice of rows at a time (about 4 MB, so the slice stays in cache and no fp32 copy of the matrix is ever
kept), multiplies in fp32 and rounds the result to bf16 once. Decode steps (``T == 1``, any batch) stay
bf16. Why not by row count (``B * T``), which would also speed up decoding batches of >= 16 (batch 32:
18.0 -> 40.5 tok/s; batch 8 got slower, 15.4 -> 13.3, the weights coming from memory): then a
prompt's numbers would depend on what it is batched with (a 7-token prompt alone: 7 rows, bf16 GEMM;
with two others, left-padded: 21 rows, fp32) -- the path, and so the rounding, must not depend on the
batch.

    >>> import torch
    >>> w = torch.tensor([[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]], dtype=torch.bfloat16)  # [N=3, K=2]
    >>> x = torch.tensor([[[1.0, 1.0], [2.0, -4.0]]], dtype=torch.bfloat16)  # [B=1, T=2, K=2]
    >>> upcast_linear(x, w)      # what Linear.forward runs for this prompt on such a CPU
    tensor([[[ 3.0000, -0.5000,  3.2500],
             [-6.0000,  5.0000,  5.0000]]], dtype=torch.bfloat16)

Decode steps (``T == 1``) of a bf16 model: PyTorch's bf16 matrix-vector product on such a CPU streams
~11 GB/s of weights where memory gives ~25; where a second per-machine probe finds the hand-written
``native.bf16_matmul`` clearly faster (:func:`native_decode_is_faster`: 1 x 2048 x 8192 on the EPYC,
1.6 ms -> 0.7 ms), a decode step runs there: activations to fp32, exact fp32 products of the bf16
weights, fp32 sums, rounded to bf16 once -- the same arithmetic, another summation order.

Numerics: bf16 GEMM on these CPUs also multiplies and sums in fp32 and rounds once, so the two paths
differ only in summation order (a bf16 ulp now and then); parity tests run in fp32, where nothing changes.

Limits: inference only -- with autograd recording, under autocast, on GPU, in fp32 or fp16, for 2-D
inputs (MoE experts get their routed tokens as ``[n, K]``), ``forward`` is ``nn.Linear``'s. A one-token
prompt's prefill is a decode-shaped step (bf16). The decision is per machine (the probe is cached
with the decode-dtype probe), not per matrix shape. ``tinyqwen.quant`` runs int8 (``int8pack``) prompts
through the same ``upcast_linear`` (int8 rows and their scales), decided by its own probe.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from tinyqwen import native
from tinyqwen.kernel_probe import cached_probe, time_interleaved

SLICE_ELEMENTS = 1 << 20  # weights converted per slice: 4 MB of fp32, cache-sized


def upcast_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """``F.linear(x, weight * scale[:, None], bias)`` computed in fp32 and returned in ``x.dtype``;
    ``weight [N, K]`` (bf16, or int8 with its per-row ``scale [N]``, ``tinyqwen.quant``) is converted
    to fp32 ``SLICE_ELEMENTS`` at a time. ``x [..., K]`` -> ``[..., N]``."""
    lead, (n_out, k) = x.shape[:-1], weight.shape
    xf = x.reshape(-1, k).float()  # [M, K]
    out = torch.empty(xf.shape[0], n_out, dtype=x.dtype, device=x.device)  # [M, N]
    rows = max(1, SLICE_ELEMENTS // k)
    buf = torch.empty(min(rows, n_out), k, dtype=torch.float32, device=x.device)
    for start in range(0, n_out, rows):
        end = min(start + rows, n_out)
        w = buf[: end - start]
        w.copy_(weight[start:end])  # bf16 or int8 -> fp32, exact
        b = None if bias is None else bias[start:end].float()
        if scale is None:
            out[:, start:end] = F.linear(xf, w, b)  # rounded to x.dtype once
        else:  # x @ (q * s).T == (x @ q.T) * s: scale the [M, n] result, not the [n, K] slice
            y = F.linear(xf, w).mul_(scale[start:end].float())
            out[:, start:end] = y if b is None else y.add_(b)
    return out.reshape(*lead, n_out)


def measure_bf16_gemm(rows: int = 32, shape: tuple[int, int] = (2048, 2048), reps: int = 6) -> dict:
    """Best-of-``reps`` milliseconds of one ``[rows, K] x [K, N]`` bf16 product, as bf16 GEMM and as
    :func:`upcast_linear`, taking turns (``kernel_probe.time_interleaved``; the best run skips the
    warm-up): ``{"bf16_gemm_ms", "upcast_gemm_ms"}``."""
    w = torch.full(shape, 1e-3, dtype=torch.bfloat16)
    x = torch.full((rows, shape[1]), 1e-3, dtype=torch.bfloat16)
    calls = {"bf16_gemm_ms": lambda: F.linear(x, w), "upcast_gemm_ms": lambda: upcast_linear(x, w)}
    with torch.inference_mode():
        best = time_interleaved(calls, torch.device("cpu"), reps)
    return {name: round(ms, 3) for name, ms in best.items()}


@functools.cache
def bf16_gemm_probe() -> dict:
    """``{"bf16_gemm_ms", "upcast_gemm_ms", "source"}``: :func:`measure_bf16_gemm` (~0.1 s), once per
    machine, kept beside the decode-dtype probe (``tinyqwen.kernel_probe.cached_probe``) so every
    process on the machine takes the same path."""
    keys = ("bf16_gemm_ms", "upcast_gemm_ms")
    numbers, source = cached_probe(":bf16-gemm", keys, lambda: measure_bf16_gemm())  # late-bound
    return {**numbers, "source": source}


MAX_TIME_RATIO = 0.8  # the other path must be clearly faster: probes on a busy machine wobble


def clearly_faster(baseline_ms: float, candidate_ms: float) -> bool:
    """The rule for every path probe (bf16 GEMM and the bf16 decode kernel here, int8pack in
    ``tinyqwen.quant``): the candidate path is taken when it needs under ``MAX_TIME_RATIO`` of the
    baseline kernel's time."""
    return candidate_ms < MAX_TIME_RATIO * baseline_ms


@functools.cache
def upcast_is_faster() -> bool:
    """True when this machine's bf16 GEMM is clearly slower than :func:`upcast_linear` (:func:`clearly_faster`)."""
    probe = bf16_gemm_probe()
    return clearly_faster(probe["bf16_gemm_ms"], probe["upcast_gemm_ms"])


def gemm_probe_text() -> str:
    """One line for the probe behind :func:`upcast_is_faster`, as ``tinyqwen verify`` and the bench print it."""
    p = bf16_gemm_probe()
    verdict = "in fp32" if upcast_is_faster() else "in bf16"
    return (f"bf16 multi-token products (prefill, scoring) run {verdict} (probe 32 rows: "
            f"bf16 GEMM {p['bf16_gemm_ms']} ms, fp32 {p['upcast_gemm_ms']} ms; {p['source']})")  # fmt: skip


def is_prompt(x: torch.Tensor) -> bool:
    """The phase rule: ``x [B, T, K]`` with ``T > 1`` on CPU is a prompt (prefill, scoring), never a
    decode step (``T == 1``, any batch); not while compiling (a compiled decode is one row). By phase,
    not by row count or length, so a prompt takes the same path alone or padded into a batch."""
    return (
        x.dim() == 3 and x.shape[1] > 1 and x.device.type == "cpu"
        and not torch.compiler.is_compiling()
    )  # fmt: skip


def measure_bf16_matvec(shape: tuple[int, int] = (8192, 2048), reps: int = 6) -> dict:
    """Best-of-``reps`` milliseconds of one decode-shaped bf16 product ``[1, K] x [K, N]``, PyTorch's
    (``F.linear``) and the hand-written kernel's (``native.bf16_matmul``, activations converted to fp32
    and the result rounded back, as the decode path does), taking turns: ``{"torch_ms", "avx2_ms"}``."""
    w = torch.full(shape, 1e-3, dtype=torch.bfloat16)
    x = torch.full((1, shape[1]), 1e-3, dtype=torch.bfloat16)
    calls = {
        "torch_ms": lambda: F.linear(x, w),
        "avx2_ms": lambda: native.bf16_matmul(x.float(), w).to(torch.bfloat16),
    }
    with torch.inference_mode():
        best = time_interleaved(calls, torch.device("cpu"), reps)
    return {name: round(ms, 3) for name, ms in best.items()}


@functools.cache
def bf16_matvec_probe() -> dict:
    """``{"torch_ms", "avx2_ms", "source"}``: :func:`measure_bf16_matvec` (~0.1 s), once per machine,
    kept beside the other probes; ``{}`` where the hand-written kernels do not run."""
    if not native.available():
        return {}
    keys = ("torch_ms", "avx2_ms")
    numbers, source = cached_probe(":bf16-matvec", keys, lambda: measure_bf16_matvec())
    return {**numbers, "source": source}


_DECODE_PATH: dict[str, bool] = {}  # the answer below, once per process (tests clear it)


@torch.compiler.assume_constant_result  # a compiled decode step takes the answer, not the probe
def native_decode_is_faster() -> bool:
    """True when this machine's bf16 decode steps run clearly faster on ``native.bf16_matmul``."""
    if "bf16" not in _DECODE_PATH:
        p = bf16_matvec_probe()
        _DECODE_PATH["bf16"] = bool(p) and clearly_faster(p["torch_ms"], p["avx2_ms"])
    return _DECODE_PATH["bf16"]


def decode_probe_text() -> str:
    """One line for the probe behind :func:`native_decode_is_faster` (``tinyqwen verify``, the bench)."""
    p = bf16_matvec_probe()
    if not p:
        return f"bf16 decode steps run on PyTorch ({native.status()})"
    verdict = "the avx2 kernel" if native_decode_is_faster() else "PyTorch"
    return (f"bf16 decode steps run on {verdict} (probe 1 row x 2048 x 8192: PyTorch "
            f"{p['torch_ms']} ms, avx2 {p['avx2_ms']} ms; {p['source']})")  # fmt: skip


class Linear(nn.Linear):
    """``nn.Linear``; a bf16 ``x [B, T, K]`` with ``T > 1`` on a CPU where bf16 GEMM is slow runs
    through :func:`upcast_linear`, and with ``T == 1`` (a decode step) on one where the hand-written
    kernel is faster through ``native.bf16_matmul`` (see the module docstring). Same parameters, same
    state dict."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.dtype == torch.bfloat16
            and self.weight.dtype == torch.bfloat16
            and x.dim() == 3
            and x.device.type == "cpu"
            and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
            and not torch.is_autocast_enabled("cpu")
        ):
            if is_prompt(x):
                if upcast_is_faster():
                    return upcast_linear(x, self.weight, self.bias)
            elif x.shape[1] == 1 and self.weight.is_contiguous() and native_decode_is_faster():
                # a decode step: exact fp32 products of the bf16 weights, fp32 sums, one rounding
                bias = None if self.bias is None else self.bias.float()
                x2 = x.reshape(-1, self.in_features).float()  # [B, K]
                y = native.bf16_matmul(x2, self.weight, bias, check=False)
                return y.to(torch.bfloat16).view(x.shape[0], 1, self.out_features)
        return F.linear(x, self.weight, self.bias)
