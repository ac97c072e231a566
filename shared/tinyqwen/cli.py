"""The ``tinyqwen`` command line (also ``python -m tinyqwen``): a thin shell over the library.

    tinyqwen info PATH                                   # config, parameter count, dtype, tokenizer
    tinyqwen generate --model tiny-random "你好" --max-new-tokens 20 --stream
    tinyqwen generate --model DIR --chat "用一句话介绍你自己"   # through the chat template
    tinyqwen chat --model DIR                            # interactive; /reset, /exit; Ctrl-D quits
    tinyqwen verify PATH                                 # tinyqwen vs transformers on sample prompts
    tinyqwen serve --model SPEC --port 8000              # OpenAI-compatible server (tinyqwen.serve)
    tinyqwen download Qwen/Qwen2.5-0.5B-Instruct --to DIR  # hub downloader (tinyqwen.download)

``--model`` takes what ``tinyqwen.connect`` takes: a checkpoint directory, ``tiny-random`` (the
default; random weights, gibberish output, said so on stderr), or an ``http(s)://…/v1[#name]`` URL.

Exit codes: 0 success; 1 ``verify`` found a disagreement; 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyqwen.connection import add_quantize_argument

if TYPE_CHECKING:
    from tinyqwen.chat_model import ChatModel
    from tinyqwen.model import Qwen2ForCausalLM
    from tinyqwen.sampling import Sampling
    from tinyqwen.tokenizer import Tokenizer

DEFAULT_MODEL = "tiny-random"
# Sample prompts for `verify`: English, Chinese, code, and a chat-formatted prompt.
VERIFY_PROMPTS = (
    "The capital of France is",
    "请用一句话介绍一下北京的历史。",
    "def fibonacci(n):\n    ",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n1 + 1 = ?<|im_end|>\n<|im_start|>assistant\n",
)
_DISPATCH = {"serve": "tinyqwen.serve", "download": "tinyqwen.download"}


def _notice_if_random(model: ChatModel) -> None:
    if model.name == "tiny-random":
        from tinyqwen.tiny_random import TINY_RANDOM_NOTICE

        print(TINY_RANDOM_NOTICE, file=sys.stderr)


def _add_sampling(p: argparse.ArgumentParser, max_new_tokens: int) -> None:
    g = p.add_argument_group("sampling (temperature 0 = greedy)")
    g.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    g.add_argument("--temperature", type=float, default=0.0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--repetition-penalty", type=float, default=1.0)
    g.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
    g.add_argument("--seed", type=int, default=None)


def _sampling(args: argparse.Namespace) -> Sampling:
    """The sampling flags as one checked value (a bad one is ``error: ...``, exit 2)."""
    from tinyqwen.sampling import Sampling

    return Sampling(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        stop=args.stop,
        seed=args.seed,
    )


def _connect(spec: str, adapter: str | None = None, quantize: str | None = None) -> ChatModel:
    from tinyqwen.connection import connect

    model = connect(spec, adapter=adapter, quantize=quantize)
    _notice_if_random(model)
    return model


# ---------------------------------------------------------------------------------------- info


def _tensor_stats(path: Path) -> tuple[int, dict[str, int], int]:
    """(parameter count, {dtype: count}, bytes on disk) from safetensors headers, no weights read."""
    from safetensors import safe_open

    index = path / "model.safetensors.index.json"
    if index.is_file():
        files = sorted({path / f for f in json.loads(index.read_text())["weight_map"].values()})
    else:
        files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no *.safetensors in {path}")
    total, by_dtype, size = 0, {}, 0
    for f in files:
        size += f.stat().st_size
        with safe_open(f, framework="pt") as st:
            for key in st.keys():
                sl = st.get_slice(key)
                n = 1
                for d in sl.get_shape():
                    n *= d
                total += n
                by_dtype[sl.get_dtype()] = by_dtype.get(sl.get_dtype(), 0) + n
    return total, by_dtype, size


def _moe_rows(config: Any) -> list[tuple[str, Any]]:
    """The MoE lines of ``info``: experts, top-k, which layers are sparse, shared expert."""
    if not config.is_moe:
        return []
    n = config.num_hidden_layers
    sparse = sum(config.is_moe_layer(i) for i in range(n))
    rows = [
        ("experts (top-k of E) x dim", f"{config.num_experts_per_tok} of {config.num_experts} x "
         f"{config.moe_intermediate_size}" + (", renormalised" if config.norm_topk_prob else "")),
        ("sparse layers", f"{sparse}/{n}" + (f" (dense: {config.mlp_only_layers})"
                                             if config.mlp_only_layers else "")),
    ]  # fmt: skip
    if config.model_type == "qwen2_moe":
        rows.append(("shared expert", f"{config.shared_expert_intermediate_size}, sigmoid-gated"))
    return rows


def cmd_info(args: argparse.Namespace) -> int:
    from tinyqwen.config import Qwen2Config
    from tinyqwen.tokenizer import Tokenizer

    if args.path == "tiny-random":
        llm = _connect("tiny-random")
        config, tokenizer = llm.model.config, llm.tokenizer
        n_params = sum(p.numel() for p in llm.model.parameters())  # tied weights counted once
        dtypes, size = {str(llm.model.dtype).removeprefix("torch."): n_params}, None
    else:
        path = Path(args.path).expanduser()
        if args.path == "tiny-universe":
            from tinyqwen.tiny_universe import ASSET_DIR as path
        if not path.is_dir():
            print(f"error: {path} is not a directory", file=sys.stderr)
            return 2
        config = Qwen2Config.from_pretrained(path)
        tokenizer = Tokenizer.from_pretrained(path)
        n_params, dtypes, size = _tensor_stats(path)

    rope = f"theta={config.rope_theta:g}"
    if config.rope_scaling:
        rope += f", scaling={json.dumps(config.rope_scaling, ensure_ascii=False)}"
    sliding = "no"
    if config.use_sliding_window:
        n_sliding = sum(config.is_sliding_layer(i) for i in range(config.num_hidden_layers))
        sliding = f"window {config.sliding_window} on {n_sliding}/{config.num_hidden_layers} layers"
    eos = tokenizer.eos_token_id
    sample = "你好，世界！Hello, world!"
    family = config.model_type
    if config.qk_norm:
        family += " (QK-norm" + (", attention bias)" if config.attention_bias else ", no qkv bias)")
    rows = [
        ("model", args.path),
        ("model_type", family),
        ("layers", config.num_hidden_layers),
        ("hidden / intermediate", f"{config.hidden_size} / {config.intermediate_size}"),
        (
            "heads (q / kv) x dim",
            f"{config.num_attention_heads} / {config.num_key_value_heads} x {config.head_dim}",
        ),
        *_moe_rows(config),
        ("vocab (embedding rows)", config.vocab_size),
        ("context", config.max_position_embeddings),
        ("rope", rope),
        ("tied embeddings", config.tie_word_embeddings),
        ("sliding window", sliding),
        ("parameters", f"{n_params:,} ({n_params / 1e9:.3f} B)"),
        ("stored dtype", ", ".join(f"{k}: {v:,}" for k, v in dtypes.items())),
        ("config torch_dtype", config.torch_dtype),
    ]
    if size is not None:
        rows.append(("weights on disk", f"{size / 2**30:.2f} GiB"))
    rows += [
        ("tokenizer vocab", tokenizer.vocab_size),
        ("special tokens", len(tokenizer.special_tokens)),
        ("eos", f"{tokenizer.id_to_token(eos)!r} ({eos})" if eos is not None else None),
        ("pad", tokenizer.pad_token_id),
        (f"tokens in {sample!r}", len(tokenizer.encode(sample))),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


# ---------------------------------------------------------------------------------------- generate


def cmd_generate(args: argparse.Namespace) -> int:
    from tinyqwen.chat_model import STREAM

    prompt = args.prompt
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            print("error: give a prompt, or pipe one in ('-' reads stdin)", file=sys.stderr)
            return 2
        prompt = sys.stdin.read()
    sampling = _sampling(args)
    model = _connect(args.model, args.adapter, args.quantize)
    if args.chat:
        messages = [{"role": "system", "content": args.system}] if args.system else []
        messages.append({"role": "user", "content": prompt})
        if args.stream:
            for delta in model.stream_chat(messages, sampling=sampling):
                print(delta, end="", flush=True)
            print()
        else:
            reply = model.chat(messages, sampling=sampling)
            print(reply["content"])
            for call in reply.get("tool_calls") or []:
                print(json.dumps(call, ensure_ascii=False))
        return 0
    if args.stream and STREAM in model.capabilities:
        for delta in model.stream_complete(prompt, sampling=sampling):
            print(delta, end="", flush=True)
        print()
    else:
        print(model.complete(prompt, sampling=sampling))
    return 0


# ---------------------------------------------------------------------------------------- chat


def _read_line(prompt: str) -> str | None:
    """One line from stdin, or None at end of input (Ctrl-D, closed or absent stdin)."""
    if sys.stdin is None or sys.stdin.closed:
        return None
    try:
        return input(prompt) if sys.stdin.isatty() else input()
    except (EOFError, KeyboardInterrupt, ValueError, OSError):
        return None


def cmd_chat(args: argparse.Namespace) -> int:
    sampling = _sampling(args)
    model = _connect(args.model, args.adapter, args.quantize)
    thinking = {}  # Qwen3 templates: on = think first, off = answer directly
    if args.thinking != "auto":
        thinking["enable_thinking"] = args.thinking == "on"
    base = [{"role": "system", "content": args.system}] if args.system else []
    history = list(base)
    print(f"chatting with {model.name}; /reset clears the history, /exit quits", file=sys.stderr)
    while True:
        line = _read_line(">>> ")
        if line is None or line.strip() in ("/exit", "/quit"):
            return 0
        if line.strip() == "/reset":
            history = list(base)
            print("(history cleared)", file=sys.stderr)
            continue
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        parts = []
        for delta in model.stream_chat(history, sampling=sampling, **thinking):
            parts.append(delta)
            print(delta, end="", flush=True)
        print(flush=True)
        history.append({"role": "assistant", "content": "".join(parts)})


# ---------------------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    import torch

    try:
        import transformers
    except ImportError:
        print("error: verify needs transformers (pip install transformers)", file=sys.stderr)
        return 2
    from tinyqwen import native
    from tinyqwen.auto import AutoModelForCausalLM
    from tinyqwen.checkpoint import decode_dtype_probe, probe_text
    from tinyqwen.generation import generate
    from tinyqwen.linear import decode_probe_text, gemm_probe_text
    from tinyqwen.quant import int8_gemm_probe_text
    from tinyqwen.tokenizer import Tokenizer

    path = Path(args.path).expanduser()
    if not path.is_dir():
        print(f"error: {path} is not a directory", file=sys.stderr)
        return 2
    ours = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ref = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tokenizer = Tokenizer.from_pretrained(path)
    eos = ref.generation_config.eos_token_id
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])

    prompts = args.prompt or list(VERIFY_PROMPTS)
    worst, all_agree = 0.0, True
    print(f"{'prompt':<32} {'tokens':>6} {'max|dlogit|':>12}  greedy {args.max_new_tokens} tokens")
    for text in prompts:
        ids = tokenizer.encode(text, allowed_special="all")
        if not ids:
            continue
        x = torch.tensor([ids])
        with torch.inference_mode():
            diff = (ours(x) - ref(x).logits.float()).abs().max().item()
            mine = generate(ours, [ids], max_new_tokens=args.max_new_tokens, stop_token_ids=eos_ids)
            theirs = ref.generate(
                x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=args.max_new_tokens,
                do_sample=False,
                pad_token_id=eos_ids[0] if eos_ids else 0,
            )[0, len(ids) :].tolist()
        stop = next((k for k, t in enumerate(theirs) if t in eos_ids), len(theirs))
        theirs = theirs[:stop]  # drop the eos and the padding after it
        agree = mine[0] == theirs
        where = ""
        if not agree:
            k = next(
                (k for k, (a, b) in enumerate(zip(mine[0], theirs)) if a != b),
                min(len(mine[0]), len(theirs)),
            )
            where = f" (differ at token {k}: {mine[0][k : k + 3]} vs {theirs[k : k + 3]})"
        worst = max(worst, diff)
        all_agree &= agree
        shown = json.dumps(text, ensure_ascii=False)[:30]
        verdict = "agree" if agree else "DIFFER" + where
        print(f"{shown:<32} {len(ids):>6} {diff:>12.3e}  {verdict}")
    ok = worst <= args.atol and all_agree
    print(
        f"max |logit diff| = {worst:.3e} (tolerance {args.atol:g}); greedy continuations "
        f"{'agree' if all_agree else 'DIFFER'} -> {'OK' if ok else 'FAIL'}"
    )
    int8_ok = _verify_quantized(path, ours, tokenizer, prompts, "int8")
    _verify_quantized(path, ours, tokenizer, prompts, "int4")  # reported, not gated
    print(f"on this CPU: {probe_text(decode_dtype_probe())}; {gemm_probe_text()}; "
          f"{int8_gemm_probe_text()}; {decode_probe_text()}; {native.status()}")  # fmt: skip
    return 0 if int8_ok and ok else 1


def _verify_quantized(
    path: Path, ours: Qwen2ForCausalLM, tokenizer: Tokenizer, prompts: list[str], scheme: str
) -> bool:
    """Print the ``scheme`` (int8 / int4) model's error against fp32 (last-position logits); True
    when cosine >= 0.99 (the int8 bar; int4's round-to-nearest error is reported, not gated)."""
    from tinyqwen.model import Qwen2ForCausalLM
    from tinyqwen.quant import int8_error, weight_bytes

    q = Qwen2ForCausalLM.from_pretrained(path, quantize=scheme)
    ids = [i for i in (tokenizer.encode(t, allowed_special="all") for t in prompts) if i]
    err = int8_error(ours, q, ids)
    ok = err["min_cosine"] >= 0.99
    print(
        f"{scheme} ({q.quantization}, activations {str(q.dtype).removeprefix('torch.')}) vs fp32, "
        f"last-position logits: min cosine {err['min_cosine']:.5f}"
        f"{' (>= 0.99)' if scheme == 'int8' else ''}, "
        f"max |diff| {err['max_abs_diff']:.3e}, argmax agrees on {err['argmax_agree']:.0%}; "
        f"weights {weight_bytes(q) / weight_bytes(ours):.2f}x fp32"
        + (f" -> {'OK' if ok else 'FAIL'}" if scheme == "int8" else " (reported only)")
    )
    return ok


# ---------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyqwen",
        description="A hand-written Qwen2: inspect, run and verify checkpoints.",
        epilog="also: 'tinyqwen serve --help' (OpenAI-compatible server) and "
        "'tinyqwen download --help' (model downloader)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_help = (
        "checkpoint dir, LoRA adapter dir, 'tiny-random', 'tiny-universe', "
        "or http(s)://host:port/v1[#name]"
    )
    adapter_help = "PEFT LoRA adapter dir merged into --model (tinyqwen.adapters)"

    p = sub.add_parser("info", help="config summary, parameter count, dtype, tokenizer facts")
    p.add_argument("path", help="checkpoint directory (or 'tiny-random', 'tiny-universe')")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("generate", help="continue a prompt (or answer it with --chat)")
    p.add_argument("prompt", nargs="?", help="prompt text; '-' or omitted reads stdin")
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--adapter", default=None, help=adapter_help)
    add_quantize_argument(p)
    p.add_argument("--chat", action="store_true", help="send the prompt as a chat user message")
    p.add_argument("--system", default=None, help="system prompt (with --chat)")
    p.add_argument("--stream", action="store_true", help="print text as it is generated")
    _add_sampling(p, 64)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("chat", help="interactive streaming chat (/reset, /exit)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--adapter", default=None, help=adapter_help)
    add_quantize_argument(p)
    p.add_argument("--system", default=None, help="system prompt")
    p.add_argument(
        "--thinking",
        choices=("auto", "on", "off"),
        default="auto",
        help="Qwen3 thinking mode (enable_thinking); the <think> part is shown, and left out of "
        "later prompts by the template (default: the template's default, i.e. on)",
    )
    _add_sampling(p, 512)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("verify", help="compare tinyqwen with transformers on a checkpoint")
    p.add_argument("path", help="checkpoint directory")
    p.add_argument("--prompt", action="append", help="a prompt to check (repeatable)")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--atol", type=float, default=1e-3, help="max |logit diff| allowed (fp32)")
    p.set_defaults(func=cmd_verify)

    for name, module in _DISPATCH.items():
        sub.add_parser(name, help=f"see 'tinyqwen {name} --help' ({module})", add_help=False)
    return parser


def _main(argv: list[str]) -> int:
    if argv and argv[0] in _DISPATCH:  # these parse their own arguments
        import importlib

        return int(importlib.import_module(_DISPATCH[argv[0]]).main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    return args.func(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``tinyqwen ...``; a user error is one ``error:`` line and exit code 2 (tinyqwen.errors)."""
    from tinyqwen.errors import run_cli

    return run_cli(_main, argv)
