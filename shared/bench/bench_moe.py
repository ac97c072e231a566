"""Benchmark: MoE decode, tinyqwen vs transformers, at a scaled-down Qwen3-30B-A3B shape (random weights).

    python bench/bench_moe.py             # 4 layers, prompt 32, 32 new tokens, batch 1 and 4, fp32
    python bench/bench_moe.py --quick     # 2 layers, 8 new tokens, batch 1

The shape keeps Qwen3-30B-A3B's routing and proportions and divides the widths by 4: 128 experts,
top-8 renormalised, expert width 192 (30B: 768) at hidden 512 (30B: 2048), 8 query heads sharing 1
KV head of head_dim 128 (30B: 32 / 4 x 128), QK-norm; vocab 32000 so the lm_head does not hide the
MoE layers. Both libraries: SDPA attention, greedy, no stop tokens (transformers gets
``min_new_tokens``), one process, runs alternated, best of ``--repeats``; decode tokens/s is
``batch / median step time`` (transformers stamped by a no-op LogitsProcessor, tinyqwen by its step
loop). transformers runs its default experts implementation for the device.

Absolute numbers depend on the (shared) machine; the ratio is what to read.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

QWEN3_30B_A3B_DIV4 = dict(
    model_type="qwen3_moe",
    vocab_size=32000,
    hidden_size=512,
    intermediate_size=1536,
    num_hidden_layers=4,
    num_attention_heads=8,
    num_key_value_heads=1,
    head_dim=128,
    num_experts=128,
    num_experts_per_tok=8,
    moe_intermediate_size=192,
    norm_topk_prob=True,
    max_position_embeddings=4096,
    rope_theta=1000000.0,
    tie_word_embeddings=False,
)


def loaders(path: str, dtype: torch.dtype) -> dict:
    """``{lib: run(prompts, n) -> timestamps}`` for both libraries on the checkpoint at ``path``."""
    import transformers

    from tinyqwen import AutoModelForCausalLM
    from tinyqwen.generation import generate_steps
    from tinyqwen.sampling import Sampling

    ours = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)

    @torch.inference_mode()
    def run_ours(prompts: list[list[int]], n: int) -> list[float]:
        stamps = [time.perf_counter()]
        for _ in generate_steps(ours, prompts, Sampling(max_new_tokens=n), stop_token_ids=(),
                                pad_token_id=0):  # fmt: skip
            stamps.append(time.perf_counter())
        return stamps

    transformers.logging.set_verbosity_error()
    hf = transformers.AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype, attn_implementation="sdpa"
    ).eval()

    class Stamp(transformers.LogitsProcessor):
        def __init__(self, stamps: list[float]) -> None:
            self.stamps = stamps

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            self.stamps.append(time.perf_counter())
            return scores

    def run_hf(prompts: list[list[int]], n: int) -> list[float]:
        ids = torch.tensor(prompts)
        stamps = [time.perf_counter()]
        with torch.inference_mode():
            hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                        min_new_tokens=n, do_sample=False, pad_token_id=0,
                        logits_processor=transformers.LogitsProcessorList([Stamp(stamps)]))  # fmt: skip
        return stamps

    impl = getattr(hf.config, "_experts_implementation", None) or "default"
    print(f"transformers {transformers.__version__}, experts implementation: {impl}")
    return {"tinyqwen": run_ours, "transformers": run_hf}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--batches", default=None, help="comma-separated (default 1,4)")
    ap.add_argument("--new-tokens", type=int)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    args = ap.parse_args()
    layers = args.layers or (2 if args.quick else 4)
    new = args.new_tokens or (8 if args.quick else 32)
    batches = [int(b) for b in (args.batches or ("1" if args.quick else "1,4")).split(",")]
    repeats = 1 if args.quick else args.repeats
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    torch.set_num_threads(max(1, torch.get_num_threads()))

    import transformers

    shape = {**QWEN3_30B_A3B_DIV4, "num_hidden_layers": layers}
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        fields = {k: v for k, v in shape.items() if k != "model_type"}
        transformers.Qwen3MoeForCausalLM(transformers.Qwen3MoeConfig(**fields)).save_pretrained(tmp)
        runs = loaders(tmp, dtype)
        for run in runs.values():
            run([[1, 2, 3, 4, 5, 6, 7, 8]], 2)  # warm-up
        g = torch.Generator().manual_seed(1)
        print(f"\n# MoE decode: Qwen3-30B-A3B / 4 ({layers} layers, 128 experts, top-8), "
              f"prompt 32, {new} new tokens, {args.dtype}, threads {torch.get_num_threads()}\n")  # fmt: skip
        print("| batch | decode tok/s tinyqwen | transformers | ratio (tq/tf) |")
        print("|---|---|---|---|")
        for b in batches:
            prompts = torch.randint(0, shape["vocab_size"], (b, 32), generator=g).tolist()
            step: dict[str, list[float]] = {lib: [] for lib in runs}
            for _ in range(repeats):
                for lib, run in runs.items():
                    stamps = run(prompts, new)
                    step[lib].append(
                        statistics.median(y - x for x, y in zip(stamps[1:], stamps[2:]))
                    )
            ours, theirs = b / min(step["tinyqwen"]), b / min(step["transformers"])
            print(f"| {b} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
