"""Int4 weight-only quantisation, group-wise: 4 bits per weight + one bf16 scale and offset per group.

Decode reads every weight once per token, so half the bytes of int8 is (up to) twice the speed again.
Four bits are too few for one scale per row (``tinyqwen.quant``'s int8 scheme): one outlier would leave
the rest of its row two or three levels. So every ``G`` consecutive weights of a row (a *group*,
``G`` = 128 by default, as in GPTQ/AWQ checkpoints) get their own asymmetric range -- gpt-fast's layout,
which torch's int4 kernels read:

    lo, hi   = min, max of the group's weights
    scale    = (hi - lo) / 15                       # 16 levels span the group's range
    zero     = lo + 8 * scale                       # the value that level 8 stands for
    q        = round((w - lo) / scale)              # in [0, 15]
    w       ~= (q - 8) * scale + zero               # error at most scale / 2 (+ bf16 rounding of scale, zero)

    >>> import torch
    >>> q, sz = quantize_int4(torch.linspace(-1, 2, 32).repeat(16, 1), group_size=32)
    >>> q[0, :6].tolist(), sz.shape, [round(v, 3) for v in sz[0, 0].float().tolist()]
    ([0, 0, 1, 1, 2, 2], torch.Size([1, 16, 2]), [0.2, 0.602])

Storage: the plain form (``Int4Linear.weight``) packs two weights per byte, ``[N, K / 2]`` uint8, high
nibble = even column; ``scales_and_zeros`` is ``[K / G, N, 2]`` bf16 (2 x 2 bytes per group: at G = 128,
0.03 extra bytes per weight). ``set_kernel("int4pack")`` converts it to the kernel's own, device-specific
tile layout (``torch.ops.aten._convert_weight_to_int4pack_for_cpu`` / ``_convert_weight_to_int4pack``)
and drops the plain copy; ``torch.ops.aten._weight_int4pack_mm[_for_cpu]`` then unpacks 4-bit weights
inside the matmul. Its fast path wants bf16 activations (with fp32 ones the CPU kernel is ~25x slower,
measured), so an int4 model runs in bf16. ``dequant`` (unpack, then an ordinary matmul) is the
fallback; ``choose_kernel`` measures both and checks the result, once per process and device type.

Limits: a layer is int4 only when the kernels take its shape (out features a multiple of 16, in features
a multiple of 32): others stay int8 (``tinyqwen.quant.swap_quantized``); the tied embedding / lm_head
stays int8 by design (it is the most error-sensitive matrix: llama.cpp's Q4_K_M likewise keeps
``output.weight`` at 6 bits); round-to-nearest only (no GPTQ/AWQ calibration); weights are
quantised at every load; the CUDA path is written for torch's kernel but was not measured here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tinyqwen.kernel_probe import fastest, time_interleaved

KERNELS = ("int4pack", "dequant")
GROUP_SIZES = (128, 64, 32)  # group sizes torch's kernels accept, largest (fewest scales) first
_CHOSEN: dict[str, str] = {}  # device type -> kernel name, measured once per process


def group_size_for(in_features: int, preferred: int = 128) -> int | None:
    """The largest supported group size ``<= preferred`` that divides ``in_features`` (None if none)."""
    return next((g for g in GROUP_SIZES if g <= preferred and in_features % g == 0), None)


def fits(out_features: int, in_features: int) -> bool:
    """Whether a ``[out, in]`` matrix can be int4 here (torch's packing needs out % 16, in % 32)."""
    return out_features % 16 == 0 and group_size_for(in_features) is not None


def quantize_int4(w: torch.Tensor, group_size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Asymmetric group-wise int4: ``w [N, K]`` -> ``(q [N, K] uint8 in 0..15, scales_and_zeros
    [K / G, N, 2] bf16)``. ``q`` is computed against the bf16-rounded scale and zero the kernel will
    use, so the kernel reproduces ``(q - 8) * scale + zero`` exactly as quantised here."""
    n, k = w.shape
    if k % group_size:
        raise ValueError(f"in_features {k} is not a multiple of the group size {group_size}")
    wg = w.detach().float().reshape(n, k // group_size, group_size)  # [N, K/G, G]
    lo, hi = wg.amin(dim=-1), wg.amax(dim=-1)  # [N, K/G]
    scale = ((hi - lo) / 15).clamp_min(1e-6).to(torch.bfloat16)
    zero = (lo + 8 * scale.float()).to(torch.bfloat16)
    s, z = scale.float()[..., None], zero.float()[..., None]
    q = torch.round((wg - z) / s + 8).clamp_(0, 15).to(torch.uint8).reshape(n, k)
    scales_and_zeros = torch.stack([scale, zero], dim=-1).transpose(0, 1).contiguous()
    return q, scales_and_zeros


def dequantize_int4(q: torch.Tensor, scales_and_zeros: torch.Tensor) -> torch.Tensor:
    """``(q - 8) * scale + zero`` as fp32 ``[N, K]`` (``q [N, K]`` levels, ``scales_and_zeros [K/G, N, 2]``)."""
    n, k = q.shape
    groups = scales_and_zeros.shape[0]
    sz = scales_and_zeros.float().transpose(0, 1)  # [N, K/G, 2]
    qg = q.float().reshape(n, groups, k // groups)  # [N, K/G, G]
    return ((qg - 8) * sz[..., :1] + sz[..., 1:]).reshape(n, k)


def pack_nibbles(q: torch.Tensor) -> torch.Tensor:
    """``[N, K]`` levels 0..15 -> ``[N, K / 2]`` uint8, even column in the high nibble."""
    q = q.to(torch.uint8)
    return (q[:, ::2] << 4) | q[:, 1::2]


def unpack_nibbles(packed: torch.Tensor) -> torch.Tensor:
    """Inverse of ``pack_nibbles``: ``[N, K / 2]`` uint8 -> ``[N, K]`` uint8 levels."""
    return torch.stack([packed >> 4, packed & 15], dim=-1).reshape(packed.shape[0], -1)


class Int4Linear(nn.Module):
    """``y = x @ W.T + bias`` with ``W`` stored as group-wise int4 (``weight [N, K/2]`` uint8 nibbles,
    ``scales_and_zeros [K/G, N, 2]`` bf16). ``kernel`` is one of ``KERNELS`` (``set_kernel``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        group_size: int = 128,
    ) -> None:
        super().__init__()
        if not fits(out_features, in_features):
            raise ValueError(
                f"an int4 layer needs out % 16 == 0 and in % 32 == 0, got [{out_features}, {in_features}]"
            )
        self.in_features, self.out_features = in_features, out_features
        self.group_size = group_size_for(in_features, group_size)
        groups = in_features // self.group_size
        w = torch.empty(out_features, in_features // 2, dtype=torch.uint8, device=device)
        self.register_buffer("weight", w)
        sz = torch.empty(groups, out_features, 2, dtype=torch.bfloat16, device=device)
        self.register_buffer("scales_and_zeros", sz)
        b = torch.empty(out_features, dtype=dtype, device=device) if bias else None
        self.register_buffer("bias", b)
        self.kernel = "dequant"
        self._packed = None  # the kernel's own tile layout (int4pack), once set_kernel made it

    def quantize_weight(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        """The buffers (name -> tensor) that store the float matrix ``w [N, K]`` in this layer."""
        q, sz = quantize_int4(w, self.group_size)
        return {"weight": pack_nibbles(q), "scales_and_zeros": sz}

    @classmethod
    def from_float(cls, linear: nn.Linear, group_size: int = 128) -> Int4Linear:
        w = linear.weight.detach()
        m = cls(
            linear.in_features,
            linear.out_features,
            linear.bias is not None,
            w.dtype,
            w.device,
            group_size,
        )
        for name, t in m.quantize_weight(w).items():
            setattr(m, name, t)
        if linear.bias is not None:
            m.bias = linear.bias.detach().clone()
        return m

    def set_kernel(self, kernel: str) -> None:
        """Prepare for ``kernel``. ``int4pack`` converts the plain nibbles into the kernel's tile layout
        and drops them (one copy of the weights, not two); after that the layer stays ``int4pack``."""
        if kernel not in KERNELS:
            raise ValueError(f"unknown int4 kernel {kernel!r}; expected one of {KERNELS}")
        if self._packed is not None:
            if kernel != "int4pack":
                raise RuntimeError(
                    "int4 weights are already in the int4pack layout; load the model again to change kernel"
                )
            return
        if kernel == "int4pack":
            self._packed = _to_kernel_layout(self.weight, self.in_features)
            self.weight = None
        self.kernel = kernel

    def dequantized(self) -> torch.Tensor:
        """The fp32 weight ``[N, K]`` this layer multiplies by (after packing: read back through the
        kernel in bf16, i.e. what the kernel multiplies by, rounded to bf16)."""
        if self._packed is None:
            return dequantize_int4(unpack_nibbles(self.weight), self.scales_and_zeros)
        eye = torch.eye(self.in_features, dtype=torch.bfloat16, device=self.scales_and_zeros.device)
        return _int4pack_mm(eye, self._packed, self.group_size, self.scales_and_zeros).float().t()

    def weight_bytes(self) -> int:
        """Bytes for this layer's weight: half a byte per weight, 4 per group scale/zero pair, bias."""
        bias = 0 if self.bias is None else self.bias.numel() * self.bias.element_size()
        return self.out_features * self.in_features // 2 + self.scales_and_zeros.numel() * 2 + bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)  # [M, K]
        if self._packed is not None:
            y = _int4pack_mm(
                x2.to(torch.bfloat16), self._packed, self.group_size, self.scales_and_zeros
            )
        else:
            w = dequantize_int4(unpack_nibbles(self.weight), self.scales_and_zeros).to(x.dtype)
            y = x2 @ w.t()
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y.to(x.dtype).reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, group={self.group_size}, kernel={self.kernel}"


def _to_kernel_layout(plain: torch.Tensor, in_features: int) -> torch.Tensor:
    """Plain nibbles ``[N, K/2]`` -> the layout torch's int4 matmul reads on ``plain``'s device."""
    if plain.device.type == "cpu":
        return torch.ops.aten._convert_weight_to_int4pack_for_cpu(
            unpack_nibbles(plain).to(torch.int32), 2
        )
    inner_k_tiles = next(t for t in (8, 4, 2) if in_features % (16 * t) == 0)  # CUDA tiles of 16*t
    return torch.ops.aten._convert_weight_to_int4pack(plain, inner_k_tiles)


def _int4pack_mm(
    x: torch.Tensor, packed: torch.Tensor, group_size: int, sz: torch.Tensor
) -> torch.Tensor:
    if x.device.type == "cpu":
        return torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, group_size, sz)
    return torch.ops.aten._weight_int4pack_mm(x, packed, group_size, sz)


@torch.inference_mode()
def probe_kernels(
    device: torch.device | str = "cpu",
    shapes: Sequence[tuple[int, int]] = ((896, 896), (4864, 896), (896, 4864)),
    rows: int = 1,
    reps: int = 10,
) -> dict[str, float | str]:
    """Milliseconds per kernel (best of ``reps``) for ``[rows, K]`` bf16 activations through int4
    matrices of ``shapes`` (default: a Qwen2.5-0.5B layer's o, up and down shapes); a string when a
    kernel does not run here or disagrees with the plain dequantise-then-matmul reference."""
    device = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    weights = [(torch.randn(shape, generator=gen) * 0.02).to(device) for shape in shapes]
    xs = [torch.randn(rows, shape[1], generator=gen).to(device, torch.bfloat16) for shape in shapes]
    out: dict[str, float | str] = {}
    calls = {}
    for kernel in KERNELS:
        layers = []
        for w in weights:
            lin = Int4Linear(w.shape[1], w.shape[0], bias=False, device=device)
            for name, t in lin.quantize_weight(w).items():
                setattr(lin, name, t)
            layers.append(lin)
        try:
            refs = [x.float() @ lin.dequantized().t() for lin, x in zip(layers, xs)]
            for lin in layers:
                lin.set_kernel(kernel)
            ys = [lin(x).float() for lin, x in zip(layers, xs)]  # also the warm-up
        except (RuntimeError, NotImplementedError) as e:
            out[kernel] = f"error: {str(e).splitlines()[0][:60]}"
            continue
        cos = min(
            F.cosine_similarity(y.flatten(), r.flatten(), dim=0).item() for y, r in zip(ys, refs)
        )
        if cos < 0.999:  # same quantised weights: only bf16 rounding may differ
            out[kernel] = f"wrong result (cosine {cos:.4f})"
            continue
        calls[kernel] = lambda layers=layers: [lin(x) for lin, x in zip(layers, xs)]
    out.update(time_interleaved(calls, device, reps))
    return {k: out[k] for k in KERNELS}


def choose_kernel(device: torch.device | str = "cpu") -> str:
    """The fastest working int4 kernel on ``device`` (measured once per process and device type)."""
    dev = torch.device(device)
    if dev.type not in _CHOSEN:
        _CHOSEN[dev.type] = fastest(probe_kernels(dev))
    return _CHOSEN[dev.type]
