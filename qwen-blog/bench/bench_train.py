"""Training throughput: tinyqwen's Qwen2 vs transformers' Qwen2, same config, weights, batch and optimizer.

One measured step = forward + cross-entropy + backward + AdamW step + zero_grad, timed with a device
sync. The two models are interleaved round by round (ours, theirs, ours, ...) so that noise from a shared
machine hits both alike; the table reports the median step time. On CUDA the step runs under bf16 autocast
(fp32 master weights, as ``qwen_blog pretrain`` does) and the table adds MFU against the GPU's dense bf16
peak (H100/H200: 989 TFLOP/s).

    python bench/bench_train.py                       # CPU: small config, fp32
    python bench/bench_train.py --preset gpu          # a 0.1B-class config, batch 16 x 1024
    python bench/bench_train.py --rounds 10 --steps 5

FLOPs per token (for MFU) = 6 * (non-embedding params + lm_head) + 6 * layers * seq_len * hidden
(causal attention: QK^T and PV, forward + backward, half the square).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

PRESETS = {
    "cpu": {"model": {"vocab_size": 2048, "hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 4,
                      "num_attention_heads": 4, "num_key_value_heads": 2},
            "batch": 8, "seq": 256},
    "gpu": {"model": {"vocab_size": 32768, "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
                      "num_attention_heads": 12, "num_key_value_heads": 4},
            "batch": 16, "seq": 1024},
}  # fmt: skip
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "4090": 165e12}


def build(preset: dict, device: torch.device):
    import transformers

    from tinyqwen import Qwen2Config, Qwen2ForCausalLM

    fields = {**preset["model"], "max_position_embeddings": preset["seq"], "rope_theta": 10000.0,
              "tie_word_embeddings": True}  # fmt: skip
    torch.manual_seed(0)
    ours = Qwen2ForCausalLM(Qwen2Config.from_dict(fields)).to(device)
    hf_cfg = transformers.Qwen2Config(**fields, attn_implementation="sdpa")
    theirs = transformers.Qwen2ForCausalLM(hf_cfg).to(device)
    missing, unexpected = theirs.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    theirs.tie_weights()
    return ours, theirs


def make_step(model, is_hf: bool, batch: torch.Tensor, autocast):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=batch.is_cuda)
    x, y = batch[:, :-1], batch[:, 1:]

    def step() -> float:
        with autocast():
            out = model(x)
            logits = out.logits if is_hf else out
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()  # .item() syncs the device

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--preset", choices=list(PRESETS), default=None, help="default: gpu on CUDA, else cpu"
    )
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--steps", type=int, default=3, help="timed steps per model per round")
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    preset = PRESETS[args.preset or ("gpu" if device.type == "cuda" else "cpu")]
    B, T = preset["batch"], preset["seq"]
    ours, theirs = build(preset, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

        def autocast():
            return torch.autocast("cuda", dtype=torch.bfloat16)
    else:
        import contextlib

        autocast = contextlib.nullcontext
    batch = torch.randint(0, preset["model"]["vocab_size"], (B, T + 1), device=device)
    steps = {"tinyqwen": make_step(ours, False, batch, autocast),
             "transformers": make_step(theirs, True, batch, autocast)}  # fmt: skip
    l0 = {k: s() for k, s in steps.items()}  # first step: same weights, same batch -> same loss
    for _ in range(args.warmup):
        for s in steps.values():
            s()
    times: dict[str, list[float]] = {k: [] for k in steps}
    cpu_times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(args.rounds):
        for name, s in steps.items():
            for _ in range(args.steps):
                t0, c0 = time.perf_counter(), time.process_time()
                s()
                times[name].append(time.perf_counter() - t0)
                cpu_times[name].append(time.process_time() - c0)

    tokens = B * T
    cfg = ours.config
    n_body = sum(p.numel() for n, p in ours.named_parameters() if "embed_tokens" not in n)
    n_body += cfg.vocab_size * cfg.hidden_size  # lm_head matmul (tied weight, still computed)
    flops_per_token = 6 * n_body + 6 * cfg.num_hidden_layers * T * cfg.hidden_size
    gpu = torch.cuda.get_device_name() if device.type == "cuda" else None
    peak = next((v for k, v in PEAK_BF16.items() if gpu and k in gpu), None)

    print(
        f"\n### Training step throughput ({device.type}{f', {gpu}' if gpu else ''}; torch {torch.__version__})\n"
    )
    print(f"config: {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, heads {cfg.num_attention_heads}/"
          f"{cfg.num_key_value_heads}, vocab {cfg.vocab_size}; batch {B} x {T} tokens; "
          f"{'bf16 autocast' if device.type == 'cuda' else 'fp32'}; AdamW; median of {args.rounds * args.steps} "
          f"steps each, interleaved\n")  # fmt: skip
    print(
        f"first-step loss: tinyqwen {l0['tinyqwen']:.6f}, transformers {l0['transformers']:.6f}\n"
    )
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu_times.items()}
    on_cpu = device.type == "cpu"
    head = "| model | ms / step | tokens / s | vs transformers |"
    head += " CPU s / step | vs transformers (CPU time) |" if on_cpu else ""
    head += " MFU |" if peak else ""
    print(head)
    print("|---|" + "---:|" * (head.count("|") - 2))
    for name in steps:
        tps = tokens / med[name]
        row = f"| {name} | {med[name] * 1e3:.1f} | {tps:,.0f} | {med['transformers'] / med[name]:.2f}x |"
        if on_cpu:
            row += f" {cpu_med[name]:.3f} | {cpu_med['transformers'] / cpu_med[name]:.2f}x |"
        if peak:
            row += f" {tps * flops_per_token / peak * 100:.1f}% |"
        print(row)
    if on_cpu:
        print(
            "\nCPU time (all threads of this process) is robust to other processes sharing the machine; "
            "wall time is what a dedicated machine would see."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
