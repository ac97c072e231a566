"""Per-subject and per-category accuracy for multiple-choice benchmarks (C-Eval, CMMLU, MMLU).

``run`` writes each multiple-choice record with its ``subject``; from those records:

* per subject: n, acc, acc_norm (``100 · mean``);
* per category (``categories.py``): n, ``acc`` = all the category's questions pooled (micro, as
  MMLU's ``evaluate.py`` and CMMLU's code compute it) and ``acc_macro`` = the mean of its subjects'
  accuracies (how C-Eval's paper averages a category);
* C-Eval also gets a "Hard" row (the 8 C-Eval Hard subjects) and the overall ``Average`` =
  mean over subjects (macro).

    >>> recs = [{"subject": "college_physics", "acc": 1.0}, {"subject": "college_physics", "acc": 0.0},
    ...         {"subject": "accountant", "acc": 1.0}]
    >>> by = by_subject(recs)
    >>> by["college_physics"]["acc"], by["accountant"]["n"]
    (50.0, 1)
    >>> cats = by_category("ceval", by)
    >>> cats["STEM"]["acc"], cats["Other"]["acc_macro"], cats["Average"]["acc_macro"]
    (50.0, 100.0, 75.0)

Limits: records written before subjects were recorded (no ``subject`` field) get no breakdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinyeval.categories import CATEGORY_ZH, CEVAL_HARD, categories_of


def by_subject(records: Sequence[dict]) -> dict[str, dict[str, Any]]:
    """{subject: {"n", "acc", "acc_norm", "correct"}} in subject order."""
    sums: dict[str, list[float]] = {}
    for r in records:
        s = sums.setdefault(str(r["subject"]), [0, 0.0, 0.0])
        s[0] += 1
        s[1] += float(r["acc"])
        s[2] += float(r.get("acc_norm", r["acc"]))
    return {
        subj: {"n": n, "acc": 100 * a / n, "acc_norm": 100 * an / n, "correct": a}
        for subj, (n, a, an) in sorted(sums.items())
    }


def _pool(name: str, subjects: dict[str, dict], members: list[str]) -> dict[str, Any]:
    n = sum(subjects[s]["n"] for s in members)
    correct = sum(subjects[s]["correct"] for s in members)
    return {
        "n": n,
        "subjects": len(members),
        "acc": 100 * correct / n,
        "acc_macro": sum(subjects[s]["acc"] for s in members) / len(members),
    }


def by_category(benchmark: str, subjects: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """{category: {"n", "subjects", "acc" (pooled), "acc_macro"}} plus "Average" (and C-Eval's
    "Hard"); empty when no subject has a category (not C-Eval/CMMLU/MMLU)."""
    members: dict[str, list[str]] = {}
    for subj in subjects:
        for cat in categories_of(benchmark, subj):
            members.setdefault(cat, []).append(subj)
    if not members:
        return {}
    out = {cat: _pool(cat, subjects, subs) for cat, subs in members.items()}
    hard = [s for s in subjects if s in CEVAL_HARD]
    if benchmark.startswith("ceval") and hard:
        out["Hard"] = _pool("Hard", subjects, hard)
    out["Average"] = _pool("Average", subjects, list(subjects))
    return out


def render(task: str, model: str, subjects: dict[str, dict]) -> str:
    """Markdown: a category table, then a subject table (``by_subject`` output) of one model."""
    cats = by_category(task, subjects)
    zh = task.startswith("ceval")
    lines = [f"### {task} — {model}", ""]
    if cats:
        lines += ["| category | subjects | n | acc (pooled) | acc (mean of subjects) |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for cat, r in cats.items():
            label = f"{cat} / {CATEGORY_ZH[cat]}" if zh and cat in CATEGORY_ZH else cat
            lines.append(
                f"| {label} | {r['subjects']} | {r['n']} | {r['acc']:.2f} | {r['acc_macro']:.2f} |"
            )
        lines.append("")
    lines += ["| subject | n | acc | acc_norm |", "|---|---|---|---|"]
    for subj, r in subjects.items():
        lines.append(f"| {subj} | {r['n']} | {r['acc']:.2f} | {r['acc_norm']:.2f} |")
    return "\n".join(lines) + "\n"
