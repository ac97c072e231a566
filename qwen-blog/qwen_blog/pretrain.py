"""``python -m qwen_blog pretrain``: train a small Qwen2 from scratch on a packed corpus.

    python -m qwen_blog pretrain --config tiny --out runs/tiny                 # built-in corpus, CPU, minutes
    python -m qwen_blog pretrain --config tiny --max-steps 30 --out runs/demo  # < 1 minute smoke run
    python -m qwen_blog pretrain --config small --data my_corpus.jsonl --out runs/small
    python -m qwen_blog pretrain --config tiny --out runs/tiny --max-steps 600 --resume
    torchrun --nproc_per_node=8 -m qwen_blog pretrain --config small --data corpus/ --out runs/s8

``--config`` is ``tiny``, ``small`` or a JSON file: either a Qwen2 ``config.json``-style dict (model
only) or ``{"model": {...}, "train": {...}}`` where ``train`` sets defaults for the flags below
(``seq_len``, ``micro_batch_size``, ``lr``, ...). Flags given on the command line always win.

Without ``--data`` the built-in generated corpus (:mod:`qwen_blog.corpus`) is written to
``OUT/data/corpus.jsonl``; every corpus is packed once into ``OUT/data/`` (reused while the source file and
the tokenizer are unchanged). Each checkpoint ``OUT/step-N/`` is a Hugging Face directory
(``config.json``, ``model.safetensors``, ``tokenizer.json``, ``tokenizer_config.json``) that
``tinyqwen``, ``tinyqwen verify`` and ``transformers.AutoModelForCausalLM`` load directly.

Limits: one corpus per run; the global batch (``micro_batch_size * grad_accum * world_size``) must not
change across a resume.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Model shapes. tiny: ~1M non-embedding params, trains visibly in minutes on 2 CPU cores.
PRESETS: dict[str, dict] = {
    "tiny": {
        "model": {
            "hidden_size": 128,
            "intermediate_size": 384,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "rope_theta": 10000.0,
            "tie_word_embeddings": True,
        },
        "train": {
            "seq_len": 128,
            "micro_batch_size": 16,
            "grad_accum": 1,
            "lr": 3e-3,
            "warmup_steps": 30,
            "max_steps": 300,
            "eval_every": 50,
            "save_every": 100,
        },
    },
    "small": {
        "model": {
            "hidden_size": 384,
            "intermediate_size": 1024,
            "num_hidden_layers": 6,
            "num_attention_heads": 6,
            "num_key_value_heads": 2,
            "rope_theta": 10000.0,
            "tie_word_embeddings": True,
        },
        "train": {
            "seq_len": 256,
            "micro_batch_size": 16,
            "grad_accum": 2,
            "lr": 1.5e-3,
            "warmup_steps": 100,
            "max_steps": 2000,
            "eval_every": 200,
            "save_every": 500,
        },
    },
}
# Qwen3 at the tiny preset's scale: QK-norm, no qkv bias, head_dim 64 (> hidden / heads = 32)
PRESETS["qwen3-tiny"] = {
    "model": {**PRESETS["tiny"]["model"], "model_type": "qwen3", "head_dim": 64},
    "train": PRESETS["tiny"]["train"],
}
# Qwen3-MoE at the same scale: 8 experts of width 96, top-2 renormalised (30B-A3B routes 8 of 128),
# so each token runs 2 x 96 = 192 of 768 expert columns; the aux loss keeps the router balanced
PRESETS["qwen3-moe-tiny"] = {
    "model": {
        **PRESETS["qwen3-tiny"]["model"],
        "model_type": "qwen3_moe",
        "num_experts": 8,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 96,
        "norm_topk_prob": True,
        "router_aux_loss_coef": 0.01,
    },
    "train": PRESETS["tiny"]["train"],
}
# a JSON config that names no training settings gets the tiny preset's
TRAIN_DEFAULTS = dict(PRESETS["tiny"]["train"])
TRAIN_OPTIONAL = {"lookup_drills", "drill_weight"}  # "train" keys a config may set (default: off)


# keys of a transformers config.json that tinyqwen reads under another name or ignores
HF_CONFIG_KEYS = {
    "head_dim", "rope_parameters", "rope_scaling", "rope_theta", "model_type", "architectures",
    "dtype", "torch_dtype", "transformers_version", "use_cache", "initializer_range",
    "attention_dropout", "hidden_act", "max_window_layers", "use_sliding_window", "layer_types",
}  # fmt: skip


def load_preset(spec: str) -> tuple[dict, dict]:
    """(model config fields, training defaults) for ``tiny``, ``small`` or a JSON file."""
    if spec in PRESETS:
        return dict(PRESETS[spec]["model"]), {**TRAIN_DEFAULTS, **PRESETS[spec]["train"]}
    p = Path(spec)
    if not p.is_file():
        raise FileNotFoundError(
            f"--config {spec!r}: not a preset ({', '.join(PRESETS)}) nor a JSON file"
        )
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{p}: expected a JSON object")
    model, train = (d.get("model", {}), d.get("train", {})) if "model" in d else (d, {})
    unknown = set(train) - set(TRAIN_DEFAULTS) - TRAIN_OPTIONAL
    if unknown:
        raise ValueError(f'{p}: unknown field(s) in "train": {sorted(unknown)}')
    if not isinstance(model, dict):
        raise ValueError(f'{p}: "model" must be a JSON object')
    from dataclasses import fields

    from tinyqwen.config import Qwen2Config

    # a typo ("dim" for "hidden_size") must not silently train the default-sized model
    known = {f.name for f in fields(Qwen2Config)} | HF_CONFIG_KEYS
    unknown = set(model) - known
    if unknown:
        raise ValueError(
            f"{p}: unknown model field(s) {sorted(unknown)}; known: hidden_size, "
            "intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, ..."
        )
    return dict(model), {**TRAIN_DEFAULTS, **train}


def train_tokenizer(
    documents: list[str], vocab_size: int, out_dir: Path, pattern: str | None = None
):
    """Train a byte-level BPE on ``documents`` with tinyqwen's trainer, with the same special tokens
    (same order) as the ``tiny-random`` tokenizer, so the chat template and tool-call tokens work.
    ``pattern`` replaces Qwen2's pre-tokenizer regex (it is saved in tokenizer.json)."""
    from tinyqwen import train_bpe
    from tinyqwen.tokenizer.bpe import QWEN2_PATTERN

    specials = sorted(load_tokenizer("tiny-random").special_tokens.items(), key=lambda kv: kv[1])
    tok = train_bpe(documents, vocab_size, [t for t, _ in specials], eos_token="<|im_end|>",
                    pad_token="<|endoftext|>", pattern=pattern or QWEN2_PATTERN)  # fmt: skip
    tok.save_pretrained(out_dir)
    return tok


def load_tokenizer(spec: str):
    """``tiny-random`` (the tokenizer shipped with tinyqwen) or a tokenizer/checkpoint directory."""
    from tinyqwen import Tokenizer

    if spec == "tiny-random":
        from tinyqwen.tiny_random import ASSET_DIR

        return Tokenizer.from_pretrained(ASSET_DIR)
    return Tokenizer.from_pretrained(spec)


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="qwen_blog pretrain", description=__doc__.split("\n")[0])
    p.add_argument(
        "--config",
        default="tiny",
        help="tiny | small | qwen3-tiny | qwen3-moe-tiny | path/to/config.json",
    )
    p.add_argument(
        "--data", default=None, help="corpus (.jsonl/.txt/dir) or a packed dir; default: built-in"
    )
    p.add_argument("--out", required=True, help="run directory (checkpoints, logs, loss.png)")
    p.add_argument(
        "--tokenizer",
        default="tiny-random",
        help="tiny-random | a tokenizer or checkpoint dir | train:N (train an N-token BPE on the corpus)",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        help="continue from OUT/latest (or the given checkpoint dir)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that has checkpoints"
    )
    g = p.add_argument_group("training (defaults come from --config)")
    for name, typ in [
        ("seq-len", int),
        ("micro-batch-size", int),
        ("grad-accum", int),
        ("lr", float),
        ("warmup-steps", int),
        ("max-steps", int),
        ("eval-every", int),
        ("save-every", int),
        # tiny-universe (E17): N value-only lookup drills per step (qwen_blog.lookup), each target
        # token counting W times, so a few value tokens get a fixed share of a 4,096-token step
        ("lookup-drills", int),
        ("drill-weight", float),
    ]:
        g.add_argument(f"--{name}", type=typ, default=None)
    g.add_argument("--min-lr-ratio", type=float, default=0.1)
    g.add_argument("--weight-decay", type=float, default=0.1)
    g.add_argument("--grad-clip", type=float, default=1.0)
    g.add_argument(
        "--eval-blocks", type=int, default=64, help="validation sequences per evaluation"
    )
    g.add_argument("--keep-last", type=int, default=2, help="checkpoints to keep (0 = all)")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    g.add_argument("--gradient-checkpointing", action="store_true")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--val-fraction", type=float, default=0.05)
    g.add_argument("--no-progress", action="store_true")
    return p


def corpus_source(args) -> Path:
    """The corpus file/dir: ``--data``, or the built-in corpus written to ``OUT/data/corpus.jsonl``."""
    from qwen_blog import corpus

    if args.data:
        return Path(args.data)
    src = Path(args.out) / "data" / "corpus.jsonl"
    if not src.is_file():
        corpus.write_pretrain_corpus(src)
    return src


def resolve_tokenizer(args, info):
    """Load ``--tokenizer``; for ``train:N`` rank 0 trains it on the corpus into ``OUT/tokenizer``
    (reused when it exists with N tokens, e.g. on ``--resume``)."""
    from qwen_blog import data
    from qwen_blog.distributed import barrier

    if not args.tokenizer.startswith("train:"):
        return load_tokenizer(args.tokenizer)
    try:
        vocab_size = int(args.tokenizer.split(":", 1)[1])
    except ValueError:
        raise ValueError(
            f"--tokenizer {args.tokenizer!r}: expected train:N, e.g. train:4096"
        ) from None
    tok_dir = Path(args.out) / "tokenizer"
    stale = (tok_dir / "tokenizer.json").is_file() and load_tokenizer(
        str(tok_dir)
    ).vocab_size != vocab_size
    if info.is_main and (stale or not (tok_dir / "tokenizer.json").is_file()):
        src = corpus_source(args)
        if (src / data.META).is_file():
            raise ValueError(
                f"--tokenizer train:N needs raw text, but --data {src} is already packed"
            )
        print(f"training a {vocab_size}-token BPE on {src} ...", file=sys.stderr)
        train_tokenizer(data.read_documents(src), vocab_size, tok_dir)
    barrier(info)
    return load_tokenizer(str(tok_dir))


def prepare_data(args, tokenizer, info) -> Path:
    """Return a packed data directory, packing on rank 0 (others wait) when needed."""
    from qwen_blog import data
    from qwen_blog.distributed import barrier

    src = Path(args.data) if args.data else None
    if src is not None and (src / data.META).is_file():
        meta = json.loads((src / data.META).read_text(encoding="utf-8"))
        if meta["vocab_size"] > tokenizer.vocab_size:
            raise ValueError(
                f"{src}: packed with vocab_size {meta['vocab_size']}, tokenizer has "
                f"{tokenizer.vocab_size}"
            )
        return src
    packed = Path(args.out) / "data"
    if info.is_main:
        packed.mkdir(parents=True, exist_ok=True)
        src = corpus_source(args)
        key = {
            "source": str(src.resolve()),
            "mtime": src.stat().st_mtime_ns if src.is_file() else None,
            "tokenizer": data.tokenizer_fingerprint(tokenizer),
            "val_fraction": args.val_fraction,
            "seed": args.seed,
        }
        meta_path = packed / data.META
        old = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        if old.get("key") != key:
            docs = data.read_documents(src)
            data.pack_corpus(
                tokenizer,
                docs,
                packed,
                val_fraction=args.val_fraction,
                seed=args.seed,
                source=str(src),
                show_progress=not args.no_progress,
            )
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            meta["key"] = key
            data._write_json(meta_path, meta)
    barrier(info)
    return packed


def run(args: argparse.Namespace) -> int:
    import torch

    from qwen_blog import data
    from qwen_blog.checkpointing import latest_checkpoint, model_weight_io
    from qwen_blog.distributed import cleanup, init_distributed, wrap_model
    from qwen_blog.trainer import TrainArgs, train
    from tinyqwen import Qwen2Config, Qwen2ForCausalLM

    model_fields, defaults = load_preset(args.config)
    for k, v in defaults.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    info = init_distributed(args.device)
    try:
        tokenizer = resolve_tokenizer(args, info)
        packed = prepare_data(args, tokenizer, info)
        train_tokens = data.PackedTokens(packed, "train")
        val_tokens = data.PackedTokens(packed, "val")

        eos = train_tokens.meta["eos_token_id"]
        # vocab rounded up to a multiple of 64 (faster matmuls); the extra rows are never used
        vocab = model_fields.pop("vocab_size", None) or -(-tokenizer.vocab_size // 64) * 64
        if vocab < tokenizer.vocab_size:
            raise ValueError(
                f"--config vocab_size {vocab} < tokenizer.vocab_size {tokenizer.vocab_size}"
            )
        config = Qwen2Config.from_dict(
            {
                **model_fields,
                "vocab_size": vocab,
                "max_position_embeddings": max(
                    args.seq_len, model_fields.get("max_position_embeddings", 0)
                ),
                "bos_token_id": eos,
                "eos_token_id": eos,
                "torch_dtype": "float32",
            }
        )
        torch.manual_seed(args.seed)
        # fp32 master weights (autocast handles bf16); tinyqwen initialises N(0, 0.02) like transformers
        model = Qwen2ForCausalLM(config).to(info.device)
        model.gradient_checkpointing = args.gradient_checkpointing
        ddp_model = wrap_model(model, info)

        global_batch = args.micro_batch_size * args.grad_accum * info.world_size
        sampler = data.BlockSampler(
            train_tokens.num_blocks(args.seq_len), global_batch, seed=args.seed
        )

        def step_batches(step: int) -> list[dict]:
            mine = data.shard(sampler.indices(step), info.rank, info.world_size)
            out = []
            for i in range(0, len(mine), args.micro_batch_size):
                x, y = train_tokens.batch(mine[i : i + args.micro_batch_size], args.seq_len)
                out.append({"input_ids": x.to(info.device), "targets": y.to(info.device)})
            if args.lookup_drills:  # one more micro-batch: drills are a pure function of the step
                from qwen_blog.lookup import drill_batch
                from qwen_blog.sft import collate

                # seed + 13: a stream apart from the lookup stage's (seed, seed + 1) and SFT's (+ 7)
                drills = drill_batch(tokenizer, args.seed + 13 + 7919 * info.rank, step,
                                     args.lookup_drills)  # fmt: skip
                out.append(collate(drills, eos, info.device) | {"weight": args.drill_weight or 1.0})
            return out

        def val_batches() -> list[dict]:
            n = min(args.eval_blocks, val_tokens.num_blocks(args.seq_len))
            if n == 0:
                print(
                    f"warning: validation split has < {args.seq_len + 1} tokens; no val loss",
                    file=sys.stderr,
                )
                return []
            mine = list(range(n))[info.rank :: info.world_size]  # uneven is fine: sums are reduced
            out = []
            for i in range(0, len(mine), args.micro_batch_size):
                x, y = val_tokens.batch(mine[i : i + args.micro_batch_size], args.seq_len)
                out.append({"input_ids": x.to(info.device), "targets": y.to(info.device)})
            return out

        save_weights, load_weights = model_weight_io(model, tokenizer)

        resume = None
        if args.resume == "latest":
            resume = latest_checkpoint(args.out)
            if resume is None:
                raise FileNotFoundError(f"--resume: no {Path(args.out) / 'latest'} to resume from")
        elif args.resume:
            resume = Path(args.resume)
        if info.is_main:
            n_params = sum(p.numel() for p in model.parameters())
            print(
                f"model: {n_params / 1e6:.2f}M params ({config.num_hidden_layers} layers, hidden "
                f"{config.hidden_size}, vocab {vocab}); data: {len(train_tokens):,} train / "
                f"{len(val_tokens):,} val tokens; global batch {global_batch} x {args.seq_len} tokens; "
                f"world size {info.world_size} on {info.device}",
                file=sys.stderr,
            )
        targs = TrainArgs.from_cli(
            args,
            extra={
                "command": "pretrain",
                "config": args.config,
                "model": config.to_dict(),
                "data": str(packed),
                "global_batch": global_batch,
                "seq_len": args.seq_len,
                "lookup_drills": args.lookup_drills or 0,
                "drill_weight": args.drill_weight or 1.0,
            },
        )
        records = train(
            ddp_model,
            step_batches,
            val_batches,
            save_weights,
            load_weights,
            targs,
            info,
            resume=resume,
            title=f"pretrain {args.config}",
        )
        if info.is_main and records:
            last = records[-1]
            vals = [r["val_loss"] for r in records if r["val_loss"] is not None]
            print(
                f"done: step {last['step']}, train loss {records[0]['loss']:.3f} -> {last['loss']:.3f}"
                + (f", val loss {vals[-1]:.3f}" if vals else "")
                + f", {last['elapsed_s']:.0f}s; checkpoint {latest_checkpoint(args.out)}",
                file=sys.stderr,
            )
    finally:
        cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
