"""Command line: ``python -m tinyeval {run,score,report,judge,export,tasks,metrics,demo}``.

    python -m tinyeval run --model tiny-random --task demo_qa_zh --task demo_mc --out runs/tiny-random
    python -m tinyeval run --model BASE_DIR --adapter LORA_DIR --task ceval --out runs/sft
    python -m tinyeval score ~/.cache/tiny-universe/data/tinyeval/pred/internlm   # after: data fetch tinyeval (--e: LongBench-E)
    python -m tinyeval report runs/tiny-random ~/.cache/tiny-universe/data/tinyeval/pred/internlm --out runs/report
    python -m tinyeval judge runs/a [runs/b] --task demo_qa_zh --judge http://127.0.0.1:8000/v1
    python -m tinyeval export ceval-submission runs/m --out submission.json
    python -m tinyeval demo                        # offline: tiny-universe on its held-out split + demo tasks
    python -m tinyeval run --model tiny-universe --task universe --out runs/tiny-universe

``--model`` is anything ``tinyqwen.connect`` accepts: a checkpoint directory, a LoRA adapter
directory, ``tiny-random``, ``tiny-universe``, or ``http://host:port/v1[#model]``. ``score`` never writes into the
prediction folder unless given ``--write`` (the seed's folders are reference data). Every task
config, metric and data file is checked before a model is loaded; any error is one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tinyeval.lock import run_lock
from tinyeval.report import RANDOM_LABEL, write_report
from tinyeval.runner import run_task, update_json
from tinyeval.score import score_file
from tinyeval.task import Task, list_tasks, load_examples, load_task
from tinyqwen.atomic import atomic_write_text
from tinyqwen.connection import add_quantize_argument

# the demo: tiny-universe's held-out split (the model's own skills), then the built-in zh/en QA,
# multiple choice and perplexity tasks (outside its toy world: they show the other task types)
DEMO_TASKS = ["universe", "demo_qa_zh", "demo_qa_en", "demo_mc", "demo_ppl"]
UNIVERSE_NOTE = (
    "tiny-universe is a ~4M-parameter toy model: it knows only its generated world (the "
    "calculator, the clock, short town documents), so expect low scores outside task 'universe'"
)


def _connect(spec: str, adapter: str | None = None, quantize: str | None = None):
    import tinyqwen

    model = tinyqwen.connect(spec, adapter=adapter, quantize=quantize)
    if model.name == "tiny-random":
        print(f"note: {RANDOM_LABEL}", file=sys.stderr)
    elif model.name == "tiny-universe":
        print(f"note: {UNIVERSE_NOTE}", file=sys.stderr)
    return model


def _safe(name: str) -> str:
    return (
        "".join(c if c.isalnum() or c in "-_." else "_" for c in name.rstrip("/").split("/")[-1])
        or "model"
    )


def _run_all(model, tasks: list[Task], out: Path, args: argparse.Namespace) -> None:
    judge_model = _connect(args.judge) if args.judge else None
    for task in tasks:
        summary = run_task(
            model,
            task,
            out,
            data_dir=args.data_dir,
            limit=args.limit,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            max_length=args.max_length,
            progress=not args.quiet,
        )
        if judge_model is not None and task.judge:
            from tinyeval.judge import run_judge

            summary["judge"] = run_judge(
                task, judge_model, [out], out / "judge", args.data_dir, args.batch_size
            )
        print(json.dumps(summary, ensure_ascii=False))


def cmd_run(args: argparse.Namespace) -> int:
    # every config, metric and data file is checked before a model is loaded
    tasks = [load_task(name) for name in args.task]
    for task in tasks:
        load_examples(task, args.data_dir, args.limit)
        if args.judge and task.judge:
            from tinyeval.judge import judge_config

            judge_config(task, "pointwise")
    if args.out:  # refuse a busy --out before spending minutes loading a model
        out = Path(args.out)
        with run_lock(out):
            _run_all(_connect(args.model, args.adapter, args.quantize), tasks, out, args)
    else:
        model = _connect(args.model, args.adapter, args.quantize)
        out = Path("runs") / _safe(model.name)
        _run_all(model, tasks, out, args)
    print(f"predictions and result.json in {out}", file=sys.stderr)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    pred_dir = Path(args.pred_dir)
    files = sorted(pred_dir.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.jsonl prediction files in {pred_dir}")
    custom = {t.name: t for t in (load_task(p) for p in args.task or [])}
    known = set(list_tasks())
    result: dict[str, Any] = {}
    for path in files:
        if path.stem in custom:
            task = custom[path.stem]
        elif path.stem in known:
            task = load_task(path.stem)
        elif args.metric:
            task = Task(
                name="scored", type="generate", data={"path": str(path)}, metric=args.metric
            )
        else:
            print(
                f"skip {path.name}: no task config named {path.stem!r} (pass --task or --metric)",
                file=sys.stderr,
            )
            continue
        res = score_file(task, path, metric=args.metric, length_buckets=args.longbench_e)
        buckets = args.longbench_e or task.length_buckets
        result[path.stem] = res["metrics"] if buckets and "metrics" in res else res["score"]
        extra = f"  {res['metrics']}" if "metrics" in res else ""
        print(f"{path.stem}: {res['score']} (n={res['n']}){extra}")
    if args.write:
        atomic_write_text(
            pred_dir / "result.json", json.dumps(result, ensure_ascii=False, indent=4) + "\n"
        )
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    rep = write_report(args.pred_dirs, args.out, n_boot=args.n_boot, seed=args.seed)
    print(rep["markdown"])
    print(f"wrote {Path(args.out) / 'report.md'} and report.png", file=sys.stderr)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    for name in list_tasks():
        t = load_task(name)
        print(f"{name:22s} {t.type:16s} {t.metric or '':14s} {t.description}")
    return 0


DEMO_MODELS = "demo_models.json"  # task -> the model (name + weights digest) that predicted it


def _model_id(spec: str, model) -> str:
    """``model.name``, plus a sha256 of its safetensors files when ``spec`` is a local checkpoint (a
    folder, or the shipped ``tiny-universe``): after the weights change -- a new tiny-universe in a
    ``git pull``, a retrained folder -- the name stays the same but the predictions are stale."""
    import hashlib

    from tinyqwen.tiny_universe import ASSET_DIR, NAME

    folder = ASSET_DIR if spec == NAME else Path(spec)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not files:
        return model.name
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return f"{model.name}@{digest.hexdigest()[:16]}"


def _drop_other_models(out: Path, tasks: list[Task], model_id: str) -> None:
    """The demo resumes like ``run`` does, but a task predicted by another model -- an earlier demo on
    tiny-random, or on an older tiny-universe (``_model_id``), or one not recorded in
    ``DEMO_MODELS`` -- starts over: its prediction file would otherwise be scored as this model's."""
    path = out / DEMO_MODELS
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        recorded = {}
    for task in tasks:
        before = recorded.get(task.name) if isinstance(recorded, dict) else None
        pred = out / f"{task.name}.jsonl"
        if before != model_id and pred.exists():
            who = before or "an unrecorded model"
            print(f"note: {pred} was predicted by {who}; starting it over", file=sys.stderr)
            pred.unlink()


def _universe_examples(path: Path) -> str:
    """One prediction per subtask of a ``universe`` run: question -> reply, marked right/wrong."""
    from tinyeval.metrics.universe import first_tool_call, universe_checks
    from tinyeval.score import read_predictions

    lines, seen = [f"examples from {path} (✓ scored right, ✗ wrong):"], set()
    for rec in read_predictions(path):
        if rec.get("subtask") in seen:
            continue
        seen.add(rec.get("subtask"))
        call = first_tool_call(rec["pred"], rec) if rec.get("protocol") else None
        reply = f"{call[0]}({json.dumps(call[1], ensure_ascii=False)})" if call else rec["pred"]
        mark = "✓" if universe_checks(rec["pred"], rec)["correct"] else "✗"
        question = " ".join(str(rec.get("question", "")).split())
        shown = " ".join(reply.split())[:90] or "(blank)"
        lines.append(f"  {mark} {rec['subtask']:<12} {question[:60]} -> {shown}")
    return "\n".join(lines) + "\n"


def cmd_demo(args: argparse.Namespace) -> int:
    tasks = [load_task(name) for name in args.task or DEMO_TASKS]
    for task in tasks:  # a missing heldout.jsonl or bad config fails before the model loads
        load_examples(task, None, args.limit)
    model = _connect(args.model, quantize=args.quantize)
    out = Path(args.out)
    model_id = _model_id(args.model, model) + (f"+{args.quantize}" if args.quantize else "")
    _drop_other_models(out, tasks, model_id)
    for task in tasks:
        summary = run_task(
            model, task, out, limit=args.limit, batch_size=args.batch_size, progress=not args.quiet
        )
        update_json(out / DEMO_MODELS, task.name, model_id)
        print(json.dumps(summary, ensure_ascii=False))
    if any(t.name == "universe" for t in tasks):
        print(_universe_examples(out / "universe.jsonl"))
    rep = write_report([out], out / "report", n_boot=1000, seed=0)
    print(rep["markdown"])
    print(f"demo done: predictions in {out}, report in {out / 'report'}", file=sys.stderr)
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    from tinyeval.judge import judge_config, run_judge

    task = load_task(args.task)
    judge_config(task, "pairwise" if len(args.pred_dirs) == 2 else "pointwise")  # before loading
    out = args.out or (
        Path(args.pred_dirs[0]) / "judge" if len(args.pred_dirs) == 1 else Path("runs/pairwise")
    )
    summary = run_judge(
        task, _connect(args.judge), args.pred_dirs, out, args.data_dir, args.batch_size
    )
    print(json.dumps(summary, ensure_ascii=False))
    print(
        f"verdicts in {Path(out) / (task.name + '.jsonl')}, summary in judge.json", file=sys.stderr
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tinyeval.export import export_ceval_submission

    info = export_ceval_submission(args.run_dir, args.out, args.data_dir)
    if not info["checked"]:
        print("warning: C-Eval test data not found: completeness not checked", file=sys.stderr)
    if info["blank"]:
        print(f'warning: {info["blank"]} questions have no letter (written as "")', file=sys.stderr)
    print(f"wrote {args.out}: {info['subjects']} subjects, {info['questions']} questions")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from tinyeval.metrics.resolve import builtin_names

    print("\n".join(builtin_names()))
    print("or 'file.py:function' / 'package.module.function' (see docs/metrics_zh.md)")
    return 0


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyeval", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="predict (resumable) and score tasks")
    r.add_argument(
        "--model",
        default="tiny-random",
        help="checkpoint dir | tiny-random | http(s)://host:port/v1[#name]",
    )
    add_quantize_argument(r)
    r.add_argument(
        "--adapter",
        default=None,
        help="PEFT LoRA adapter dir merged into --model (an adapter dir as --model works too)",
    )
    r.add_argument(
        "--task", action="append", required=True, help="task name or JSON path (repeatable)"
    )
    r.add_argument("--out", default=None, help="output folder (default runs/MODEL)")
    r.add_argument(
        "--data-dir",
        default=None,
        help="data root (default $TINYU_DATA_DIR or ~/.cache/tiny-universe/data)",
    )
    r.add_argument("--limit", type=_int_at_least(0), default=None, help="first N examples only")
    r.add_argument("--batch-size", type=_int_at_least(1), default=8)
    r.add_argument(
        "--max-new-tokens",
        type=_int_at_least(1),
        default=None,
        help="override the task's max_new_tokens",
    )
    r.add_argument(
        "--max-length",
        type=_int_at_least(1),
        default=None,
        help="prompt token budget (default: context - new - reserve)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument(
        "--judge",
        default=None,
        help="judge model spec: also grade tasks that have a pointwise 'judge' config",
    )
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("score", help="score an existing pred folder (seed/LongBench format)")
    s.add_argument("pred_dir")
    s.add_argument(
        "--metric", default=None, help="metric for every file (default: the task config's)"
    )
    s.add_argument("--write", action="store_true", help="write PRED_DIR/result.json (atomic)")
    s.add_argument(
        "--task",
        action="append",
        help="task config JSON for files of that name (repeatable; default: built-in configs)",
    )
    s.add_argument(
        "--longbench-e",
        "--e",
        action="store_true",
        help="LongBench-E folder: scores per input length 0-4k / 4-8k / 8k+ (LongBench eval.py --e)",
    )
    s.set_defaults(fn=cmd_score)

    rp = sub.add_parser("report", help="markdown table + PNG chart comparing pred folders")
    rp.add_argument("pred_dirs", nargs="+")
    rp.add_argument("--out", default="runs/report")
    rp.add_argument("--n-boot", type=int, default=1000)
    rp.add_argument("--seed", type=int, default=0)
    rp.set_defaults(fn=cmd_report)

    t = sub.add_parser("tasks", help="list task configs")
    t.set_defaults(fn=cmd_tasks)

    j = sub.add_parser(
        "judge", help="LLM-as-judge: one pred folder (pointwise) or two (pairwise, both orders)"
    )
    j.add_argument("pred_dirs", nargs="+", help="PRED_DIR (pointwise) or A_DIR B_DIR (pairwise)")
    j.add_argument("--task", required=True, help="task name or JSON path with a 'judge' config")
    j.add_argument("--judge", required=True, help="judge model: dir | tiny-random | http(s)://…")
    j.add_argument("--out", default=None, help="default PRED_DIR/judge or runs/pairwise")
    j.add_argument("--data-dir", default=None)
    j.add_argument("--batch-size", type=_int_at_least(1), default=8)
    j.set_defaults(fn=cmd_judge)

    ex = sub.add_parser("export", help="official submission files (C-Eval test set)")
    ex.add_argument("format", choices=["ceval-submission"])
    ex.add_argument("run_dir", help="run --out folder holding ceval_test.jsonl")
    ex.add_argument("--out", default="ceval_submission.json")
    ex.add_argument("--data-dir", default=None, help="data root, to check every question is there")
    ex.set_defaults(fn=cmd_export)

    mt = sub.add_parser("metrics", help="list built-in metric names")
    mt.set_defaults(fn=cmd_metrics)

    d = sub.add_parser(
        "demo", help="offline demo: tiny-universe on its held-out split + built-in tasks, a report"
    )
    d.add_argument(
        "--model", default="tiny-universe", help="any --model spec (tiny-random: random weights)"
    )
    d.add_argument(
        "--task", action="append", help=f"task (repeatable; default: {' '.join(DEMO_TASKS)})"
    )
    d.add_argument(
        "--limit", type=_int_at_least(0), default=None, help="first N examples of each task"
    )
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    add_quantize_argument(d)
    d.add_argument("--out", default="runs/demo")
    # 32: a ~4M model on CPU generates ~1.4x faster than at 16 and ~2x than at 8 (bench numbers
    # in README); memory is no concern at this size
    d.add_argument("--batch-size", type=_int_at_least(1), default=32)
    d.set_defaults(fn=cmd_demo)

    from tinyeval.data import DATASETS
    from tinyqwen.data_cache import add_data_parser

    add_data_parser(sub, DATASETS, "python -m tinyeval", key="fn")
    return p


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


def main(argv: list[str] | None = None) -> int:
    from tinyqwen.errors import run_cli

    return run_cli(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
