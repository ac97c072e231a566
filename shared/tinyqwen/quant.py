"""Int8 weight-only quantisation: every matrix stored as int8 + one fp32 scale per output row.

Decode reads every weight once per token, so it runs at the speed of memory: int8 weights are 4x fewer
bytes than fp32 and 2x fewer than bf16. The quantiser is symmetric and per output channel (per row of a
``[out, in]`` weight), computed at load time from the safetensors weights -- no conversion step:

    scale[n] = max_k |W[n, k]| / 127            # [N]   fp32
    Q[n, k]  = round(W[n, k] / scale[n])        # [N, K] int8 in [-127, 127]
    W[n, k] ~= Q[n, k] * scale[n]               # error at most scale[n] / 2 per weight

So ``x @ W.T = (x @ Q.T) * scale``: the scale moves out of the inner sum and the matmul can run on int8.

    >>> import torch
    >>> q, scale = quantize_int8(torch.tensor([[0.5, -1.0, 0.25], [2.0, 0.0, -0.1]]))
    >>> q.tolist(), [round(s, 5) for s in scale.tolist()]
    ([[64, -127, 32], [127, 0, -6]], [0.00787, 0.01575])

Which kernel does the int8 matmul is chosen *by measurement* on the device at hand (once per
process, ``choose_kernel``, timing one Qwen2.5-0.5B decoder layer's seven matrices for one token;
``python -m tinyqwen.quant`` prints the table):

- ``fbgemm``: ``torch.ops.quantized.linear_dynamic`` (x86 fbgemm). Activations are quantised to uint8 on
  the fly, int8 x uint8 -> int32 dot products, fp32 out; made per row (per token) by the scaling trick in
  ``Int8Linear.forward``, so a row's result never depends on the rest of the batch. CPU only.
- ``int8pack``: ``torch.ops.aten._weight_int8pack_mm`` (the gpt-fast kernel): int8 weights are converted
  to bf16 on the fly inside the kernel, activations stay bf16 (exact weight-only quantisation). Fast
  for a decode step; over a prompt's many rows it is slower than fp32 GEMM on a CPU without bf16
  arithmetic (``[128, 896] x [896, 4864]`` on a 2-core AVX2 EPYC: 18 ms vs 11 ms). So, by the phase
  rule of ``tinyqwen.linear`` and where a per-machine probe agrees (``int8pack_upcast_is_faster``), a
  prompt (``x [B, T, K]``, ``T > 1``) is multiplied in fp32 by the int8 rows converted a slice at a
  time (``linear.upcast_linear``, no fp32 copy kept), scaled by the same bf16 scales.
- ``avx2``: this project's own kernel (``tinyqwen.native``, C compiled here on first use, x86-64 Linux
  with AVX2): activations carried as int16 per block of 32 values, int8 x int16 products summed in
  integers, as llama.cpp does on AVX2. The one path for prompts and decode steps alike; fp32 activations.
- ``int_mm``: ``torch._int_mm`` after quantising the activations per row to int8 (dynamic, symmetric).
- ``dequant``: ``F.linear(x, Q * scale)`` -- dequantise, then an ordinary matmul. Always works; slow.

Embedding and lm_head: Qwen2.5-0.5B/1.5B tie them (one ``[vocab, hidden]`` table, 136M of 494M parameters
in 0.5B). The table is quantised once, per row; ``Int8Embedding`` looks rows up and dequantises only the
``B x T`` rows it needs, and the head's matmul uses the same int8 rows (per-row scale = per-output-channel
scale of the head). With ``fbgemm`` the head also keeps fbgemm's packed copy (another 1 byte per weight),
because the embedding lookup needs the plain table. Norms, biases, rotary tables and the KV cache stay in
the activation dtype.

``quantize="int4"`` (``tinyqwen.int4``): the decoder layers' matrices become group-wise int4 and the
tied embedding / lm_head stays int8 as above (``swap_quantized`` decides per matrix).

Limits: int8 scales are fp32 and per row, not per group (an outlier weight coarsens its whole row);
activations are quantised on the fly by ``fbgemm`` / ``int_mm`` (adds a small error on top of the
weights') and rounded to int16 per block of 32 by ``avx2`` (2^-16 of the block's largest value); no
saving of quantised checkpoints (quantisation is done at every load, ~1 s per 0.5B). The fp32 prompt
path (``int8pack`` only; ``avx2`` runs prompts itself) costs a fixed ~4 ms per 4M weights (conversion
plus the fp32 GEMM packing its operand), so on that EPYC prompts shorter than ~64 tokens run slower
than with int8pack (at most 0.25 s for the 0.5B shape; 128 tokens 1.59 -> 1.37 s, 512 tokens 6.7 ->
4.2 s) -- the path cannot depend on the length (a padded batch would change it); int4 prompts still
use their packed kernel.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tinyqwen import int4, native
from tinyqwen.kernel_probe import cached_probe, fastest, time_interleaved
from tinyqwen.linear import clearly_faster, is_prompt, upcast_linear

SCHEMES = ("int8", "int4")
KERNELS = ("avx2", "fbgemm", "int8pack", "int_mm", "dequant")
_CHOSEN: dict[str, str] = {}  # device type -> kernel name, measured once per process


def check_scheme(quantize: str | None) -> None:
    """Raise a clear ``ValueError`` unless ``quantize`` is None or one of ``SCHEMES``."""
    if quantize is not None and quantize not in SCHEMES:
        raise ValueError(f"unknown quantize={quantize!r}; expected None, 'int8' or 'int4'")


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: ``w [N, K]`` -> ``(q [N, K] int8, scale [N] fp32)``, ``w ~= q * scale[:, None]``."""
    w = w.float()
    scale = w.abs().amax(dim=1).clamp_min(1e-12) / 127  # [N]; an all-zero row keeps scale > 0
    q = torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8)  # [N, K]
    return q, scale


def _fbgemm_available() -> bool:
    return bool({"fbgemm", "x86"} & set(torch.backends.quantized.supported_engines))


def _cpu_has_vnni() -> bool:
    """fbgemm without VNNI multiplies through int16 and can saturate unless activations use 7 bits."""
    try:
        caps = torch._C._cpu._get_cpu_capability()
        return bool(caps.get("avx512_vnni") or caps.get("avx_vnni"))
    except (AttributeError, RuntimeError, TypeError):
        return False


class Int8Linear(nn.Module):
    """``y = x @ (q * scale).T + bias`` with int8 ``weight [N, K]`` and fp32 ``scale [N]`` buffers.

    ``kernel`` is one of ``KERNELS``; ``set_kernel`` prepares what that kernel needs. Input and output keep
    the caller's dtype (the kernel's own dtype is used inside).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        shape = (out_features, in_features)
        self.register_buffer("weight", torch.empty(shape, dtype=torch.int8, device=device))
        self.register_buffer("scale", torch.empty(out_features, device=device))
        b = torch.empty(out_features, dtype=dtype, device=device) if bias else None
        self.register_buffer("bias", b)
        self.kernel = "dequant"
        self.tied = False  # True when weight/scale are the embedding's table (set by tie_int8)
        self._packed = None  # fbgemm's packed weight, int8pack's bf16 scale, avx2's fp32 bias

    def quantize_weight(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        """The buffers (name -> tensor) that store the float matrix ``w [N, K]`` in this layer."""
        q, scale = quantize_int8(w)
        return {"weight": q, "scale": scale}

    @classmethod
    def from_float(cls, linear: nn.Linear) -> Int8Linear:
        w = linear.weight.detach()
        m = cls(linear.in_features, linear.out_features, linear.bias is not None, w.dtype, w.device)
        m.weight, m.scale = quantize_int8(w)
        if linear.bias is not None:
            m.bias = linear.bias.detach().clone()
        return m

    def set_kernel(self, kernel: str) -> None:
        """Prepare for ``kernel``. ``fbgemm`` packs the weight into its own layout and drops the plain
        int8 copy (a tied head keeps it: the embedding reads it)."""
        if kernel not in KERNELS:
            raise ValueError(f"unknown int8 kernel {kernel!r}; expected one of {KERNELS}")
        if self.weight is None:  # was packed for fbgemm: get the plain int8 rows back
            self.weight = self._unpack()
        self.kernel, self._packed = kernel, None
        if kernel == "fbgemm":
            # two extra input columns with zero weights carry the constants +1 and -1 (see forward)
            padded = F.pad(self.weight, (0, 2))  # [N, K + 2]
            zero = torch.zeros(self.out_features, dtype=torch.long)
            # torch deprecates quantized tensors (the warning), but they are still its fastest CPU path
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                qw = torch._make_per_channel_quantized_tensor(padded, self.scale.double(), zero, 0)
                self._packed = torch.ops.quantized.linear_prepack(qw, None)
            self._reduce_range = not _cpu_has_vnni()
            if not self.tied:
                self.weight = None
        elif kernel == "int8pack":
            self._packed = self.scale.to(torch.bfloat16)  # the CPU kernel wants x's dtype (bf16)
        elif kernel == "avx2":
            # the C kernel reads raw pointers: contiguous int8 rows, fp32 scales, an fp32 bias
            self.weight, self.scale = self.weight.contiguous(), self.scale.contiguous()
            if self.bias is not None:
                self._packed = self.bias.float().contiguous()
            native.check_args(
                torch.empty(0, self.in_features), self.weight, self.scale, self._packed
            )

    def _unpack(self) -> torch.Tensor:
        q = torch.ops.quantized.linear_unpack(self._packed)[0].int_repr()
        return q[:, : self.in_features].contiguous()

    def dequantized(self) -> torch.Tensor:
        """The fp32 weight this layer multiplies by, ``q * scale[:, None]`` ``[N, K]``."""
        q = self._unpack() if self.weight is None else self.weight
        return q.float() * self.scale[:, None]

    def weight_bytes(self) -> int:
        """Bytes this layer holds for its weight: int8 rows (fbgemm's packed copy counted as int8 plus
        int32 column offsets) and fp32 scales; a tied table is counted by the embedding instead."""
        n, k = self.out_features, self.in_features
        if self.kernel == "fbgemm":
            own = n * (k + 2)  # the packed copy (two padding columns, see forward)
        else:
            own = 0 if self.tied else n * k
        extra = 4 * n if self.kernel == "fbgemm" else 0
        scale = 0 if self.tied else 4 * n
        bias = 0 if self.bias is None else self.bias.numel() * self.bias.element_size()
        return own + extra + scale + bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)  # [M, K]
        if self.kernel == "fbgemm":
            # fbgemm quantises its input with ONE scale for the whole [M, K] tensor, so a row's result
            # would depend on the other rows (batching, padding) and an outlier token would coarsen
            # all. Scaling each row to max |x| = 1 and appending the columns +1, -1 fixes the range of
            # every row to exactly [-1, 1]: per-row (per-token) activation quantisation in one call.
            xf = x2.float()
            amax = xf.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)  # [M, 1]
            pins = xf.new_tensor([1.0, -1.0]).expand(xf.shape[0], 2)
            xn = torch.cat([xf / amax, pins], dim=1)  # [M, K + 2]
            y = torch.ops.quantized.linear_dynamic(xn, self._packed, self._reduce_range) * amax
        elif self.kernel == "int8pack":
            if is_prompt(x) and int8pack_upcast_is_faster():
                # a prompt (prefill, scoring) on a CPU where int8pack's many-row product is slow: fp32
                # GEMM on int8 rows converted a slice at a time; the same bf16 scale as decode's
                return upcast_linear(x, self.weight, self.bias, self._packed)
            y = torch.ops.aten._weight_int8pack_mm(x2.to(torch.bfloat16), self.weight, self._packed)
        elif self.kernel == "avx2" and not (torch.is_grad_enabled() and x.requires_grad):
            # int8 rows x int16 activations (tinyqwen.native); the same function for prompts and decode.
            # Decode calls this ~170 times per token: weights were checked in set_kernel, bias added in C
            bias = self._packed
            y = native.int8_matmul(x2.float(), self.weight, self.scale, bias, check=False)
            return y.to(x.dtype).reshape(*lead, self.out_features)
        elif self.kernel == "int_mm":
            # dynamic symmetric per-row activation quantisation, int8 x int8 -> int32. Decode is a
            # few dozen small ops per layer, so each op here counts: in-place where possible.
            xf = x2 if x2.dtype == torch.float32 else x2.float()
            xs = xf.abs().amax(dim=1, keepdim=True).clamp_min_(1e-12).div_(127)  # [M, 1]
            xq = torch.div(xf, xs).round_().to(torch.int8)
            y = torch._int_mm(xq, self.weight.t())  # [M, N] int32
            y = (y * xs).mul_(self.scale)  # int32 * fp32 -> fp32 in one op
        else:
            w = self.weight.to(x.dtype) * self.scale[:, None].to(x.dtype)
            y = x2 @ w.t()
        if self.bias is not None:
            y = y + self.bias  # promotes: fp32 accumulation for a bf16 bias too
        if y.dtype != x.dtype:
            y = y.to(x.dtype)
        return y.reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, kernel={self.kernel}"


def measure_int8pack_gemm(
    rows: int = 128, shape: tuple[int, int] = (2048, 2048), reps: int = 6
) -> dict:
    """Best-of-``reps`` milliseconds of one ``[rows, K] x [K, N]`` int8 product with bf16 activations,
    as ``int8pack`` and as :func:`tinyqwen.linear.upcast_linear` on the int8 rows, taking turns:
    ``{"int8pack_ms", "upcast_ms"}``. 128 rows: a typical prompt (the break-even on a 2-core AVX2 EPYC
    is near 40 rows; the phase rule cannot look at the length, see ``linear.is_prompt``)."""
    q, scale = quantize_int8(torch.full(shape, 1e-3))
    sb = scale.to(torch.bfloat16)
    x = torch.full((rows, shape[1]), 1e-3, dtype=torch.bfloat16)
    calls = {
        "int8pack_ms": lambda: torch.ops.aten._weight_int8pack_mm(x, q, sb),
        "upcast_ms": lambda: upcast_linear(x, q, None, sb),
    }
    with torch.inference_mode():
        best = time_interleaved(calls, torch.device("cpu"), reps)
    return {name: round(ms, 3) for name, ms in best.items()}


@functools.cache
def int8pack_gemm_probe() -> dict:
    """``{"int8pack_ms", "upcast_ms", "source"}``: :func:`measure_int8pack_gemm` (~0.2 s), once per
    machine, kept beside the decode-dtype and bf16-GEMM probes (``kernel_probe.cached_probe``)."""
    keys = ("int8pack_ms", "upcast_ms")
    numbers, source = cached_probe(":int8pack-gemm", keys, lambda: measure_int8pack_gemm())
    return {**numbers, "source": source}


@functools.cache
def int8pack_upcast_is_faster() -> bool:
    """True when this machine's int8pack product over a prompt is clearly slower than converting the
    int8 rows to fp32 (:func:`int8pack_gemm_probe`, ``linear.clearly_faster``)."""
    probe = int8pack_gemm_probe()
    return clearly_faster(probe["int8pack_ms"], probe["upcast_ms"])


def int8_gemm_probe_text() -> str:
    """One line for the probe behind :func:`int8pack_upcast_is_faster` (``tinyqwen verify``, the bench)."""
    p = int8pack_gemm_probe()
    verdict = "in fp32" if int8pack_upcast_is_faster() else "with int8pack"
    return (f"int8pack prompts run {verdict} (probe 128 rows: int8pack {p['int8pack_ms']} ms, "
            f"fp32 {p['upcast_ms']} ms; {p['source']})")  # fmt: skip


class Int8Embedding(nn.Module):
    """Row lookup in an int8 table: ``E[ids] = q[ids] * scale[ids]`` in ``dtype``.

    ``weight [V, H]`` int8 and ``scale [V]`` are the same tensors as the tied ``lm_head``'s.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.dtype = num_embeddings, embedding_dim, dtype
        shape = (num_embeddings, embedding_dim)
        self.register_buffer("weight", torch.empty(shape, dtype=torch.int8, device=device))
        self.register_buffer("scale", torch.empty(num_embeddings, device=device))

    def quantize_weight(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        """The buffers (name -> tensor) that store the float table ``w [V, H]``: int8 rows, fp32 scales."""
        q, scale = quantize_int8(w)
        return {"weight": q, "scale": scale}

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.weight[ids]  # [B, T, H] int8
        return rows.to(self.dtype) * self.scale[ids].unsqueeze(-1).to(self.dtype)


# One Qwen2.5-0.5B decoder layer's matrices [out, in]: q, k, v, o, gate, up, down.
DECODER_LAYER_05B = (
    (896, 896),
    (128, 896),
    (128, 896),
    (896, 896),
    (4864, 896),
    (4864, 896),
    (896, 4864),
)


@torch.inference_mode()
def probe_kernels(
    device: torch.device | str = "cpu",
    shapes: Sequence[tuple[int, int]] = DECODER_LAYER_05B,
    rows: int = 1,
    reps: int = 15,
) -> dict[str, float | str]:
    """Milliseconds per kernel (best of ``reps``: on a shared machine the fastest run is the one least
    disturbed, as ``timeit`` advises) to push ``[rows, K]`` activations through the int8 matrices
    ``shapes`` one after the other (default: one Qwen2.5-0.5B decoder layer, one token -- decode), in
    the activation dtype the kernel's model would run in; a string when the kernel does not run here
    or computes a wrong result. The kernels take turns within each repetition."""
    device = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    weights = [(torch.randn(shape, generator=gen) * 0.02).to(device) for shape in shapes]
    xs = [torch.randn(rows, shape[1], generator=gen).to(device) for shape in shapes]
    out: dict[str, float | str] = {}
    calls = {}
    for kernel in KERNELS:
        if kernel == "fbgemm" and (device.type != "cpu" or not _fbgemm_available()):
            out[kernel] = "not available"
            continue
        if kernel == "avx2" and (device.type != "cpu" or not native.available()):
            out[kernel] = "not available"
            continue
        layers = []
        for w in weights:
            lin = Int8Linear(w.shape[1], w.shape[0], bias=False, device=device)
            lin.weight, lin.scale = quantize_int8(w)
            layers.append(lin)
        act = [x.to(activation_dtype(kernel, device)) for x in xs]
        try:
            for lin in layers:
                lin.set_kernel(kernel)
            ys = [lin(x).float() for lin, x in zip(layers, act)]  # also the warm-up
        except (RuntimeError, NotImplementedError) as e:
            out[kernel] = f"error: {str(e).splitlines()[0][:60]}"
            continue
        cos = min(
            F.cosine_similarity(y.flatten(), (x.float() @ w.float().t()).flatten(), dim=0).item()
            for y, x, w in zip(ys, xs, weights)
        )
        if cos < 0.99:  # a kernel that runs but computes the wrong thing is never chosen
            out[kernel] = f"wrong result (cosine {cos:.3f})"
            continue
        calls[kernel] = lambda layers=layers, act=act: [lin(x) for lin, x in zip(layers, act)]
    out.update(time_interleaved(calls, device, reps))
    return {k: out[k] for k in KERNELS}


def choose_kernel(device: torch.device | str = "cpu") -> str:
    """The fastest working kernel for decode on ``device`` (measured once per process and device type)."""
    dev = torch.device(device)
    if dev.type not in _CHOSEN:
        _CHOSEN[dev.type] = fastest(probe_kernels(dev))
    return _CHOSEN[dev.type]


def activation_dtype(kernel: str, device: torch.device | str = "cpu") -> torch.dtype:
    """The dtype the rest of a quantised model runs in when the caller did not pick one: bf16 for
    ``int8pack`` (its CPU kernel is fast only in bf16) and on CUDA (where supported); fp32 otherwise
    on CPU (fbgemm takes fp32; the weights are int8 either way, so fp32 activations cost little)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if kernel == "int8pack" else torch.float32


def default_dtype(scheme: str, device: torch.device | str = "cpu") -> torch.dtype:
    """The activation dtype of a ``scheme``-quantised model when the caller did not pick one: for int8
    ``activation_dtype`` of the chosen kernel; for int4 bf16 where its kernel runs (it is fast only in
    bf16) and the int8 rule otherwise."""
    device = torch.device(device)
    if scheme == "int4" and int4.choose_kernel(device) == "int4pack":
        return torch.bfloat16
    return activation_dtype(choose_kernel(device), device)


def swap_quantized(
    model: nn.Module, dtype: torch.dtype, scheme: str = "int8"
) -> dict[str, nn.Module]:
    """Replace every ``nn.Linear`` and the token embedding of a causal LM (``model.model.embed_tokens``,
    ``model.lm_head``) by empty quantised modules (on the model's device, typically ``meta`` before
    ``load_state_dict(assign=True)``). ``scheme="int4"``: ``Int4Linear`` for every matrix whose shape
    the int4 kernels take, except ``lm_head`` (int8, like the embedding it is tied to); int8 for the rest.
    Returns ``{weight name: module}``; ``module.quantize_weight(w)`` gives the buffers to load for that
    name. Call ``tie_int8`` / ``set_kernels`` after the weights are in."""
    check_scheme(scheme)
    emb = model.model.embed_tokens
    device = emb.weight.device
    out: dict[str, nn.Module] = {}
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                args = (
                    child.in_features,
                    child.out_features,
                    child.bias is not None,
                    dtype,
                    device,
                )
                use_int4 = scheme == "int4" and child is not model.lm_head
                if use_int4 and int4.fits(child.out_features, child.in_features):
                    q = int4.Int4Linear(*args)
                else:
                    q = Int8Linear(*args)
                setattr(parent, name, q)
                out[f"{parent_name}.{name}.weight" if parent_name else f"{name}.weight"] = q
    model.model.embed_tokens = Int8Embedding(emb.num_embeddings, emb.embedding_dim, dtype, device)
    out["model.embed_tokens.weight"] = model.model.embed_tokens
    return out


def tie_int8(model: nn.Module) -> None:
    """Make the int8 ``lm_head`` use the embedding's int8 table and scales (one copy)."""
    model.lm_head.weight = model.model.embed_tokens.weight
    model.lm_head.scale = model.model.embed_tokens.scale
    model.lm_head.tied = True


def set_kernels(model: nn.Module, kernel: str | None = None) -> str:
    """Prepare every ``Int8Linear`` for ``kernel`` (default: ``choose_kernel`` on the model's device)
    and every not yet packed ``Int4Linear`` for ``int4.choose_kernel``; sets ``model.quantization``
    (e.g. ``"int8 (int_mm)"``, ``"int4 (int4pack, group 128) + int8 (int_mm)"``). Returns the int8
    kernel."""
    device = model.model.norm.weight.device
    kernel = kernel or choose_kernel(device)
    int4_layers = []
    for m in model.modules():
        if isinstance(m, Int8Linear):
            m.set_kernel(kernel)
        elif isinstance(m, int4.Int4Linear):
            if m.kernel != "int4pack":
                m.set_kernel(int4.choose_kernel(device))
            int4_layers.append(m)
    model.quantization = f"int8 ({kernel})"
    if int4_layers:
        groups = "/".join(str(g) for g in sorted({m.group_size for m in int4_layers}, reverse=True))
        kernels = "/".join(sorted({m.kernel for m in int4_layers}))
        model.quantization = f"int4 ({kernels}, group {groups}) + {model.quantization}"
    return kernel


@torch.no_grad()
def quantize_model(model: nn.Module, kernel: str | None = None, scheme: str = "int8") -> nn.Module:
    """Quantise a loaded float ``Qwen2ForCausalLM`` in place (``scheme`` as in ``swap_quantized``; the
    activation dtype stays the model's); returns the model. ``from_pretrained(..., quantize=scheme)``
    does the same while loading, one tensor at a time."""
    tied = model.lm_head.weight is model.model.embed_tokens.weight
    floats = dict(model.named_parameters())  # the float weights, before the swap drops them
    dtype = model.model.embed_tokens.weight.dtype
    for name, module in swap_quantized(model, dtype, scheme).items():
        if tied and name == "lm_head.weight":
            continue  # shares the embedding's table: tie_int8 below
        prefix = name.removesuffix("weight")
        for key, t in module.quantize_weight(floats[name].detach()).items():
            setattr(module, key, t)
        if getattr(module, "bias", None) is not None:
            module.bias = floats[prefix + "bias"].detach().to(dtype).clone()
    if tied:
        tie_int8(model)
    set_kernels(model, kernel)
    return model


def weight_bytes(model: nn.Module) -> int:
    """Bytes held by the model's weights: parameters and weight buffers (a tied tensor counted once), an
    ``Int8Linear`` as its ``weight_bytes()``; rotary tables (recomputed, not weights) left out."""
    seen: set[int] = set()
    total = 0
    for m in model.modules():
        if isinstance(m, (Int8Linear, int4.Int4Linear)):
            total += m.weight_bytes()
            continue
        if m.__class__.__name__ == "RotaryEmbedding":
            continue
        for t in list(m.parameters(recurse=False)) + list(m.buffers(recurse=False)):
            if t.data_ptr() not in seen:
                seen.add(t.data_ptr())
                total += t.numel() * t.element_size()
    return total


@torch.inference_mode()
def int8_error(
    reference: nn.Module, quantized: nn.Module, prompts: list[list[int]]
) -> dict[str, float]:
    """Last-position logits of ``quantized`` (int8 or int4) against ``reference`` (same checkpoint,
    float) over ``prompts``: the smallest cosine, the largest ``|logit diff|`` and the fraction of prompts whose
    argmax (the greedy next token) agrees."""
    cosines, diffs, agree = [], [], 0
    for ids in prompts:
        x = torch.tensor([ids], device=reference.device)
        a = reference(x, logits_to_keep=1)[0, -1]
        b = quantized(x.to(quantized.device), logits_to_keep=1)[0, -1].to(a.device)
        cosines.append(F.cosine_similarity(a, b, dim=0).item())
        diffs.append((a - b).abs().max().item())
        agree += int(a.argmax() == b.argmax())
    return {
        "min_cosine": min(cosines),
        "max_abs_diff": max(diffs),
        "argmax_agree": agree / len(prompts),
    }


def main() -> None:
    """``python -m tinyqwen.quant [--device cuda]``: print the int8 and int4 kernel timings and choices."""
    import argparse

    p = argparse.ArgumentParser(
        description="time the int8 and int4 matmul kernels, show the choice"
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    probes = [
        ("int8, one Qwen2.5-0.5B layer's 7 matmuls", probe_kernels, choose_kernel),
        ("int4 (group 128), 0.5B o/up/down shapes", int4.probe_kernels, int4.choose_kernel),
    ]
    for what, probe, choose in probes:
        for rows in (1, 8, 128):
            t = probe(args.device, rows=rows)
            cells = ", ".join(
                f"{k} {v:.3f} ms" if isinstance(v, float) else f"{k} {v}" for k, v in t.items()
            )
            print(f"{args.device}, {what}, {rows} token(s): {cells}")
        print(f"chosen for decode on {args.device}: {choose(args.device)}")


if __name__ == "__main__":
    main()
