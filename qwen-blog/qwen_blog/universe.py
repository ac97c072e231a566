"""``python -m qwen_blog universe``: pretrain + SFT a small Qwen2 that calls tools and answers from documents.

    python -m qwen_blog universe --out runs/universe                   # the full recipe (see PRESETS)
    python -m qwen_blog universe --out runs/u-smoke --preset smoke     # seconds: the pipeline, not a model
    python -m qwen_blog universe --out runs/universe --resume          # continue an interrupted run
    python -m qwen_blog universe-eval --model runs/universe/model      # held-out metrics

Stages, each resumable through :mod:`qwen_blog.trainer` (``OUT/<stage>/step-N`` checkpoints):

1. ``OUT/data/``: the instruction corpus (:mod:`qwen_blog.universe_corpus`; ``train.jsonl`` and the
   held-out ``test.jsonl``); a byte-level BPE trained on the training side only, with numbers cut into
   pieces of up to 3 digits and one token per Chinese character (:func:`token_pattern`); and the packed pretraining tokens: the toy world
   of :mod:`qwen_blog.corpus`, copy drills, each training conversation as a short drill (twice) and as
   the exact token ids chat inference sees (real special tokens in the markup).
2. ``OUT/pretrain/``: next-token pretraining from scratch on all of it (``qwen_blog pretrain``).
3. ``OUT/lookup/`` (when the preset has a ``lookup`` section): value-only lookup drills
   (:mod:`qwen_blog.lookup`) -- the grounded-QA skill pretraining leaves weakest.
4. ``OUT/sft/``: full fine-tuning with the loss on assistant replies only (``qwen_blog sft``; the
   observations inside a ReAct scratchpad are not trained either); the preset's ``sft.lookup_drills``
   mixes that many value-only lookup drills into every step (docs/14-universe.md, E14), and
   ``sft.micro_batch_tokens`` splits each step by length so less of it is padding (E16).
5. ``OUT/model/``: the final checkpoint in Hugging Face layout with fp16 weights -- ``config.json``,
   ``model.safetensors``, ``tokenizer.json``, ``tokenizer_config.json`` with the Qwen2.5 chat template,
   ``generation_config.json`` -- loadable by tinyqwen and ``transformers.AutoModelForCausalLM``; plus
   ``heldout.jsonl`` (the test split), ``metrics.json`` (its evaluation through tinyagent's real loop,
   when tinyagent is installed) and ``recipe.json`` (preset, seed, data sha256, minutes per stage).
   This folder is what ships as ``tiny-universe`` in ``tinyqwen/assets/``.

Limits: the preset is the recipe; change it by editing ``PRESETS`` (or a JSON file given to
``--preset``) -- the stages take no other flags. Measured: re-running SFT + export + evaluation from
the same pretraining checkpoint on the same machine (2 threads) gave bit-identical weights and metrics;
the pretraining stage was not re-run end to end, and another CPU or torch build will give slightly
different weights.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import shutil
import sys
import time
from pathlib import Path

ASSETS = Path(__file__).with_name("assets")
CHAT_TEMPLATE = ASSETS / "qwen2.5_chat_template.jinja"

# A preset = model shape + data sizes + the two stages' training settings.
PRESETS: dict[str, dict] = {
    "smoke": {  # the pipeline end to end in seconds (tests); the model learns nothing useful
        "model": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                  "num_attention_heads": 2, "num_key_value_heads": 1, "tie_word_embeddings": True,
                  "max_position_embeddings": 1024},
        "data": {"n_train": 40, "n_test": 14, "n_pretrain_docs": 200, "n_copy_docs": 50, "n_lookup_docs": 20,
                 "n_lookup_conversations": 10,
                 "vocab_size": 1024, "digits_per_token": 3, "han_per_token": True},
        "pretrain": {"seq_len": 64, "micro_batch_size": 4, "grad_accum": 1, "lr": 3e-3,
                     "warmup_steps": 1, "max_steps": 3, "eval_every": 3, "save_every": 3,
                     "lookup_drills": 1, "drill_weight": 5.0},
        "lookup": {"micro_batch_size": 2, "lr": 1e-3, "warmup_steps": 1, "max_steps": 2,
                   "eval_every": 2, "save_every": 2},
        "sft": {"max_len": 800, "micro_batch_size": 2, "lr": 1e-3, "warmup_steps": 1,
                "max_steps": 3, "eval_every": 3, "save_every": 3, "lookup_drills": 1,
                "answer_drills": 1, "micro_batch_tokens": 1024},
    },
    "full": {  # 54 min on a 2-core CPU (v5); docs/14-universe.md has the measurements behind each number
        "model": {"hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": True,
                  "max_position_embeddings": 1024, "rope_theta": 10000.0},
        "data": {"n_train": 12000, "n_test": 300, "n_pretrain_docs": 2000, "n_copy_docs": 12000,
                 "n_lookup_docs": 8000, "n_lookup_conversations": 12000,
                 "vocab_size": 6144, "digits_per_token": 3,
                 "han_per_token": True},
        "pretrain": {"seq_len": 512, "micro_batch_size": 8, "grad_accum": 1, "lr": 2e-3,
                     "warmup_steps": 50, "max_steps": 2600, "eval_every": 200, "save_every": 100},
        "sft": {"max_len": 640, "micro_batch_size": 16, "lr": 5e-4, "warmup_steps": 20,
                "max_steps": 450, "eval_every": 150, "save_every": 50, "val_fraction": 0.02,
                "lookup_drills": 8, "micro_batch_tokens": 2048},
    },
}  # fmt: skip


def load_preset(spec: str) -> dict:
    """A preset by name, or a JSON file with the same four sections (and optionally ``lookup``)."""
    if spec in PRESETS:
        return json.loads(json.dumps(PRESETS[spec]))  # a deep copy
    p = Path(spec)
    if not p.is_file():
        raise FileNotFoundError(
            f"--preset {spec!r}: not a preset ({', '.join(PRESETS)}) nor a file"
        )
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e})") from None
    missing = {"model", "data", "pretrain", "sft"} - set(d if isinstance(d, dict) else {})
    if missing:
        raise ValueError(f"{p}: missing section(s) {sorted(missing)}")
    if d.get("lookup"):
        from qwen_blog.lookup import REQUIRED_SETTINGS

        given = d["lookup"] if isinstance(d["lookup"], dict) else {}
        lacking = set(REQUIRED_SETTINGS) - set(given)
        if lacking:
            raise ValueError(f"{p}: section 'lookup' lacks {sorted(lacking)}")
    return d


def number_pattern(digits_per_token: int) -> str:
    """Qwen2's pre-tokenizer regex with numbers cut into pieces of up to ``digits_per_token`` digits.

    Qwen2 splits every digit (``347`` -> ``3 4 7``), so copying a number is a chain of induction
    steps, and a small model drops or repeats digits (``34`` -> ``334``: E5 in docs/14-universe.md). With
    3 (cl100k's and Llama 3's rule) ``347`` is one token and copying it is one attention lookup.
    """
    from tinyqwen.tokenizer.bpe import QWEN2_PATTERN

    if not 1 <= digits_per_token <= 3:
        raise ValueError(f"data.digits_per_token must be 1, 2 or 3, got {digits_per_token}")
    if digits_per_token == 1:
        return QWEN2_PATTERN
    return QWEN2_PATTERN.replace(r"|\p{N}|", rf"|\p{{N}}{{1,{digits_per_token}}}|", 1)


def token_pattern(digits_per_token: int, han_per_token: bool = False) -> str:
    """:func:`number_pattern`, and with ``han_per_token`` every Chinese character its own pre-token.

    Byte-level BPE merges inside a run of Chinese characters (``青石镇的人口是`` can become one
    token), so a name the tokenizer never saw -- a held-out town -- comes out as pieces unlike any
    training name's, and copying it from a source is a skill the model never practised. One token
    per character (as BERT's Chinese models do) makes every name the same kind of sequence; it costs
    longer Chinese text (about one token per character).
    """
    pattern = number_pattern(digits_per_token)
    if not han_per_token:
        return pattern
    # letters other than Han stay in runs (Qwen2's rule); each Han character is a piece of its own
    return pattern.replace(
        r"[^\r\n\p{L}\p{N}]?\p{L}+", r"[^\r\n\p{L}\p{N}]?[^\P{L}\p{Han}]+|\p{Han}", 1
    )


def write_data(out: Path, preset: dict, seed: int, show_progress: bool = True) -> dict[str, Path]:
    """The instruction corpus, a tokenizer trained on the training side, and the packed pretraining
    tokens under ``out/data`` (kept if already complete); ``paths["sft"]`` is :func:`write_sft_data`'s."""
    from qwen_blog import corpus, data, universe_corpus
    from qwen_blog.pretrain import train_tokenizer
    from qwen_blog.sft import build_example, conversation_pieces, read_conversations

    d = out / "data"
    paths = {"train": d / "train.jsonl", "test": d / "test.jsonl", "tokenizer": d / "tokenizer",
             "packed": d / "packed", "sft": d / "sft.jsonl"}  # fmt: skip
    if (paths["packed"] / data.META).is_file() and paths["test"].is_file():
        return paths
    cfg = preset["data"]
    universe_corpus.write_universe_corpus(d, cfg["n_train"], cfg["n_test"], seed)
    convs = read_conversations(paths["train"])
    docs = corpus.pretrain_documents(cfg["n_pretrain_docs"], seed)
    docs += universe_corpus.copy_documents(cfg["n_copy_docs"], seed)
    docs += universe_corpus.drill_documents(convs) * 2  # twice: copying is the bottleneck (E5)
    # sources + several questions each: the lookup grounded QA needs, dense (E8)
    docs += universe_corpus.lookup_documents(cfg.get("n_lookup_docs", 0), seed)
    # the tokenizer learns from the training side only (never test.jsonl); rendered conversations
    # are in its corpus so the fixed prompt text gets long tokens, special tokens are cut out first
    rendered = ["".join(t for t, _, _ in conversation_pieces(c["messages"], c.get("tools")))
                for c in convs]  # fmt: skip
    pattern = token_pattern(cfg.get("digits_per_token", 1), cfg.get("han_per_token", False))
    tok = train_tokenizer(docs + rendered, cfg["vocab_size"], paths["tokenizer"], pattern)
    # conversations enter pretraining as token ids with real special tokens (the chat markup), so
    # pretraining already models the exact sequences SFT and inference use, on every token
    conv_ids = [build_example(tok, c["messages"], c.get("tools"), None, c.get("untrained"))[0]
                for c in convs]  # fmt: skip
    data.pack_corpus(tok, docs + conv_ids, paths["packed"], seed=seed,
                     source=f"{d} (toy world + copy drills + train conversations)",
                     show_progress=show_progress)  # fmt: skip
    return paths


def write_sft_data(paths: dict[str, Path], preset: dict, seed: int) -> Path:
    """``sft.jsonl``: the training conversations plus ``data.n_lookup_conversations`` multi-turn
    grounded-QA ones (:func:`~qwen_blog.universe_corpus.lookup_conversations`), shuffled. These are
    SFT-only: they enter neither the tokenizer's corpus nor pretraining (E8 in docs/14-universe.md)."""
    from qwen_blog import universe_corpus
    from tinyqwen.atomic import atomic_write_text

    if paths["sft"].is_file():
        return paths["sft"]
    lines = paths["train"].read_text(encoding="utf-8").splitlines(keepends=True)
    n = preset["data"].get("n_lookup_conversations", 0)
    lines += [json.dumps(c, ensure_ascii=False) + "\n"
              for c in universe_corpus.lookup_conversations(n, seed)]  # fmt: skip
    random.Random(f"sft:{seed}").shuffle(lines)
    atomic_write_text(paths["sft"], "".join(lines))
    return paths["sft"]


def _stage_args(build_parser, argv: list[str], settings: dict) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    for k, v in settings.items():
        setattr(args, k, v)
    return args


def _finished(stage_dir: Path, max_steps: int) -> bool:
    from qwen_blog.checkpointing import latest_checkpoint

    last = latest_checkpoint(stage_dir)
    return last is not None and last.name == f"step-{max_steps:06d}"


def export_model(src: Path, dst: Path) -> Path:
    """Write checkpoint ``src`` to ``dst`` (HF layout) with fp16 weights (what ships: half the bytes;
    the held-out metrics are measured on this file), the chat template and a generation config."""
    import torch
    from safetensors.torch import load_file, save_file

    from tinyqwen.atomic import atomic_write_text

    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy2(src / name, tmp / name)
    weights = {k: v.to(torch.float16) if v.is_floating_point() else v
               for k, v in load_file(src / "model.safetensors").items()}  # fmt: skip
    save_file(weights, tmp / "model.safetensors", metadata={"format": "pt"})
    cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    cfg["torch_dtype"] = "float16"
    atomic_write_text(tmp / "config.json", json.dumps(cfg, indent=2) + "\n")
    tok_cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok_cfg["chat_template"] = CHAT_TEMPLATE.read_text(encoding="utf-8")
    atomic_write_text(
        tmp / "tokenizer_config.json", json.dumps(tok_cfg, indent=2, ensure_ascii=False)
    )
    from tinyqwen import Tokenizer

    im_end = Tokenizer.from_pretrained(src).special_tokens["<|im_end|>"]
    # as Qwen2.5-Instruct: a chat reply ends at <|im_end|>, a document at <|endoftext|>
    gen = {"bos_token_id": cfg.get("bos_token_id"), "eos_token_id": [im_end, cfg.get("eos_token_id")],
           "do_sample": False, "max_new_tokens": 256}  # fmt: skip
    atomic_write_text(tmp / "generation_config.json", json.dumps(gen, indent=2) + "\n")
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="qwen_blog universe", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--preset", default="full", help=f"{' | '.join(PRESETS)} | path/to/preset.json")
    p.add_argument(
        "--resume", action="store_true", help="continue the stages from their latest checkpoints"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that has checkpoints"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["auto", "fp32", "bf16"],
        help="of pretraining and SFT (default fp32: the shipped recipe; bf16 on an AMX CPU is 1.6x "
        "faster but scored worse, docs/14-universe.md E18); auto: measured (training_precision)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    return p


def evaluate_export(model_dir: Path, show_progress: bool = True) -> dict | None:
    """Held-out metrics of the exported (fp16) files, loaded in fp32, into ``model_dir/metrics.json``;
    skipped with a note when tinyagent (whose agent loop is measured) is not installed."""
    import importlib.util

    import torch

    from qwen_blog import universe_eval
    from qwen_blog.data import iter_jsonl
    from tinyqwen import LLM
    from tinyqwen.atomic import atomic_write_text

    if importlib.util.find_spec("tinyagent") is None:
        print("note: tinyagent is not installed; skipping the held-out evaluation "
              "(pip install -e tinyagent, then run universe-eval)", file=sys.stderr)  # fmt: skip
        return None
    llm = LLM.from_pretrained(model_dir, dtype=torch.float32, device="cpu")
    convs = [c for _, c in iter_jsonl(model_dir / "heldout.jsonl")]
    result = universe_eval.evaluate(llm, convs, show_progress=show_progress)
    atomic_write_text(
        model_dir / "metrics.json", json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    )
    for k, v in result["metrics"].items():
        print(f"{k:28s} {'n/a' if v is None else f'{100 * v:.1f} %'}", file=sys.stderr)
    return result


@contextlib.contextmanager
def _timed(out: Path, stage: str):
    """Add this stage's wall time to ``out/timings.json`` (summed over resumed runs)."""
    from tinyqwen.atomic import atomic_write_text

    t0 = time.perf_counter()
    yield
    p = out / "timings.json"
    t = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    t[stage] = round(t.get(stage, 0.0) + time.perf_counter() - t0, 1)
    atomic_write_text(p, json.dumps(t, indent=1) + "\n")


def training_precision(out: Path, preset: dict, requested: str, device: str) -> str:
    """``fp32`` or ``bf16`` for the training stages, kept in ``out/precision.json`` (so a resumed run
    trains as it started). ``auto`` on a GPU is the trainer's rule (bf16 where supported); on a CPU it
    is measured: a few forward + backward passes of the preset's model on one pretraining batch in
    each format, bf16 autocast chosen when it is at least 1.25x faster. CPUs with AMX (Xeon 4th gen
    and later) run bf16 matmuls in hardware -- 0.77 vs 1.21 s per pretraining step on the 2-core
    Sapphire Rapids VM of docs/14-universe.md; AVX2-only CPUs emulate bf16 and are slower in it."""
    import torch

    from tinyqwen import Qwen2Config, Qwen2ForCausalLM
    from tinyqwen.atomic import atomic_write_text

    p = out / "precision.json"
    if requested != "auto":
        atomic_write_text(p, json.dumps({"precision": requested, "requested": requested}) + "\n")
        return requested
    if p.is_file():
        return json.loads(p.read_text(encoding="utf-8"))["precision"]
    on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if on_gpu:
        record = {"precision": "auto", "rule": "the trainer's: bf16 on a bf16-capable GPU"}
    else:
        torch.manual_seed(0)
        config = Qwen2Config.from_dict({**preset["model"], "vocab_size": 4096})
        model = Qwen2ForCausalLM(config).train()
        seq, batch = preset["pretrain"]["seq_len"], preset["pretrain"]["micro_batch_size"]
        x = torch.randint(0, 4096, (batch, seq))

        def seconds(bf16: bool) -> float:
            times = []
            for _ in range(4):  # the first is warm-up (kernel selection, allocations)
                t0 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = model(x)
                torch.nn.functional.cross_entropy(
                    logits.float().flatten(0, 1), x.flatten()
                ).backward()
                times.append(time.perf_counter() - t0)
            return sorted(times[1:])[1]

        fp32, bf16 = seconds(False), seconds(True)
        choice = "bf16" if fp32 >= 1.25 * bf16 else "fp32"
        record = {"precision": choice, "fp32_s": round(fp32, 3), "bf16_s": round(bf16, 3),
                  "rule": "bf16 when a forward + backward pass is >= 1.25x faster in it"}  # fmt: skip
        print(f"precision: {choice} (one {batch} x {seq} forward + backward: fp32 {fp32:.2f} s, "
              f"bf16 autocast {bf16:.2f} s)", file=sys.stderr)  # fmt: skip
    atomic_write_text(p, json.dumps({**record, "requested": "auto"}) + "\n")
    return record["precision"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_recipe(out: Path, model_dir: Path, preset: dict, args: argparse.Namespace) -> dict:
    """``model_dir/recipe.json``: how this checkpoint was made -- the preset, the seed, the data's
    sha256 and the wall time of each stage -- so a rerun can be compared with it."""
    import platform

    import torch

    from tinyqwen.atomic import atomic_write_text

    timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):  # Linux names the CPU model here; platform does not
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        cpu = next((x.split(":", 1)[1].strip() for x in info.splitlines()
                    if x.startswith("model name")), cpu)  # fmt: skip
    recipe = {
        "command": f"python -m qwen_blog universe --out OUT --preset {args.preset} --seed {args.seed}"
        + (f" --precision {args.precision}" if args.precision != "fp32" else ""),
        "preset": preset,
        "seed": args.seed,
        "data_sha256": {n: _sha256(out / "data" / n) for n in ("train.jsonl", "test.jsonl", "sft.jsonl")},
        "stage_seconds": timings,
        "total_minutes": round(sum(timings.values()) / 60, 1),
        "machine": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                    "cpu": cpu, "device": args.device},
        "precision": json.loads((out / "precision.json").read_text(encoding="utf-8")),
    }  # fmt: skip
    atomic_write_text(model_dir / "recipe.json", json.dumps(recipe, indent=1) + "\n")
    return recipe


TARGETS = {"format_valid": 0.98, "agent_success": 0.90, "qa_exact": 0.80, "refusal_acc": 0.80}


def write_model_card(model_dir: Path) -> Path:
    """``model_dir/README.md`` from ``recipe.json`` and ``metrics.json``: what the model is, how it
    was made, its held-out metrics against issue 20's targets, and a few of its failures verbatim."""
    from tinyqwen.atomic import atomic_write_text

    recipe = json.loads((model_dir / "recipe.json").read_text(encoding="utf-8"))
    mp = model_dir / "metrics.json"
    result = json.loads(mp.read_text(encoding="utf-8")) if mp.is_file() else None
    cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    m = recipe["preset"]["model"]
    lines = [
        "# tiny-universe",
        "",
        "由 `python -m qwen_blog universe` 在 CPU 上从零训练的小 Qwen2（讲解：qwen-blog/docs/14-universe.md）。"
        "它只懂一个玩具世界：整数四则运算与五种单位换算（调用计算器）、时钟、一到四句话的虚构小镇资料"
        "（按 `[n]` 引用回答或拒答）、几句寒暄。A small Qwen2 trained from scratch on a CPU by "
        "`python -m qwen_blog universe`; it knows a toy world only.",
        "",
        f"- shape: {m['num_hidden_layers']} layers, hidden {m['hidden_size']}, "
        f"{m['num_attention_heads']}/{m['num_key_value_heads']} heads, vocab {cfg['vocab_size']}, "
        f"fp16 weights",
        f"- made by: `{recipe['command']}` in {recipe['total_minutes']} min "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in recipe['stage_seconds'].items())}; "
        f"torch {recipe['machine']['torch']}, {recipe['machine']['threads']} threads, "
        f"{recipe['machine']['cpu']})",
        f"- data sha256: train {recipe['data_sha256']['train.jsonl'][:12]}…, "
        f"test {recipe['data_sha256']['test.jsonl'][:12]}…",
        "- transformers: `AutoModelForCausalLM` loads it as is; for the tokenizer use "
        "`PreTrainedTokenizerFast(tokenizer_file=.../tokenizer.json)` -- transformers 5's "
        "`AutoTokenizer` builds `Qwen2Tokenizer` for model_type qwen2, which hard-codes Qwen2's "
        "one-digit regex, while this tokenizer cuts numbers into up to 3 digits and Chinese into "
        "single characters",
        "",
    ]
    if result:
        n = sum(result["counts"].values())
        lines += [f"## Held-out metrics ({n} conversations: unseen templates and entities; greedy, fp32)",
                  "", "| metric | value | issue 20 target |", "|---|---:|---:|"]  # fmt: skip
        for k, v in result["metrics"].items():
            target = f"≥ {TARGETS[k]:.0%}" if k in TARGETS else ""
            lines.append(f"| `{k}` | {'n/a' if v is None else f'{100 * v:.1f} %'} | {target} |")
        fails = [it for it in result["items"]
                 if it.get("success") is False or it.get("exact") is False][:8]  # fmt: skip
        lines += ["", "## Failures, verbatim (first 8)", ""]
        lines += [f"- `{it['task']}` {it['question']!r} → {it['answer']!r}" for it in fails]
    atomic_write_text(model_dir / "README.md", "\n".join(lines) + "\n")
    return model_dir / "README.md"


def run(args: argparse.Namespace) -> int:
    from qwen_blog import lookup, pretrain, sft
    from qwen_blog.checkpointing import latest_checkpoint
    from tinyqwen.atomic import atomic_write_text

    preset = load_preset(args.preset)
    out = Path(args.out)
    if args.overwrite:
        for stage in ("pretrain", "lookup", "sft", "model", "data"):
            shutil.rmtree(out / stage, ignore_errors=True)
        (out / "timings.json").unlink(missing_ok=True)
        (out / "precision.json").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    with _timed(out, "data"):
        paths = write_data(out, preset, args.seed, show_progress=not args.no_progress)
        write_sft_data(paths, preset, args.seed)
    with _timed(out, "precision"):
        precision = training_precision(out, preset, args.precision, args.device)
    common = ["--device", args.device, "--precision", precision, "--seed", str(args.seed)] + (
        ["--no-progress"] if args.no_progress else []
    )

    # stage 2: pretrain; the model shape travels as a pretrain JSON config
    config = out / "data" / "model_config.json"
    atomic_write_text(config, json.dumps({"model": preset["model"], "train": preset["pretrain"]}))
    pre_dir = out / "pretrain"
    trained = False
    if not _finished(pre_dir, preset["pretrain"]["max_steps"]):
        trained = True
        resume = ["--resume"] if latest_checkpoint(pre_dir) is not None and args.resume else []
        argv = ["--config", str(config), "--data", str(paths["packed"]), "--out", str(pre_dir),
                "--tokenizer", str(paths["tokenizer"]), *resume, *common]  # fmt: skip
        with _timed(out, "pretrain"):
            pretrain.run(pretrain.build_parser().parse_args(argv))
    # stage 3: lookup drills, loss on the values only (skipped when the preset has no "lookup")
    base_dir = pre_dir
    if preset.get("lookup"):
        base_dir = out / "lookup"
        if not _finished(base_dir, preset["lookup"]["max_steps"]):
            trained = True
            resume_lookup = latest_checkpoint(base_dir) is not None and args.resume
            with _timed(out, "lookup"):
                lookup.run_stage(latest_checkpoint(pre_dir), base_dir, preset["lookup"], args.seed,
                                 args.device, not args.no_progress, resume_lookup)  # fmt: skip
    # stage 4: SFT on the training split, assistant-only loss
    sft_dir = out / "sft"
    if not _finished(sft_dir, preset["sft"]["max_steps"]):
        trained = True
        resume = ["--resume"] if latest_checkpoint(sft_dir) is not None and args.resume else []
        argv = ["--base", str(base_dir), "--data", str(paths["sft"]), "--out", str(sft_dir),
                *resume, *common]  # fmt: skip
        with _timed(out, "sft"):
            sft.run(_stage_args(sft.build_parser, argv, preset["sft"]))
    model_dir = out / "model"
    if not trained and (model_dir / "recipe.json").is_file():
        print(f"every stage is finished; model: {model_dir}", file=sys.stderr)
        return 0
    model_dir = export_model(latest_checkpoint(sft_dir), model_dir)
    shutil.copy2(paths["test"], model_dir / "heldout.jsonl")
    with _timed(out, "eval"):
        evaluate_export(model_dir, show_progress=not args.no_progress)
    recipe = write_recipe(out, model_dir, preset, args)
    write_model_card(model_dir)
    print(f"total {recipe['total_minutes']} min ({recipe['stage_seconds']})", file=sys.stderr)
    print(f"model: {model_dir} (held-out split: {paths['test']}); evaluate with "
          f"python -m qwen_blog universe-eval --model {model_dir}", file=sys.stderr)  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
