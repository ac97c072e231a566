"""``python -m qwen_blog trace``: follow one input through Qwen2, op by op.

Runs a single forward pass under ``tinyqwen.trace.capture()`` and prints, for every intermediate
tensor the model records (embedding, each norm, q/k/v before and after RoPE -- after QK-norm for Qwen3 --,
attention scores, mask, probabilities, attention output, MLP gate/up/act/down, or for an MoE layer
the router probabilities, chosen experts and their weights, each run expert's gate/up/act/down and
the block output, the residual stream, final norm, logits), its
name, shape, dtype and mean / std / min / max — then the greedy next token and the top-5 candidates.

    $ python -m qwen_blog trace "你好，Qwen" --layers 0
    $ python -m qwen_blog trace "你好，Qwen" --model ~/models/Qwen2.5-0.5B-Instruct --layers 0,23

In Python:

    >>> from qwen_blog.trace import trace_forward, format_trace
    >>> import tinyqwen
    >>> result = trace_forward(tinyqwen.connect("tiny-random"), "你好", layers=[0])
    >>> result.rows[0].name, result.rows[0].shape            # doctest: +SKIP
    ('embed', (1, 3, 128))

Limits: needs a local model (a checkpoint directory or ``tiny-random``), not an HTTP endpoint,
because it reads tensors inside the model. Statistics are computed in fp64 over all elements, except for
the additive mask and the scores (marked ``*``), where blocked positions (the dtype's minimum) are left out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch

import tinyqwen
from tinyqwen.chat_model import TOKENIZER
from tinyqwen.connection import add_quantize_argument
from tinyqwen.trace import capture


@dataclass
class TraceRow:
    """One recorded tensor: where it was taken and what it looks like."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    mean: float
    std: float
    min: float
    max: float


@dataclass
class TraceResult:
    tokens: list[tuple[int, str]]  # (id, piece) of the input
    rows: list[TraceRow]
    top5: list[tuple[int, str, float]]  # (id, piece, probability) of the next token
    next_token: tuple[int, str]  # greedy choice


def _stats(name: str, t: torch.Tensor) -> TraceRow:
    x = t.double()  # fp64: sums of dtype-min mask entries overflow fp32
    if name.endswith((".mask", ".scores")) and t.is_floating_point():
        # blocked positions hold the dtype's minimum; describe the positions that are attended
        x = x[t > torch.finfo(t.dtype).min / 2]
        name += " *"
    x = x[torch.isfinite(x)]
    if x.numel() == 0:
        x = torch.zeros(1, dtype=torch.float64)
    return TraceRow(
        name=name,
        shape=tuple(t.shape),
        dtype=str(t.dtype).removeprefix("torch."),
        mean=float(x.mean()),
        std=float(x.std()) if x.numel() > 1 else 0.0,
        min=float(x.min()),
        max=float(x.max()),
    )


def _keep(name: str, layers: set[int] | None) -> bool:
    if not name.startswith("layers."):
        return True  # embed, norm, logits
    return layers is None or int(name.split(".")[1]) in layers


def parse_layers(spec: str | None, num_layers: int) -> set[int] | None:
    """``"0,1"`` -> {0, 1}; negative indices count from the end; ``"all"``/None -> every layer."""
    if spec is None or spec.strip() == "all":
        return None
    out = set()
    for part in spec.split(","):
        i = int(part)
        i = i + num_layers if i < 0 else i
        if not 0 <= i < num_layers:
            raise ValueError(f"--layers: layer {part} out of range for a {num_layers}-layer model")
        out.add(i)
    return out


def _need_local(llm: tinyqwen.ChatModel) -> None:
    if TOKENIZER not in llm.capabilities:  # a remote endpoint has no tensors to show
        raise TypeError("trace needs a local model (a checkpoint directory or 'tiny-random')")


def trace_forward(
    llm: tinyqwen.LLM, text: str, layers: Sequence[int] | None = None, chat: bool = False
) -> TraceResult:
    """Run one forward pass of ``llm`` on ``text`` and collect every recorded tensor.

    ``layers`` limits the per-layer rows (None = all layers). ``chat=True`` wraps the text in the
    Qwen chat template as a user turn (with the generation prompt), as a chat model would see it.
    """
    _need_local(llm)
    tok = llm.tokenizer
    if chat:  # the checkpoint's own template (Qwen2.5, Qwen3, ChatML), as LLM.chat feeds it
        ids = llm.encode_chat([{"role": "user", "content": text}])
    else:
        ids = tok.encode(text)
    if not ids:
        raise ValueError("trace: the input text is empty")
    model = llm.model
    input_ids = torch.tensor([ids], device=model.device)  # [1, T]
    keep = set(layers) if layers is not None else None
    with torch.inference_mode(), capture() as rec:
        logits = model(input_ids)  # [1, T, V]
    rows = [_stats(name, t) for name, t in rec if _keep(name, keep)]
    probs = torch.softmax(logits[0, -1].float(), dim=-1)  # [V] next-token distribution
    top = torch.topk(probs, k=min(5, probs.numel()))
    top5 = [(int(i), tok.decode([int(i)]), float(p)) for p, i in zip(top.values, top.indices)]
    return TraceResult(
        tokens=[(i, tok.decode([i])) for i in ids],
        rows=rows,
        top5=top5,
        next_token=top5[0][:2],
    )


def format_trace(result: TraceResult) -> str:
    """A fixed-width table, one line per recorded tensor."""
    lines = ["input tokens: " + " ".join(f"{i}:{piece!r}" for i, piece in result.tokens), ""]
    width = max(len(r.name) for r in result.rows)
    header = f"{'op':<{width}}  {'shape':<20} {'dtype':<9} {'mean':>10} {'std':>10} {'min':>11} {'max':>11}"
    lines += [header, "-" * len(header)]
    for r in result.rows:
        shape = "[" + ", ".join(map(str, r.shape)) + "]"
        lines.append(
            f"{r.name:<{width}}  {shape:<20} {r.dtype:<9} {r.mean:>10.4g} {r.std:>10.4g}"
            f" {r.min:>11.4g} {r.max:>11.4g}"
        )
    lines.append("* statistics over the attended (unmasked) positions only")
    lines += ["", f"next token (greedy): {result.next_token[0]} {result.next_token[1]!r}", "top-5:"]
    for i, piece, p in result.top5:
        lines.append(f"  {p:8.4f}  {i:>7}  {piece!r}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qwen_blog trace",
        description="Print every intermediate tensor of one Qwen2 forward pass.",
    )
    parser.add_argument("text", help="input text, e.g. '你好，Qwen'")
    parser.add_argument("--model", default="tiny-random", help="checkpoint dir or tiny-random")
    add_quantize_argument(parser)
    parser.add_argument(
        "--layers",
        default="0",
        help="comma-separated layer indices (negative = from the end), or 'all'",
    )
    parser.add_argument("--chat", action="store_true", help="wrap the text in the chat template")
    args = parser.parse_args(argv)

    llm = tinyqwen.connect(args.model, quantize=args.quantize)
    if llm.name == "tiny-random":
        from tinyqwen.tiny_random import TINY_RANDOM_NOTICE

        print(TINY_RANDOM_NOTICE, file=sys.stderr)
    try:
        _need_local(llm)
        layers = parse_layers(args.layers, llm.model.config.num_hidden_layers)
        result = trace_forward(llm, args.text, layers, chat=args.chat)
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_trace(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
