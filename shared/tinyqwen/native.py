"""Hand-written CPU kernels, compiled here on first use: decode's matrix products on AVX2 CPUs.

PyTorch's CPU int8 kernels (``int8pack``, ``fbgemm``) convert every weight to a float before multiplying;
on a 2-core AVX2 EPYC that costs more than reading it from memory (decode streams int8 weights at
~10 GB/s where the memory gives ~25). ``csrc/matmul_avx2.c`` multiplies in integers instead, as
llama.cpp does on the same CPUs: activations carried as int16 with one fp32 scale per block of 32 values
(an error of at most 2^-16 of the block's largest value, finer than the bf16 rounding int8pack applies),
int8 x int16 products summed in int32 per block (``vpmaddwd``), then fp32. The same file has the bf16
product (:func:`bf16_matmul`: each bf16 weight made fp32 exactly by two unpack instructions per 16,
fp32 products and sums; PyTorch's bf16 matrix-vector product there streams ~11 GB/s, this 30+). The C
file explains each step.

    >>> import torch
    >>> q = torch.tensor([[1, -2], [3, 4]], dtype=torch.int8)
    >>> x, scale = torch.tensor([[1.0, -0.25]]), torch.tensor([0.5, 1.0])
    >>> y = int8_matmul(x, q, scale) if available() else (x @ q.float().T) * scale
    >>> y.round(decimals=4)  # x rounded to int16: [32767, -8192] * (1 / 32767), error 2^-16 of 1
    tensor([[0.7500, 2.0000]])

It is built with the system's C compiler (``$CC``, else ``cc``; ``-O3 -mavx2 -mfma -fopenmp``, ~1 s)
into ``<cache dir>/kernels/``, named by the hash of the source and the command, and loaded with ctypes;
the build goes to a temporary file renamed into place, so two processes never load half a file.
``tinyqwen.quant`` offers the int8 product as the kernel ``avx2`` and takes it where it measures
fastest; ``tinyqwen.linear`` runs bf16 decode steps on the bf16 product where its probe says so.

Limits: x86-64 Linux with AVX2 and FMA and a C compiler with OpenMP; elsewhere (ARM, macOS, Windows,
no compiler, ``TINYQWEN_NATIVE=0``) it is reported unavailable and the PyTorch kernels are used. CPU
tensors only, inference only (no gradient). The library links the same ``libgomp`` PyTorch has loaded.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

from tinyqwen.kernel_probe import probe_cache_path

CSRC = Path(__file__).parent / "csrc"
# one library: the decode layer calls the matrix product
SOURCES = (CSRC / "matmul_avx2.c", CSRC / "decode_avx2.c")
FLAGS = ("-O3", "-mavx2", "-mfma", "-fopenmp", "-shared", "-fPIC")
BUILD_TIMEOUT_S = 120


def _cpu_supported() -> str | None:
    """None when this CPU and OS can run the kernel, else why not."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return f"needs x86-64 Linux (this is {platform.system()} {platform.machine()})"
    try:
        caps = torch._C._cpu._get_cpu_capability()
        ok = bool(caps.get("avx2") and caps.get("fma3"))
    except (AttributeError, RuntimeError, TypeError):
        ok = False
    return None if ok else "needs a CPU with AVX2 and FMA"


def _build(cc: str, path: Path) -> str | None:
    """Compile the kernel into ``path`` (atomically); None on success, else the compiler's complaint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".build-", suffix=".so")
    os.close(fd)
    try:
        done = subprocess.run(
            [cc, *FLAGS, *map(str, SOURCES), "-o", tmp],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            return f"{cc} failed on {', '.join(p.name for p in SOURCES)}: {first[:160]}"
        os.replace(tmp, path)
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"could not run the C compiler {cc!r}: {e}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@functools.cache
def _library() -> tuple[ctypes.CDLL | None, str]:
    """``(library, where)`` or ``(None, why not)``; built once per machine, loaded once per process."""
    if os.environ.get("TINYQWEN_NATIVE") == "0":
        return None, "turned off by TINYQWEN_NATIVE=0"
    reason = _cpu_supported()
    if reason:
        return None, reason
    cc = os.environ.get("CC") or "cc"
    code = b"".join(p.read_bytes() for p in SOURCES)
    digest = hashlib.sha256(code + " ".join((cc, *FLAGS)).encode()).hexdigest()
    path = probe_cache_path().parent / "kernels" / f"tinyqwen_avx2-{digest[:16]}.so"
    if not path.exists():
        try:
            error = _build(cc, path)
        except OSError as e:  # an unwritable cache dir
            error = f"could not write {path.parent}: {e}"
        if error:
            return None, error
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        return None, f"could not load {path}: {e}"
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.int8_matmul.argtypes = [p, p, p, p, p, i64, i64, i64, ctypes.c_int]
    lib.int8_matmul.restype = ctypes.c_int
    lib.bf16_matmul.argtypes = [p, p, p, p, i64, i64, i64, ctypes.c_int]
    lib.bf16_matmul.restype = ctypes.c_int
    lib.decode_layers.argtypes = [p, p, i64, p]
    lib.decode_layers.restype = ctypes.c_int
    return lib, str(path)


def available() -> bool:
    """True when the kernels run on this machine (built and loaded; see :func:`status`)."""
    return _library()[0] is not None


def status() -> str:
    """Where the built kernels are, or why they are not available here."""
    lib, where = _library()
    return f"avx2 kernels: {where}" if lib is not None else f"avx2 kernels unavailable: {where}"


def check_args(
    x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None
) -> None:
    """Raise a ``ValueError`` / ``TypeError`` naming the argument that :func:`int8_matmul` cannot take."""
    if x.dim() != 2 or q.dim() != 2 or x.shape[1] != q.shape[1] or scale.shape != q.shape[:1]:
        raise ValueError(
            f"int8_matmul: expected x [M, K], q [N, K], scale [N]; got x {tuple(x.shape)}, "
            f"q {tuple(q.shape)}, scale {tuple(scale.shape)}"
        )
    if bias is not None and (bias.shape != scale.shape or bias.dtype != torch.float32):
        raise ValueError(
            f"int8_matmul: bias must be fp32 [N]; got {bias.dtype} {tuple(bias.shape)}"
        )
    if (x.dtype, q.dtype, scale.dtype) != (torch.float32, torch.int8, torch.float32):
        raise TypeError(
            f"int8_matmul: expected x fp32, q int8, scale fp32; got {x.dtype}, {q.dtype}, {scale.dtype}"
        )
    tensors = (x, q, scale) if bias is None else (x, q, scale, bias)
    if any(t.device.type != "cpu" for t in tensors):
        raise ValueError("int8_matmul: CPU tensors only")


_KERNELS: dict = {}  # name -> the C function once loaded: the per-call path skips the lookups


def _kernel(name: str):
    if name not in _KERNELS:
        lib = _library()[0]
        if lib is None:
            raise RuntimeError(status())
        _KERNELS[name] = getattr(lib, name)
    return _KERNELS[name]


def _call(
    name: str, x: torch.Tensor, n: int, weights: tuple[torch.Tensor, ...], bias: torch.Tensor | None
) -> torch.Tensor:
    """Run the C function ``name(x, *weights, bias or NULL, y, M, N, K, threads)``; ``y [M, n]`` fp32.
    Both kernels take this argument order (csrc/matmul_avx2.c)."""
    m, k = x.shape
    y = torch.empty(m, n)
    if m and n:
        b = 0 if bias is None else bias.data_ptr()
        ptrs = (x.data_ptr(), *(t.data_ptr() for t in weights), b, y.data_ptr())
        if _kernel(name)(*ptrs, m, n, k, torch.get_num_threads()) != 0:
            raise MemoryError(f"{name}: no memory for the scratch copy of x {tuple(x.shape)}")
    return y


def _run(
    x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    return _call("int8_matmul", x, q.shape[0], (q, scale), bias)


def _run_bf16(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    return _call("bf16_matmul", x, w.shape[0], (w,), bias)


# For torch.compile: an opaque operator with a known output shape, so a compiled decode step calls the
# kernel without breaking its graph. Eager calls skip the dispatcher (a few microseconds per matrix).
@torch.library.custom_op("tinyqwen::int8_matmul", mutates_args=())
def _int8_matmul_op(
    x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    return _run(x.contiguous(), q.contiguous(), scale.contiguous(), bias)


@_int8_matmul_op.register_fake
def _(
    x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    return x.new_empty(x.shape[0], q.shape[0])


def int8_matmul(
    x: torch.Tensor,
    q: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    check: bool = True,
) -> torch.Tensor:
    """``(x @ q.T) * scale + bias``: ``x [M, K]`` fp32, ``q [N, K]`` int8, ``scale [N]`` and ``bias [N]``
    fp32 -> ``[M, N]`` fp32.

    Each row of ``x`` is rounded to int16 per block of 32 (see the module docstring); a row's result
    does not depend on the other rows. ``check=False`` (``quant.Int8Linear``'s decode path, whose
    weights were checked once) skips the argument checks. Raises ``RuntimeError`` where the kernel is
    unavailable."""
    if check:
        check_args(x, q, scale, bias)
        q, scale = q.contiguous(), scale.contiguous()
        bias = None if bias is None else bias.contiguous()
    x = x.contiguous()
    if torch.compiler.is_compiling():
        return _int8_matmul_op(x, q, scale, bias)
    return _run(x, q, scale, bias)


@torch.library.custom_op("tinyqwen::bf16_matmul", mutates_args=())
def _bf16_matmul_op(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return _run_bf16(x.contiguous(), w.contiguous(), bias)


@_bf16_matmul_op.register_fake
def _(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return x.new_empty(x.shape[0], w.shape[0])


def bf16_matmul(
    x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None, *, check: bool = True
) -> torch.Tensor:
    """``x @ w.T + bias``: ``x [M, K]`` fp32, ``w [N, K]`` bf16, ``bias [N]`` fp32 -> ``[M, N]`` fp32.

    Exact products of the bf16 weights, fp32 sums (a rounding per addition, like any fp32 product); a
    row's result does not depend on the other rows. ``check=False`` skips the argument checks (the
    decode path in ``tinyqwen.linear``). Raises ``RuntimeError`` where the kernels are unavailable."""
    if check:
        if x.dim() != 2 or w.dim() != 2 or x.shape[1] != w.shape[1]:
            raise ValueError(
                f"bf16_matmul: expected x [M, K], w [N, K]; got x {tuple(x.shape)}, w {tuple(w.shape)}"
            )
        if (x.dtype, w.dtype) != (torch.float32, torch.bfloat16):
            raise TypeError(f"bf16_matmul: expected x fp32, w bf16; got {x.dtype}, {w.dtype}")
        if bias is not None and (bias.shape != w.shape[:1] or bias.dtype != torch.float32):
            raise ValueError(
                f"bf16_matmul: bias must be fp32 [N]; got {bias.dtype} {tuple(bias.shape)}"
            )
        if x.device.type != "cpu" or w.device.type != "cpu":
            raise ValueError("bf16_matmul: CPU tensors only")
        w = w.contiguous()
        bias = None if bias is None else bias.contiguous()
    x = x.contiguous()
    if torch.compiler.is_compiling():
        return _bf16_matmul_op(x, w, bias)
    return _run_bf16(x, w, bias)
