"""Compare models: a markdown table with bootstrap 95% intervals and a PNG bar chart.

Each input is one model's prediction folder (``run``'s ``--out`` or the seed's ``pred/MODEL``);
every ``TASK.jsonl`` in it whose name is a known task is re-scored per example, then

* score = the task score (LongBench ``round(100·mean, 2)``; acc for multiple choice; perplexity);
* 95% interval = percentile bootstrap: resample the examples with replacement ``n_boot`` times
  (numpy ``default_rng(seed)``), recompute the score each time, take the 2.5th / 97.5th percentile.

    >>> rows = bootstrap_ci([1.0, 0.0, 1.0, 1.0], n_boot=200, seed=0)
    >>> rows[0] <= 75.0 <= rows[1]
    True

A task scored with the ``universe`` metric also gets its headline rates (tool-call validity, call
correctness, grounded QA, refusals) and a per-subtask table under "Per subtask".

Output: ``OUT/report.md``, ``OUT/report.json``, ``OUT/report.png`` (perplexity tasks are in the
table but not in the chart: another scale). A model called ``tiny-random`` is labelled as random
weights everywhere.

Limits: the percentile bootstrap assumes examples are independent; with a handful of examples
(the demo's 8) the interval is wide and rough — it says "don't read much into this".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tinyeval import subjects
from tinyeval.score import read_predictions, score_task_records
from tinyeval.task import list_tasks, load_task
from tinyqwen.atomic import atomic_write_text

RANDOM_LABEL = "tiny-random (random weights: gibberish, not a real score)"


def bootstrap_ci(values: list[float], n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of ``100·mean(values)``."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("bootstrap_ci: no values")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = 100.0 * x[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def _ppl_ci(records: list[dict], n_boot: int, seed: int) -> tuple[float, float]:
    ll = np.asarray([r["loglik"] for r in records], dtype=np.float64)
    n = np.asarray([r["n_tokens"] for r in records], dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ll.size, size=(n_boot, ll.size))
    ppl = np.exp(-ll[idx].sum(axis=1) / n[idx].sum(axis=1))
    lo, hi = np.percentile(ppl, [2.5, 97.5])
    return float(lo), float(hi)


def model_name(pred_dir: Path) -> str:
    meta = pred_dir / "metrics.json"
    if meta.exists():
        for v in json.loads(meta.read_text(encoding="utf-8")).values():
            if isinstance(v, dict) and v.get("model"):
                return str(v["model"])
    return pred_dir.name


def collect(
    pred_dirs: list[str | Path], n_boot: int = 1000, seed: int = 0
) -> dict[str, dict[str, dict]]:
    """{model: {task: {"score", "lo", "hi", "n", "type"}}} for every known task file."""
    known = set(list_tasks())
    out: dict[str, dict[str, dict]] = {}
    for d in map(Path, pred_dirs):
        if not d.is_dir():
            raise FileNotFoundError(f"report: {d} is not a folder of prediction files")
        name = model_name(d)
        rows: dict[str, dict] = {}
        for path in sorted(d.glob("*.jsonl")):
            if path.stem not in known:
                continue
            task = load_task(path.stem)
            records = read_predictions(path)
            if not records:
                continue
            res = score_task_records(task, records, str(path))
            if res["score"] is None:  # a split without answers (C-Eval test): nothing to show
                continue
            if task.type == "perplexity":
                lo, hi = _ppl_ci(records, n_boot, seed)
            else:
                lo, hi = bootstrap_ci(res["per_example"], n_boot, seed)
            rows[task.name] = {
                "score": res["score"],
                "lo": lo,
                "hi": hi,
                "n": res["n"],
                "type": task.type,
            }
            if "by_subject" in res:  # C-Eval / CMMLU / MMLU: per-subject and per-category
                rows[task.name]["by_subject"] = res["by_subject"]
            if "by_subtask" in res.get("metrics", {}):  # tiny-universe: per-subtask table
                rows[task.name]["subtasks"] = res["metrics"]
        out[name] = rows
    return out


def _label(model: str) -> str:
    return RANDOM_LABEL if model == "tiny-random" else model


def render_markdown(results: dict[str, dict[str, dict]]) -> str:
    models = list(results)
    tasks = sorted({t for rows in results.values() for t in rows})
    lines = [
        "| task | " + " | ".join(_label(m) for m in models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for t in tasks:
        cells = []
        for m in models:
            r = results[m].get(t)
            cells.append(
                "—"
                if r is None
                else f"{r['score']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}] (n={r['n']})"
            )
        kind = (
            " (perplexity, lower is better)"
            if any(results[m].get(t, {}).get("type") == "perplexity" for m in models)
            else ""
        )
        lines.append(f"| {t}{kind} | " + " | ".join(cells) + " |")
    note = "Scores: 100·mean (LongBench rounding); brackets: bootstrap 95% interval over examples."
    if "tiny-random" in results:
        note += " **tiny-random has random weights: its numbers only show the pipeline works.**"
    sections = [
        subjects.render(t, _label(m), results[m][t]["by_subject"])
        for t in tasks
        for m in models
        if "by_subject" in results[m].get(t, {})
    ]
    extra = "\n## Per category and subject\n\n" + "\n".join(sections) if sections else ""
    parts = [
        render_subtasks(t, _label(m), results[m][t]["subtasks"])
        for t in tasks
        for m in models
        if "subtasks" in results[m].get(t, {})
    ]
    extra += "\n## Per subtask\n\n" + "\n".join(parts) if parts else ""
    return "\n".join(lines) + "\n\n" + note + "\n" + extra


# tiny-universe's headline rates: (key, what it is, issue 20's target)
HEADLINES = [
    ("format_valid", "tool calls: first reply is a well-formed call of an offered tool", "≥ 98"),
    ("call_correct", "calculator calls: the expression evaluates to the right number", ""),
    ("clock_call_correct", "clock calls: current_time with the right time zone", ""),
    ("qa_exact", "grounded QA: gold value and exactly the right [n] citation", "≥ 80"),
    ("refusal_acc", "unanswerable questions: the refusal sentence", "≥ 80"),
    ("false_refusal", "answerable questions refused (lower is better)", ""),
]


def render_subtasks(task: str, model: str, summary: dict) -> str:
    """Markdown: headline rates and the per-subtask table of a ``universe``-scored task."""

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f}"

    out = [f"### {task} — {model}", "", "| rate | % | target | what |", "|---|---|---|---|"]
    out += [f"| {k} | {pct(summary.get(k))} | {t} | {what} |" for k, what, t in HEADLINES]
    out += ["", "| subtask | n | score | format_valid |", "|---|---|---|---|"]
    for sub, row in summary["by_subtask"].items():
        valid = pct(row["format_valid"]) if "format_valid" in row else ""
        out.append(f"| {sub} | {row['n']} | {pct(row['score'])} | {valid} |")
    return "\n".join(out) + "\n"


def render_png(results: dict[str, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results)
    tasks = sorted(
        {t for rows in results.values() for t, r in rows.items() if r["type"] != "perplexity"}
    )
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(tasks) * max(1, len(models))), 4))
    width = 0.8 / max(1, len(models))
    for i, m in enumerate(models):
        xs, ys, err = [], [], [[], []]
        for j, t in enumerate(tasks):
            r = results[m].get(t)
            if r is None:
                continue
            xs.append(j + i * width)
            ys.append(r["score"])
            err[0].append(max(0.0, r["score"] - r["lo"]))
            err[1].append(max(0.0, r["hi"] - r["score"]))
        ax.bar(xs, ys, width, yerr=err, capsize=3, label=_label(m))
    ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(tasks))])
    ax.set_xticklabels(tasks, rotation=20, ha="right")
    ax.set_ylabel("score (0-100), 95% bootstrap CI")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("tinyeval report")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def write_report(
    pred_dirs: list[str | Path], out_dir: str | Path, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Write report.md / report.json / report.png into ``out_dir``; returns the results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = collect(pred_dirs, n_boot, seed)
    md = render_markdown(results)
    atomic_write_text(out_dir / "report.md", md)
    atomic_write_text(
        out_dir / "report.json", json.dumps(results, ensure_ascii=False, indent=2) + "\n"
    )
    if any(r["type"] != "perplexity" for rows in results.values() for r in rows.values()):
        render_png(results, out_dir / "report.png")
    return {"markdown": md, "results": results}
