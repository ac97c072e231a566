"""Load and save Hugging Face Qwen2 checkpoints (``config.json`` + safetensors) with no conversion step.

    >>> from tinyqwen.model import Qwen2ForCausalLM
    >>> model = Qwen2ForCausalLM.from_pretrained("Qwen2.5-0.5B-Instruct")        # doctest: +SKIP
    >>> model.save_pretrained("/tmp/copy")      # transformers can load /tmp/copy  # doctest: +SKIP

Imports go one way: ``model.py`` imports this module and passes its class in
(``load_model(Qwen2ForCausalLM, path)``); this module never imports the model.

Layouts read: ``model.safetensors`` (one file) or ``model.safetensors.index.json`` + shards (its
``weight_map`` says which file holds which tensor). Files are opened with ``safetensors.safe_open``
(memory-mapped); each tensor is read once and converted to the requested dtype.

Every problem is a ``CheckpointError`` (a ``ValueError``) naming the file and tensor: missing config, no
weight file, a truncated or corrupt safetensors file, missing / unexpected / mis-shaped tensors, an index
that points at a missing shard or at a tensor the shard lacks. The model is built on the ``meta`` device
(no memory, no random init) and the loaded tensors are assigned only after *all* checks passed, so a
failing load never returns, or leaves behind, a half-loaded model.

Default dtype (``dtype=None`` or ``"auto"``): what decodes fastest, measured. Decode reads every weight
once per token (a matrix-vector product), so it is memory-bound, and bf16's half-size weights win
wherever torch's bf16 matvec kernel streams them as fast as fp32's. Whether it does depends on the CPU
*and* the torch build, so on CPU the choice is a probe (:func:`decode_dtype_probe`, ~0.2 s, once per
machine, kept in ``~/.cache/tiny-universe/decode-dtype-probe.json``): one [1, 2048] x [2048, 8192]
linear (64 MB of fp32 weights, larger than a CPU cache) timed in fp32 and bf16, interleaved, best of
10; bfloat16 when it takes under 0.7x fp32's time, else float32.
Measured: the issue's AVX2 CPU ran one token through lm_head (151936x896) in 66 ms fp32 and 25 ms bf16
(0.38x), so bf16 (decode 7.5 vs 3.2 tok/s); this project's AVX-512-BF16 CPU with torch 2.13 (2 threads,
quiet): probe 3.18 ms fp32, 2.64 ms bf16 (0.83x), so fp32 -- there bf16 decode is only 1.03x fp32 (9.94
vs 9.64 tok/s at the 0.5B shape) and its prefill is 1.5x slower (0.83 vs 0.55 s for 128 tokens;
bench/bench_decode.py). The price of bf16 without native bf16 arithmetic was prefill (compute-bound):
torch's bf16 GEMM is several times slower than fp32's there (5.3 vs 1.1 s for 128 tokens on an AVX2
EPYC), so ``tinyqwen.linear.Linear`` computes multi-token bf16 products in fp32 where a second probe
finds bf16 GEMM slow (that EPYC: 1.0-1.3 s); decode steps stay bf16. On CUDA, bfloat16 when supported (else float32, not float16, whose
range Qwen2 activations can exceed); no probe. Pass ``dtype=torch.float32`` to force exact fp32.

Saving writes ``config.json`` and ``model.safetensors`` (tied ``lm_head.weight`` omitted, as transformers
does), each through a temporary file + ``os.replace``.

Limits: no ``pytorch_model.bin`` (pickle) loading; no pre-quantised checkpoints (GPTQ/AWQ/GGUF: we quantise
at load); saving is single-file.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from tinyqwen.atomic import atomic_path
from tinyqwen.config import Qwen2Config
from tinyqwen.kernel_probe import cached_probe
from tinyqwen.rope import RotaryEmbedding

Model = TypeVar("Model", bound=torch.nn.Module)  # Qwen2ForCausalLM, passed in by model.py

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
# keys some older checkpoints carry that hold no weights (recomputed buffers)
IGNORED_SUFFIXES = (".rotary_emb.inv_freq",)

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}  # fmt: skip


class CheckpointError(ValueError):
    """A checkpoint directory cannot be loaded; the message names the file and tensor."""


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes in bf16 natively (x86 avx512_bf16/amx_bf16, ARM bf16)."""
    try:  # torch's own feature probe (private, so guarded)
        caps = torch._C._cpu._get_cpu_capability()
        if isinstance(caps, dict) and "avx512_bf16" in caps:
            return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    except (AttributeError, RuntimeError):
        pass
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    return False


PROBE_SHAPE = (8192, 2048)  # [out, in]: 64 MB of fp32 weights, past any CPU cache: memory-bound
# bf16 must take under 0.7x fp32's time: half the bytes make ~0.5x when its kernel streams them;
# at 0.83x (this project's CPU) decode gained 3 % end to end while prefill got 1.5x slower
BF16_MAX_TIME_RATIO = 0.7


def measure_decode_dtypes(reps: int = 10) -> tuple[float, float]:
    """Best-of-``reps`` milliseconds of one decode-shaped matvec (``x`` [1, 2048] @ ``W.T``, ``W``
    [8192, 2048]) in fp32 and in bf16, interleaved, after one warm-up round: ``(fp32_ms, bf16_ms)``."""
    import time

    dtypes = (torch.float32, torch.bfloat16)
    weights = {dt: torch.full(PROBE_SHAPE, 1e-3, dtype=dt) for dt in dtypes}
    inputs = {dt: torch.full((1, PROBE_SHAPE[1]), 1e-3, dtype=dt) for dt in weights}
    best = {dt: float("inf") for dt in weights}
    with torch.inference_mode():
        for rep in range(reps + 1):
            for dt, w in weights.items():
                t0 = time.perf_counter()
                torch.nn.functional.linear(inputs[dt], w)
                if rep:  # the first round warms up the kernels
                    best[dt] = min(best[dt], time.perf_counter() - t0)
    return round(best[torch.float32] * 1e3, 3), round(best[torch.bfloat16] * 1e3, 3)


@functools.cache
def decode_dtype_probe() -> dict:
    """What ``dtype="auto"`` picks on CPU, and the measurement behind it:
    ``{"fp32_ms", "bf16_ms", "dtype", "source"}``.

    Measured once per machine (:func:`measure_decode_dtypes`, ~0.2 s) and kept in
    :func:`probe_cache_path` under :func:`probe_machine_key` (:func:`cached_probe`), so every process
    on this machine picks the same dtype -- a probe per process could flip between fp32 and bf16 under
    load where the two are close, and then two programs would disagree on the same greedy text.
    ``source`` says ``measured`` or the cache file; delete that file to measure again. The rule is
    applied to the cached numbers each time (:func:`faster_decode_dtype`). Shown by
    ``bench/bench_decode.py`` and ``tinyqwen verify``.
    """
    keys = ("fp32_ms", "bf16_ms")
    numbers, source = cached_probe("", keys, lambda: dict(zip(keys, measure_decode_dtypes())))
    fp32_ms, bf16_ms = numbers["fp32_ms"], numbers["bf16_ms"]
    return {"fp32_ms": fp32_ms, "bf16_ms": bf16_ms,
            "dtype": faster_decode_dtype(fp32_ms, bf16_ms), "source": source}  # fmt: skip


def probe_text(probe: dict) -> str:
    """One line for ``decode_dtype_probe()``'s result, as ``tinyqwen verify`` and the benches print it."""
    return (f"dtype='auto' -> {str(probe['dtype']).removeprefix('torch.')} (probe matvec fp32 "
            f"{probe['fp32_ms']} ms, bf16 {probe['bf16_ms']} ms; bf16 needs < {BF16_MAX_TIME_RATIO}x; "
            f"{probe.get('source', 'measured')})")  # fmt: skip


def faster_decode_dtype(fp32_ms: float, bf16_ms: float) -> torch.dtype:
    """The rule: bf16 only when its matvec is clearly faster (``BF16_MAX_TIME_RATIO``); else exact fp32."""
    return torch.bfloat16 if bf16_ms < BF16_MAX_TIME_RATIO * fp32_ms else torch.float32


def default_dtype(device: torch.device | str = "cpu") -> torch.dtype:
    """The dtype ``from_pretrained(dtype=None)`` picks for ``device`` (see module docstring)."""
    device = torch.device(device)
    if device.type == "cpu":
        return decode_dtype_probe()["dtype"]
    if device.type == "cuda":
        # not float16: Qwen2 activations can exceed its range (inf/NaN); fall back to exact fp32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.float32


def resolve_dtype(dtype: torch.dtype | str | None, device: torch.device | str) -> torch.dtype:
    if dtype is None or dtype == "auto":
        return default_dtype(device)
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in _DTYPES:
        return _DTYPES[dtype.removeprefix("torch.")]
    raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)} or a torch.dtype")


def _open(file: Path):
    """safe_open ``file``, turning safetensors' errors into one that names the file."""
    try:
        return safe_open(str(file), framework="pt")
    except SafetensorError as e:
        raise CheckpointError(f"{file}: corrupt or truncated safetensors file ({e})") from None
    except OSError as e:
        raise CheckpointError(f"{file}: cannot open ({e})") from None


def tensor_locations(directory: Path) -> dict[str, Path]:
    """Map every tensor name in the checkpoint to the safetensors file that holds it."""
    index = directory / INDEX_FILE
    single = directory / SINGLE_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{index}: not a valid safetensors index ({e!r})") from None
        locations: dict[str, Path] = {}
        for shard in sorted(set(weight_map.values())):
            file = directory / shard
            if not file.is_file():
                names = [k for k, v in weight_map.items() if v == shard]
                raise CheckpointError(
                    f"{index}: shard {shard} (holding e.g. {names[0]}) does not exist"
                )
            with _open(file) as f:
                in_file = set(f.keys())
            for name in (k for k, v in weight_map.items() if v == shard):
                if name not in in_file:
                    raise CheckpointError(
                        f"{file}: tensor {name} listed in {INDEX_FILE} is missing"
                    )
            for name in sorted(in_file - weight_map.keys()):
                raise CheckpointError(f"{file}: tensor {name} is not listed in {INDEX_FILE}")
            locations.update(dict.fromkeys(in_file, file))
        return locations
    if single.is_file():
        with _open(single) as f:
            return dict.fromkeys(f.keys(), single)
    hint = (
        " (pytorch_model.bin is not supported; convert to safetensors)"
        if any(directory.glob("pytorch_model*.bin"))
        else ""
    )
    raise CheckpointError(f"{directory}: no {SINGLE_FILE} or {INDEX_FILE}{hint}")


def _names(names: list[str], limit: int = 8) -> str:
    more = f" ... (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def load_model(
    model_class: type[Model],
    path: str | os.PathLike,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str = "cpu",
    quantize: str | None = None,
) -> Model:
    """Build ``model_class`` from a Hugging Face directory; eval mode, no grad needed.

    ``quantize="int8"``: every ``nn.Linear`` matrix and the token embedding are quantised as they are
    read (``tinyqwen.quant``); ``"int4"``: the decoder layers' matrices group-wise int4 instead
    (``tinyqwen.int4``). Without a ``dtype`` the rest of the model runs in the kernels' activation
    dtype (``quant.default_dtype``)."""
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"checkpoint directory not found: {directory}")
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{directory}: missing config.json")
    config = Qwen2Config.from_pretrained(config_file)
    if quantize:
        from tinyqwen import quant

        quant.check_scheme(quantize)
        kernel = quant.choose_kernel(device)
        dtype = quant.default_dtype(quantize, device) if dtype in (None, "auto") else dtype
    dtype = resolve_dtype(dtype, device)
    locations = tensor_locations(directory)
    # a base-model checkpoint (saved from Qwen3Model, as Qwen3-Embedding is) has no "model." prefix
    # and no lm_head: its names are mapped onto ours, and lm_head shares the embedding
    stored = {k: k for k in locations}  # our name -> name in the file
    base_model = "embed_tokens.weight" in locations and "model.embed_tokens.weight" not in locations
    if base_model:
        stored = {f"model.{k}": k for k in locations}
        locations = {f"model.{k}": v for k, v in locations.items()}

    with torch.device("meta"):  # shapes only: no memory, no random init
        model = model_class(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    tied = config.tie_word_embeddings or (base_model and "model.lm_head.weight" not in locations)
    optional = {"lm_head.weight"} if tied else set()  # transformers omits the tied copy
    if base_model and not config.tie_word_embeddings:
        warnings.warn(
            f"{directory}: a base model without lm_head (e.g. an embedding checkpoint); logits "
            "use embed_tokens, which is right for embed() and meaningless for generation",
            stacklevel=2,
        )

    present = {k for k in locations if not k.endswith(IGNORED_SUFFIXES)}
    missing = sorted(expected.keys() - present - optional)
    if missing:
        raise CheckpointError(
            f"{directory}: missing tensor(s) {_names(missing)} "
            f"(looked in {_names(sorted({p.name for p in locations.values()}))})"
        )
    extra = sorted(present - expected.keys())
    if extra:
        raise CheckpointError(
            f"{locations[extra[0]]}: unexpected tensor(s) {_names(extra)} "
            "for this config (wrong architecture or num_hidden_layers?)"
        )

    # check every shape from the headers before reading any data
    handles = {file: _open(file) for file in set(locations.values())}
    try:
        for name, shape in expected.items():
            if name not in present:
                continue
            file = locations[name]
            got = tuple(handles[file].get_slice(stored[name]).get_shape())
            if got != shape:
                raise CheckpointError(
                    f"{file}: tensor {name} has shape {list(got)}, config.json implies {list(shape)}"
                )
        qmodules = quant.swap_quantized(model, dtype, quantize) if quantize else {}
        state = {}
        for name in expected:
            if name not in present:
                continue
            file = locations[name]
            try:
                t = handles[file].get_tensor(stored[name])
            except SafetensorError as e:
                raise CheckpointError(f"{file}: cannot read tensor {name} ({e})") from None
            if name in qmodules:  # matrices -> int8 + per-row scales, or int4 + group scales
                for key, q in qmodules[name].quantize_weight(t.to(device)).items():
                    state[name.removesuffix("weight") + key] = q
            else:
                state[name] = t.to(device=device, dtype=dtype)
    finally:
        for h in handles.values():
            h.__exit__(None, None, None)

    if tied:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
        if quantize:
            state["lm_head.scale"] = state["model.embed_tokens.scale"]
    model.load_state_dict(state, strict=True, assign=True)
    if tied:
        model.lm_head.weight = model.model.embed_tokens.weight  # one Parameter, as in __init__
        if quantize:
            quant.tie_int8(model)
    model.model.rotary_emb = RotaryEmbedding(config, device=device)  # its buffer was on meta
    if quantize:
        quant.set_kernels(model, kernel)
    return model.eval()


def _own_storage(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself, or a copy when it is a view into a larger buffer (MoE experts packed for
    inference, ``tinyqwen.moe``): safetensors refuses tensors that share memory."""
    whole = t.untyped_storage().nbytes() == t.numel() * t.element_size()
    return t if whole or t.device.type == "meta" else t.clone()


def save_model(model: torch.nn.Module, directory: str | os.PathLike) -> None:
    """Write ``config.json`` + ``model.safetensors`` into ``directory`` (each atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: _own_storage(v.detach().contiguous()) for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # saved once, under embed_tokens, like transformers
    config = model.config.to_dict()
    config["torch_dtype"] = str(model.dtype).removeprefix("torch.")
    with atomic_path(directory / SINGLE_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    (directory / INDEX_FILE).unlink(
        missing_ok=True
    )  # a stale shard index would shadow the new file
    Qwen2Config.from_dict(config).save_pretrained(directory)
