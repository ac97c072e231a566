"""``python -m qwen_blog sft``: instruction tuning with the loss on assistant replies only.

Each training example is one conversation rendered with the Qwen2.5 chat template (ChatML,
``tinyqwen.render_chat``)::

    <|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\n3加5等于多少？<|im_end|>\\n<|im_start|>assistant\\n3加5等于8。<|im_end|>\\n
    |------------------------------ labels = -100 ------------------------------------------------||-- trained ---------||-100|

Labels equal the input ids inside every assistant reply *and its closing* ``<|im_end|>`` (so the model
learns to stop) and -100 everywhere else: the system prompt, user turns, tool results and the
``<|im_start|>assistant\\n`` header are conditions, not targets. Labels are aligned with the inputs (the
transformers convention); the shift happens when batches are built (targets = labels[1:]).

    python -m qwen_blog sft --base runs/tiny/step-000300 --out runs/sft            # built-in Q&A set
    python -m qwen_blog sft --base DIR --data chats.jsonl --lora --lora-r 8 --out runs/lora
    python -m qwen_blog sample --ckpt runs/lora --chat "3加5等于多少？"

``--data`` is JSONL with one conversation per line: ``{"messages": [...], "tools": [...]?}`` or a bare
list of OpenAI-format messages. Conversations are right-padded per micro-batch (``attention_mask`` 0 on
padding, labels -100) and truncated to ``--max-len`` tokens.

Limits: padding, not packing (tinyqwen's attention mask is per-token, so packing several conversations
in one row would need a block-diagonal mask it does not take); a conversation whose assistant replies
are all cut off by ``--max-len`` is dropped (and counted in the log).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

IGNORE = -100


def conversation_pieces(
    messages: list[dict], tools: list[dict] | None = None, untrained: dict | None = None
) -> list[tuple[str, bool, bool]]:
    """Split the rendered conversation into ``(text, is_markup, trained)`` pieces.

    ``trained`` marks assistant replies plus their ``<|im_end|>``, except the character spans
    ``untrained = {"2": [[start, end], ...]}`` of message 2's content (e.g. the tool observations
    inside a ReAct scratchpad, which the tool writes at run time, not the model). Reply boundaries are found by
    rendering each prefix: ``render(messages[:i], add_generation_prompt=True)`` ends with
    ``<|im_start|>assistant\\n`` and ``render(messages[:i+1], add_generation_prompt=False)`` ends with
    ``<|im_end|>\\n``; the reply is what lies between (without the final newline).
    """
    from tinyqwen.chat_template import render_chat, render_chat_segments

    full = render_chat(messages, tools, add_generation_prompt=False)
    spans = []  # [start, end) character spans of trained text
    for i, m in enumerate(messages):
        if m.get("role") != "assistant":
            continue
        prefix = render_chat(messages[:i], tools, add_generation_prompt=True) if i else None
        upto = render_chat(messages[: i + 1], tools, add_generation_prompt=False)
        if prefix is None or not upto.startswith(prefix) or not full.startswith(upto):
            raise ValueError(
                f"messages[{i}]: an assistant turn must follow another message, and the "
                "template must render prefixes consistently"
            )
        if not upto.endswith("<|im_end|>\n"):
            raise ValueError(f"messages[{i}]: rendered assistant turn does not end with <|im_end|>")
        start, end = len(prefix), len(upto) - 1
        holes = sorted((untrained or {}).get(str(i), []))
        if holes:
            content = m.get("content") or ""
            if m.get("tool_calls") or full[start : start + len(content)] != content:
                raise ValueError(f"messages[{i}]: untrained spans need a plain-content reply")
        base, pos = start, start
        for a, b in holes:
            if not 0 <= a <= b <= len(m["content"]) or base + a < pos:
                raise ValueError(f"messages[{i}]: untrained span [{a}, {b}] outside the content")
            if base + a > pos:
                spans.append((pos, base + a))
            pos = base + b
        if end > pos:
            spans.append((pos, end))
    if not spans:
        raise ValueError("conversation has no assistant message to train on")

    # Cut the template's (text, is_markup) segments at span boundaries.
    cuts = sorted({0, len(full), *(s for s, _ in spans), *(e for _, e in spans)})
    pieces, pos = [], 0
    for text, is_markup in render_chat_segments(messages, tools, add_generation_prompt=False):
        end = pos + len(text)
        for a, b in zip(cuts, cuts[1:]):
            lo, hi = max(a, pos), min(b, end)
            if lo < hi:
                trained = any(s <= lo and hi <= e for s, e in spans)
                pieces.append((full[lo:hi], is_markup, trained))
        pos = end
    if "".join(p[0] for p in pieces) != full:
        raise AssertionError("render_chat_segments does not join to render_chat")
    return pieces


def build_example(
    tokenizer,
    messages: list[dict],
    tools: list[dict] | None = None,
    max_len: int | None = None,
    untrained: dict | None = None,
) -> tuple[list[int], list[int]]:
    """Token ids and aligned labels (-100 outside assistant replies) for one conversation.

    Special tokens are recognised only in the template's markup; message text is plain text, so a user
    typing ``<|im_end|>`` cannot inject a turn boundary. Text between special tokens is encoded as one
    string (markup and data together), so the ids equal ``tokenizer.encode(full_text, "all")`` except
    where a trained/untrained boundary forces a split (it falls right after ``<|im_start|>assistant\n``,
    exactly where a generation prompt ends at inference time).
    """
    specials = sorted(tokenizer.special_tokens, key=len, reverse=True)
    special_re = (
        re.compile("(" + "|".join(re.escape(t) for t in specials) + ")") if specials else None
    )
    ids: list[int] = []
    labels: list[int] = []
    buffer: list[str] = []
    buffer_trained = False

    def emit(toks: list[int], trained: bool) -> None:
        ids.extend(toks)
        labels.extend(toks if trained else [IGNORE] * len(toks))

    def flush() -> None:
        if buffer:
            emit(tokenizer.encode("".join(buffer)), buffer_trained)  # plain text: no specials
            buffer.clear()

    for text, is_markup, trained in conversation_pieces(messages, tools, untrained):
        if trained != buffer_trained:
            flush()
            buffer_trained = trained
        parts = special_re.split(text) if (is_markup and special_re) else [text]
        for k, part in enumerate(parts):
            if k % 2 == 1:  # a special token of the template
                flush()
                emit([tokenizer.special_tokens[part]], trained)
            elif part:
                buffer.append(part)
    flush()
    if max_len is not None:
        ids, labels = ids[:max_len], labels[:max_len]
    return ids, labels


def read_conversations(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"SFT data {p} does not exist")
    from qwen_blog.data import iter_jsonl

    out = []
    for lineno, obj in iter_jsonl(p):
        if isinstance(obj, list):
            obj = {"messages": obj}
        if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
            raise ValueError(f'{p}:{lineno}: expected {{"messages": [...]}} or a list of messages')
        obj["where"] = f"{p}:{lineno}"
        out.append(obj)
    if not out:
        raise ValueError(f"{p}: no conversations")
    return out


def tokenize_conversations(
    tokenizer, convs: list[dict], max_len: int
) -> tuple[list[tuple[list[int], list[int]]], int]:
    """Tokenize every conversation; returns (examples, number dropped for having no target left)."""
    examples, dropped = [], 0
    for c in convs:
        try:
            ids, labels = build_example(
                tokenizer, c["messages"], c.get("tools"), max_len, c.get("untrained")
            )
        except (ValueError, KeyError) as e:
            raise ValueError(f"{c.get('where', '<conversation>')}: {e}") from None
        if sum(1 for x in labels[1:] if x != IGNORE) == 0:  # position 0 is never a target
            dropped += 1
            continue
        examples.append((ids, labels))
    return examples, dropped


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int, device) -> dict:
    """Right-pad to the longest example; shift labels into next-token targets."""
    import torch

    T = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), T), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), T), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), T), dtype=torch.long)
    for i, (x, y) in enumerate(examples):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    # inputs [B, T-1] predict targets [B, T-1] = labels shifted left by one
    return {
        "input_ids": ids[:, :-1].to(device),
        "attention_mask": mask[:, :-1].to(device),
        "targets": labels[:, 1:].to(device),
    }


def length_groups(
    examples: list[tuple[list[int], list[int]]], max_tokens: int | None
) -> list[list[tuple[list[int], list[int]]]]:
    """One step's examples as micro-batches of similar length, to cut padding.

    Sorted by length (stable), a micro-batch ends when one more row would make ``rows x longest``
    exceed ``max_tokens`` padded tokens (a longer example goes alone). The step is the same: its loss
    is the token mean over all its micro-batches (:func:`qwen_blog.trainer.train_step`), and with right
    padding a causal row never sees its padding -- only float summation order differs. ``None``: one
    micro-batch, as given.

        >>> [[len(x) for x, _ in g] for g in length_groups([([0] * n, []) for n in (5, 2, 9, 3)], 10)]
        [[2, 3], [5], [9]]

    Measured on tiny-universe's SFT data (16 conversations a step, up to 640 tokens, mean 310): one
    micro-batch pads to 1.40x the real tokens, groups of 4 by length to 1.10x.
    """
    if max_tokens is None:
        return [examples] if examples else []
    groups: list[list] = []
    for ex in sorted(examples, key=lambda e: len(e[0])):
        if groups and (len(groups[-1]) + 1) * len(ex[0]) <= max_tokens:
            groups[-1].append(ex)
        else:
            groups.append([ex])
    return groups


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="qwen_blog sft", description=__doc__.split("\n")[0])
    p.add_argument(
        "--base",
        required=True,
        help="base checkpoint dir (HF layout + tokenizer files) or a pretrain run dir",
    )
    p.add_argument("--data", default=None, help="messages JSONL; default: built-in Q&A set")
    p.add_argument("--out", required=True)
    p.add_argument("--resume", nargs="?", const="latest", default=None)
    p.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that has checkpoints"
    )
    p.add_argument("--max-len", type=int, default=256)
    p.add_argument("--micro-batch-size", type=int, default=16)
    p.add_argument(
        "--micro-batch-tokens",
        type=int,
        default=None,
        help="split each micro-batch by length into pieces of at most N padded tokens "
        "(same step, less padding; see length_groups)",
    )
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=None, help="default 2e-3 with --lora, 5e-4 without")
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--min-lr-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--keep-last", type=int, default=2)
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument(
        "--lookup-drills",
        type=int,
        default=0,
        help="also train N value-only lookup drills per step (qwen_blog.lookup; tiny-universe, E14)",
    )
    p.add_argument(
        "--answer-drills",
        type=int,
        default=0,
        help="also train N grounded-QA answer drills per step: cited answers and refusals "
        "(qwen_blog.lookup; tiny-universe, E15)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    g = p.add_argument_group("LoRA")
    g.add_argument(
        "--lora", action="store_true", help="train a LoRA adapter instead of all weights"
    )
    g.add_argument("--lora-r", type=int, default=8)
    g.add_argument("--lora-alpha", type=float, default=16)
    g.add_argument("--lora-dropout", type=float, default=0.05)
    g.add_argument(
        "--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
    )
    g.add_argument(
        "--merge", action="store_true", help="also write OUT/merged/ (base + adapter folded)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from qwen_blog import corpus, data, lora
    from qwen_blog.checkpointing import latest_checkpoint, model_weight_io
    from qwen_blog.distributed import cleanup, init_distributed, wrap_model
    from qwen_blog.trainer import TrainArgs, train
    from tinyqwen import AutoModelForCausalLM, Tokenizer

    info = init_distributed(args.device)
    try:
        from qwen_blog.sample import resolve_checkpoint

        base = resolve_checkpoint(args.base)  # a run directory means its latest checkpoint
        tokenizer = Tokenizer.from_pretrained(base)
        if args.data is None:
            src = Path(args.out) / "data" / "sft.jsonl"
            if info.is_main and not src.is_file():
                corpus.write_sft_corpus(src)
            from qwen_blog.distributed import barrier

            barrier(info)
        else:
            src = Path(args.data)
        convs = read_conversations(src)
        random.Random(args.seed).shuffle(convs)
        n_val = max(1, int(round(len(convs) * args.val_fraction))) if len(convs) > 1 else 0
        train_ex, dropped = tokenize_conversations(tokenizer, convs[n_val:], args.max_len)
        val_ex, _ = tokenize_conversations(tokenizer, convs[:n_val], args.max_len)
        if not train_ex:
            raise ValueError(
                f"{src}: no trainable conversations (all truncated by --max-len {args.max_len}?)"
            )
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = tokenizer.special_tokens.get("<|endoftext|>", 0)

        model = AutoModelForCausalLM.from_pretrained(
            base, dtype=torch.float32, device=info.device
        ).train()
        model.gradient_checkpointing = args.gradient_checkpointing
        if args.lora:
            cfg = lora.LoraConfig(
                r=args.lora_r,
                lora_alpha=args.lora_alpha,
                lora_dropout=args.lora_dropout,
                target_modules=tuple(t for t in args.lora_targets.split(",") if t),
                base_model_name_or_path=str(base.resolve()),
            )
            torch.manual_seed(args.seed)  # adapter init (A) is part of the run's reproducibility
            lora.apply_lora(model, cfg)
        ddp_model = wrap_model(model, info)
        lr = args.lr if args.lr is not None else (2e-3 if args.lora else 5e-4)

        global_batch = args.micro_batch_size * args.grad_accum * info.world_size
        sampler = data.BlockSampler(len(train_ex), global_batch, seed=args.seed)

        def step_batches(step: int) -> list[dict]:
            mine = data.shard(sampler.indices(step), info.rank, info.world_size)
            batches = [
                collate(group, pad_id, info.device)
                for i in range(0, len(mine), args.micro_batch_size)
                for group in length_groups(
                    [train_ex[j] for j in mine[i : i + args.micro_batch_size]],
                    args.micro_batch_tokens,
                )
            ]
            # seed + 7: a stream apart from the lookup stage's drills (seed) and their val (seed + 1)
            seed = args.seed + 7 + 7919 * info.rank
            if args.lookup_drills:  # one more micro-batch; the loss is the token mean over all
                from qwen_blog.lookup import drill_batch

                drills = drill_batch(tokenizer, seed, step, args.lookup_drills)
                batches.append(collate(drills, pad_id, info.device))
            if args.answer_drills:  # another; apart, as they are longer (less padding)
                from qwen_blog.lookup import answer_drill_batch

                drills = answer_drill_batch(tokenizer, seed, step, args.answer_drills)
                batches.append(collate(drills, pad_id, info.device))
            return batches

        def val_batches() -> list[dict]:
            mine = list(range(len(val_ex)))[info.rank :: info.world_size]  # sums are reduced
            return [
                collate(group, pad_id, info.device)
                for i in range(0, len(mine), args.micro_batch_size)
                for group in length_groups(
                    [val_ex[j] for j in mine[i : i + args.micro_batch_size]],
                    args.micro_batch_tokens,
                )
            ]

        save_weights, load_weights = model_weight_io(model, tokenizer)
        if args.lora:  # a checkpoint holds the adapter only

            def save_weights(d: Path) -> None:
                lora.save_lora(model, d)
                tokenizer.save_pretrained(d)

            def load_weights(d: Path) -> None:
                lora.load_lora_weights(model, d)

        resume = None
        if args.resume == "latest":
            resume = latest_checkpoint(args.out)
            if resume is None:
                raise FileNotFoundError(f"--resume: no {Path(args.out) / 'latest'} to resume from")
        elif args.resume:
            resume = Path(args.resume)
        if info.is_main:
            n_train, n_all = lora.count_trainable(model)
            n_tgt = sum(sum(1 for x in y[1:] if x != IGNORE) for _, y in train_ex)
            print(
                f"sft: {len(train_ex)} train / {len(val_ex)} val conversations ({dropped} dropped), "
                f"{n_tgt:,} target tokens; trainable {n_train:,} of {n_all:,} params"
                f"{' (LoRA)' if args.lora else ''}; world size {info.world_size}",
                file=sys.stderr,
            )
        targs = TrainArgs.from_cli(
            args,
            lr=lr,
            extra={
                "command": "sft",
                "base": str(base),
                "data": str(src),
                "lora": args.lora,
                "global_batch": global_batch,
                "max_len": args.max_len,
                "lookup_drills": args.lookup_drills,
                "answer_drills": args.answer_drills,
                "micro_batch_tokens": args.micro_batch_tokens,
            },
        )
        records = train(
            ddp_model,
            step_batches,
            val_batches if val_ex else None,
            save_weights,
            load_weights,
            targs,
            info,
            resume=resume,
            title="SFT (assistant tokens only)",
        )
        if info.is_main and args.lora and args.merge:
            merged = lora.merge_and_unload(model)
            out = Path(args.out) / "merged"
            merged.save_pretrained(out)
            tokenizer.save_pretrained(out)
            print(f"merged model written to {out}", file=sys.stderr)
        if info.is_main and records:
            print(
                f"done: step {records[-1]['step']}, loss {records[0]['loss']:.3f} -> {records[-1]['loss']:.3f}; "
                f"checkpoint {latest_checkpoint(args.out)}",
                file=sys.stderr,
            )
    finally:
        cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
