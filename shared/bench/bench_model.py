"""Benchmark: tinyqwen vs transformers at the Qwen2.5-0.5B shape (random weights), same machine, same run.

    python bench/bench_model.py            # full: prompt 128, 64 new tokens, batch 1 and 8, fp32 + bf16
    python bench/bench_model.py --quick    # smoke test: 4 layers, prompt 16, 8 new tokens, batch 1

What is measured (both libraries: SDPA attention, greedy, no stop tokens -- transformers gets
``min_new_tokens=N`` so it cannot stop early either):

* prefill: time from calling generate to the first chosen token (prompt forward + one pick);
* decode: ``B / step`` generated tokens/s, ``step`` the median time between consecutive tokens of a
  ``max_new_tokens=N`` generation (transformers: stamped by a no-op LogitsProcessor; tinyqwen: by the
  step loop inside ``generate``), so per-step overhead (masks, cache, picking) counts; a median
  over N - 1 steps shrugs off the bursts of a shared CPU;
* load: ``from_pretrained`` of a bf16 ``model.safetensors`` (as Qwen2.5 ships) into the dtype;
* peak RSS (VmHWM) of a process that only loads the model and generates a few tokens.

Speed runs load both libraries in one process and alternate them, keeping the best of ``--repeats``
runs: on a busy, shared CPU that is fairer than timing one library after the other. Load and RSS
are measured in a fresh process per library x dtype. The random checkpoint is written once to a temp
dir and deleted at the end.
"""

from __future__ import annotations

import argparse
import json
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
LIBS = ("tinyqwen", "transformers")


def make_checkpoint(directory: Path, layers: int) -> None:
    """Random Qwen2.5-0.5B-shaped weights, stored in bf16 like the real checkpoint."""
    from tinyqwen.config import Qwen2Config
    from tinyqwen.model import Qwen2ForCausalLM

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(**{**QWEN25_05B, "num_hidden_layers": layers}))
    model.to(torch.bfloat16).save_pretrained(directory)


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(lib: str, path: str, dtype: torch.dtype):
    """Load the checkpoint with ``lib``; return ``run(prompts, n) -> timestamps``: greedy-generate
    ``n`` tokens, with ``perf_counter()`` taken at the start and as each step's token is chosen."""
    if lib == "tinyqwen":
        from tinyqwen.generation import generate_steps
        from tinyqwen.model import Qwen2ForCausalLM
        from tinyqwen.sampling import Sampling

        model = Qwen2ForCausalLM.from_pretrained(path, dtype=dtype)

        @torch.inference_mode()
        def run(prompts: list[list[int]], n: int) -> list[float]:
            stamps = [time.perf_counter()]
            # the loop inside generate(), one step at a time (generate() only adds list appends)
            greedy = Sampling(max_new_tokens=n)
            for _ in generate_steps(model, prompts, greedy, stop_token_ids=(), pad_token_id=0):
                stamps.append(time.perf_counter())
            return stamps

        return run

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    model = transformers.Qwen2ForCausalLM.from_pretrained(
        path, dtype=dtype, attn_implementation="sdpa"
    ).eval()

    class Stamp(transformers.LogitsProcessor):
        """Called once per step, right after the forward pass: records the time, changes nothing."""

        def __init__(self, stamps: list[float]) -> None:
            self.stamps = stamps

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            self.stamps.append(time.perf_counter())
            return scores

    def run(prompts: list[list[int]], n: int) -> list[float]:
        ids = torch.tensor(prompts)  # equal lengths: no padding
        stamps = [time.perf_counter()]
        with torch.inference_mode():
            model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=0,
                logits_processor=transformers.LogitsProcessorList([Stamp(stamps)]),
            )
        return stamps

    return run


def load_case(lib: str, dtype_name: str, path: str, prompt_len: int) -> dict:
    """One library alone: load time and peak RSS (load + a short batch-1 generation)."""
    t = time.perf_counter()
    run = load(lib, path, DTYPES[dtype_name])
    load_s = time.perf_counter() - t
    run([list(range(1, prompt_len + 1))], 4)
    return {"load_s": load_s, "peak_rss_mb": peak_rss_mb()}


def speed_case(
    dtype_name: str, path: str, batches: list[int], prompt_len: int, new: int, repeats: int
) -> dict:
    """Both libraries side by side, runs alternated; prefill = best time to the first token, decode
    step = best (over runs) median interval between consecutive tokens."""
    runs = {lib: load(lib, path, DTYPES[dtype_name]) for lib in LIBS}
    for run in runs.values():
        run([[1, 2, 3, 4, 5, 6, 7, 8]], 2)  # warm-up: thread pools, allocator, first-call paths
    g = torch.Generator().manual_seed(1)
    out: dict = {lib: {} for lib in LIBS}
    for b in batches:
        prompts = torch.randint(0, QWEN25_05B["vocab_size"], (b, prompt_len), generator=g).tolist()
        prefill: dict[str, list[float]] = {lib: [] for lib in LIBS}
        step: dict[str, list[float]] = {lib: [] for lib in LIBS}
        for _ in range(repeats):
            for lib, run in runs.items():
                stamps = run(prompts, new)
                assert len(stamps) == new + 1, (lib, len(stamps))
                prefill[lib].append(stamps[1] - stamps[0])
                step[lib].append(statistics.median(b - a for a, b in zip(stamps[1:], stamps[2:])))
        for lib in LIBS:
            out[lib][str(b)] = {"prefill_s": min(prefill[lib]), "decode_tok_s": b / min(step[lib])}
    return out


def child(args: list[str]) -> dict:
    """Run this file with ``args`` in a fresh Python process; return its last-line JSON."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench child {' '.join(args[:3])} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="4 layers, prompt 16, 8 new tokens, batch 1"
    )
    ap.add_argument("--layers", type=int, help="num_hidden_layers (default 24)")
    ap.add_argument("--prompt-len", type=int, help="prompt tokens (default 128)")
    ap.add_argument("--new-tokens", type=int, help="generated tokens (default 64)")
    ap.add_argument("--batches", help="comma-separated batch sizes (default 1,8)")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--repeats", type=int, help="timed runs per case, best kept (default 3)")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    layers = args.layers or (4 if args.quick else 24)
    prompt_len = args.prompt_len or (16 if args.quick else 128)
    new = args.new_tokens or (8 if args.quick else 64)
    batches = [int(b) for b in (args.batches or ("1" if args.quick else "1,8")).split(",")]
    repeats = args.repeats or (1 if args.quick else 3)

    if args.worker:  # child process: one JSON line on stdout
        kind, arg = args.worker
        if kind == "speed":
            res = speed_case(arg, args.path, batches, prompt_len, new, repeats)
        else:
            lib, dtype_name = arg.split(":")
            res = load_case(lib, dtype_name, args.path, prompt_len)
        print(json.dumps(res))
        return

    from tinyqwen.checkpoint import cpu_has_native_bf16, decode_dtype_probe, probe_text

    dtypes = args.dtypes.split(",")
    print(
        f"# tinyqwen vs transformers: Qwen2.5-0.5B shape ({layers} layers), prompt {prompt_len}, "
        f"{new} new tokens, batches {batches}, best of {repeats}\n\n"
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_has_native_bf16()} "
        f"(tinyqwen {probe_text(decode_dtype_probe())})",
        flush=True,
    )
    common = ["--layers", str(layers), "--prompt-len", str(prompt_len), "--new-tokens", str(new)]
    common += ["--batches", ",".join(map(str, batches)), "--repeats", str(repeats)]
    speed: dict[str, dict] = {}
    mem: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_qwen_") as tmp:
        t = time.perf_counter()
        make_checkpoint(Path(tmp), layers)
        print(f"random checkpoint written in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        for dtype_name in dtypes:
            for lib in LIBS:
                mem[lib, dtype_name] = child(
                    ["--worker", "load", f"{lib}:{dtype_name}", "--path", tmp, *common]
                )
            t = time.perf_counter()
            speed[dtype_name] = child(["--worker", "speed", dtype_name, "--path", tmp, *common])
            print(f"{dtype_name} timed in {time.perf_counter() - t:.0f}s", file=sys.stderr)

    print("\n| dtype | batch | decode tok/s tinyqwen | transformers | ratio "
          "| prefill s tinyqwen | transformers | ratio (tf/tq) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for dtype_name in dtypes:
        for b in batches:
            o = speed[dtype_name]["tinyqwen"][str(b)]
            t = speed[dtype_name]["transformers"][str(b)]
            print(
                f"| {dtype_name} | {b} | {o['decode_tok_s']:.2f} | {t['decode_tok_s']:.2f} "
                f"| {o['decode_tok_s'] / t['decode_tok_s']:.2f}x | {o['prefill_s']:.2f} "
                f"| {t['prefill_s']:.2f} | {t['prefill_s'] / o['prefill_s']:.2f}x |"
            )
    print("\n| dtype | load s tinyqwen | transformers | ratio (tf/tq) "
          "| peak RSS MB tinyqwen | transformers |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for dtype_name in dtypes:
        o, t = mem["tinyqwen", dtype_name], mem["transformers", dtype_name]
        print(
            f"| {dtype_name} | {o['load_s']:.2f} | {t['load_s']:.2f} "
            f"| {t['load_s'] / o['load_s']:.2f}x | {o['peak_rss_mb']:.0f} | {t['peak_rss_mb']:.0f} |"
        )
    if "bf16" in dtypes and "fp32" in dtypes:
        for b in batches:
            ratio = (
                speed["bf16"]["tinyqwen"][str(b)]["decode_tok_s"]
                / speed["fp32"]["transformers"][str(b)]["decode_tok_s"]
            )
            print(f"\ntinyqwen bf16 decode vs transformers fp32, batch {b}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
