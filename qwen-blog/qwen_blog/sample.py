"""``python -m qwen_blog sample``: generate text from a checkpoint you trained (or any Qwen2 directory).

    python -m qwen_blog sample --ckpt runs/tiny "小明有3个苹果"                 # run dir -> its latest checkpoint
    python -m qwen_blog sample --ckpt runs/sft --chat "3加5等于多少？"          # wrap in the chat template
    python -m qwen_blog sample --ckpt runs/lora --chat "What is 2 plus 9?"     # a LoRA adapter dir

``--ckpt`` may be a run directory (``OUT/latest`` is followed), a checkpoint directory (``config.json`` +
``model.safetensors``) or a PEFT adapter directory (``adapter_config.json``; the base model comes from
its ``base_model_name_or_path`` or ``--base``). Text is streamed to stdout as it is generated, never
splitting a UTF-8 character. Greedy by default; ``--temperature``/``--top-k``/``--top-p`` sample.

Limits: one prompt at a time; ``--chat`` sends a single user turn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def resolve_checkpoint(path: str | Path) -> Path:
    """A run dir (with ``latest``) -> its latest checkpoint; a checkpoint/adapter dir -> itself."""
    p = Path(path)
    if (p / "config.json").is_file() or (p / "adapter_config.json").is_file():
        return p
    if (p / "latest").is_file():
        return p / (p / "latest").read_text(encoding="utf-8").strip()
    raise FileNotFoundError(
        f"{p}: neither a checkpoint (config.json), an adapter (adapter_config.json) "
        "nor a run directory (latest)"
    )


def load_for_sampling(ckpt: str | Path, base: str | Path | None = None, device: str = "cpu"):
    """(model, tokenizer) from a checkpoint or adapter directory; adapters are merged for speed."""
    import torch

    from qwen_blog import lora
    from tinyqwen import AutoModelForCausalLM, Tokenizer

    d = resolve_checkpoint(ckpt)
    if (d / "adapter_config.json").is_file():
        cfg = lora.read_lora_config(d)
        base_dir = Path(base or cfg.base_model_name_or_path or "")
        if not (base_dir / "config.json").is_file():
            raise FileNotFoundError(
                f"{d}: adapter needs its base model; pass --base DIR "
                f"(adapter_config.json names {cfg.base_model_name_or_path!r})"
            )
        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32, device=device)
        lora.load_lora(model, d)
        lora.merge_and_unload(model)
        tok_dir = d if (d / "tokenizer.json").is_file() else base_dir
    else:
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, device=device)
        tok_dir = d
    return model.eval(), Tokenizer.from_pretrained(tok_dir)


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="qwen_blog sample", description=__doc__.split("\n")[0])
    p.add_argument("prompt")
    p.add_argument("--ckpt", required=True, help="run dir, checkpoint dir or adapter dir")
    p.add_argument("--base", default=None, help="base model dir for an adapter")
    p.add_argument(
        "--chat", action="store_true", help="format the prompt as one user turn (ChatML)"
    )
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default="cpu")
    return p


def run(args: argparse.Namespace) -> int:
    from tinyqwen import render_chat
    from tinyqwen.generation import stream_generate

    model, tok = load_for_sampling(args.ckpt, args.base, args.device)
    if args.chat:
        text = render_chat([{"role": "user", "content": args.prompt}], add_generation_prompt=True)
        ids = tok.encode(text, allowed_special="all")
    else:
        ids = tok.encode(args.prompt)
    stops = [
        t
        for t in (
            tok.special_tokens.get("<|im_end|>"),
            tok.special_tokens.get("<|endoftext|>"),
            tok.eos_token_id,
        )
        if t is not None
    ]
    if not args.chat:
        sys.stdout.write(args.prompt)
    dec = tok.decode_stream()
    for t in stream_generate(
        model,
        ids,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        stop_token_ids=stops,
        seed=args.seed,
    ):
        sys.stdout.write(dec.step(t))
        sys.stdout.flush()
    sys.stdout.write(dec.flush() + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
