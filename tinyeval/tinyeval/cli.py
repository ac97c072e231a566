"""Command line: ``python -m tinyeval {run,score,report,tasks,demo}``.

    python -m tinyeval run --model tiny-random --task demo_qa_zh --task demo_mc --out runs/tiny-random
    python -m tinyeval score ~/.cache/tiny-universe/data/tinyeval/pred/internlm   # after: data fetch tinyeval
    python -m tinyeval report runs/tiny-random ~/.cache/tiny-universe/data/tinyeval/pred/internlm --out runs/report
    python -m tinyeval demo                                               # offline, tiny-random

``--model`` is anything ``tinyqwen.connect`` accepts: a checkpoint directory, ``tiny-random``, or
``http://host:port/v1[#model]``. ``score`` never writes into the prediction folder unless given
``--write`` (the seed's folders are reference data).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tinyeval.report import RANDOM_LABEL, write_report
from tinyeval.runner import run_task
from tinyeval.score import read_predictions, score_task_records
from tinyeval.task import Task, list_tasks, load_task
from tinyqwen.atomic import atomic_write_text

DEMO_TASKS = ["demo_qa_zh", "demo_qa_en", "demo_mc", "demo_ppl"]


def _connect(spec: str):
    import tinyqwen

    model = tinyqwen.connect(spec)
    if model.name == "tiny-random":
        print(f"note: {RANDOM_LABEL}", file=sys.stderr)
    return model


def _safe(name: str) -> str:
    return (
        "".join(c if c.isalnum() or c in "-_." else "_" for c in name.rstrip("/").split("/")[-1])
        or "model"
    )


def cmd_run(args: argparse.Namespace) -> int:
    tasks = [load_task(name) for name in args.task]  # fail on a bad name before loading a model
    model = _connect(args.model)
    out = Path(args.out or Path("runs") / _safe(model.name))
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
        print(json.dumps(summary, ensure_ascii=False))
    print(f"predictions and result.json in {out}", file=sys.stderr)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    pred_dir = Path(args.pred_dir)
    files = sorted(pred_dir.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.jsonl prediction files in {pred_dir}")
    known = set(list_tasks())
    result: dict[str, float] = {}
    for path in files:
        if path.stem not in known and not args.metric:
            print(
                f"skip {path.name}: no task config named {path.stem!r} (pass --metric)",
                file=sys.stderr,
            )
            continue
        if path.stem in known:
            task = load_task(path.stem)
        else:
            task = Task(
                name=path.stem, type="generate", data={"path": str(path)}, metric=args.metric
            )
        res = score_task_records(task, read_predictions(path), str(path), metric=args.metric)
        result[path.stem] = res["score"]
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
        print(f"{name:18s} {t.type:16s} {t.metric or '':14s} {t.description}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    model = _connect(args.model)
    out = Path(args.out)
    for name in DEMO_TASKS:
        print(
            json.dumps(
                run_task(model, load_task(name), out, batch_size=args.batch_size),
                ensure_ascii=False,
            )
        )
    rep = write_report([out], out / "report", n_boot=1000, seed=0)
    print(rep["markdown"])
    print(f"demo done: predictions in {out}, report in {out / 'report'}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyeval", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="predict (resumable) and score tasks")
    r.add_argument(
        "--model",
        default="tiny-random",
        help="checkpoint dir | tiny-random | http(s)://host:port/v1[#name]",
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
    r.add_argument("--limit", type=int, default=None, help="first N examples only")
    r.add_argument("--batch-size", type=int, default=8)
    r.add_argument(
        "--max-new-tokens", type=int, default=None, help="override the task's max_new_tokens"
    )
    r.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="prompt token budget (default: context - new - reserve)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("score", help="score an existing pred folder (seed/LongBench format)")
    s.add_argument("pred_dir")
    s.add_argument(
        "--metric", default=None, help="metric for every file (default: the task config's)"
    )
    s.add_argument("--write", action="store_true", help="write PRED_DIR/result.json (atomic)")
    s.set_defaults(fn=cmd_score)

    rp = sub.add_parser("report", help="markdown table + PNG chart comparing pred folders")
    rp.add_argument("pred_dirs", nargs="+")
    rp.add_argument("--out", default="runs/report")
    rp.add_argument("--n-boot", type=int, default=1000)
    rp.add_argument("--seed", type=int, default=0)
    rp.set_defaults(fn=cmd_report)

    t = sub.add_parser("tasks", help="list task configs")
    t.set_defaults(fn=cmd_tasks)

    d = sub.add_parser("demo", help="offline demo: built-in tasks on tiny-random, then a report")
    d.add_argument("--model", default="tiny-random")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--batch-size", type=int, default=8)
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
