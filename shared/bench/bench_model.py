"""Benchmark: tinyqwen vs transformers at the Qwen2.5-0.5B shape (random weights), same machine, same run.

    python bench/bench_model.py            # full: prompt 128, 64 new tokens, batch 1 and 8, fp32 + bf16
    python bench/bench_model.py --quick    # smoke test: 4 layers, prompt 16, 8 new tokens, batch 1

What is measured, per library x dtype, each in its own fresh subprocess (so peak RSS is that case's own):

* load: ``from_pretrained`` of a bf16 ``model.safetensors`` (as Qwen2.5 ships) into the dtype, seconds;
* peak RSS of the process (MB), after load + all generation runs;
* prefill: ``generate(max_new_tokens=1)`` wall time (prompt forward + one pick), median of runs;
* decode: ``B * (N - 1) / (t(N) - t(1))`` generated tokens/s, where ``t(N)`` is a greedy
  ``generate(max_new_tokens=N)`` -- the same public-API method for both libraries, so per-step overhead
  (masks, cache, sampling) counts.

Both libraries use SDPA attention and greedy decoding, no stop tokens (transformers gets
``min_new_tokens=N`` so it cannot stop early either). The random checkpoint is written once to a temp dir
and deleted at the end. Numbers on a shared CPU are noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

QWEN25_05B = dict(
    vocab_size=151936,
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    max_position_embeddings=32768,
    rope_theta=1000000.0,
    tie_word_embeddings=True,
    rms_norm_eps=1e-6,
)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def make_checkpoint(directory: Path, layers: int) -> None:
    """Random Qwen2.5-0.5B-shaped weights, stored in bf16 like the real checkpoint."""
    from tinyqwen.config import Qwen2Config
    from tinyqwen.model import Qwen2ForCausalLM

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(**{**QWEN25_05B, "num_hidden_layers": layers}))
    model.to(torch.bfloat16).save_pretrained(directory)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_case(lib: str, dtype_name: str, path: str, batches: list[int], prompt_len: int, new: int,
             repeats: int) -> dict:  # fmt: skip
    """One library x dtype: load, then prefill/decode timings per batch size (runs in a subprocess)."""
    dtype = DTYPES[dtype_name]
    t0 = time.perf_counter()
    if lib == "tinyqwen":
        from tinyqwen.generate import generate
        from tinyqwen.model import Qwen2ForCausalLM

        model = Qwen2ForCausalLM.from_pretrained(path, dtype=dtype)

        def run(prompts: list[list[int]], n: int) -> None:
            generate(model, prompts, max_new_tokens=n)

    else:
        import transformers

        transformers.logging.set_verbosity_error()
        model = transformers.Qwen2ForCausalLM.from_pretrained(
            path, dtype=dtype, attn_implementation="sdpa"
        )
        model.eval()

        def run(prompts: list[list[int]], n: int) -> None:
            ids = torch.tensor(prompts)  # all prompts have the same length: no padding needed
            with torch.inference_mode():
                model.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=n,
                    min_new_tokens=n,
                    do_sample=False,
                    pad_token_id=0,
                )

    load_s = time.perf_counter() - t0
    g = torch.Generator().manual_seed(1)
    result = {"lib": lib, "dtype": dtype_name, "load_s": load_s, "batches": {}}
    run([[1, 2, 3, 4, 5, 6, 7, 8]], 2)  # warm-up (thread pools, allocator, first-call paths)
    for b in batches:
        prompts = torch.randint(0, QWEN25_05B["vocab_size"], (b, prompt_len), generator=g).tolist()
        t1s, tns = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            run(prompts, 1)
            t1s.append(time.perf_counter() - t)
            t = time.perf_counter()
            run(prompts, new)
            tns.append(time.perf_counter() - t)
        t1, tn = statistics.median(t1s), statistics.median(tns)
        result["batches"][b] = {"prefill_s": t1, "decode_tok_s": b * (new - 1) / (tn - t1)}
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="4 layers, prompt 16, 8 new tokens, batch 1"
    )
    ap.add_argument(
        "--layers", type=int, default=None, help="override num_hidden_layers (default 24)"
    )
    ap.add_argument("--prompt-len", type=int, default=None)
    ap.add_argument("--new-tokens", type=int, default=None)
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,8)")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per case (median)")
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "DTYPE"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    layers = args.layers or (4 if args.quick else 24)
    prompt_len = args.prompt_len or (16 if args.quick else 128)
    new = args.new_tokens or (8 if args.quick else 64)
    batches = [int(b) for b in (args.batches or ("1" if args.quick else "1,8")).split(",")]

    if args.worker:  # child process: one case, JSON on the last stdout line
        lib, dtype_name = args.worker
        res = run_case(lib, dtype_name, args.path, batches, prompt_len, new, args.repeats)
        print(json.dumps(res))
        return

    from tinyqwen.checkpoint import cpu_has_native_bf16, default_dtype

    dtypes = args.dtypes.split(",")
    print(
        f"# tinyqwen vs transformers: Qwen2.5-0.5B shape ({layers} layers), prompt {prompt_len}, "
        f"{new} new tokens, batches {batches}\n"
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_has_native_bf16()} "
        f"(tinyqwen default dtype: {str(default_dtype('cpu')).removeprefix('torch.')})",
        flush=True,
    )
    results: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_qwen_") as tmp:
        t = time.perf_counter()
        make_checkpoint(Path(tmp), layers)
        print(f"random checkpoint written in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        for dtype_name in dtypes:
            for lib in ("tinyqwen", "transformers"):
                cmd = [sys.executable, __file__, "--worker", lib, dtype_name, "--path", tmp,
                       "--layers", str(layers), "--prompt-len", str(prompt_len),
                       "--new-tokens", str(new), "--batches", ",".join(map(str, batches)),
                       "--repeats", str(args.repeats)]  # fmt: skip
                t = time.perf_counter()
                out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
                if out.returncode != 0:
                    sys.exit(f"{lib} {dtype_name} failed:\n{out.stderr[-3000:]}")
                results[lib, dtype_name] = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{lib} {dtype_name} done in {time.perf_counter() - t:.0f}s", file=sys.stderr)

    print()
    print("| dtype | batch | decode tok/s tinyqwen | transformers | ratio | prefill s tinyqwen "
          "| transformers | ratio (tf/tq) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for dtype_name in dtypes:
        ours, theirs = results["tinyqwen", dtype_name], results["transformers", dtype_name]
        for b in batches:
            o, t = ours["batches"][str(b)], theirs["batches"][str(b)]
            print(
                f"| {dtype_name} | {b} | {o['decode_tok_s']:.2f} | {t['decode_tok_s']:.2f} "
                f"| {o['decode_tok_s'] / t['decode_tok_s']:.2f}x | {o['prefill_s']:.2f} "
                f"| {t['prefill_s']:.2f} | {t['prefill_s'] / o['prefill_s']:.2f}x |"
            )
    print()
    print("| dtype | load s tinyqwen | transformers | ratio (tf/tq) | peak RSS MB tinyqwen "
          "| transformers |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for dtype_name in dtypes:
        ours, theirs = results["tinyqwen", dtype_name], results["transformers", dtype_name]
        print(
            f"| {dtype_name} | {ours['load_s']:.2f} | {theirs['load_s']:.2f} "
            f"| {theirs['load_s'] / ours['load_s']:.2f}x | {ours['peak_rss_mb']:.0f} "
            f"| {theirs['peak_rss_mb']:.0f} |"
        )
    if "bf16" in dtypes and "fp32" in dtypes:
        b = batches[0]
        ratio = (
            results["tinyqwen", "bf16"]["batches"][str(b)]["decode_tok_s"]
            / results["transformers", "fp32"]["batches"][str(b)]["decode_tok_s"]
        )
        print(f"\ntinyqwen bf16 decode vs transformers fp32 (batch {b}): {ratio:.2f}x")


if __name__ == "__main__":
    main()
